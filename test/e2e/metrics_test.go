package e2e

import (
	"bufio"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/trace-exporter/trace-exporter/test/harness"
	"github.com/trace-exporter/trace-exporter/test/otlpsink"
	"github.com/trace-exporter/trace-exporter/test/testutil"
)

// A request with a malformed trace-context header moves
// trace_exporter_trace_headers_invalid_total on the plugin server's
// /metrics, once per request: in the access phase, and in the log phase
// when access did not run (no route matched, the global instance logs it);
// a well-formed header does not move it.
func TestMalformedTraceHeaderCounted(t *testing.T) {
	port := testutil.FreePort(t)
	t.Setenv("TRACE_EXPORTER_METRICS_LISTEN", strconv.Itoa(port)) // the plugin server inherits it
	sink := otlpsink.Start(t)
	up := harness.StartUpstream(t, harness.UpstreamOptions{})
	gw := harness.StartGateway(t, harness.GatewayOptions{Config: map[string]any{
		"services": []any{map[string]any{"name": "metrics", "url": up.URL(),
			"routes": []any{map[string]any{"name": "m", "paths": []string{"/m"}}}}},
		"plugins": []any{plugin(pluginConfig(sink.TracesURL(), "e2e-metrics", map[string]any{
			// w3c and b3 both malformed in one request still count once.
			"propagation": map[string]any{"extract": []string{"w3c", "b3"}, "inject": []string{"w3c"}},
		}))},
	}})
	metricsURL := "http://127.0.0.1:" + strconv.Itoa(port) + "/metrics"
	// Spans are built after the ids were resolved (and headers counted).
	const invalid, built = "trace_exporter_trace_headers_invalid_total", "trace_exporter_spans_built_total"

	bad := http.Header{"Traceparent": {"00-not-a-trace-context-01"}, "B3": {"zz-zz"}}
	good := http.Header{"Traceparent": {"00-" + randomHex(16) + "-" + randomHex(8) + "-01"}}
	steps := []struct {
		name, path string
		header     http.Header
		wantMoved  float64
	}{
		{"malformed, access phase", "/m/x", bad, 1},
		{"well-formed", "/m/y", good, 0},
		{"malformed, log phase (no route)", "/no-route-" + randomHex(4), bad, 1},
	}
	for _, s := range steps {
		before := scrapeMetrics(t, metricsURL)
		harness.Do(t, "GET", gw.URL()+s.path, s.header)
		// The log event is handled after the response: wait for its spans.
		after := waitMetrics(t, metricsURL, func(m map[string]float64) bool { return m[built] > before[built] })
		if got := after[invalid] - before[invalid]; got != s.wantMoved {
			t.Errorf("%s: %s moved by %v, want %v", s.name, invalid, got, s.wantMoved)
		}
	}
}

// scrapeMetrics reads the unlabelled samples of a Prometheus text page,
// waiting (bounded) for the endpoint to answer.
func scrapeMetrics(t *testing.T, url string) map[string]float64 {
	t.Helper()
	return waitMetrics(t, url, func(map[string]float64) bool { return true })
}

func waitMetrics(t *testing.T, url string, ok func(map[string]float64) bool) map[string]float64 {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		m, err := readMetrics(url)
		if err == nil && ok(m) {
			return m
		}
		if time.Now().After(deadline) {
			t.Fatalf("metrics at %s: %v (last read: %d samples)", url, err, len(m))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func readMetrics(url string) (map[string]float64, error) {
	resp, err := http.Get(url)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	m := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		name, value, ok := strings.Cut(sc.Text(), " ")
		if !ok || strings.HasPrefix(name, "#") || strings.Contains(name, "{") {
			continue
		}
		if v, err := strconv.ParseFloat(value, 64); err == nil {
			m[name] = v
		}
	}
	return m, sc.Err()
}

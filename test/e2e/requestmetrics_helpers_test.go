package e2e

import (
	"compress/gzip"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	colmetricspb "go.opentelemetry.io/proto/otlp/collector/metrics/v1"
	metricspb "go.opentelemetry.io/proto/otlp/metrics/v1"
	"google.golang.org/protobuf/proto"

	"github.com/trace-exporter/trace-exporter/test/jaegertest"
	"github.com/trace-exporter/trace-exporter/test/testutil"
)

// metricsJaegerConfig is tools/jaeger/config.yaml with a metrics pipeline:
// OTLP in, the OpenTelemetry Collector's Prometheus exporter out (with
// exemplars: OpenMetrics), on the port given.
const metricsJaegerConfig = `
service:
  extensions: [jaeger_storage, jaeger_query, healthcheckv2]
  pipelines:
    traces:
      receivers: [otlp]
      processors: [batch]
      exporters: [jaeger_storage_exporter]
    metrics:
      receivers: [otlp]
      exporters: [prometheus]
  telemetry:
    resource: {service.name: jaeger}
    metrics: {level: none}
    logs: {level: warn}
extensions:
  healthcheckv2:
    use_v2: true
    http: {endpoint: "127.0.0.1:${env:JAEGER_HEALTH_PORT}"}
  jaeger_storage:
    backends:
      mem:
        memory: {max_traces: 100000}
  jaeger_query:
    enable_tracing: false
    storage: {traces: mem}
    http: {endpoint: "127.0.0.1:${env:JAEGER_QUERY_HTTP_PORT}"}
    grpc: {endpoint: "127.0.0.1:${env:JAEGER_QUERY_GRPC_PORT}"}
receivers:
  otlp:
    protocols:
      grpc: {endpoint: "127.0.0.1:${env:JAEGER_OTLP_GRPC_PORT}"}
      http: {endpoint: "127.0.0.1:${env:JAEGER_OTLP_HTTP_PORT}"}
processors:
  batch: {timeout: 20ms}
exporters:
  jaeger_storage_exporter: {trace_storage: mem}
  prometheus:
    endpoint: "127.0.0.1:%d"
    enable_open_metrics: true
`

// startMetricsJaeger runs a Jaeger of its own that also takes OTLP metrics
// and serves them for Prometheus; it returns the scrape URL.
func startMetricsJaeger(t *testing.T) (*jaegertest.Jaeger, string) {
	t.Helper()
	port := testutil.FreePort(t)
	path := filepath.Join(t.TempDir(), "jaeger.yaml")
	if err := os.WriteFile(path, fmt.Appendf(nil, metricsJaegerConfig, port), 0o644); err != nil {
		t.Fatal(err)
	}
	j := jaegertest.StartOptions(t, jaegertest.Options{Config: path})
	return j, "http://127.0.0.1:" + strconv.Itoa(port) + "/metrics"
}

func metricsURLOf(tracesURL string) string {
	return strings.Replace(tracesURL, "/v1/traces", "/v1/metrics", 1)
}

// sample is one Prometheus sample line: name, labels, value, and the
// exemplar's trace id when the line has one.
type sample struct {
	name    string
	labels  map[string]string
	value   float64
	exTrace string
}

var (
	sampleLine  = regexp.MustCompile(`^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (\S+)(?: \S+)?(?: # \{([^}]*)\} .*)?$`)
	labelPair   = regexp.MustCompile(`([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"`)
	exemplarTID = regexp.MustCompile(`trace_id="([0-9a-f]{32})"`)
)

// scrapeSamples reads a Prometheus or OpenMetrics page.
func scrapeSamples(t *testing.T, url string, openMetrics bool) []sample {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	if openMetrics {
		req.Header.Set("Accept", "application/openmetrics-text; version=1.0.0")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("scrape %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var out []sample
	for _, line := range strings.Split(string(body), "\n") {
		m := sampleLine.FindStringSubmatch(line)
		if m == nil || strings.HasPrefix(line, "#") {
			continue
		}
		v, err := strconv.ParseFloat(m[3], 64)
		if err != nil {
			continue
		}
		s := sample{name: m[1], labels: map[string]string{}, value: v}
		for _, l := range labelPair.FindAllStringSubmatch(m[2], -1) {
			s.labels[l[1]] = l[2]
		}
		if e := exemplarTID.FindStringSubmatch(m[4]); e != nil {
			s.exTrace = e[1]
		}
		out = append(out, s)
	}
	return out
}

// sumOf adds up the samples named name whose labels include match.
func sumOf(samples []sample, name string, match map[string]string) float64 {
	total := 0.0
next:
	for _, s := range samples {
		if s.name != name {
			continue
		}
		for k, v := range match {
			if s.labels[k] != v {
				continue next
			}
		}
		total += s.value
	}
	return total
}

// metricsReceiver is an OTLP/HTTP metrics receiver (protobuf) that keeps
// every request.
type metricsReceiver struct {
	srv     *httptest.Server
	mu      sync.Mutex
	got     []*colmetricspb.ExportMetricsServiceRequest
	headers []http.Header
}

func startMetricsReceiver(t *testing.T) *metricsReceiver {
	r := &metricsReceiver{}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		var body []byte
		if req.Header.Get("Content-Encoding") == "gzip" {
			zr, err := gzip.NewReader(req.Body)
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			body, _ = io.ReadAll(zr)
		} else {
			body, _ = io.ReadAll(req.Body)
		}
		var m colmetricspb.ExportMetricsServiceRequest
		if req.URL.Path != "/v1/metrics" || proto.Unmarshal(body, &m) != nil {
			http.Error(w, "not OTLP metrics", http.StatusBadRequest)
			return
		}
		r.mu.Lock()
		r.got = append(r.got, &m)
		r.headers = append(r.headers, req.Header.Clone())
		r.mu.Unlock()
		w.Header().Set("Content-Type", "application/x-protobuf")
		_, _ = w.Write(nil)
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *metricsReceiver) URL() string { return r.srv.URL + "/v1/metrics" }

// requestHeaders returns the headers of every request received.
func (r *metricsReceiver) requestHeaders() []http.Header {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]http.Header(nil), r.headers...)
}

// countPoint is one received http.server.request.count point.
type countPoint struct {
	value       int64
	start, time uint64
	temporality metricspb.AggregationTemporality
	instance    string // the resource's service.instance.id
}

// counts returns every http.server.request.count point received, in order,
// summed over attribute sets per push.
func (r *metricsReceiver) counts() []countPoint {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []countPoint
	for _, req := range r.got {
		for _, rm := range req.GetResourceMetrics() {
			instance := ""
			for _, a := range rm.GetResource().GetAttributes() {
				if a.GetKey() == "service.instance.id" {
					instance = a.GetValue().GetStringValue()
				}
			}
			for _, sm := range rm.GetScopeMetrics() {
				for _, m := range sm.GetMetrics() {
					if m.GetName() != "http.server.request.count" {
						continue
					}
					p := countPoint{temporality: m.GetSum().GetAggregationTemporality(), instance: instance}
					for _, dp := range m.GetSum().GetDataPoints() {
						p.value += dp.GetAsInt()
						p.start, p.time = dp.GetStartTimeUnixNano(), dp.GetTimeUnixNano()
					}
					out = append(out, p)
				}
			}
		}
	}
	return out
}

// waitCount waits until a received point satisfies ok, and returns it.
func (r *metricsReceiver) waitCount(t *testing.T, what string, ok func(countPoint) bool) countPoint {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		for _, p := range r.counts() {
			if ok(p) {
				return p
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not received within 20 s; got %+v", what, r.counts())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

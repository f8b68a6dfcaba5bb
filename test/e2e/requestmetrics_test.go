package e2e

import (
	"net/http"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	metricspb "go.opentelemetry.io/proto/otlp/metrics/v1"

	"github.com/trace-exporter/trace-exporter/test/harness"
	"github.com/trace-exporter/trace-exporter/test/jaegertest"
	"github.com/trace-exporter/trace-exporter/test/kongsim"
	"github.com/trace-exporter/trace-exporter/test/testutil"
)

// Issue 13: request metrics from every request through the emulator into
// a real backend (Jaeger v2's OTLP receiver and the OpenTelemetry
// Collector's Prometheus exporter, scraped over HTTP), over each OTLP
// transport: counts equal the requests sent, unsampled ones included, and
// every exemplar names a trace Jaeger holds.
func TestRequestMetricsReachPrometheus(t *testing.T) {
	j, promURL := startMetricsJaeger(t)
	up := harness.StartUpstream(t, harness.UpstreamOptions{})
	grpcURL := "http://" + j.OTLPGRPCAddr()
	for _, tc := range []struct{ protocol, traces, metrics string }{
		{"http/protobuf", j.OTLPHTTPURL(), metricsURLOf(j.OTLPHTTPURL())},
		{"http/json", j.OTLPHTTPURL(), metricsURLOf(j.OTLPHTTPURL())},
		{"grpc", grpcURL, grpcURL},
	} {
		t.Run(tc.protocol, func(t *testing.T) {
			// The Prometheus exporter holds every subtest's series: each
			// has its own Kong service.
			kongService := "metered-" + strings.ReplaceAll(tc.protocol, "/", "-")
			metrics := map[string]any{"endpoint": tc.metrics, "push_interval": 0.2,
				"enable_request_metrics": true, "enable_latency_metrics": true, "enable_bandwidth_metrics": true}
			cfg := func(extra map[string]any) map[string]any {
				extra["metrics"] = metrics
				extra["protocol"] = tc.protocol
				return pluginConfig(tc.traces, uniqueService("e2e-reqmetrics"), extra)
			}
			gw := harness.StartGateway(t, harness.GatewayOptions{Config: map[string]any{
				"services": []any{map[string]any{"name": kongService, "url": up.URL(), "routes": []any{
					map[string]any{"name": "sampled", "paths": []string{"/sampled"}, "plugins": []any{plugin(cfg(map[string]any{}))}},
					map[string]any{"name": "unsampled", "paths": []string{"/unsampled"}, "plugins": []any{plugin(cfg(map[string]any{
						"sampling_rate": 0, "tail_sampling": map[string]any{"status_code_min": 0}}))}},
				}}},
			}})
			checkRequestMetricsInPrometheus(t, j, gw, promURL, kongService)
		})
	}
}

func checkRequestMetricsInPrometheus(t *testing.T, j *jaegertest.Jaeger, gw *kongsim.Gateway, promURL, kongService string) {
	sent := map[[2]string]int{} // route, status
	send := func(route string, status, n int) {
		for i := range n {
			harness.Do(t, "GET", gw.URL()+"/"+route+"/x?status="+strconv.Itoa(status)+"&i="+strconv.Itoa(i), nil)
			sent[[2]string{route, strconv.Itoa(status)}]++
		}
	}
	send("sampled", 200, 9)
	send("sampled", 500, 3)
	send("unsampled", 200, 15)
	send("unsampled", 503, 5)
	if err := gw.WaitIdle(bounded(t, 20*time.Second)); err != nil {
		t.Fatal(err)
	}

	const count = "http_server_request_count_total"
	service := map[string]string{"kong_service_name": kongService}
	var samples []sample
	deadline := time.Now().Add(20 * time.Second)
	for {
		samples = scrapeSamples(t, promURL, false)
		if sumOf(samples, count, service) >= 32 || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	for key, n := range sent {
		match := map[string]string{"kong_route_name": key[0], "kong_response_status_code": key[1], "kong_service_name": kongService}
		if got := sumOf(samples, count, match); got != float64(n) {
			t.Errorf("%s %v = %v, want the %d requests sent", count, match, got, n)
		}
		dur := map[string]string{"kong_route_name": key[0], "http_response_status_code": key[1], "kong_service_name": kongService}
		if got := sumOf(samples, "http_server_request_duration_seconds_count", dur); got != float64(n) {
			t.Errorf("http_server_request_duration_seconds_count %v = %v, want %d", dur, got, n)
		}
	}
	unsampled := map[string]string{"kong_route_name": "unsampled", "kong_service_name": kongService}
	if got := sumOf(samples, "kong_latency_upstream_seconds_count", unsampled); got != 20 {
		t.Errorf("kong_latency_upstream_seconds_count of the unsampled route = %v, want 20", got)
	}
	if got := sumOf(samples, "http_server_response_size_bytes_count", service); got != 32 {
		t.Errorf("http_server_response_size_bytes_count = %v, want 32", got)
	}

	// Exemplars (OpenMetrics): each names a trace Jaeger holds; the
	// unsampled route exported no trace, so it has none.
	exemplars := 0
	for _, s := range scrapeSamples(t, promURL, true) {
		if s.exTrace == "" || s.labels["kong_service_name"] != kongService {
			continue
		}
		exemplars++
		if s.labels["kong_route_name"] == "unsampled" {
			t.Errorf("exemplar %s on the unsampled route's %s", s.exTrace, s.name)
			continue
		}
		if _, err := j.Trace(bounded(t, 10*time.Second), s.exTrace); err != nil {
			t.Errorf("exemplar of %s names trace %s: %v", s.name, s.exTrace, err)
		}
	}
	if exemplars == 0 {
		t.Errorf("no exemplar in the OpenMetrics scrape")
	}
	t.Logf("%d exemplars, all traces found in Jaeger", exemplars)
}

// SIGTERM pushes the request metrics before the pipelines flush (here the
// only push: push_interval is an hour), and the next plugin server's
// cumulative series starts again from its own start time: the backend sees
// a reset, never the old totals again.
func TestRequestMetricsAcrossARestart(t *testing.T) {
	recv := startMetricsReceiver(t)
	up := harness.StartUpstream(t, harness.UpstreamOptions{})
	gw := harness.StartGateway(t, harness.GatewayOptions{Config: map[string]any{
		"services": []any{map[string]any{"name": "restart", "url": up.URL(), "routes": []any{
			map[string]any{"name": "restart", "paths": []string{"/restart"}}}}},
		"plugins": []any{plugin(map[string]any{"exporter": "stdout", "sampling_rate": 0,
			"metrics": map[string]any{"endpoint": recv.URL(), "push_interval": 3600, "enable_request_metrics": true}})},
	}})
	node := gw.Sim().NodeID()
	run := func(n int) {
		for i := range n {
			harness.Do(t, "GET", gw.URL()+"/restart?i="+strconv.Itoa(i), nil)
		}
		if err := gw.WaitIdle(bounded(t, 20*time.Second)); err != nil {
			t.Fatal(err)
		}
	}
	restart := func() {
		_, respawned := gw.Sim().Spawns()
		if err := gw.Sim().Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		select {
		case <-respawned:
		case <-time.After(20 * time.Second):
			t.Fatal("plugin server not respawned")
		}
		if err := gw.Sim().WaitReady(bounded(t, 30*time.Second)); err != nil {
			t.Fatal(err)
		}
	}

	run(5)
	restart()
	first := recv.waitCount(t, "the first server's push at SIGTERM", func(p countPoint) bool { return p.value == 5 })
	run(3)
	restart()
	second := recv.waitCount(t, "the second server's push at SIGTERM", func(p countPoint) bool { return p.start > first.start })
	if second.value != 3 {
		t.Errorf("the restarted server pushed %d, want its own 3 requests", second.value)
	}
	if second.start < first.time {
		t.Errorf("the restarted server's series starts at %d, before the first one's last point (%d)", second.start, first.time)
	}
	for _, p := range []countPoint{first, second} {
		if p.temporality != metricspb.AggregationTemporality_AGGREGATION_TEMPORALITY_CUMULATIVE {
			t.Errorf("temporality %v, want cumulative by default", p.temporality)
		}
		if p.instance != node {
			t.Errorf("service.instance.id %q, want the Kong node id %q", p.instance, node)
		}
	}
	if n := len(recv.counts()); n != 2 {
		t.Errorf("%d pushes, want one per SIGTERM: %+v", n, recv.counts())
	}
}

// OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE=delta: each push
// carries what its interval added, from the previous push's time. The
// pushes carry the config's headers, gzip-compressed as it asks.
func TestRequestMetricsDeltaTemporality(t *testing.T) {
	t.Setenv("OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE", "delta") // the plugin server inherits it
	recv := startMetricsReceiver(t)
	up := harness.StartUpstream(t, harness.UpstreamOptions{})
	gw := harness.StartGateway(t, harness.GatewayOptions{Config: map[string]any{
		"services": []any{map[string]any{"name": "delta", "url": up.URL(), "routes": []any{
			map[string]any{"name": "delta", "paths": []string{"/delta"}}}}},
		"plugins": []any{plugin(map[string]any{"exporter": "stdout", "sampling_rate": 0, "queue": map[string]any{"max_coalescing_delay": 0.05},
			"headers": map[string]any{"x-tenant": "t1"}, "compression": "gzip",
			"metrics": map[string]any{"endpoint": recv.URL(), "push_interval": 0.2, "enable_request_metrics": true}})},
	}})
	for i := range 4 {
		harness.Do(t, "GET", gw.URL()+"/delta?i="+strconv.Itoa(i), nil)
	}
	first := recv.waitCount(t, "4 requests", func(p countPoint) bool { return p.value == 4 })
	for i := range 2 {
		harness.Do(t, "GET", gw.URL()+"/delta?j="+strconv.Itoa(i), nil)
	}
	second := recv.waitCount(t, "2 more", func(p countPoint) bool { return p.start >= first.time && p.value > 0 })
	if second.value != 2 || second.start != first.time {
		t.Errorf("second push %+v, want 2 from %d", second, first.time)
	}
	for _, p := range recv.counts() {
		if p.temporality != metricspb.AggregationTemporality_AGGREGATION_TEMPORALITY_DELTA {
			t.Errorf("temporality %v", p.temporality)
		}
	}
	for _, h := range recv.requestHeaders() {
		if h.Get("X-Tenant") != "t1" || h.Get("Content-Encoding") != "gzip" || h.Get("Content-Type") != "application/x-protobuf" {
			t.Errorf("push headers %v: want x-tenant, gzip, protobuf", h)
		}
	}
}

// -metrics-requests (here TRACE_EXPORTER_METRICS_REQUESTS): the plugin
// server's /metrics serves the request metrics of instances without a
// metrics endpoint, with exemplars for sampled requests in OpenMetrics.
func TestRequestMetricsOnPluginServerMetrics(t *testing.T) {
	port := testutil.FreePort(t)
	t.Setenv("TRACE_EXPORTER_METRICS_LISTEN", strconv.Itoa(port)) // the plugin server inherits them
	t.Setenv("TRACE_EXPORTER_METRICS_REQUESTS", "true")
	j := harness.Jaeger(t)
	up := harness.StartUpstream(t, harness.UpstreamOptions{})
	service := uniqueService("e2e-reqmetrics-scrape")
	gw := harness.StartGateway(t, harness.GatewayOptions{Config: map[string]any{
		"services": []any{map[string]any{"name": "scraped", "url": up.URL(), "routes": []any{
			map[string]any{"name": "scraped", "paths": []string{"/scraped"}}}}},
		"plugins": []any{plugin(pluginConfig(j.OTLPHTTPURL(), service, map[string]any{
			"metrics": map[string]any{"enable_request_metrics": true, "enable_consumer_attribute": true}}))},
	}})
	for i := range 6 {
		harness.Do(t, "GET", gw.URL()+"/scraped?i="+strconv.Itoa(i), http.Header{})
	}
	if err := gw.WaitIdle(bounded(t, 20*time.Second)); err != nil {
		t.Fatal(err)
	}
	url := "http://127.0.0.1:" + strconv.Itoa(port) + "/metrics"
	// The log worker records a request a few milliseconds after its log
	// event was answered.
	var samples []sample
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		samples = scrapeSamples(t, url, true)
		got := sumOf(samples, "http_server_request_count_total", map[string]string{"kong_route_name": "scraped"})
		if got == 6 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("http_server_request_count_total = %v, want 6", got)
		}
	}
	found := false
	for _, s := range samples {
		if s.exTrace != "" {
			found = true
			if _, err := j.WaitTrace(bounded(t, 20*time.Second), s.exTrace, 2); err != nil {
				t.Errorf("exemplar %s: %v", s.exTrace, err)
			}
		}
	}
	if !found {
		t.Errorf("no exemplar on /metrics")
	}
	checkRequestMetricsBudget(t, gw.Records())
}

// checkRequestMetricsBudget: one serialize per logged request.
func checkRequestMetricsBudget(t *testing.T, records []*kongsim.RequestRecord) {
	t.Helper()
	for _, rec := range records {
		if calls, _ := withoutNodeID(rec.Calls("log")); !callsEqual(calls, []string{pdkSerialize}) {
			t.Errorf("%s: log calls %s, want [serialize]", rec.URI, fmtCalls(calls))
		}
	}
}

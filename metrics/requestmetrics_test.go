package metrics

import (
	"io"
	"log/slog"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/trace-exporter/trace-exporter/exporter"
	"github.com/trace-exporter/trace-exporter/plugin/reqmetrics"
)

func get(t *testing.T, url, accept string) string {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %d %s", url, resp.StatusCode, b)
	}
	return string(b)
}

// /metrics serves the request metrics when asked, under the names an
// OpenTelemetry Collector's Prometheus exporter gives them, with exemplars
// for a scraper that accepts OpenMetrics; the aggregators' own state is
// always there.
func TestRequestMetricsOnMetricsEndpoint(t *testing.T) {
	rm := reqmetrics.NewRegistry(reqmetrics.Options{})
	agg := rm.Acquire(reqmetrics.Target{Key: "k", Name: "http/protobuf http://c:4318/v1/metrics", Interval: time.Hour})
	r := reqmetrics.Request{Service: "svc", Route: "r1", Method: "GET", Status: 200, Source: "upstream", HTTPRoute: "/r1",
		Scheme: "https", RequestBytes: 100, ResponseBytes: 2000, TotalMs: 30, KongMs: 2, UpstreamMs: 28,
		TraceID: exporter.TraceID{0x4b, 0xf9}, SpanID: exporter.SpanID{0x00, 0xf0, 0x67}}
	agg.Record(reqmetrics.Requests|reqmetrics.Latency|reqmetrics.Bandwidth, &r)
	r.TraceID = exporter.TraceID{}
	r.Consumer = "alice"
	agg.Record(reqmetrics.Requests|reqmetrics.Latency|reqmetrics.Bandwidth, &r)

	for _, serve := range []bool{false, true} {
		reg := prometheus.NewRegistry()
		RegisterRequestMetrics(reg, rm, serve)
		srv := StartOptions("127.0.0.1:0", reg, slog.New(slog.DiscardHandler), ServeOptions{OpenMetrics: serve})
		<-srv.Ready()
		url := "http://" + srv.Addr() + "/metrics"

		text := get(t, url, "")
		parser := expfmt.NewTextParser(model.UTF8Validation)
		families, err := parser.TextToMetricFamilies(strings.NewReader(text))
		if err != nil {
			t.Fatalf("serve %v: not the text format: %v\n%s", serve, err, text)
		}
		if f := families["trace_exporter_request_metrics_series"]; f == nil || f.Metric[0].GetGauge().GetValue() != 2 {
			t.Errorf("serve %v: series gauge %v", serve, f)
		}
		count := families["http_server_request_count_total"]
		if !serve {
			if count != nil {
				t.Errorf("request metrics served without being asked for")
			}
			srv.Close()
			continue
		}
		if count == nil || len(count.Metric) != 2 {
			t.Fatalf("http_server_request_count_total: %v\n%s", count, text)
		}
		for _, m := range count.Metric {
			labels := map[string]string{}
			for _, l := range m.Label {
				labels[l.GetName()] = l.GetValue()
			}
			// Every series of a family has the family's labels.
			if labels["kong_service_name"] != "svc" || labels["kong_response_status_code"] != "200" || len(labels) != 6 {
				t.Errorf("labels %v", labels)
			}
		}
		for _, name := range []string{"http_server_request_duration_seconds", "kong_latency_total_seconds",
			"kong_latency_internal_seconds", "kong_latency_upstream_seconds", "http_server_request_size_bytes", "http_server_response_size_bytes"} {
			if f := families[name]; f == nil || f.GetType().String() != "HISTOGRAM" {
				t.Errorf("%s: %v", name, f)
			}
		}
		if strings.Contains(text, "trace_id") {
			t.Errorf("exemplars in the text format")
		}

		om := get(t, url, "application/openmetrics-text; version=1.0.0")
		exemplar := regexp.MustCompile(`http_server_request_duration_seconds_bucket\{[^}]*le="0.05"\} 2 # \{(span_id="00f0670000000000",trace_id="4bf90000000000000000000000000000"|trace_id="4bf90000000000000000000000000000",span_id="00f0670000000000")\} 0.03 \d`)
		if !exemplar.MatchString(om) {
			t.Errorf("no exemplar on the (0.025, 0.05] bucket in OpenMetrics:\n%s", om)
		}
		if !strings.Contains(om, "http_server_request_count_created{") {
			t.Errorf("no created timestamp in OpenMetrics")
		}
		srv.Close()
	}
}

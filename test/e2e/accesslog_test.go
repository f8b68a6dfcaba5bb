package e2e

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/trace-exporter/trace-exporter/test/harness"
	"github.com/trace-exporter/trace-exporter/test/jaegertest"
	"github.com/trace-exporter/trace-exporter/test/kafkatest"
	"github.com/trace-exporter/trace-exporter/test/otlpsink"
)

const kafkaLogsTopic = "otlp_logs"

// startLogsJaeger runs a Jaeger v2 (an OpenTelemetry Collector
// distribution) that, besides storing traces, runs a logs pipeline: its
// OTLP receiver (HTTP and gRPC) and, with kafkaAddr, its kafka receiver on
// the logs topic, then its otlphttp exporter to logsURL. The records the
// test reads went through a real collector's receivers, decoded and
// re-encoded by its own code; the in-test receiver decodes them with the
// official OTLP types (Jaeger's debug exporter prints text, not a contract
// a test can read exactly). With kafkaAddr, traces are also read from the
// spans topics (startKafkaJaeger's receivers).
func startLogsJaeger(t *testing.T, logsURL, kafkaAddr string) *jaegertest.Jaeger {
	t.Helper()
	base, cfg := baseJaegerConfig(t)
	const tracesPipeline = "      exporters: [jaeger_storage_exporter]\n"
	const tracesReceivers = "receivers: [otlp, zipkin]"
	const storage = "  jaeger_storage_exporter: {trace_storage: mem}\n"
	for _, s := range []string{tracesPipeline, tracesReceivers, storage, "\nreceivers:\n"} {
		if strings.Count(cfg, s) != 1 {
			t.Fatalf("%s changed shape (%q): cannot add the logs pipeline", base, s)
		}
	}
	logsReceivers := "[otlp]"
	if kafkaAddr != "" {
		cfg = strings.Replace(cfg, tracesReceivers, "receivers: [otlp, zipkin, kafka, kafka/json]", 1)
		cfg = strings.Replace(cfg, "\nreceivers:\n", "\nreceivers:\n"+kafkaReceivers(kafkaAddr)+fmt.Sprintf(`  kafka/logs:
    brokers: [%q]
    client_id: jaeger
    group_id: jaeger-logs
    initial_offset: earliest
    logs: {topic: %s, encoding: otlp_proto}
`, kafkaAddr, kafkaLogsTopic), 1)
		logsReceivers = "[otlp, kafka/logs]"
	}
	cfg = strings.Replace(cfg, tracesPipeline, tracesPipeline+`    logs:
      receivers: `+logsReceivers+`
      processors: [batch]
      exporters: [otlphttp/logs]
`, 1)
	cfg = strings.Replace(cfg, storage, storage+fmt.Sprintf("  otlphttp/logs: {logs_endpoint: %q, compression: none}\n", logsURL), 1)
	path := filepath.Join(t.TempDir(), "jaeger-logs.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	return jaegertest.StartOptions(t, jaegertest.Options{Config: path})
}

// accessLogSent is one request of the access log tests and what it must
// leave behind.
type accessLogSent struct {
	route    string // "" when no route matched
	uri      string
	status   int
	traced   bool   // its spans must be in Jaeger
	traceID  string // from the upstream's traceparent, or the record (no route)
	upstream string // the span id sent upstream
}

// Kong → access logs → a real collector: the plugin binary under the
// emulator writes one access log record per request to Jaeger's OTLP
// receivers (OTLP/HTTP protobuf and JSON, OTLP/gRPC, logs_endpoint for the
// global instance) and through Kafka, and Jaeger's logs pipeline forwards
// them to an in-test OTLP receiver. Every request yields exactly one
// record, sampled or not; its trace id is the one sent upstream and, when
// the trace was exported, the trace's in Jaeger, whose root span has the
// record's span id and whose resource the record has; no secret of the
// requests appears in any record.
func TestAccessLogsThroughCollector(t *testing.T) {
	logs := otlpsink.StartLogs(t)
	b := kafkatest.Start(t, kfake.SeedTopics(2, kafkaTopicProto, kafkaTopicJSON, kafkaLogsTopic))
	j := startLogsJaeger(t, logs.LogsURL(), b.Addr())
	up := harness.StartUpstream(t, harness.UpstreamOptions{})
	logsHTTP := "http://127.0.0.1:" + strconv.Itoa(j.Ports.OTLPHTTP) + "/v1/logs"
	grpcURL := "http://" + j.OTLPGRPCAddr()
	service := uniqueService("e2e-access-logs")
	base := func(extra map[string]any) map[string]any {
		c := pluginConfig(j.OTLPHTTPURL(), service, map[string]any{
			"capture_request_headers": []string{"x-tenant"},
			"redact_headers":          []string{"x-secret"},
			"access_logs":             map[string]any{"endpoint": logsHTTP},
		})
		for k, v := range extra {
			c[k] = v
		}
		return c
	}
	routes := map[string]map[string]any{
		"http-protobuf": base(nil),
		"http-json":     base(map[string]any{"protocol": "http/json"}),
		"grpc":          base(map[string]any{"protocol": "grpc", "traces_endpoint": grpcURL, "access_logs": map[string]any{"endpoint": grpcURL}}),
		"unsampled":     base(map[string]any{"sampling_rate": 0}),
		"kafka": base(map[string]any{"exporter": "kafka", "access_logs": map[string]any{"enabled": true},
			"kafka": map[string]any{"brokers": []string{b.Addr()}, "topic": kafkaTopicProto, "logs_topic": kafkaLogsTopic}}),
	}
	var routeList []any
	for name, cfg := range routes {
		routeList = append(routeList, map[string]any{"name": name, "paths": []string{"/" + name},
			"plugins": []any{plugin(cfg)}})
	}
	// The global instance sees unrouted requests; Kong 3.8's logs_endpoint
	// receives its access log records.
	global := pluginConfig(j.OTLPHTTPURL(), service, map[string]any{"logs_endpoint": logsHTTP})
	gw := harness.StartGateway(t, harness.GatewayOptions{Config: map[string]any{
		"services": []any{map[string]any{"name": "access", "url": up.URL(), "routes": routeList}},
		"plugins":  []any{plugin(global)},
	}})

	secret := randomHex(12)
	var sent []accessLogSent
	send := func(route, query string, status int, traced bool) {
		id := randomHex(8)
		uri := "/" + route + "/items/" + id + "?page=2&api_key=" + secret
		if query != "" {
			uri += "&" + query
		}
		if route == "" {
			uri = "/no-route-" + id + "?api_key=" + secret
		}
		resp := harness.Do(t, "GET", gw.URL()+uri, http.Header{
			harness.TestIDHeader: {id}, "Authorization": {"Bearer " + secret}, "Cookie": {"sid=" + secret},
			"X-Secret": {secret}, "X-Tenant": {"acme"},
		})
		if resp.Status != status {
			t.Fatalf("%s: status %d, want %d", uri, resp.Status, status)
		}
		s := accessLogSent{route: route, uri: uri, status: status, traced: traced}
		if route != "" {
			got := up.Find(id)
			if len(got) != 1 {
				t.Fatalf("%s: the upstream got %d requests", uri, len(got))
			}
			tp, err := harness.ParseTraceparent(got[0].Header.Get("Traceparent"))
			if err != nil {
				t.Fatal(err)
			}
			s.traceID, s.upstream = tp.TraceID, tp.ParentID
			// A tail rule keeps a trace the upstream was told not sampled.
			if tp.Sampled() != (route != "unsampled") {
				t.Fatalf("%s: sent upstream as sampled=%v", uri, tp.Sampled())
			}
		}
		sent = append(sent, s)
	}
	for route := range routes {
		for range 3 {
			send(route, "", 200, route != "unsampled")
		}
	}
	send("unsampled", "status=503", 503, true) // kept by the status rule
	send("", "", 404, true)

	if err := gw.WaitIdle(bounded(t, 20*time.Second)); err != nil {
		t.Fatal(err)
	}
	recs, err := logs.WaitRecords(bounded(t, 30*time.Second), len(sent))
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond) // a stray extra record shows up
	if recs = logs.Records(); len(recs) != len(sent) {
		t.Fatalf("%d records for %d requests", len(recs), len(sent))
	}
	byTrace := map[string][]otlpsink.LogRecord{}
	for _, r := range recs {
		byTrace[r.TraceID()] = append(byTrace[r.TraceID()], r)
		raw, _ := otlpsink.MarshalJSON(r.LogRecord)
		res, _ := otlpsink.MarshalJSON(r.Resource)
		if strings.Contains(string(raw)+string(res), secret) {
			t.Errorf("a record leaks a secret: %s", raw)
		}
		if r.Scope.GetName() != "trace-exporter" {
			t.Errorf("scope %v", r.Scope)
		}
		if v, ok := r.Attr("log.type"); !ok || v.GetStringValue() != "access" {
			t.Errorf("log.type %v", v)
		}
	}
	for i := range sent {
		s := &sent[i]
		if s.route == "" { // no route: the trace id is the plugin's own
			for id, rs := range byTrace {
				if strings.HasPrefix(rs[0].GetBody().GetStringValue(), "GET /no-route-") {
					s.traceID = id
				}
			}
		}
		rs := byTrace[s.traceID]
		if len(rs) != 1 {
			t.Errorf("%s: %d records with trace id %s, want 1", s.uri, len(rs), s.traceID)
			continue
		}
		checkAccessRecord(t, j, s, rs[0])
	}
	for _, rec := range gw.Records() {
		if calls, _ := withoutNodeID(rec.Calls("log")); !callsEqual(calls, []string{pdkSerialize}) {
			t.Errorf("%s: log calls %s, want serialize alone", rec.URI, fmtCalls(calls))
		}
	}
}

// checkAccessRecord compares a request's record with what the request
// sent and with its trace in Jaeger.
func checkAccessRecord(t *testing.T, j *jaegertest.Jaeger, s *accessLogSent, r otlpsink.LogRecord) {
	t.Helper()
	path, _, _ := strings.Cut(s.uri, "?")
	if body := r.GetBody().GetStringValue(); !strings.HasPrefix(body, fmt.Sprintf("GET %s %d ", path, s.status)) || !strings.HasSuffix(body, "ms") {
		t.Errorf("%s: body %q", s.uri, body)
	}
	wantSeverity := map[bool]string{true: "WARN", false: "INFO"}[s.status >= 400]
	if s.status >= 500 {
		wantSeverity = "ERROR"
	}
	if r.GetSeverityText() != wantSeverity {
		t.Errorf("%s: severity %s, want %s", s.uri, r.GetSeverityText(), wantSeverity)
	}
	if v, ok := r.Attr("url.query"); !ok || !strings.Contains(v.GetStringValue(), "api_key=REDACTED") {
		t.Errorf("%s: url.query %v", s.uri, v)
	}
	if s.route != "" {
		if v, ok := r.Attr("http.request.header.x-tenant"); !ok || v.GetArrayValue().GetValues()[0].GetStringValue() != "acme" {
			t.Errorf("%s: captured header %v", s.uri, v)
		}
		if r.SpanID() == s.upstream || len(r.GetSpanId()) != 8 {
			t.Errorf("%s: span id %s: want the root span's, not the upstream's %s", s.uri, r.SpanID(), s.upstream)
		}
	}
	if sampled := r.GetFlags()&1 == 1; sampled != s.traced {
		t.Errorf("%s: flags %02x, traced %v", s.uri, r.GetFlags(), s.traced)
	}
	if !s.traced {
		// Later traces of the same instance are in Jaeger by now.
		assertTraceAbsent(t, j, s.traceID, s.uri+" (unsampled)")
		return
	}
	tr, err := j.WaitTrace(bounded(t, 20*time.Second), s.traceID, 1)
	if err != nil {
		t.Errorf("%s: trace %s: %v", s.uri, s.traceID, err)
		return
	}
	var root *jaegertest.Span
	for i := range tr.Spans {
		if tr.Spans[i].Kind == "server" {
			root = &tr.Spans[i]
		}
	}
	if root == nil || root.SpanID != r.SpanID() {
		t.Errorf("%s: the trace's root span is not the record's span %s:\n%s", s.uri, r.SpanID(), render(tr))
		return
	}
	for _, key := range []string{"service.name", "service.instance.id", "service.version"} {
		want, _ := findProcessTag(root, key)
		got, _ := r.ResourceAttr(key)
		if got.GetStringValue() != want || want == "" {
			t.Errorf("%s: resource %s = %q, the span's %q", s.uri, key, got.GetStringValue(), want)
		}
	}
}

func findProcessTag(s *jaegertest.Span, key string) (string, bool) {
	for _, tag := range s.ProcessTags {
		if tag.Key == key {
			return tag.String(), true
		}
	}
	if key == "service.name" {
		return s.ServiceName, s.ServiceName != ""
	}
	return "", false
}

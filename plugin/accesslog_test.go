package plugin

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	collogspb "go.opentelemetry.io/proto/otlp/collector/logs/v1"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	logspb "go.opentelemetry.io/proto/otlp/logs/v1"

	"github.com/trace-exporter/trace-exporter/exporter"
	"github.com/trace-exporter/trace-exporter/plugin/sampling"
	"github.com/trace-exporter/trace-exporter/schema"
	"github.com/trace-exporter/trace-exporter/test/binomial"
	"github.com/trace-exporter/trace-exporter/test/otlpsink"
)

// buildRecord runs the pure part of the access log on a fixture, next to
// the spans built from the same entry.
func buildRecord(t *testing.T, name string, o *spanOptions) (*logEntry, traceIDs, exporter.LogRecord, []exporter.Span) {
	t.Helper()
	a := newArena(64)
	e, err := parseSerialized(fixture(t, name), &parseWants{handoffKey: handoffKey}, &a)
	if err != nil {
		t.Fatal(err)
	}
	ids := traceIDs{trace: newTraceID(), root: newSpanID(), flags: flagRandom}
	if e.handoff != "" {
		h, err := decodeHandoff(e.handoff)
		if err != nil {
			t.Fatal(err)
		}
		ids = h.ids
	}
	now := time.Unix(1800000000, 5)
	rec := buildAccessRecord(e, &ids, nil, o, &a, now)
	spans := buildSpans(e, &ids, o, &a)
	// A sampled request's record takes the built root span's attributes:
	// the same record as one built from the entry alone.
	fromRoot := buildAccessRecord(e, &ids, &spans[0], o, &a, now)
	if !sameAttributes(fromRoot.Attributes, rec.Attributes) || fromRoot.DroppedAttributes != rec.DroppedAttributes ||
		fromRoot.Body != rec.Body || fromRoot.TimeUnixNano != rec.TimeUnixNano || fromRoot.SeverityNumber != rec.SeverityNumber {
		t.Fatalf("%s: the record from the root span differs from the one built from the entry:\n%+v\n%+v", name, fromRoot, rec)
	}
	return e, ids, rec, spans
}

// sameAttributes compares attributes by key and value (not by where their
// strings live).
func sameAttributes(a, b []exporter.Attribute) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		x, y := a[i], b[i]
		if x.Key != y.Key || x.Value.Type != y.Value.Type || x.Value.AsString() != y.Value.AsString() ||
			x.Value.AsInt() != y.Value.AsInt() || !reflect.DeepEqual(x.Value.AsStringSlice(), y.Value.AsStringSlice()) {
			return false
		}
	}
	return true
}

func recAttr(r *exporter.LogRecord, key string) (exporter.Value, bool) {
	return exporter.FindAttribute(r.Attributes, key)
}

// The record of a request: its time is the request's start, observed when
// built; severity from the status; a short body without the query; the
// trace and root span ids with the trace flags; the root span's attributes
// first, as the span has them, then Kong's access log names.
func TestAccessRecordOfEachFixture(t *testing.T) {
	for _, tc := range []struct {
		fixture  string
		body     string
		severity exporter.SeverityNumber
		text     string
		kong     map[string]any // Kong's names and values on the record
	}{
		{"3.9-proxied-consumer.json", "GET /echo/items 200 5ms", exporter.SeverityInfo, "INFO", map[string]any{
			"log.type": "access", "kong.latency.total": 5.0, "kong.latency.internal": 1.0, "kong.latency.upstream": 3.0,
			"kong.latency.receive": 0.0, "kong.upstream.status_code": int64(200),
			"url.full":          "http://localhost:8000/echo/items?id=42&debug&api_key=REDACTED",
			"kong.upstream.uri": "/items?id=42&debug&api_key=REDACTED",
			"kong.service.host": "127.0.0.1", "kong.service.port": int64(9000), "kong.service.protocol": "http", "kong.service.path": "/",
			"kong.upstream.try.1.ip": "127.0.0.1", "kong.upstream.try.1.port": int64(9000), "kong.upstream.try.1.balancer_latency": 0.027904,
		}},
		{"3.9-retried.json", "POST /flaky 200 12ms", exporter.SeverityInfo, "INFO", map[string]any{
			"kong.upstream.status_code": int64(200), "kong.upstream.try.1.state": "failed", "kong.upstream.try.1.code": int64(502),
			"kong.upstream.try.1.port": int64(9001), "kong.upstream.try.2.port": int64(9002), "kong.upstream.try.2.balancer_latency": 0.009,
		}},
		{"3.9-upstream-500.json", "GET /boom 500 10ms", exporter.SeverityError, "ERROR", map[string]any{"kong.upstream.status_code": int64(500)}},
		{"3.9-no-route.json", "", 0, "WARN", nil},
		{"3.3-proxied.json", "", 0, "", nil},
	} {
		t.Run(tc.fixture, func(t *testing.T) {
			e, ids, rec, spans := buildRecord(t, tc.fixture, testOptions())
			root := spans[0]
			if rec.TimeUnixNano != root.StartUnixNano || rec.TimeUnixNano != uint64(e.startedAtMs)*1e6 {
				t.Errorf("time %d, want the request's start %d", rec.TimeUnixNano, root.StartUnixNano)
			}
			if rec.ObservedTimeUnixNano != uint64(time.Unix(1800000000, 5).UnixNano()) {
				t.Errorf("observed %d", rec.ObservedTimeUnixNano)
			}
			if rec.TraceID != ids.trace || rec.SpanID != root.SpanID || rec.SpanID != ids.root || rec.Flags != uint32(ids.flags) {
				t.Errorf("ids %s %s flags %x, want %s %s %x", rec.TraceID, rec.SpanID, rec.Flags, ids.trace, ids.root, ids.flags)
			}
			wantBody := tc.body
			if wantBody == "" {
				path, _ := splitQuery(e.uri)
				wantBody = fmt.Sprintf("%s %s %d %gms", e.method, path, e.status, e.latRequest)
			}
			if rec.Body != wantBody {
				t.Errorf("body %q, want %q", rec.Body, wantBody)
			}
			wantSeverity, wantText := accessSeverity(e.status)
			if tc.text != "" && tc.text != wantText {
				t.Fatalf("status %d: severity %s, the table says %s", e.status, wantText, tc.text)
			}
			if rec.SeverityNumber != wantSeverity || rec.SeverityText != wantText || tc.severity != 0 && tc.severity != wantSeverity {
				t.Errorf("severity %d %q for status %d", rec.SeverityNumber, rec.SeverityText, e.status)
			}
			// The root span's attributes, in its order, with its values.
			if len(rec.Attributes) < len(root.Attributes) || !sameAttributes(rec.Attributes[:len(root.Attributes)], root.Attributes) {
				t.Fatalf("record attributes do not start with the root span's:\n%v\n%v", rec.Attributes, root.Attributes)
			}
			for k, want := range tc.kong {
				v, ok := recAttr(&rec, k)
				if !ok {
					t.Errorf("%s missing", k)
					continue
				}
				var got any
				switch v.Type {
				case exporter.TypeString:
					got = v.AsString()
				case exporter.TypeInt:
					got = v.AsInt()
				case exporter.TypeFloat:
					got = v.AsFloat()
				}
				if got != want {
					t.Errorf("%s = %v (%T), want %v (%T)", k, got, got, want, want)
				}
			}
		})
	}
}

// Severity follows the status: 5xx ERROR, 4xx WARN, else INFO.
func TestAccessSeverity(t *testing.T) {
	for status, want := range map[int]string{0: "INFO", 101: "INFO", 200: "INFO", 304: "INFO", 400: "WARN", 404: "WARN", 499: "WARN", 500: "ERROR", 599: "ERROR"} {
		n, text := accessSeverity(status)
		if text != want || (want == "ERROR") != (n == exporter.SeverityError) || (want == "WARN") != (n == exporter.SeverityWarn) {
			t.Errorf("status %d: %d %s, want %s", status, n, text, want)
		}
	}
}

// Limits hold on the record as on spans: max_attributes drops Kong's own
// names first (counted), values and the body are cut to the length limit.
func TestAccessRecordLimits(t *testing.T) {
	o := testOptions()
	o.maxAttrs = 6
	o.maxValueLen = 16
	_, _, rec, spans := buildRecord(t, "3.9-proxied-consumer.json", o)
	if len(rec.Attributes) != 6 || rec.DroppedAttributes == 0 {
		t.Fatalf("%d attributes, %d dropped", len(rec.Attributes), rec.DroppedAttributes)
	}
	if !sameAttributes(rec.Attributes, spans[0].Attributes[:6]) {
		t.Errorf("the semantic conventions' attributes must be kept first: %v", rec.Attributes)
	}
	if len([]rune(rec.Body)) != 16 || !strings.HasPrefix(rec.Body, "GET /echo/items") {
		t.Errorf("body %q", rec.Body)
	}
	for _, a := range rec.Attributes {
		if s := a.Value.AsString(); len([]rune(s)) > 16 {
			t.Errorf("%s = %q is longer than the limit", a.Key, s)
		}
	}
}

// accessPlugin is an instance exporting spans to traces and access logs to
// logs, as go-pdk starts one.
func accessPlugin(t *testing.T, traces *otlpsink.Sink, logs *otlpsink.LogSink, extra string) *Plugin {
	t.Helper()
	return newTestPlugin(t, traces, fmt.Sprintf(`,"access_logs":{"endpoint":%q%s}`, logs.LogsURL(), extra))
}

func waitRecords(t *testing.T, logs *otlpsink.LogSink, n int) []otlpsink.LogRecord {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	recs, err := logs.WaitRecords(ctx, n)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond) // a stray extra record shows up
	if recs = logs.Records(); len(recs) != n {
		t.Fatalf("%d records, want %d", len(recs), n)
	}
	return recs
}

// Every request gets its record, sampled or not: the trace id is the one
// sent upstream, the span id the root span's, the flags say whether the
// spans were exported; the log handler reads serialize for every request
// (no probe), and nothing else.
func TestAccessLogForEveryRequestSampledOrNot(t *testing.T) {
	traces, logs := otlpsink.Start(t), otlpsink.StartLogs(t)
	p := accessPlugin(t, traces, logs, "")
	p2 := newTestPlugin(t, traces, `,"sampling_rate":0,"access_logs":{"endpoint":"`+logs.LogsURL()+`"}`)
	if p2.rt.accessLog == nil || p.rt.accessLog == nil {
		t.Fatal("access logs off")
	}
	type sent struct {
		p        *Plugin
		fixture  string
		exported bool
	}
	for _, s := range []sent{
		{p, "3.9-proxied-consumer.json", true},
		{p2, "3.9-proxied-consumer.json", false}, // unsampled, 200
		{p2, "3.9-upstream-500.json", true},      // unsampled, kept by the status rule
	} {
		logs.Clear()
		traces.Clear()
		f := newFakeKong(t, s.fixture, nil)
		f.run(s.p)
		if !reflect.DeepEqual(f.calls["log"], []string{mSerialize}) {
			t.Errorf("%s: log calls %v, want serialize alone", s.fixture, f.calls["log"])
		}
		tp := strings.Split(f.upstream["traceparent"], "-")
		rec := waitRecords(t, logs, 1)[0]
		if rec.TraceID() != tp[1] {
			t.Errorf("%s: record trace %s, the upstream was sent %s", s.fixture, rec.TraceID(), tp[1])
		}
		if rec.SpanID() == tp[2] || len(rec.GetSpanId()) != 8 {
			t.Errorf("%s: record span %s: want the root span's id, not the upstream's %s", s.fixture, rec.SpanID(), tp[2])
		}
		if sampled := rec.GetFlags()&1 == 1; sampled != s.exported {
			t.Errorf("%s: flags %x, exported %v", s.fixture, rec.GetFlags(), s.exported)
		}
		if !s.exported {
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		spans, err := traces.WaitTrace(ctx, rec.TraceID(), 2)
		cancel()
		if err != nil {
			t.Fatalf("%s: %v", s.fixture, err)
		}
		for _, sp := range spans {
			if sp.GetParentSpanId() == nil || sp.ParentSpanID() == "53995c3f42cd8ad8" { // the root
				if sp.SpanID() != rec.SpanID() {
					t.Errorf("%s: root span %s, record span %s", s.fixture, sp.SpanID(), rec.SpanID())
				}
				if !reflect.DeepEqual(sp.Resource.GetAttributes(), rec.Resource.GetAttributes()) {
					t.Errorf("%s: resources differ:\n%v\n%v", s.fixture, sp.Resource, rec.Resource)
				}
			}
		}
		if rec.Scope.GetName() != exporter.ScopeName {
			t.Errorf("scope %v", rec.Scope)
		}
	}
	if got := p2.env.Stats.AccessLogs.Built.Load(); got < 2 {
		t.Errorf("built counter %d", got)
	}
}

// Off, nothing changes: the unsampled probe stays, no record is built.
func TestAccessLogsOffChangeNothing(t *testing.T) {
	traces := otlpsink.Start(t)
	p := newTestPlugin(t, traces, `,"sampling_rate":0,"tail_sampling":{"status_code_min":0}`)
	if p.rt.accessLog != nil {
		t.Fatal("access logs on by default")
	}
	f := newFakeKong(t, "3.9-proxied-consumer.json", nil)
	f.run(p)
	if !reflect.DeepEqual(f.calls["log"], []string{mGetCtx}) {
		t.Errorf("log calls %v", f.calls["log"])
	}
}

// access_logs.sampling_rate keeps its share of requests, decided from the
// trace id: every request whose trace was head-sampled at a lower rate
// keeps its record.
func TestAccessLogSamplingRate(t *testing.T) {
	traces, logs := otlpsink.Start(t), otlpsink.StartLogs(t)
	p := newTestPlugin(t, traces, `,"sampling_rate":0.25,"tail_sampling":{"status_code_min":0},"access_logs":{"endpoint":"`+
		logs.LogsURL()+`","sampling_rate":0.5}`)
	const n = 400
	stats := &p.env.Stats.AccessLogs // shared with the other tests' instances
	builtBefore, outBefore := stats.Built.Load(), stats.SampledOut.Load()
	sampledTraces := map[string]bool{}
	for range n {
		f := newFakeKong(t, "3.9-proxied-consumer.json", nil)
		f.run(p)
		if tp := strings.Split(f.upstream["traceparent"], "-"); tp[3] == "03" {
			sampledTraces[tp[1]] = true
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	built := stats.Built.Load() - builtBefore
	recs, err := logs.WaitRecords(ctx, int(built))
	if err != nil {
		t.Fatal(err)
	}
	if lo, hi := binomial.Interval(n, 0.5, 1e-6); len(recs) < lo || len(recs) > hi {
		t.Errorf("%d records of %d requests at rate 0.5, want %d..%d", len(recs), n, lo, hi)
	}
	logged := map[string]bool{}
	for _, r := range recs {
		logged[r.TraceID()] = true
		var id exporter.TraceID
		copy(id[:], r.GetTraceId())
		if !sampling.NewRatio(0.5).Keeps(sampling.RandomnessOf(id)) {
			t.Errorf("trace %s logged, but its randomness is below the rate", r.TraceID())
		}
	}
	for id := range sampledTraces {
		if !logged[id] {
			t.Errorf("trace %s sampled at 0.25 but not logged at 0.5", id)
		}
	}
	if out := stats.SampledOut.Load() - outBefore; out+built != n {
		t.Errorf("sampled out %d + built %d != %d requests", out, built, n)
	}
}

// spyLogProcessor is a log processor registered in code, active for
// configs carrying its marker: it asks for headers it must never get, tags
// records, and drops those of 5xx answers; with the panic marker it panics.
type spyLogProcessor struct {
	seen  atomic.Pointer[exporter.Request]
	panic bool
}

func (p *spyLogProcessor) HeadersRead() (request, response []string) {
	return []string{"Authorization", "cookie", "x-tenant"}, []string{"set-cookie", "via"}
}

func (p *spyLogProcessor) ProcessLog(r *exporter.LogRecord, req *exporter.Request) bool {
	if p.panic {
		panic("spy log processor")
	}
	p.seen.CompareAndSwap(nil, req) // the first request's
	r.Attributes = append(r.Attributes, exporter.String("tenant", strings.Join(req.RequestHeader("x-tenant"), ",")))
	return r.SeverityNumber < exporter.SeverityError
}

const spyLogMarker = "test.spy_log_processor"

var lastLogSpy atomic.Pointer[spyLogProcessor]

func init() {
	exporter.RegisterLogProcessor("test_log_spy", func(cfg *schema.Config) (exporter.LogProcessor, error) {
		v, ok := cfg.StaticAttributes[spyLogMarker]
		if !ok {
			return nil, nil
		}
		p := &spyLogProcessor{panic: v == "panic"}
		lastLogSpy.Store(p)
		return p, nil
	})
}

// Static attributes and captured headers reach the record as the root
// span; a log processor sees only the headers it may read, edits and drops
// records; a panicking one drops its record and is counted.
func TestAccessLogProcessors(t *testing.T) {
	traces, logs := otlpsink.Start(t), otlpsink.StartLogs(t)
	p := newTestPlugin(t, traces, `,"static_attributes":{"team":"edge","`+spyLogMarker+`":"on"},"capture_request_headers":["accept"],`+
		`"access_logs":{"endpoint":"`+logs.LogsURL()+`","custom_attributes_by_lua":{"x":"return 1"}}`)
	spy := lastLogSpy.Load()
	droppedBefore := p.env.Stats.AccessLogs.Processors.Dropped.Load()
	newFakeKong(t, "3.9-proxied-consumer.json", nil).run(p)
	newFakeKong(t, "3.9-upstream-500.json", nil).run(p) // dropped by the spy
	rec := waitRecords(t, logs, 1)[0]
	for k, want := range map[string]string{"team": "edge", "tenant": "acme", spyLogMarker: "on"} {
		if v, ok := rec.Attr(k); !ok || v.GetStringValue() != want {
			t.Errorf("%s = %v, want %q", k, v, want)
		}
	}
	if v, ok := rec.Attr("http.request.header.accept"); !ok || v.GetArrayValue().GetValues()[0].GetStringValue() != "*/*" {
		t.Errorf("captured header %v", v)
	}
	req := spy.seen.Load()
	var names []string
	for _, h := range append(req.RequestHeaders, req.ResponseHeaders...) {
		names = append(names, h.Name)
	}
	// The chain's headers: capture_headers' and the spy's, never credentials.
	if !reflect.DeepEqual(names, []string{"accept", "x-tenant", "via"}) {
		t.Errorf("the log processors saw headers %v, want [accept x-tenant via]", names)
	}
	if d := p.env.Stats.AccessLogs.Processors.Dropped.Load() - droppedBefore; d != 1 {
		t.Errorf("dropped %d, want the 500's record counted", d)
	}

	logs.Clear()
	panicky := newTestPlugin(t, traces, `,"static_attributes":{"`+spyLogMarker+`":"panic"},"access_logs":{"endpoint":"`+logs.LogsURL()+`"}`)
	before := panicky.env.Stats.AccessLogs.Processors.Panics.Load()
	newFakeKong(t, "3.9-proxied-consumer.json", nil).run(panicky)
	if got := panicky.env.Stats.AccessLogs.Processors.Panics.Load(); got != before+1 {
		t.Errorf("panics %d, want %d", got, before+1)
	}
	time.Sleep(100 * time.Millisecond)
	if n := len(logs.Records()); n != 0 {
		t.Errorf("%d records after a processor panicked", n)
	}
}

// No secret of the request reaches a record: not the query's, not the
// credential headers (even when a processor or a capture list asks).
func TestAccessLogKeepsSecrets(t *testing.T) {
	traces, logs := otlpsink.Start(t), otlpsink.StartLogs(t)
	p := newTestPlugin(t, traces, `,"capture_request_headers":["apikey","x-tenant"],"redact_headers":["apikey"],`+
		`"static_attributes":{"`+spyLogMarker+`":"on"},"access_logs":{"endpoint":"`+logs.LogsURL()+`"}`)
	newFakeKong(t, "3.9-proxied-consumer.json", nil).run(p)
	rec := waitRecords(t, logs, 1)[0]
	raw, _ := otlpsink.MarshalJSON(rec.LogRecord)
	for _, secret := range []string{"s3cr3t", "my-key", "session=abc", "sid=zzz"} {
		if strings.Contains(string(raw), secret) {
			t.Errorf("record leaks %q: %s", secret, raw)
		}
	}
	if !strings.Contains(string(raw), "api_key=REDACTED") {
		t.Errorf("query not redacted where it is shown: %s", raw)
	}
}

// logs_endpoint alone sends the access log records there.
func TestLogsEndpointReceivesAccessLogs(t *testing.T) {
	traces, logs := otlpsink.Start(t), otlpsink.StartLogs(t)
	p := newTestPlugin(t, traces, `,"logs_endpoint":"`+logs.LogsURL()+`"`)
	newFakeKong(t, "3.9-upstream-500.json", nil).run(p)
	rec := waitRecords(t, logs, 1)[0]
	if rec.GetSeverityText() != "ERROR" || rec.GetBody().GetStringValue() != "GET /boom 500 10ms" {
		t.Errorf("record %v", rec.LogRecord)
	}
}

// exporter file: the records are OTLP/JSON lines of access_logs.file_path.
func TestAccessLogsToFile(t *testing.T) {
	dir := t.TempDir()
	spans, access := filepath.Join(dir, "spans.ndjson"), filepath.Join(dir, "access.ndjson")
	p := New().(*Plugin)
	cfg := fmt.Sprintf(`{"exporter":"file","file_path":%q,"queue":{"max_coalescing_delay":0.01},"access_logs":{"enabled":true,"file_path":%q}}`, spans, access)
	if err := json.Unmarshal([]byte(cfg), p); err != nil {
		t.Fatal(err)
	}
	newFakeKong(t, "3.9-retried.json", nil).run(p)
	var got []*logspb.LogRecord
	deadline := time.Now().Add(5 * time.Second)
	for len(got) == 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
		f, err := os.Open(access)
		if err != nil {
			continue
		}
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			var req collogspb.ExportLogsServiceRequest
			if err := otlpsink.UnmarshalJSON(sc.Bytes(), &req); err != nil {
				t.Fatalf("line %q: %v", sc.Text(), err)
			}
			for _, rl := range req.GetResourceLogs() {
				for _, sl := range rl.GetScopeLogs() {
					got = append(got, sl.GetLogRecords()...)
				}
			}
		}
		f.Close()
	}
	if len(got) != 1 || got[0].GetBody().GetStringValue() != "POST /flaky 200 12ms" {
		t.Fatalf("records %v", got)
	}
}

// A destination the backend refuses is reported under the field the user
// wrote, not the copy's.
func TestAccessLogDestinationRefusedNamesTheField(t *testing.T) {
	p := New().(*Plugin)
	missing := filepath.Join(t.TempDir(), "no-such-dir", "access.ndjson")
	cfg := fmt.Sprintf(`{"exporter":"file","file_path":%q,"access_logs":{"enabled":true,"file_path":%q}}`,
		filepath.Join(t.TempDir(), "spans.ndjson"), missing)
	err := json.Unmarshal([]byte(cfg), p)
	if err == nil || !strings.Contains(err.Error(), "config.access_logs.file_path") {
		t.Fatalf("error %v, want one naming access_logs.file_path", err)
	}
}

// Without access_logs.file_path, records and spans share file_path, each
// request a line of its own kind.
func TestAccessLogsShareTheSpansFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "otlp.ndjson")
	p := New().(*Plugin)
	cfg := fmt.Sprintf(`{"exporter":"file","file_path":%q,"queue":{"max_coalescing_delay":0.01},"access_logs":{"enabled":true}}`, path)
	if err := json.Unmarshal([]byte(cfg), p); err != nil {
		t.Fatal(err)
	}
	newFakeKong(t, "3.9-retried.json", nil).run(p)
	var spans, records int
	deadline := time.Now().Add(5 * time.Second)
	for (spans == 0 || records == 0) && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
		raw, _ := os.ReadFile(path)
		spans, records = 0, 0
		for _, line := range strings.Split(strings.TrimSpace(string(raw)), "\n") {
			var tr coltracepb.ExportTraceServiceRequest
			var lr collogspb.ExportLogsServiceRequest
			switch {
			case line == "":
			case strings.HasPrefix(line, `{"resourceSpans"`) && otlpsink.UnmarshalJSON([]byte(line), &tr) == nil:
				spans += len(tr.GetResourceSpans()[0].GetScopeSpans()[0].GetSpans())
			case strings.HasPrefix(line, `{"resourceLogs"`) && otlpsink.UnmarshalJSON([]byte(line), &lr) == nil:
				records += len(lr.GetResourceLogs()[0].GetScopeLogs()[0].GetLogRecords())
			default:
				t.Fatalf("line %q is neither", line)
			}
		}
	}
	if spans != 3 || records != 1 {
		t.Fatalf("%d spans and %d records in %s", spans, records, path)
	}
}

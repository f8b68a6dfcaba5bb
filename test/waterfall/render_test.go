package waterfall

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// t0 is a fixed instant so the golden output never depends on the clock.
var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

func ns(offset time.Duration) uint64 { return uint64(t0.Add(offset).UnixNano()) }

func str(k, v string) *commonpb.KeyValue {
	return &commonpb.KeyValue{Key: k, Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: v}}}
}

func num(k string, v int64) *commonpb.KeyValue {
	return &commonpb.KeyValue{Key: k, Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_IntValue{IntValue: v}}}
}

func id(b byte, n int) []byte {
	out := make([]byte, n)
	for i := range out {
		out[i] = b
	}
	return out
}

var traceA = id(0xaa, 16)

func span(spanID, parent byte, name string, kind tracepb.Span_SpanKind, from, to time.Duration, attrs ...*commonpb.KeyValue) *tracepb.Span {
	s := &tracepb.Span{TraceId: traceA, SpanId: id(spanID, 8), Name: name, Kind: kind,
		StartTimeUnixNano: ns(from), EndTimeUnixNano: ns(to), Attributes: attrs}
	if parent != 0 {
		s.ParentSpanId = id(parent, 8)
	}
	return s
}

func failed(s *tracepb.Span, msg string) *tracepb.Span {
	s.Status = &tracepb.Status{Code: tracepb.Status_STATUS_CODE_ERROR, Message: msg}
	return s
}

func export(service string, spans ...*tracepb.Span) []*tracepb.ResourceSpans {
	return []*tracepb.ResourceSpans{{
		Resource:   &resourcepb.Resource{Attributes: []*commonpb.KeyValue{str("service.name", service)}},
		ScopeSpans: []*tracepb.ScopeSpans{{Spans: spans}},
	}}
}

const (
	server = tracepb.Span_SPAN_KIND_SERVER
	client = tracepb.Span_SPAN_KIND_CLIENT
)

// Each case is a trace shape the gateway produces (or a malformed one the
// renderer must survive), rendered in both glyph sets.
var cases = []struct {
	name  string
	spans []*tracepb.ResourceSpans
}{
	{"success", export("kong",
		span(1, 0, "GET /anything", server, 0, 12350*time.Microsecond,
			num("http.response.status_code", 200), str("http.route", "/anything"), str("server.address", "localhost")),
		span(2, 1, "GET echo", client, 1200*time.Microsecond, 11*time.Millisecond,
			num("http.response.status_code", 200), str("network.peer.address", "127.0.0.1"), num("network.peer.port", 8080),
			num("kong.balancer.try", 1)),
	)},
	{"retried", export("kong",
		// Children given out of order: the renderer sorts by start time.
		span(3, 1, "GET echo", client, 2*time.Millisecond, 9*time.Millisecond,
			num("http.response.status_code", 200), str("network.peer.address", "127.0.0.1"), num("network.peer.port", 8080),
			num("kong.balancer.try", 2)),
		span(1, 0, "GET /retry", server, 0, 10*time.Millisecond,
			num("http.response.status_code", 200), str("http.route", "/retry")),
		failed(span(2, 1, "GET echo", client, 500*time.Microsecond, 2*time.Millisecond,
			str("network.peer.address", "127.0.0.1"), num("network.peer.port", 9), num("kong.balancer.try", 1),
			str("kong.balancer.state", "failed"), str("error.type", "failed")), "connection refused"),
	)},
	{"upstream-error", export("kong",
		failed(span(1, 0, "GET /fail", server, 0, 3*time.Millisecond,
			num("http.response.status_code", 500), str("http.route", "/fail"), str("error.type", "500")), ""),
		failed(span(2, 1, "GET echo", client, time.Millisecond, 2900*time.Microsecond,
			num("http.response.status_code", 500), str("network.peer.address", "::1"), num("network.peer.port", 8080)), ""),
	)},
	{"no-route", export("kong",
		span(1, 0, "GET", server, 0, 150*time.Microsecond,
			num("http.response.status_code", 404), str("kong.response.source", "kong")),
	)},
	{"remote-parent-and-nesting", export("kong",
		// The root continues a trace from a caller (parent 0x99 not here);
		// a grandchild shows the tree connectors below a non-last child.
		span(1, 0x99, "POST /orders", server, 0, 2*time.Second),
		span(2, 1, "phase access", tracepb.Span_SPAN_KIND_INTERNAL, time.Millisecond, 5*time.Millisecond),
		span(4, 2, "dns", tracepb.Span_SPAN_KIND_INTERNAL, 2*time.Millisecond, 3*time.Millisecond),
		span(3, 1, "POST orders-service-with-a-very-long-name-that-is-cut-off-by-the-name-column", client, 6*time.Millisecond, 1900*time.Millisecond),
	)},
	{"zero-duration-and-cycle", export("kong",
		// A and B name each other as parent: no root reaches them, they
		// must still be printed once each. The instant span gets one column.
		span(1, 0, "GET /now", server, 0, 0),
		span(5, 6, "cycle A", 0, 0, 0),
		span(6, 5, "cycle B", 0, 0, 0),
	)},
}

func TestRenderGolden(t *testing.T) {
	for _, c := range cases {
		for _, ascii := range []bool{false, true} {
			name := c.name
			if ascii {
				name += ".ascii"
			}
			t.Run(name, func(t *testing.T) {
				traces := FromOTLP(c.spans)
				if len(traces) != 1 {
					t.Fatalf("FromOTLP gave %d traces, want 1", len(traces))
				}
				got := String(traces[0], Options{ASCII: ascii})
				golden := filepath.Join("testdata", name+".golden")
				if *update {
					if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
						t.Fatal(err)
					}
				}
				want, err := os.ReadFile(golden)
				if err != nil {
					t.Fatalf("%v (run go test ./test/waterfall -update to create it)", err)
				}
				if got != string(want) {
					t.Errorf("output differs from %s:\n--- got\n%s--- want\n%s", golden, got, want)
				}
			})
		}
	}
}

// Golden files prove stability; these prove the properties the golden
// files are supposed to show, so a bad golden file cannot pass unnoticed.
func TestRenderProperties(t *testing.T) {
	tr := FromOTLP(cases[1].spans)[0] // retried
	out := String(tr, Options{BarWidth: 20, ASCII: true})
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(lines) != 4 {
		t.Fatalf("got %d lines, want header + 3 spans:\n%s", len(lines), out)
	}
	if !strings.HasPrefix(lines[0], "trace aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa  service=kong  spans=3  duration=10.00ms") {
		t.Errorf("header: %q", lines[0])
	}
	// Root first, then the children by start time (try 1 before try 2).
	for i, want := range []string{"server GET /retry", "|- client GET echo", "`- client GET echo"} {
		if !strings.HasPrefix(lines[i+1], want) {
			t.Errorf("line %d = %q, want prefix %q", i+1, lines[i+1], want)
		}
	}
	if !strings.Contains(lines[2], "try=1") || !strings.Contains(lines[2], `error="connection refused"`) ||
		!strings.Contains(lines[2], "peer=127.0.0.1:9") || !strings.Contains(lines[2], "state=failed") {
		t.Errorf("failed try line lacks its fields: %q", lines[2])
	}
	if !strings.Contains(lines[3], "status=200") || !strings.Contains(lines[3], "try=2") || strings.Contains(lines[3], "error=") {
		t.Errorf("successful try line: %q", lines[3])
	}
	// Bars on a 20-column time line of 10 ms: the root fills it, try 1
	// (0.5–2 ms) covers columns 1..3, try 2 (2–9 ms) columns 4..17.
	wantBars := []string{"|####################|", "| ###                |", "|    ##############  |"}
	for i, want := range wantBars {
		if !strings.Contains(lines[i+1], want) {
			t.Errorf("line %d bar: %q, want %q", i+1, lines[i+1], want)
		}
	}
	// The duration column lines up for every span.
	col := strings.Index(lines[1], "|")
	for _, l := range lines[2:] {
		if strings.Index(l, "|") != col && !strings.HasPrefix(l, "|-") {
			t.Errorf("bar not aligned: %q", l)
		}
	}
}

func TestRenderCustomFieldsAndEmpty(t *testing.T) {
	tr := FromOTLP(cases[0].spans)[0]
	out := String(tr, Options{ASCII: true, BarWidth: 4, Fields: []Field{Attr("host", "server.address")}})
	if !strings.Contains(out, "host=localhost") || strings.Contains(out, "status=") {
		t.Errorf("custom fields not honoured:\n%s", out)
	}
	empty := String(Trace{TraceID: "00"}, Options{})
	if empty != "trace 00  spans=0  duration=0µs\n" {
		t.Errorf("empty trace: %q", empty)
	}
}

func TestFromOTLPGroupsByTrace(t *testing.T) {
	other := span(9, 0, "other", server, 0, time.Millisecond)
	other.TraceId = id(0xbb, 16)
	rs := append(export("svc-a", span(1, 0, "a1", server, 0, time.Millisecond)), export("svc-b", other, span(2, 1, "a2", client, 0, time.Millisecond))...)
	traces := FromOTLP(rs)
	if len(traces) != 2 || traces[0].TraceID != strings.Repeat("aa", 16) || traces[1].TraceID != strings.Repeat("bb", 16) {
		t.Fatalf("traces: %+v", traces)
	}
	if len(traces[0].Spans) != 2 || traces[0].Spans[0].Service != "svc-a" || traces[0].Spans[1].Service != "svc-b" {
		t.Errorf("trace a spans: %+v", traces[0].Spans)
	}
	if got := traces[0].Spans[1].Attributes; len(got) != 0 {
		t.Errorf("attributes: %v", got)
	}
}

func TestAnyValueString(t *testing.T) {
	v := &commonpb.AnyValue{Value: &commonpb.AnyValue_ArrayValue{ArrayValue: &commonpb.ArrayValue{Values: []*commonpb.AnyValue{
		{Value: &commonpb.AnyValue_StringValue{StringValue: "x"}},
		{Value: &commonpb.AnyValue_BoolValue{BoolValue: true}},
		{Value: &commonpb.AnyValue_DoubleValue{DoubleValue: 1.5}},
		{Value: &commonpb.AnyValue_BytesValue{BytesValue: []byte{0xde, 0xad}}},
		{Value: &commonpb.AnyValue_KvlistValue{KvlistValue: &commonpb.KeyValueList{Values: []*commonpb.KeyValue{num("n", -3)}}}},
	}}}}
	if got, want := AnyValueString(v), "[x,true,1.5,dead,{n=-3}]"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	if got := AnyValueString(nil); got != "" {
		t.Errorf("nil value: %q", got)
	}
}

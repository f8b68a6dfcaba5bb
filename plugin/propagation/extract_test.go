package propagation

import (
	"testing"

	"google.golang.org/protobuf/types/known/structpb"
)

const (
	w3cTrace   = "4bf92f3577b34da6a3ce929d0e0e4736"
	w3cSpan    = "00f067aa0ba902b7"
	w3cHeader  = "00-" + w3cTrace + "-" + w3cSpan + "-01"
	b3Trace    = "80f198ee56343ba864fe8b2a57d3eff7"
	b3Span     = "e457b5a2e4d86bd1"
	b3Header   = b3Trace + "-" + b3Span + "-0"
	jaegerHdr  = "a3ce929d0e0e4736a3ce929d0e0e4736:a3ce929d0e0e4736:0:1"
	jaegerHex  = "a3ce929d0e0e4736a3ce929d0e0e4736"
	jaegerSpan = "a3ce929d0e0e4736"
)

func TestExtractOrder(t *testing.T) {
	all := hm("traceparent", w3cHeader, "b3", b3Header, "uber-trace-id", jaegerHdr)
	w3c := SpanContext{TraceID: tid(t, w3cTrace), SpanID: sid(t, w3cSpan), Sampling: Sampled, Format: W3C}
	b3 := SpanContext{TraceID: tid(t, b3Trace), SpanID: sid(t, b3Span), Sampling: NotSampled, Format: B3Single}
	jaeger := SpanContext{TraceID: tid(t, jaegerHex), SpanID: sid(t, jaegerSpan), Sampling: Sampled, Format: Jaeger}

	cases := []struct {
		name    string
		headers HeaderMap
		formats []Format
		want    SpanContext
		ok      bool
	}{
		{"first listed wins: w3c", all, []Format{W3C, B3, Jaeger}, w3c, true},
		{"first listed wins: b3", all, []Format{B3, W3C, Jaeger}, b3, true},
		{"first listed wins: jaeger", all, []Format{Jaeger, B3, W3C}, jaeger, true},
		{"b3-single in the list reads b3", all, []Format{B3Single}, b3, true},
		{"absent format skipped", all, []Format{Datadog, AWS, Jaeger, W3C}, jaeger, true},
		{"malformed format skipped", hm("traceparent", "00-bad", "b3", b3Header), []Format{W3C, B3}, b3, true},
		{"format not listed is not read", all, []Format{OT, GCP}, SpanContext{}, false},
		{"no formats: nothing extracted", all, nil, SpanContext{}, false},
		{"preserve and none in the list are ignored", all, []Format{Preserve, FormatNone, W3C}, w3c, true},
		{"decision-only does not hide a context later in the list",
			hm("b3", "0", "traceparent", w3cHeader), []Format{B3, W3C}, w3c, true},
		{"decision-only is used when no context follows",
			hm("b3", "0", "traceparent", "garbage"), []Format{B3, W3C}, SpanContext{Sampling: NotSampled, Format: B3Single}, true},
		{"first decision-only wins among decisions",
			hm("x-instana-l", "0", "b3", "1"), []Format{Instana, B3}, SpanContext{Sampling: NotSampled, Format: Instana}, true},
		{"no headers", HeaderMap{}, []Format{W3C, B3, Jaeger, OT, Datadog, AWS, GCP, Instana}, SpanContext{}, false},
		{"baggage is not a context", hm("baggage", "userId=alice"), legacyExtract, SpanContext{}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := Extract(tc.headers, tc.formats)
			if ok != tc.ok || got != tc.want {
				t.Errorf("got %+v, %v\nwant %+v, %v", got, ok, tc.want, tc.ok)
			}
		})
	}
}

func TestMalformedReportedPerFormat(t *testing.T) {
	h := hm("traceparent", "00-bad", "uber-trace-id", "bad", "b3", b3Header)
	_, ok, bad := ExtractChecked(h, []Format{W3C, Jaeger, B3, OT})
	if !ok {
		t.Fatal("b3 context not found behind two malformed formats")
	}
	for f := W3C; f < Preserve; f++ {
		if want := f == W3C || f == Jaeger; bad.Has(f) != want {
			t.Errorf("%v: reported malformed %v, want %v", f, bad.Has(f), want)
		}
	}
	_, _, bad = ExtractChecked(hm("b3", "zz"), []Format{B3Single})
	if !bad.Has(B3) || !bad.Has(B3Single) {
		t.Error("b3-single and b3 are one extractor: a bad b3 header is reported for both")
	}
	if bad.Has(Format(200)) {
		t.Error("an unknown format is never reported")
	}
	if _, _, bad := ExtractChecked(hm("traceparent", "00-bad"), nil); bad != 0 {
		t.Error("nothing is read, so nothing is malformed, when no format is configured")
	}
}

func TestGetters(t *testing.T) {
	m := HeaderMap{"traceparent": {w3cHeader}, "tracestate": {"a=1", "b=2"}, "empty": {}}
	if got := m.Get("traceparent"); got != w3cHeader {
		t.Errorf("HeaderMap single value = %q", got)
	}
	if got := m.Get("tracestate"); got != "a=1,b=2" {
		t.Errorf("HeaderMap repeated = %q, want joined with a comma", got)
	}
	if m.Get("empty") != "" || m.Get("missing") != "" {
		t.Error("HeaderMap absent header must be empty")
	}

	one := SingleHeader{Name: "uber-trace-id", Value: jaegerHdr}
	if one.Get("uber-trace-id") != jaegerHdr || one.Get("traceparent") != "" {
		t.Error("SingleHeader must answer only for its name")
	}
	if sc, ok := Extract(one, []Format{Jaeger}); !ok || sc.TraceID != tid(t, jaegerHex) {
		t.Errorf("extract through SingleHeader: %+v %v", sc, ok)
	}

	st, err := structpb.NewStruct(map[string]any{
		"traceparent": w3cHeader,
		"tracestate":  []any{"a=1", "b=2"},
		"single-list": []any{"x"},
		"number":      42.0,
	})
	if err != nil {
		t.Fatal(err)
	}
	s := StructHeaders{st}
	if s.Get("traceparent") != w3cHeader || s.Get("tracestate") != "a=1,b=2" || s.Get("single-list") != "x" {
		t.Errorf("StructHeaders: %q %q %q", s.Get("traceparent"), s.Get("tracestate"), s.Get("single-list"))
	}
	if s.Get("number") != "" || s.Get("missing") != "" || (StructHeaders{}).Get("traceparent") != "" {
		t.Error("StructHeaders: non-string, absent or nil must read as absent")
	}
	sc, ok := Extract(s, []Format{W3C})
	if !ok || sc.TraceState != "a=1,b=2" || sc.TraceID != tid(t, w3cTrace) {
		t.Errorf("extract through StructHeaders: %+v %v", sc, ok)
	}
}

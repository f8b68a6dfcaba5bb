package propagation

import (
	"fmt"
	"strings"
	"testing"
)

func TestExtractW3C(t *testing.T) {
	const (
		trace  = "4bf92f3577b34da6a3ce929d0e0e4736"
		span   = "00f067aa0ba902b7"
		valid  = "00-" + trace + "-" + span + "-01"
		state  = "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE"
		tenant = "acme@dt=1,fw529a3039@dt=2"
	)
	base := SpanContext{TraceID: tid(t, trace), SpanID: sid(t, span), Sampling: Sampled, Format: W3C}
	with := func(f func(*SpanContext)) SpanContext { sc := base; f(&sc); return sc }
	members32, members33 := tracestateMembers(32), tracestateMembers(33)

	cases := []extractCase{
		{name: "valid sampled", headers: hm("traceparent", valid), want: base, ok: true},
		{name: "not sampled", headers: hm("traceparent", "00-"+trace+"-"+span+"-00"),
			want: with(func(sc *SpanContext) { sc.Sampling = NotSampled }), ok: true},
		{name: "random flag", headers: hm("traceparent", "00-"+trace+"-"+span+"-03"),
			want: with(func(sc *SpanContext) { sc.Random = true }), ok: true},
		{name: "unknown flag bits ignored", headers: hm("traceparent", "00-"+trace+"-"+span+"-f9"), want: base, ok: true},
		{name: "tracestate kept", headers: hm("traceparent", valid, "tracestate", state),
			want: with(func(sc *SpanContext) { sc.TraceState = state }), ok: true},
		{name: "multi-tenant tracestate keys", headers: hm("traceparent", valid, "tracestate", tenant),
			want: with(func(sc *SpanContext) { sc.TraceState = tenant }), ok: true},
		{name: "tracestate with optional whitespace", headers: hm("traceparent", valid, "tracestate", " a=1 ,\tb=2 , "),
			want: with(func(sc *SpanContext) { sc.TraceState = "a=1 ,\tb=2 ," }), ok: true},
		{name: "repeated tracestate headers are one list", headers: hm("traceparent", valid, "tracestate", "a=1", "tracestate", "b=2"),
			want: with(func(sc *SpanContext) { sc.TraceState = "a=1,b=2" }), ok: true},
		{name: "invalid tracestate dropped, context kept", headers: hm("traceparent", valid, "tracestate", "Rojo=1"), want: base, ok: true},
		{name: "tracestate duplicate key dropped", headers: hm("traceparent", valid, "tracestate", "a=1,a=2"), want: base, ok: true},
		{name: "tracestate 32 members kept", headers: hm("traceparent", valid, "tracestate", members32),
			want: with(func(sc *SpanContext) { sc.TraceState = members32 }), ok: true},
		{name: "tracestate 33 members dropped", headers: hm("traceparent", valid, "tracestate", members33), want: base, ok: true},
		{name: "tracestate value with equals dropped", headers: hm("traceparent", valid, "tracestate", "a=b=c"), want: base, ok: true},
		{name: "future version with extra field", headers: hm("traceparent", "cc-"+trace+"-"+span+"-01-what-the-future-will-be-like"), want: base, ok: true},
		{name: "future version exact length", headers: hm("traceparent", "01-"+trace+"-"+span+"-01"), want: base, ok: true},
		{name: "future version, garbage after flags", headers: hm("traceparent", "cc-"+trace+"-"+span+"-01.x"), malformed: true},
		{name: "version ff", headers: hm("traceparent", "ff-"+trace+"-"+span+"-01"), malformed: true},
		{name: "version 00 with extra field", headers: hm("traceparent", valid+"-01"), malformed: true},
		{name: "uppercase trace id", headers: hm("traceparent", "00-"+strings.ToUpper(trace)+"-"+span+"-01"), malformed: true},
		{name: "mixed case span id", headers: hm("traceparent", "00-"+trace+"-00F067aa0ba902b7-01"), malformed: true},
		{name: "uppercase version", headers: hm("traceparent", "0A-"+trace+"-"+span+"-01"), malformed: true},
		{name: "all-zero trace id", headers: hm("traceparent", "00-00000000000000000000000000000000-"+span+"-01"), malformed: true},
		{name: "all-zero parent id", headers: hm("traceparent", "00-"+trace+"-0000000000000000-01"), malformed: true},
		{name: "too short", headers: hm("traceparent", valid[:54]), malformed: true},
		{name: "surrounding whitespace", headers: hm("traceparent", " \t"+valid+" "), want: base, ok: true},
		{name: "inner whitespace", headers: hm("traceparent", "00-"+trace+" -"+span+"-01"), malformed: true},
		{name: "not hex", headers: hm("traceparent", "00-"+trace[:31]+"g-"+span+"-01"), malformed: true},
		{name: "wrong delimiter", headers: hm("traceparent", "00_"+trace+"-"+span+"-01"), malformed: true},
		{name: "duplicated traceparent", headers: hm("traceparent", valid, "traceparent", valid), malformed: true},
		{name: "empty value is absent", headers: hm("traceparent", "")},
		{name: "tracestate alone is absent", headers: hm("tracestate", state)},
	}
	runExtractCases(t, W3C, []Format{W3C}, cases)
}

// tracestateMembers returns n distinct members "k0=1,k1=1,…".
func tracestateMembers(n int) string {
	var b strings.Builder
	for i := 0; i < n; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, "k%d=1", i)
	}
	return b.String()
}

func TestInjectW3C(t *testing.T) {
	sc := SpanContext{TraceID: tid(t, "4bf92f3577b34da6a3ce929d0e0e4736"), SpanID: sid(t, "00f067aa0ba902b7"), Sampling: Sampled}
	cases := []struct {
		name string
		sc   func(SpanContext) SpanContext
		want []Header
	}{
		{"sampled", func(s SpanContext) SpanContext { return s },
			[]Header{{"traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}}},
		{"not sampled", func(s SpanContext) SpanContext { s.Sampling = NotSampled; return s },
			[]Header{{"traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00"}}},
		{"no decision is written as not sampled", func(s SpanContext) SpanContext { s.Sampling = NoDecision; return s },
			[]Header{{"traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00"}}},
		{"random", func(s SpanContext) SpanContext { s.Random = true; return s },
			[]Header{{"traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-03"}}},
		{"tracestate from another format is written", func(s SpanContext) SpanContext { s.TraceState = "a=1"; s.Format = B3; return s },
			[]Header{{"traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}, {"tracestate", "a=1"}}},
		{"tracestate that came with traceparent travels untouched", func(s SpanContext) SpanContext { s.TraceState = "a=1"; s.Format = W3C; return s },
			[]Header{{"traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := Inject(nil, tc.sc(sc), []Format{W3C}, W3C)
			assertHeaders(t, got, tc.want)
		})
	}
}

func assertHeaders(t *testing.T, got, want []Header) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d headers %v, want %v", len(got), got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("header %d = %q: %q, want %q: %q", i, got[i].Name, got[i].Value, want[i].Name, want[i].Value)
		}
	}
}

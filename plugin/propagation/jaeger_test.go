package propagation

import "testing"

func TestExtractJaeger(t *testing.T) {
	const (
		trace = "4bf92f3577b34da6a3ce929d0e0e4736"
		span  = "00f067aa0ba902b7"
	)
	want := func(trace, span, parent string, s Sampling, debug bool) SpanContext {
		sc := SpanContext{TraceID: tid(t, trace), SpanID: sid(t, span), Sampling: s, Debug: debug, Format: Jaeger}
		if parent != "" {
			sc.ParentSpanID = sid(t, parent)
		}
		return sc
	}
	runExtractCases(t, Jaeger, []Format{Jaeger}, []extractCase{
		{name: "valid sampled", headers: hm("uber-trace-id", trace+":"+span+":0:1"), want: want(trace, span, "", Sampled, false), ok: true},
		{name: "two-digit flags, not sampled", headers: hm("uber-trace-id", trace+":"+span+":0:00"), want: want(trace, span, "", NotSampled, false), ok: true},
		{name: "debug flag", headers: hm("uber-trace-id", trace+":"+span+":0:3"), want: want(trace, span, "", Sampled, true), ok: true},
		{name: "debug without sampled is not sampled", headers: hm("uber-trace-id", trace+":"+span+":0:2"), want: want(trace, span, "", NotSampled, false), ok: true},
		{name: "parent kept", headers: hm("uber-trace-id", trace+":"+span+":05e3ac9a4f6e3b90:1"), want: want(trace, span, "05e3ac9a4f6e3b90", Sampled, false), ok: true},
		{name: "64-bit trace id padded", headers: hm("uber-trace-id", "a3ce929d0e0e4736:"+span+":0:1"), want: want("a3ce929d0e0e4736", span, "", Sampled, false), ok: true},
		{name: "leading zeros dropped", headers: hm("uber-trace-id", "abc:de:0:1"), want: want("0abc", "de", "", Sampled, false), ok: true},
		{name: "url-encoded colons", headers: hm("uber-trace-id", trace+"%3A"+span+"%3a0%3A1"), want: want(trace, span, "", Sampled, false), ok: true},
		{name: "uppercase hex", headers: hm("uber-trace-id", "4BF92F3577B34DA6A3CE929D0E0E4736:00F067AA0BA902B7:0:1"), want: want(trace, span, "", Sampled, false), ok: true},
		{name: "whitespace", headers: hm("uber-trace-id", " "+trace+":"+span+":0:1 "), want: want(trace, span, "", Sampled, false), ok: true},
		{name: "bad deprecated parent ignored", headers: hm("uber-trace-id", trace+":"+span+":zz:1"), want: want(trace, span, "", Sampled, false), ok: true},
		{name: "all-zero trace id", headers: hm("uber-trace-id", "0:"+span+":0:1"), malformed: true},
		{name: "all-zero span id", headers: hm("uber-trace-id", trace+":0000000000000000:0:1"), malformed: true},
		{name: "trace id too long", headers: hm("uber-trace-id", "1"+trace+":"+span+":0:1"), malformed: true},
		{name: "span id too long", headers: hm("uber-trace-id", trace+":1"+span+":0:1"), malformed: true},
		{name: "three fields", headers: hm("uber-trace-id", trace+":"+span+":1"), malformed: true},
		{name: "five fields", headers: hm("uber-trace-id", trace+":"+span+":0:1:1"), malformed: true},
		{name: "flags three digits", headers: hm("uber-trace-id", trace+":"+span+":0:001"), malformed: true},
		{name: "empty flags", headers: hm("uber-trace-id", trace+":"+span+":0:"), malformed: true},
		{name: "not hex", headers: hm("uber-trace-id", "xyz:"+span+":0:1"), malformed: true},
		{name: "empty trace id", headers: hm("uber-trace-id", ":"+span+":0:1"), malformed: true},
		{name: "repeated header", headers: hm("uber-trace-id", trace+":"+span+":0:1", "uber-trace-id", trace+":"+span+":0:1"), malformed: true},
		{name: "baggage only is absent", headers: hm("uberctx-user", "alice")},
	})
}

func TestInjectJaeger(t *testing.T) {
	sc := SpanContext{TraceID: tid(t, "4bf92f3577b34da6a3ce929d0e0e4736"), SpanID: sid(t, "00f067aa0ba902b7"), Sampling: Sampled}
	cases := []struct {
		name string
		sc   func(SpanContext) SpanContext
		want string
	}{
		{"sampled", func(s SpanContext) SpanContext { return s }, "4bf92f3577b34da6a3ce929d0e0e4736:00f067aa0ba902b7:0:1"},
		{"not sampled", func(s SpanContext) SpanContext { s.Sampling = NotSampled; return s }, "4bf92f3577b34da6a3ce929d0e0e4736:00f067aa0ba902b7:0:0"},
		{"debug", func(s SpanContext) SpanContext { s.Debug = true; return s }, "4bf92f3577b34da6a3ce929d0e0e4736:00f067aa0ba902b7:0:3"},
		{"parent", func(s SpanContext) SpanContext { s.ParentSpanID = sid(t, "05e3ac9a4f6e3b90"); return s },
			"4bf92f3577b34da6a3ce929d0e0e4736:00f067aa0ba902b7:05e3ac9a4f6e3b90:1"},
		{"64-bit id", func(s SpanContext) SpanContext { s.TraceID = tid(t, "a3ce929d0e0e4736"); return s }, "a3ce929d0e0e4736:00f067aa0ba902b7:0:1"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			assertHeaders(t, Inject(nil, tc.sc(sc), []Format{Jaeger}, W3C), []Header{{"uber-trace-id", tc.want}})
		})
	}
}

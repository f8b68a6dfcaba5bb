package propagation

import "testing"

func TestExtractB3(t *testing.T) {
	const (
		trace   = "80f198ee56343ba864fe8b2a57d3eff7"
		trace64 = "a3ce929d0e0e4736"
		span    = "e457b5a2e4d86bd1"
		parent  = "05e3ac9a4f6e3b90"
	)
	single := func(s Sampling, debug bool, parentHex string) SpanContext {
		sc := SpanContext{TraceID: tid(t, trace), SpanID: sid(t, span), Sampling: s, Debug: debug, Format: B3Single}
		if parentHex != "" {
			sc.ParentSpanID = sid(t, parentHex)
		}
		return sc
	}
	multi := func(s Sampling, debug bool) SpanContext {
		return SpanContext{TraceID: tid(t, trace), SpanID: sid(t, span), ParentSpanID: sid(t, parent), Sampling: s, Debug: debug, Format: B3}
	}
	fullMulti := func(sampled string) HeaderMap {
		return hm("x-b3-traceid", trace, "x-b3-spanid", span, "x-b3-parentspanid", parent, "x-b3-sampled", sampled)
	}

	runExtractCases(t, B3, []Format{B3}, []extractCase{
		{name: "single full", headers: hm("b3", trace+"-"+span+"-1-"+parent), want: single(Sampled, false, parent), ok: true},
		{name: "single 64-bit trace id", headers: hm("b3", trace64+"-"+span+"-0"),
			want: SpanContext{TraceID: tid(t, trace64), SpanID: sid(t, span), Sampling: NotSampled, Format: B3Single}, ok: true},
		{name: "single ids only: no decision", headers: hm("b3", trace+"-"+span), want: single(NoDecision, false, ""), ok: true},
		{name: "single debug", headers: hm("b3", trace+"-"+span+"-d"), want: single(Sampled, true, ""), ok: true},
		{name: "single uppercase hex", headers: hm("b3", "80F198EE56343BA864FE8B2A57D3EFF7-E457B5A2E4D86BD1-1"), want: single(Sampled, false, ""), ok: true},
		{name: "single whitespace", headers: hm("b3", "  "+trace+"-"+span+"-1\t"), want: single(Sampled, false, ""), ok: true},
		{name: "b3: 0 is a decision without context", headers: hm("b3", "0"), want: SpanContext{Sampling: NotSampled, Format: B3Single}, ok: true},
		{name: "b3: 1", headers: hm("b3", "1"), want: SpanContext{Sampling: Sampled, Format: B3Single}, ok: true},
		{name: "b3: d", headers: hm("b3", "d"), want: SpanContext{Sampling: Sampled, Debug: true, Format: B3Single}, ok: true},
		{name: "single parent without sampling is invalid", headers: hm("b3", trace+"-"+span+"-"+parent), malformed: true},
		{name: "single trailing dash", headers: hm("b3", trace+"-"+span+"-"), malformed: true},
		{name: "single bad sampling state", headers: hm("b3", trace+"-"+span+"-2"), malformed: true},
		{name: "single bad one-char value", headers: hm("b3", "x"), malformed: true},
		{name: "single 20-digit trace id", headers: hm("b3", trace[:20]+"-"+span+"-1"), malformed: true},
		{name: "single all-zero trace id", headers: hm("b3", "0000000000000000-"+span+"-1"), malformed: true},
		{name: "single all-zero span id", headers: hm("b3", trace+"-0000000000000000-1"), malformed: true},
		{name: "single trace id alone", headers: hm("b3", trace), malformed: true},
		{name: "single inner whitespace", headers: hm("b3", trace+"- "+span+"-1"), malformed: true},
		{name: "repeated single header", headers: hm("b3", trace+"-"+span+"-1", "b3", trace+"-"+span+"-1"), malformed: true},

		{name: "multi full", headers: fullMulti("1"), want: multi(Sampled, false), ok: true},
		{name: "multi not sampled", headers: fullMulti("0"), want: multi(NotSampled, false), ok: true},
		{name: "multi legacy true", headers: fullMulti("true"), want: multi(Sampled, false), ok: true},
		{name: "multi legacy False", headers: fullMulti("False"), want: multi(NotSampled, false), ok: true},
		{name: "multi bad sampled", headers: fullMulti("yes"), malformed: true},
		{name: "multi flags 1 is debug and wins over sampled 0",
			headers: hm("x-b3-traceid", trace, "x-b3-spanid", span, "x-b3-parentspanid", parent, "x-b3-sampled", "0", "x-b3-flags", "1"),
			want:    multi(Sampled, true), ok: true},
		{name: "multi other flags ignored",
			headers: hm("x-b3-traceid", trace, "x-b3-spanid", span, "x-b3-parentspanid", parent, "x-b3-flags", "0"),
			want:    multi(NoDecision, false), ok: true},
		{name: "multi 64-bit trace id", headers: hm("x-b3-traceid", trace64, "x-b3-spanid", span, "x-b3-sampled", "1"),
			want: SpanContext{TraceID: tid(t, trace64), SpanID: sid(t, span), Sampling: Sampled, Format: B3}, ok: true},
		{name: "multi trace id without span id", headers: hm("x-b3-traceid", trace, "x-b3-sampled", "1"), malformed: true},
		{name: "multi span id without trace id", headers: hm("x-b3-spanid", span), malformed: true},
		{name: "multi parent alone", headers: hm("x-b3-parentspanid", parent), malformed: true},
		{name: "multi bad parent", headers: hm("x-b3-traceid", trace, "x-b3-spanid", span, "x-b3-parentspanid", "xyz"), malformed: true},
		{name: "multi all-zero trace id", headers: hm("x-b3-traceid", "00000000000000000000000000000000", "x-b3-spanid", span), malformed: true},
		{name: "multi sampled alone is a decision", headers: hm("x-b3-sampled", "0"), want: SpanContext{Sampling: NotSampled, Format: B3}, ok: true},
		{name: "multi flags other than 1 alone is nothing", headers: hm("x-b3-flags", "0", "x-b3-sampled", " ")},
		{name: "multi flags alone is a decision", headers: hm("x-b3-flags", "1"), want: SpanContext{Sampling: Sampled, Debug: true, Format: B3}, ok: true},

		{name: "valid single wins over multi", headers: func() HeaderMap {
			m := fullMulti("0")
			m["b3"] = []string{trace + "-" + span + "-1"}
			m["x-b3-traceid"] = []string{trace64}
			return m
		}(), want: single(Sampled, false, ""), ok: true},
		{name: "invalid single falls back to multi", headers: func() HeaderMap {
			m := fullMulti("1")
			m["b3"] = []string{"garbage"}
			return m
		}(), want: multi(Sampled, false), ok: true},
		{name: "single decision completes a multi context without one", headers: hm("b3", "0", "x-b3-traceid", trace, "x-b3-spanid", span),
			want: SpanContext{TraceID: tid(t, trace), SpanID: sid(t, span), Sampling: NotSampled, Format: B3}, ok: true},
		{name: "multi decision is kept over single decision", headers: hm("b3", "0", "x-b3-traceid", trace, "x-b3-spanid", span, "x-b3-sampled", "1"),
			want: SpanContext{TraceID: tid(t, trace), SpanID: sid(t, span), Sampling: Sampled, Format: B3}, ok: true},
		{name: "no b3 header", headers: hm("traceparent", "00-"+trace+"-"+span+"-01")},
	})
}

func TestInjectB3(t *testing.T) {
	sc := SpanContext{
		TraceID:      tid(t, "80f198ee56343ba864fe8b2a57d3eff7"),
		SpanID:       sid(t, "e457b5a2e4d86bd1"),
		ParentSpanID: sid(t, "05e3ac9a4f6e3b90"),
		Sampling:     Sampled,
	}
	sc64 := sc
	sc64.TraceID = tid(t, "a3ce929d0e0e4736")
	noParent := sc
	noParent.ParentSpanID = [8]byte{}
	debug := sc
	debug.Debug = true
	debugDropped := debug
	debugDropped.Sampling = NotSampled
	notSampled := sc
	notSampled.Sampling = NotSampled

	cases := []struct {
		name   string
		sc     SpanContext
		format Format
		want   []Header
	}{
		{"multi", sc, B3, []Header{{"x-b3-traceid", "80f198ee56343ba864fe8b2a57d3eff7"}, {"x-b3-spanid", "e457b5a2e4d86bd1"},
			{"x-b3-parentspanid", "05e3ac9a4f6e3b90"}, {"x-b3-sampled", "1"}}},
		{"multi 64-bit id stays 64-bit", sc64, B3, []Header{{"x-b3-traceid", "a3ce929d0e0e4736"}, {"x-b3-spanid", "e457b5a2e4d86bd1"},
			{"x-b3-parentspanid", "05e3ac9a4f6e3b90"}, {"x-b3-sampled", "1"}}},
		{"multi no parent", noParent, B3, []Header{{"x-b3-traceid", "80f198ee56343ba864fe8b2a57d3eff7"}, {"x-b3-spanid", "e457b5a2e4d86bd1"},
			{"x-b3-sampled", "1"}}},
		{"multi debug", debug, B3, []Header{{"x-b3-traceid", "80f198ee56343ba864fe8b2a57d3eff7"}, {"x-b3-spanid", "e457b5a2e4d86bd1"},
			{"x-b3-parentspanid", "05e3ac9a4f6e3b90"}, {"x-b3-flags", "1"}}},
		{"multi debug never overrides a drop", debugDropped, B3, []Header{{"x-b3-traceid", "80f198ee56343ba864fe8b2a57d3eff7"},
			{"x-b3-spanid", "e457b5a2e4d86bd1"}, {"x-b3-parentspanid", "05e3ac9a4f6e3b90"}, {"x-b3-sampled", "0"}}},
		{"single", sc, B3Single, []Header{{"b3", "80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-1-05e3ac9a4f6e3b90"}}},
		{"single not sampled", notSampled, B3Single, []Header{{"b3", "80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-0-05e3ac9a4f6e3b90"}}},
		{"single debug no parent", func() SpanContext { s := debug; s.ParentSpanID = [8]byte{}; return s }(), B3Single,
			[]Header{{"b3", "80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-d"}}},
		{"single 64-bit", sc64, B3Single, []Header{{"b3", "a3ce929d0e0e4736-e457b5a2e4d86bd1-1-05e3ac9a4f6e3b90"}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			assertHeaders(t, Inject(nil, tc.sc, []Format{tc.format}, W3C), tc.want)
		})
	}
}

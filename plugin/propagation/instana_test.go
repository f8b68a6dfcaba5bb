package propagation

import "testing"

func TestExtractInstana(t *testing.T) {
	const (
		trace = "80f198ee56343ba864fe8b2a57d3eff7"
		span  = "e457b5a2e4d86bd1"
	)
	want := func(trace string, s Sampling) SpanContext {
		return SpanContext{TraceID: tid(t, trace), SpanID: sid(t, span), Sampling: s, Format: Instana}
	}
	runExtractCases(t, Instana, []Format{Instana}, []extractCase{
		{name: "128-bit traced", headers: hm("x-instana-t", trace, "x-instana-s", span, "x-instana-l", "1"), want: want(trace, Sampled), ok: true},
		{name: "64-bit suppressed", headers: hm("x-instana-t", "a3ce929d0e0e4736", "x-instana-s", span, "x-instana-l", "0"),
			want: want("a3ce929d0e0e4736", NotSampled), ok: true},
		{name: "short ids padded", headers: hm("x-instana-t", "abc", "x-instana-s", "e457b5a2e4d86bd1"), want: want("0abc", NoDecision), ok: true},
		{name: "level with correlation", headers: hm("x-instana-t", trace, "x-instana-s", span, "x-instana-l", "1,correlationType=web;correlationId=f2983719aaf08d0e"),
			want: want(trace, Sampled), ok: true},
		{name: "uppercase hex", headers: hm("x-instana-t", "80F198EE56343BA864FE8B2A57D3EFF7", "x-instana-s", "E457B5A2E4D86BD1", "x-instana-l", "1"), want: want(trace, Sampled), ok: true},
		{name: "whitespace", headers: hm("x-instana-t", " "+trace+" ", "x-instana-s", "\t"+span, "x-instana-l", " 1 , correlationType=web"), want: want(trace, Sampled), ok: true},
		{name: "inner whitespace", headers: hm("x-instana-t", trace[:10]+" "+trace[11:], "x-instana-s", span), malformed: true},
		{name: "level 0 alone suppresses", headers: hm("x-instana-l", "0"), want: SpanContext{Sampling: NotSampled, Format: Instana}, ok: true},
		{name: "level 1 alone is nothing", headers: hm("x-instana-l", "1")},
		{name: "bad level", headers: hm("x-instana-t", trace, "x-instana-s", span, "x-instana-l", "2"), malformed: true},
		{name: "trace id without span id", headers: hm("x-instana-t", trace, "x-instana-l", "1"), malformed: true},
		{name: "trace id too long", headers: hm("x-instana-t", "1"+trace, "x-instana-s", span), malformed: true},
		{name: "all-zero span id", headers: hm("x-instana-t", trace, "x-instana-s", "0"), malformed: true},
	})
}

func TestInjectInstana(t *testing.T) {
	sc := SpanContext{TraceID: tid(t, "80f198ee56343ba864fe8b2a57d3eff7"), SpanID: sid(t, "e457b5a2e4d86bd1"), Sampling: Sampled}
	assertHeaders(t, Inject(nil, sc, []Format{Instana}, W3C),
		[]Header{{"x-instana-t", "80f198ee56343ba864fe8b2a57d3eff7"}, {"x-instana-s", "e457b5a2e4d86bd1"}, {"x-instana-l", "1"}})
	sc.TraceID, sc.Sampling = tid(t, "a3ce929d0e0e4736"), NotSampled
	assertHeaders(t, Inject(nil, sc, []Format{Instana}, W3C),
		[]Header{{"x-instana-t", "a3ce929d0e0e4736"}, {"x-instana-s", "e457b5a2e4d86bd1"}, {"x-instana-l", "0"}})
}

package propagation

import "testing"

func TestExtractOT(t *testing.T) {
	const (
		trace   = "4bf92f3577b34da6a3ce929d0e0e4736"
		trace64 = "a3ce929d0e0e4736"
		span    = "00f067aa0ba902b7"
	)
	want := func(trace string, s Sampling) SpanContext {
		return SpanContext{TraceID: tid(t, trace), SpanID: sid(t, span), Sampling: s, Format: OT}
	}
	ot := func(trace, sampled string) HeaderMap {
		m := hm("ot-tracer-traceid", trace, "ot-tracer-spanid", span)
		if sampled != "" {
			m["ot-tracer-sampled"] = []string{sampled}
		}
		return m
	}
	runExtractCases(t, OT, []Format{OT}, []extractCase{
		{name: "128-bit sampled", headers: ot(trace, "true"), want: want(trace, Sampled), ok: true},
		{name: "64-bit padded", headers: ot(trace64, "false"), want: want(trace64, NotSampled), ok: true},
		{name: "sampled 1", headers: ot(trace, "1"), want: want(trace, Sampled), ok: true},
		{name: "sampled 0", headers: ot(trace, "0"), want: want(trace, NotSampled), ok: true},
		{name: "sampled mixed case", headers: ot(trace, "TRUE"), want: want(trace, Sampled), ok: true},
		{name: "no sampled header", headers: ot(trace, ""), want: want(trace, NoDecision), ok: true},
		{name: "uppercase hex", headers: ot("4BF92F3577B34DA6A3CE929D0E0E4736", "true"), want: want(trace, Sampled), ok: true},
		{name: "whitespace", headers: hm("ot-tracer-traceid", " "+trace, "ot-tracer-spanid", span+"\t", "ot-tracer-sampled", " true "), want: want(trace, Sampled), ok: true},
		{name: "inner whitespace", headers: ot(trace[:16]+" "+trace[17:], "true"), malformed: true},
		{name: "bad sampled", headers: ot(trace, "maybe"), malformed: true},
		{name: "trace id alone", headers: hm("ot-tracer-traceid", trace), malformed: true},
		{name: "sampled alone", headers: hm("ot-tracer-sampled", "true"), malformed: true},
		{name: "20-digit trace id", headers: ot(trace[:20], "true"), malformed: true},
		{name: "all-zero trace id", headers: ot("0000000000000000", "true"), malformed: true},
		{name: "all-zero span id", headers: hm("ot-tracer-traceid", trace, "ot-tracer-spanid", "0000000000000000"), malformed: true},
		{name: "baggage only is absent", headers: hm("ot-baggage-user", "alice")},
	})
}

func TestInjectOT(t *testing.T) {
	sc := SpanContext{TraceID: tid(t, "4bf92f3577b34da6a3ce929d0e0e4736"), SpanID: sid(t, "00f067aa0ba902b7"), Sampling: Sampled}
	assertHeaders(t, Inject(nil, sc, []Format{OT}, W3C), []Header{
		{"ot-tracer-traceid", "4bf92f3577b34da6a3ce929d0e0e4736"}, {"ot-tracer-spanid", "00f067aa0ba902b7"}, {"ot-tracer-sampled", "true"}})
	sc.TraceID = tid(t, "a3ce929d0e0e4736")
	sc.Sampling = NotSampled
	assertHeaders(t, Inject(nil, sc, []Format{OT}, W3C), []Header{
		{"ot-tracer-traceid", "a3ce929d0e0e4736"}, {"ot-tracer-spanid", "00f067aa0ba902b7"}, {"ot-tracer-sampled", "false"}})
}

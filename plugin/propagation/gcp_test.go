package propagation

import "testing"

func TestExtractGCP(t *testing.T) {
	const trace = "105445aa7843bc8bf206b12000100000"
	want := func(span string, s Sampling) SpanContext {
		return SpanContext{TraceID: tid(t, trace), SpanID: sid(t, span), Sampling: s, Format: GCP}
	}
	runExtractCases(t, GCP, []Format{GCP}, []extractCase{
		{name: "sampled", headers: hm("x-cloud-trace-context", trace+"/1;o=1"), want: want("0000000000000001", Sampled), ok: true},
		{name: "not sampled", headers: hm("x-cloud-trace-context", trace+"/123456789012345;o=0"), want: want("00007048860ddf79", NotSampled), ok: true},
		{name: "no options: no decision", headers: hm("x-cloud-trace-context", trace+"/123456789012345"), want: want("00007048860ddf79", NoDecision), ok: true},
		{name: "max span id", headers: hm("x-cloud-trace-context", trace+"/18446744073709551615;o=1"), want: want("ffffffffffffffff", Sampled), ok: true},
		{name: "options bitmask", headers: hm("x-cloud-trace-context", trace+"/1;o=3"), want: want("0000000000000001", Sampled), ok: true},
		{name: "uppercase trace id", headers: hm("x-cloud-trace-context", "105445AA7843BC8BF206B12000100000/1;o=1"), want: want("0000000000000001", Sampled), ok: true},
		{name: "whitespace", headers: hm("x-cloud-trace-context", " "+trace+"/1;o=1 "), want: want("0000000000000001", Sampled), ok: true},
		{name: "span id overflows 64 bits", headers: hm("x-cloud-trace-context", trace+"/18446744073709551616;o=1"), malformed: true},
		{name: "span id zero", headers: hm("x-cloud-trace-context", trace+"/0;o=1"), malformed: true},
		{name: "span id hex", headers: hm("x-cloud-trace-context", trace+"/ab;o=1"), malformed: true},
		{name: "empty span id", headers: hm("x-cloud-trace-context", trace+"/;o=1"), malformed: true},
		{name: "bad option value", headers: hm("x-cloud-trace-context", trace+"/1;o=x"), malformed: true},
		{name: "unknown option", headers: hm("x-cloud-trace-context", trace+"/1;x=1"), malformed: true},
		{name: "short trace id", headers: hm("x-cloud-trace-context", trace[1:]+"/1;o=1"), malformed: true},
		{name: "all-zero trace id", headers: hm("x-cloud-trace-context", "00000000000000000000000000000000/1;o=1"), malformed: true},
		{name: "no slash", headers: hm("x-cloud-trace-context", trace), malformed: true},
	})
}

func TestInjectGCP(t *testing.T) {
	sc := SpanContext{TraceID: tid(t, "105445aa7843bc8bf206b12000100000"), SpanID: sid(t, "ffffffffffffffff"), Sampling: Sampled}
	assertHeaders(t, Inject(nil, sc, []Format{GCP}, W3C),
		[]Header{{"x-cloud-trace-context", "105445aa7843bc8bf206b12000100000/18446744073709551615;o=1"}})
	sc.SpanID, sc.Sampling = sid(t, "00007048860ddf79"), NotSampled
	assertHeaders(t, Inject(nil, sc, []Format{GCP}, W3C),
		[]Header{{"x-cloud-trace-context", "105445aa7843bc8bf206b12000100000/123456789012345;o=0"}})
}

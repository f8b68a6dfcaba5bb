package propagation

import "testing"

func TestExtractDatadog(t *testing.T) {
	// 1234567890123456789 = 0x112210f47de98115, 987654321 = 0x3ade68b1.
	const (
		trace  = "1234567890123456789"
		parent = "987654321"
	)
	want := func(upper string, s Sampling, withParent bool) SpanContext {
		sc := SpanContext{TraceID: tid(t, upper+"112210f47de98115"), Sampling: s, Format: Datadog}
		if withParent {
			sc.SpanID = sid(t, "3ade68b1")
		}
		return sc
	}
	dd := func(priority string, extra ...string) HeaderMap {
		m := hm(append([]string{"x-datadog-trace-id", trace, "x-datadog-parent-id", parent}, extra...)...)
		if priority != "" {
			m["x-datadog-sampling-priority"] = []string{priority}
		}
		return m
	}
	runExtractCases(t, Datadog, []Format{Datadog}, []extractCase{
		{name: "auto keep", headers: dd("1"), want: want("", Sampled, true), ok: true},
		{name: "user keep", headers: dd("2"), want: want("", Sampled, true), ok: true},
		{name: "auto drop", headers: dd("0"), want: want("", NotSampled, true), ok: true},
		{name: "user drop", headers: dd("-1"), want: want("", NotSampled, true), ok: true},
		{name: "no priority", headers: dd(""), want: want("", NoDecision, true), ok: true},
		{name: "128-bit through _dd.p.tid", headers: dd("1", "x-datadog-tags", "_dd.p.dm=-0,_dd.p.tid=640cfd8d00000000"),
			want: want("640cfd8d00000000", Sampled, true), ok: true},
		{name: "repeated tags headers are one list", headers: dd("1", "x-datadog-tags", "_dd.p.dm=-0", "x-datadog-tags", "_dd.p.tid=640cfd8d00000000"),
			want: want("640cfd8d00000000", Sampled, true), ok: true},
		{name: "bad _dd.p.tid loses only the upper half", headers: dd("1", "x-datadog-tags", "_dd.p.tid=640cfd8d0000"),
			want: want("", Sampled, true), ok: true},
		{name: "no parent id", headers: hm("x-datadog-trace-id", trace, "x-datadog-sampling-priority", "1"), want: want("", Sampled, false), ok: true},
		{name: "parent id 0", headers: hm("x-datadog-trace-id", trace, "x-datadog-parent-id", "0"), want: want("", NoDecision, false), ok: true},
		{name: "whitespace", headers: hm("x-datadog-trace-id", " "+trace+" ", "x-datadog-parent-id", "\t"+parent), want: want("", NoDecision, true), ok: true},
		{name: "bad priority", headers: dd("keep"), malformed: true},
		{name: "trace id 0", headers: hm("x-datadog-trace-id", "0", "x-datadog-parent-id", parent), malformed: true},
		{name: "trace id overflows", headers: hm("x-datadog-trace-id", "18446744073709551616", "x-datadog-parent-id", parent), malformed: true},
		{name: "negative trace id", headers: hm("x-datadog-trace-id", "-5", "x-datadog-parent-id", parent), malformed: true},
		{name: "hex trace id", headers: hm("x-datadog-trace-id", "abc", "x-datadog-parent-id", parent), malformed: true},
		{name: "bad parent id", headers: hm("x-datadog-trace-id", trace, "x-datadog-parent-id", "1e3"), malformed: true},
		{name: "priority alone", headers: hm("x-datadog-sampling-priority", "1"), malformed: true},
		{name: "origin alone is absent", headers: hm("x-datadog-origin", "synthetics")},
	})
}

func TestInjectDatadog(t *testing.T) {
	sc := SpanContext{TraceID: tid(t, "112210f47de98115"), SpanID: sid(t, "3ade68b1"), Sampling: Sampled}
	base := []Header{{"x-datadog-trace-id", "1234567890123456789"}, {"x-datadog-parent-id", "987654321"}, {"x-datadog-sampling-priority", "1"}}
	assertHeaders(t, Inject(nil, sc, []Format{Datadog}, W3C), base)

	sc.TraceID = tid(t, "640cfd8d00000000112210f47de98115")
	assertHeaders(t, Inject(nil, sc, []Format{Datadog}, W3C), append(append([]Header(nil), base...), Header{"x-datadog-tags", "_dd.p.tid=640cfd8d00000000"}))

	// Extracted from Datadog headers: their x-datadog-tags still travels.
	sc.Format, sc.Sampling = Datadog, NotSampled
	assertHeaders(t, Inject(nil, sc, []Format{Datadog}, W3C),
		[]Header{{"x-datadog-trace-id", "1234567890123456789"}, {"x-datadog-parent-id", "987654321"}, {"x-datadog-sampling-priority", "0"}})
}

package propagation

import (
	"testing"

	"github.com/trace-exporter/trace-exporter/exporter"
)

func TestInjectPreserve(t *testing.T) {
	out := SpanContext{TraceID: tid(t, w3cTrace), SpanID: sid(t, w3cSpan), Sampling: Sampled}
	names := func(hs []Header) []string {
		var n []string
		for _, h := range hs {
			n = append(n, h.Name)
		}
		return n
	}
	cases := []struct {
		name      string
		extracted Format
		formats   []Format
		def       Format
		want      []string
	}{
		{"preserve uses the extracted format", Jaeger, []Format{Preserve}, W3C, []string{"uber-trace-id"}},
		{"preserve keeps the b3 single encoding", B3Single, []Format{Preserve}, W3C, []string{"b3"}},
		{"preserve keeps the b3 multi encoding", B3, []Format{Preserve}, W3C,
			[]string{"x-b3-traceid", "x-b3-spanid", "x-b3-sampled"}},
		{"preserve without extraction uses the default", FormatNone, []Format{Preserve}, Datadog,
			[]string{"x-datadog-trace-id", "x-datadog-parent-id", "x-datadog-sampling-priority", "x-datadog-tags"}},
		{"preserve without extraction nor default is w3c", FormatNone, []Format{Preserve}, FormatNone, []string{"traceparent"}},
		{"several formats in order", FormatNone, []Format{W3C, AWS, GCP}, W3C,
			[]string{"traceparent", "x-amzn-trace-id", "x-cloud-trace-context"}},
		{"preserve plus the same format writes it once", Jaeger, []Format{Preserve, Jaeger}, W3C, []string{"uber-trace-id"}},
		{"a format listed twice is written once", FormatNone, []Format{W3C, W3C}, W3C, []string{"traceparent"}},
		{"b3 and b3-single are different injectors", B3Single, []Format{Preserve, B3}, W3C,
			[]string{"b3", "x-b3-traceid", "x-b3-spanid", "x-b3-sampled"}},
		{"nothing to inject", Jaeger, nil, W3C, nil},
		{"unknown formats skipped", FormatNone, []Format{Format(99), FormatNone, OT}, W3C,
			[]string{"ot-tracer-traceid", "ot-tracer-spanid", "ot-tracer-sampled"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			sc := out
			sc.Format = tc.extracted
			got := names(Inject(nil, sc, tc.formats, tc.def))
			if len(got) != len(tc.want) {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
			for i := range got {
				if got[i] != tc.want[i] {
					t.Fatalf("got %v, want %v", got, tc.want)
				}
			}
		})
	}
}

func TestInjectNeedsIDs(t *testing.T) {
	all := []Format{W3C, B3, B3Single, Jaeger, OT, AWS, GCP, Datadog, Instana}
	for _, sc := range []SpanContext{
		{},
		{Sampling: NotSampled, Format: B3Single}, // a decision-only extraction, not continued
		{TraceID: tid(t, w3cTrace), Sampling: Sampled},
		{SpanID: sid(t, w3cSpan), Sampling: Sampled},
	} {
		if got := Inject(nil, sc, all, W3C); len(got) != 0 {
			t.Errorf("%+v: injected %v", sc, got)
		}
	}
}

func TestInjectAppendsToDst(t *testing.T) {
	sc := SpanContext{TraceID: tid(t, w3cTrace), SpanID: sid(t, w3cSpan), Sampling: Sampled}
	dst := []Header{{"x-existing", "1"}}
	got := Inject(dst, sc, []Format{W3C}, W3C)
	if len(got) != 2 || got[0].Name != "x-existing" || got[1].Name != "traceparent" {
		t.Errorf("got %v", got)
	}
}

// TestInjectedFlagEqualsDecision is Kong bug #11626: whatever the format,
// the upstream must see the gateway's decision, so an unsampled request
// never comes out as sampled and vice versa.
func TestInjectedFlagEqualsDecision(t *testing.T) {
	all := []Format{W3C, B3, B3Single, Jaeger, OT, AWS, GCP, Datadog, Instana}
	for _, sampled := range []bool{false, true} {
		for _, parent := range []Sampling{NoDecision, NotSampled, Sampled} {
			in := SpanContext{TraceID: tid(t, w3cTrace), SpanID: sid(t, w3cSpan), Sampling: parent, Format: W3C}
			out := in.Child(in.TraceID, sid(t, "1111111111111111"), sid(t, "2222222222222222"), sampled)
			for _, f := range all {
				back, ok := Extract(headerMapOf(Inject(nil, out, []Format{f}, W3C)), []Format{f})
				if !ok || back.IsSampled() != sampled || back.Sampling == NoDecision {
					t.Errorf("%v, parent %v, decision %v: re-extracted %+v %v", f, parent, sampled, back, ok)
				}
			}
		}
	}
}

func TestChild(t *testing.T) {
	in := SpanContext{TraceID: tid(t, w3cTrace), SpanID: sid(t, w3cSpan), Sampling: Sampled, Debug: true,
		Random: true, TraceState: "a=1", Format: B3Single}
	span, parent := sid(t, "1111111111111111"), sid(t, "2222222222222222")

	got := in.Child(in.TraceID, span, parent, true)
	want := SpanContext{TraceID: in.TraceID, SpanID: span, ParentSpanID: parent, Sampling: Sampled, Debug: true,
		Random: true, TraceState: "a=1", Format: B3Single}
	if got != want {
		t.Errorf("same trace:\n got %+v\nwant %+v", got, want)
	}
	if got := in.Child(in.TraceID, span, parent, false); got.Sampling != NotSampled || got.Debug {
		t.Errorf("unsampled child must not be debug: %+v", got)
	}
	newTrace := exporter.TraceID{1}
	got = SpanContext{Sampling: NotSampled, Format: B3Single, TraceState: "x=1", Random: true}.Child(newTrace, span, parent, false)
	want = SpanContext{TraceID: newTrace, SpanID: span, ParentSpanID: parent, Sampling: NotSampled, Format: B3Single}
	if got != want {
		t.Errorf("new trace keeps neither tracestate nor random flag:\n got %+v\nwant %+v", got, want)
	}
}

// headerMapOf turns injected headers into a Getter, as the upstream sees them.
func headerMapOf(hs []Header) HeaderMap {
	m := HeaderMap{}
	for _, h := range hs {
		m[h.Name] = append(m[h.Name], h.Value)
	}
	return m
}

// An extracted tracestate travels upstream in the caller's own header
// unless the gateway changed it (sampling's threshold): then W3C injection
// writes the new one, even an empty one.
func TestInjectTracestateOnlyWhenNeeded(t *testing.T) {
	base := SpanContext{TraceID: tid(t, w3cTrace), SpanID: sid(t, w3cSpan), Sampling: Sampled}
	for _, tc := range []struct {
		name    string
		format  Format
		ts      string
		changed bool
		want    []string // tracestate values written
	}{
		{"extracted, unchanged", W3C, "ot=th:8,a=b", false, nil},
		{"extracted, changed", W3C, "ot=th:c,a=b", true, []string{"ot=th:c,a=b"}},
		{"extracted, emptied", W3C, "", true, []string{""}},
		{"new trace with a threshold", FormatNone, "ot=th:c", false, []string{"ot=th:c"}},
		{"new trace without", FormatNone, "", false, nil},
	} {
		sc := base
		sc.Format, sc.TraceState, sc.TraceStateChanged = tc.format, tc.ts, tc.changed
		var got []string
		for _, h := range Inject(nil, sc, []Format{W3C}, W3C) {
			if h.Name == headerTracestate {
				got = append(got, h.Value)
			}
		}
		if len(got) != len(tc.want) || len(got) == 1 && got[0] != tc.want[0] {
			t.Errorf("%s: tracestate written %q, want %q", tc.name, got, tc.want)
		}
	}
}

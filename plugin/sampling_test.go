package plugin

import (
	"context"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/trace-exporter/trace-exporter/exporter"
	"github.com/trace-exporter/trace-exporter/plugin/sampling"
	"github.com/trace-exporter/trace-exporter/test/otlpsink"
)

// Rules on headers decide in the access phase (the upstream is told);
// rules on the route or path decide in the log phase, from serialize, for
// the gateway's spans. Neither costs a PDK call: header rules make the one
// header read get_headers.
func TestSamplingRulesAcrossPhases(t *testing.T) {
	sink := otlpsink.Start(t)
	rules := `,"sampling_rate":0,"tail_sampling":{"status_code_min":0},"propagation":{"extract":["jaeger"],"inject":["w3c"]},
		"sampling_rules":[{"header_name":"x-debug","header_value":"1"},{"route_name":"echo-route","path_prefix":"/echo/items"},{"path_prefix":"/echo","sampling_rate":1}]`
	for _, tc := range []struct {
		name     string
		headers  map[string]string
		flag     string // injected upstream
		exported bool
	}{
		{"header rule: propagated and exported", map[string]string{"x-debug": "1"}, "-03", true},
		{"route and path rule: exported, upstream not told", map[string]string{"x-debug": "0"}, "-02", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sink.Clear()
			p := newTestPlugin(t, sink, rules)
			f := newFakeKong(t, "3.9-proxied-consumer.json", tc.headers)
			f.run(p)
			if want := []string{mGetHeaders, mSetUpstreamHeads, mSetSerializeValue}; !reflect.DeepEqual(f.calls["access"], want) {
				t.Errorf("access calls %v, want %v", f.calls["access"], want)
			}
			if !reflect.DeepEqual(f.calls["log"], []string{mSerialize}) {
				t.Errorf("log calls %v, want serialize only", f.calls["log"])
			}
			if tp := f.upstream["traceparent"]; !strings.HasSuffix(tp, tc.flag) {
				t.Errorf("upstream traceparent %q, want flags %s", tp, tc.flag)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			_, err := sink.WaitSpans(ctx, 1)
			if exported := err == nil; exported != tc.exported {
				t.Errorf("exported %v, want %v", exported, tc.exported)
			}
		})
	}
	// A rule that drops in the log phase what the access phase sampled.
	sink.Clear()
	p := newTestPlugin(t, sink, `,"tail_sampling":{"status_code_min":0},"sampling_rules":[{"path_prefix":"/echo","sampling_rate":0}]`)
	f := newFakeKong(t, "3.9-proxied-consumer.json", nil)
	f.run(p)
	if tp := f.upstream["traceparent"]; !strings.HasSuffix(tp, "-03") {
		t.Errorf("upstream traceparent %q: the access phase sampled it", tp)
	}
	time.Sleep(200 * time.Millisecond)
	if n := len(sink.Spans()); n != 0 {
		t.Errorf("%d spans exported for a request the path rule drops", n)
	}
}

// A caller that sent ot=rv (its randomness) is sampled from it, and the
// upstream is told the threshold the gateway sampled with.
func TestThresholdAndRandomnessInTracestate(t *testing.T) {
	sink := otlpsink.Start(t)
	p := newTestPlugin(t, sink, `,"sampling_rate":0.5,"sampling_strategy":"parent_drop_probability_fallback","propagation":{"extract":["w3c"],"inject":["w3c"]}`)
	for _, tc := range []struct {
		rv, flag, tracestate string
	}{
		{"ffffffffffffff", "-03", "ot=th:8;rv:ffffffffffffff,congo=x"},
		{"00000000000001", "-02", "ot=rv:00000000000001,congo=x"}, // dropped: left as it came
	} {
		f := newFakeKong(t, "3.9-proxied-consumer.json", map[string]string{
			// The trace id's own low bits would say the opposite.
			"traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-03",
			"tracestate":  "congo=x,ot=rv:" + tc.rv,
		})
		f.run(p)
		if tp := f.upstream["traceparent"]; !strings.HasSuffix(tp, tc.flag) {
			t.Errorf("rv %s: traceparent %q, want flags %s", tc.rv, tp, tc.flag)
		}
		got, written := f.upstream["tracestate"]
		if tc.flag == "-03" && got != tc.tracestate || tc.flag == "-02" && written {
			t.Errorf("rv %s: upstream tracestate %q (written %v), want %q", tc.rv, got, written, tc.tracestate)
		}
	}
}

func TestHandoffPendingAndVersion1(t *testing.T) {
	h := handoff{ids: traceIDs{trace: [16]byte{1}, root: [8]byte{2}, upstream: [8]byte{3}, flags: 3,
		traceState: "ot=th:8;rv:00000000000001,a=b"}, accessUnixMs: 1700000000000, pending: "r2:0,1"}
	got, err := decodeHandoff(h.encode())
	if err != nil || got != h {
		t.Fatalf("round trip: %+v %v", got, err)
	}
	v1 := "1;01000000000000000000000000000000;0200000000000000;0300000000000000;;03;1700000000000;x=1;y"
	got, err = decodeHandoff(v1)
	if err != nil || got.pending != "" || got.ids.traceState != "x=1;y" || !got.sampled() {
		t.Errorf("version 1: %+v %v", got, err)
	}
	if _, err := decodeHandoff("3;" + v1[2:]); err == nil {
		t.Error("an unknown version was accepted")
	}
}

// A per-operation strategy is applied in the log phase by the root span's
// name, and the root span says which sampler kept it (Jaeger's adaptive
// sampling reads sampler.type and sampler.param).
func TestOperationNameIsTheRootSpanName(t *testing.T) {
	sink := otlpsink.Start(t)
	p := newTestPlugin(t, sink, ``)
	f := newFakeKong(t, "3.9-proxied-consumer.json", nil)
	f.run(p)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	spans, err := sink.WaitSpans(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	var e logEntry
	a := newArena(1024)
	var root string
	for _, s := range spans {
		if s.Kind.String() == "SPAN_KIND_SERVER" {
			root = s.GetName()
		}
	}
	if err := e.parse(fixture(t, "3.9-proxied-consumer.json"), &p.rt.wants, &a); err != nil {
		t.Fatal(err)
	}
	path, _ := splitQuery(e.uri)
	if op := p.rt.operationName(&e, path, &a); op != root || op != "GET /echo" {
		t.Errorf("operation %q, root span %q, want both GET /echo", op, root)
	}
}

// The sampler tags go on the root span only, even when the spans of a
// request share one attribute array.
func TestTagSamplerCopiesTheRootsAttributes(t *testing.T) {
	sink := otlpsink.Start(t)
	p := newTestPlugin(t, sink, ``)
	shared := []exporter.Attribute{exporter.String("a", "1"), exporter.String("b", "2"), exporter.String("c", "3")}
	spans := []exporter.Span{{Attributes: shared[:1]}, {Attributes: shared[1:2]}}
	p.rt.tagSampler(spans, sampling.SamplerTag{Type: "lowerbound", Param: 0.25})
	if got := spans[0].Attributes; len(got) != 3 || got[1].Key != "sampler.type" || got[1].Value.AsString() != "lowerbound" ||
		got[2].Key != "sampler.param" || got[2].Value.AsFloat() != 0.25 {
		t.Errorf("root attributes %v", got)
	}
	if spans[1].Attributes[0].Key != "b" || shared[1].Key != "b" {
		t.Errorf("a try's attributes changed: %v", spans[1].Attributes)
	}
	p.rt.tagSampler(spans[1:], sampling.SamplerTag{})
	if len(spans[1].Attributes) != 1 {
		t.Error("no tag must add nothing")
	}
}

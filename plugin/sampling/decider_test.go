package sampling

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/trace-exporter/trace-exporter/exporter"
	"github.com/trace-exporter/trace-exporter/plugin/propagation"
	"github.com/trace-exporter/trace-exporter/schema"
)

func newTestDecider(t *testing.T, mutate func(*schema.Config)) *Decider {
	t.Helper()
	cfg := schema.Defaults()
	if mutate != nil {
		mutate(&cfg)
	}
	d, err := NewDecider(&cfg, t.Name(), testProcess)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// traceWith returns a trace id whose randomness is r.
func traceWith(r Randomness) exporter.TraceID {
	var id exporter.TraceID
	id[0] = 0x4b
	v := uint64(r)
	for i := 15; i >= 9; i-- {
		id[i] = byte(v)
		v >>= 8
	}
	id[8] = 0xa5 // not part of the randomness
	return id
}

const (
	lowR  = Randomness(0x01000000000000) // kept only above p ≈ 0.996
	highR = Randomness(0xff000000000000) // kept from p ≈ 0.004
)

// sampling_strategy, as Kong defines its two values; the default is the
// parent-based one.
func TestSamplingStrategyParent(t *testing.T) {
	parents := map[string]propagation.SpanContext{
		"none":        {},
		"sampled":     {Sampling: propagation.Sampled},
		"not-sampled": {Sampling: propagation.NotSampled},
		"debug":       {Sampling: propagation.Sampled, Debug: true},
	}
	type want struct{ atZero, atOne bool }
	for _, tc := range []struct {
		strategy schema.SamplingStrategy
		want     map[string]want
	}{
		{schema.SamplingParentProbabilityFallback, map[string]want{
			"none": {false, true}, "sampled": {true, true}, "not-sampled": {false, false}, "debug": {true, true}}},
		{schema.SamplingParentDropProbabilityFallback, map[string]want{
			"none": {false, true}, "sampled": {false, true}, "not-sampled": {false, false}, "debug": {false, true}}},
	} {
		for rate, pick := range map[float64]func(want) bool{0: func(w want) bool { return w.atZero }, 1: func(w want) bool { return w.atOne }} {
			d := newTestDecider(t, func(c *schema.Config) { c.SamplingStrategy = tc.strategy; c.SamplingRate = rate })
			for name, parent := range parents {
				got := d.Decide(&Head{Parent: parent, TraceID: traceWith(highR)})
				if got.Sampled != pick(tc.want[name]) || got.Pending != "" {
					t.Errorf("%s, rate %v, parent %s: %+v, want sampled=%v", tc.strategy, rate, name, got, pick(tc.want[name]))
				}
			}
		}
	}
}

func TestDecideWritesTheThreshold(t *testing.T) {
	d := newTestDecider(t, func(c *schema.Config) { c.SamplingRate = 0.25 })
	// A new trace (random id) kept at 0.25 says so: th:c.
	if got := d.Decide(&Head{TraceID: traceWith(highR), NewTrace: true}); !got.Sampled || got.TraceState != "ot=th:c" {
		t.Errorf("new trace: %+v", got)
	}
	if got := d.Decide(&Head{TraceID: traceWith(lowR), NewTrace: true}); got.Sampled || got.TraceState != "" {
		t.Errorf("new trace below the threshold: %+v", got)
	}
	// rv wins over the trace id: a low trace id with a high rv is kept.
	rv := "ot=rv:ff000000000000,vendor=x"
	got := d.Decide(&Head{TraceID: traceWith(lowR), TraceState: rv,
		Parent: propagation.SpanContext{Sampling: propagation.NoDecision}})
	if !got.Sampled || got.TraceState != "ot=th:c;rv:ff000000000000,vendor=x" {
		t.Errorf("rv: %+v", got)
	}
	// Randomness not known to be random (a b3 id): kept, but no threshold.
	if got := d.Decide(&Head{TraceID: traceWith(highR), TraceState: "ot=th:8"}); !got.Sampled || got.TraceState != "" {
		t.Errorf("unknown randomness: %+v, want th erased", got)
	}
	// Probability 1 adds no tracestate to every request.
	one := newTestDecider(t, nil)
	if got := one.Decide(&Head{TraceID: traceWith(lowR), NewTrace: true}); !got.Sampled || got.TraceState != "" {
		t.Errorf("rate 1: %+v", got)
	}
	// A caller's threshold travels on unless it contradicts the randomness.
	parent := propagation.SpanContext{Sampling: propagation.Sampled, Random: true}
	if got := one.Decide(&Head{Parent: parent, TraceID: traceWith(highR), TraceState: "ot=th:8"}); got.TraceState != "ot=th:8" {
		t.Errorf("consistent parent th: %+v", got)
	}
	if got := one.Decide(&Head{Parent: parent, TraceID: traceWith(lowR), TraceState: "ot=th:8,a=b"}); got.TraceState != "a=b" {
		t.Errorf("inconsistent parent th: %+v, want it erased", got)
	}
	// A token bucket makes the probability unknown: th erased.
	capped := newTestDecider(t, func(c *schema.Config) { c.SamplingRate = 0.25; c.MaxTracesPerSecond = 1000 })
	if got := capped.Decide(&Head{TraceID: traceWith(highR), NewTrace: true, TraceState: ""}); !got.Sampled || got.TraceState != "" {
		t.Errorf("with a limit: %+v", got)
	}
}

func TestMaxTracesPerSecondCapsNewTracesOnly(t *testing.T) {
	d := newTestDecider(t, func(c *schema.Config) { c.MaxTracesPerSecond = 5 })
	kept := 0
	for range 100 {
		if d.Decide(&Head{TraceID: traceWith(highR), NewTrace: true}).Sampled {
			kept++
		}
	}
	if kept != 5 {
		t.Errorf("kept %d of 100 at once under a limit of 5/s (bucket of 5)", kept)
	}
	if !d.Decide(&Head{Parent: propagation.SpanContext{Sampling: propagation.Sampled}, TraceID: traceWith(highR)}).Sampled {
		t.Error("a caller's sampled trace must not be limited")
	}
	// Instances of one plugin entity share the bucket.
	cfg := schema.Defaults()
	cfg.MaxTracesPerSecond = 5
	again, _ := NewDecider(&cfg, t.Name(), testProcess)
	if again.Decide(&Head{TraceID: traceWith(highR), NewTrace: true}).Sampled {
		t.Error("a new instance of the same plugin got a fresh bucket")
	}
}

func header(name, value string) propagation.Getter {
	return propagation.HeaderMap{name: {value}}
}

func TestRulesInOrder(t *testing.T) {
	d := newTestDecider(t, func(c *schema.Config) {
		c.SamplingRate = 0
		c.SamplingRules = []schema.SamplingRule{
			{HeaderName: "x-debug", HeaderValue: "1", SamplingRate: 1},
			{PathPrefix: "/health", SamplingRate: 0},
			{HeaderName: "x-debug", SamplingRate: 0}, // any other value
			{Method: "POST", HeaderName: "x-tenant", HeaderValue: "acme", SamplingRate: 1},
			{RouteName: "orders", SamplingRate: 1},
		}
	})
	h := func(hs propagation.Getter) *Head {
		return &Head{TraceID: traceWith(highR), NewTrace: true, Headers: hs}
	}
	for _, tc := range []struct {
		name    string
		headers propagation.Getter
		line    RequestLine
		access  bool   // the decision propagated upstream
		pending string // what the log phase re-checks
		final   bool   // what the gateway exports
	}{
		{"header rule first", header("x-debug", "1"), RequestLine{Path: "/health"}, true, "", true},
		{"header rule, repeated header", propagation.HeaderMap{"x-debug": {"0", "1"}}, RequestLine{Path: "/health"}, true, "", true},
		{"path rule before a later header rule", header("x-debug", "2"), RequestLine{Path: "/health/live"}, false, "r2:1", false},
		{"path rule not matching: the header rule stands", header("x-debug", "2"), RequestLine{Path: "/api"}, false, "r2:1", false},
		{"header part of a mixed rule holds", header("x-tenant", "acme"), RequestLine{Method: "POST", Path: "/api"}, false, "d:1,3,4", true},
		{"header part holds, method does not", header("x-tenant", "acme"), RequestLine{Method: "GET", Path: "/api", RouteName: "orders"}, false, "d:1,3,4", true},
		{"no headers: mixed rule cannot match", nil, RequestLine{Method: "POST", Path: "/api"}, false, "d:1,4", false},
		{"route rule", nil, RequestLine{RouteName: "orders", Path: "/health"}, false, "d:1,4", false},
		{"route rule alone", nil, RequestLine{RouteName: "orders", Path: "/o"}, false, "d:1,4", true},
	} {
		dec := d.Decide(h(tc.headers))
		if dec.Sampled != tc.access || dec.Pending != tc.pending {
			t.Errorf("%s: access %+v, want sampled=%v pending=%q", tc.name, dec, tc.access, tc.pending)
			continue
		}
		got := d.Refine(dec.Pending, dec.Sampled, traceWith(highR), dec.TraceState, true, &tc.line)
		if got.Sampled != tc.final {
			t.Errorf("%s: log phase %+v, want sampled=%v", tc.name, got, tc.final)
		}
	}
	if !d.NeedsHeaders() || !d.LogPhaseActive() {
		t.Error("header and route rules: the access phase must read headers and the log phase must refine")
	}
}

// remoteWith is a Remote holding strategy s, without a poller.
func remoteWith(s Strategy) *Remote {
	st := newPollerState("http://unused", "svc", time.Hour, &testProcess.Stats)
	st.strategy.Store(compileStrategy(s, nil))
	st.lower.reset(s.LowerBound)
	return &Remote{st: st}
}

func TestRemotePerOperation(t *testing.T) {
	d := newTestDecider(t, func(c *schema.Config) { c.SamplingRate = 1 })
	d.remote = remoteWith(Strategy{Kind: PerOperation, Probability: 0.5, LowerBound: 1.0 / 3600,
		Operations: map[string]float64{"GET /orders": 0.1, "GET /health": 0}})
	if !d.LogPhaseActive() {
		t.Fatal("a per-operation strategy needs the log phase")
	}
	r := rand.New(rand.NewPCG(5, 6))
	const n = 20_000
	kept := map[string]int{}
	for _, op := range []string{"GET /orders", "GET /health", "GET /other"} {
		for range n {
			id := traceWith(Randomness(r.Uint64() & randomnessMask))
			dec := d.Decide(&Head{TraceID: id, NewTrace: true})
			if dec.Pending != stageDefault {
				t.Fatalf("pending %q", dec.Pending)
			}
			// The access phase used the default probability.
			if dec.Sampled != NewRatio(0.5).Keeps(RandomnessOf(id)) {
				t.Fatalf("access phase did not use the default probability")
			}
			got := d.Refine(dec.Pending, dec.Sampled, id, dec.TraceState, true, &RequestLine{Operation: op})
			if got.Sampled {
				kept[op]++
				if got.Tag.Type == "" {
					t.Fatalf("%s: kept without a sampler tag", op)
				}
			}
		}
	}
	// The lower bound (one per hour, bucket of one) adds exactly one trace
	// to an operation its probability would not sample at all.
	if kept["GET /health"] != 1 {
		t.Errorf("GET /health at probability 0 with a lower bound: kept %d, want 1", kept["GET /health"])
	}
	for op, p := range map[string]float64{"GET /orders": 0.1, "GET /other": 0.5} {
		lo, hi := binomialBounds(n, ThresholdOf(p).Probability())
		if kept[op] < lo || kept[op] > hi+1 { // +1: the lower bound's one token
			t.Errorf("%s at %v: kept %d of %d, outside [%d, %d]", op, p, kept[op], n, lo, hi+1)
		}
	}
}

func TestRemoteRateLimitingAndTags(t *testing.T) {
	d := newTestDecider(t, nil)
	d.remote = remoteWith(Strategy{Kind: RateLimiting, MaxTracesPerSecond: 3})
	kept := 0
	for range 50 {
		dec := d.Decide(&Head{TraceID: traceWith(highR), NewTrace: true})
		if dec.Sampled {
			kept++
			got := d.Refine(dec.Pending, true, traceWith(highR), dec.TraceState, true, &RequestLine{})
			if got.Tag != (SamplerTag{"ratelimiting", 3}) {
				t.Errorf("tag %+v", got.Tag)
			}
		}
	}
	if kept != 3 {
		t.Errorf("ratelimiting 3/s kept %d of 50 at once", kept)
	}
	// Before the first strategy: sampling_rate, tagged as probabilistic.
	fresh := newTestDecider(t, func(c *schema.Config) { c.SamplingRate = 0.5 })
	fresh.remote = &Remote{st: newPollerState("http://unused", "svc", time.Hour, &testProcess.Stats)}
	dec := fresh.Decide(&Head{TraceID: traceWith(highR), NewTrace: true})
	if got := fresh.Refine(dec.Pending, dec.Sampled, traceWith(highR), dec.TraceState, true, &RequestLine{}); !got.Sampled || got.Tag != (SamplerTag{"probabilistic", 0.5}) {
		t.Errorf("before the first strategy: %+v", got)
	}
}

// The decision from real extracted headers of each kind of caller.
func TestDecideFromExtractedHeaders(t *testing.T) {
	never := newTestDecider(t, func(c *schema.Config) { c.SamplingRate = 0 })
	always := newTestDecider(t, nil)
	hm := func(kv ...string) propagation.HeaderMap {
		m := propagation.HeaderMap{}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = []string{kv[i+1]}
		}
		return m
	}
	const (
		w3cTrace = "4bf92f3577b34da6a3ce929d0e0e4736"
		w3cSpan  = "00f067aa0ba902b7"
	)
	for _, tc := range []struct {
		name          string
		h             propagation.HeaderMap
		atZero, atOne bool
		format        propagation.Format
	}{
		{"w3c 01", hm("traceparent", "00-"+w3cTrace+"-"+w3cSpan+"-01"), true, true, propagation.W3C},
		{"w3c 00", hm("traceparent", "00-"+w3cTrace+"-"+w3cSpan+"-00"), false, false, propagation.W3C},
		{"b3 no decision", hm("b3", "80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1"), false, true, propagation.B3},
		{"b3: 0 without ids", hm("b3", "0"), false, false, propagation.B3},
		{"b3 debug", hm("x-b3-traceid", "80f198ee56343ba864fe8b2a57d3eff7", "x-b3-spanid", "e457b5a2e4d86bd1", "x-b3-flags", "1"), true, true, propagation.B3},
		{"aws Sampled=?", hm("x-amzn-trace-id", "Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=?"), false, true, propagation.AWS},
		{"nothing", propagation.HeaderMap{}, false, true, propagation.W3C},
	} {
		in, _ := propagation.Extract(tc.h, []propagation.Format{tc.format})
		id, fresh := in.TraceID, false
		if !id.IsValid() {
			id, fresh = exporter.TraceID{15: 1}, true
		}
		for d, want := range map[*Decider]bool{never: tc.atZero, always: tc.atOne} {
			if got := d.Decide(&Head{Parent: in, TraceID: id, NewTrace: fresh, TraceState: in.TraceState}); got.Sampled != want {
				t.Errorf("%s: %v, want %v", tc.name, got.Sampled, want)
			}
		}
	}
}

// Ids of every shape are sampled at their rate: 64-bit ids padded with
// zeros (Kong's own sampler keeps all or none of those, it reads the high
// half) and AWS X-Ray ids of one second (whose high bytes are the time).
func TestDecideIDShapes(t *testing.T) {
	shapes := map[string]func(*rand.Rand) exporter.TraceID{
		"128-bit": func(r *rand.Rand) exporter.TraceID {
			var id exporter.TraceID
			for i := range id {
				id[i] = byte(r.Uint32())
			}
			return id
		},
	}
	shapes["64-bit padded"] = func(r *rand.Rand) exporter.TraceID { id := shapes["128-bit"](r); clear(id[:8]); return id }
	shapes["aws same second"] = func(r *rand.Rand) exporter.TraceID {
		id := shapes["128-bit"](r)
		copy(id[:4], []byte{0x57, 0x59, 0xe9, 0x88})
		return id
	}
	const n = 50_000
	for name, gen := range shapes {
		for _, rate := range []float64{0.01, 0.25, 0.5} {
			d := newTestDecider(t, func(c *schema.Config) { c.SamplingRate = rate })
			r := rand.New(rand.NewPCG(9, uint64(rate*1000)))
			kept := 0
			for range n {
				if d.Decide(&Head{TraceID: gen(r)}).Sampled {
					kept++
				}
			}
			lo, hi := binomialBounds(n, ThresholdOf(rate).Probability())
			if kept < lo || kept > hi {
				t.Errorf("%s at %v: kept %d of %d, outside [%d, %d]", name, rate, kept, n, lo, hi)
			}
		}
	}
}

func BenchmarkDecide(b *testing.B) {
	cfg := schema.Defaults()
	cfg.SamplingRate = 0.25
	d, _ := NewDecider(&cfg, b.Name(), testProcess)
	h := &Head{TraceID: traceWith(highR), NewTrace: true}
	b.ReportAllocs()
	for b.Loop() {
		d.Decide(h)
	}
}

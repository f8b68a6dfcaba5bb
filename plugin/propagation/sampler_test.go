package propagation

import (
	"context"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/trace-exporter/trace-exporter/exporter"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

var testRates = []float64{0, 0.0001, 0.001, 0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.999, 1}

const sampledIDs = 100_000

func randomTraceID(r *rand.Rand) exporter.TraceID {
	var id exporter.TraceID
	for i := range id {
		id[i] = byte(r.Uint32())
	}
	return id
}

// TestSamplerRatio: over 100 000 random trace ids the kept share is within
// one percentage point of the rate, for 128-bit ids, for 64-bit ids padded
// with zeros (Kong's sampler keeps all or none of those) and for AWS X-Ray
// ids sharing one timestamp (Kong's decision follows the clock there).
func TestSamplerRatio(t *testing.T) {
	shapes := map[string]func(*rand.Rand) exporter.TraceID{
		"128-bit": randomTraceID,
		"64-bit padded": func(r *rand.Rand) exporter.TraceID {
			id := randomTraceID(r)
			clear(id[:8])
			return id
		},
		"aws same second": func(r *rand.Rand) exporter.TraceID {
			id := randomTraceID(r)
			copy(id[:4], []byte{0x57, 0x59, 0xe9, 0x88})
			return id
		},
	}
	for name, gen := range shapes {
		for _, rate := range testRates {
			r := rand.New(rand.NewPCG(1, uint64(rate*1e6)))
			s := NewSampler(rate)
			kept := 0
			for i := 0; i < sampledIDs; i++ {
				if s.SampleTraceID(gen(r)) {
					kept++
				}
			}
			got := float64(kept) / sampledIDs
			if math.Abs(got-rate) > 0.01 {
				t.Errorf("%s rate %v: kept %.4f", name, rate, got)
			}
			if rate == 0 && kept != 0 || rate == 1 && kept != sampledIDs {
				t.Errorf("%s rate %v: kept %d of %d", name, rate, kept, sampledIDs)
			}
		}
	}
}

// TestSamplerMatchesOpenTelemetry: every id gets the decision the
// OpenTelemetry Go SDK's TraceIDRatioBased gives it at the same rate, so a
// trace is kept or dropped consistently across the gateway and OTel services.
func TestSamplerMatchesOpenTelemetry(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 7))
	for _, rate := range testRates {
		ours, theirs := NewSampler(rate), sdktrace.TraceIDRatioBased(rate)
		for i := 0; i < sampledIDs/10; i++ {
			id := randomTraceID(r)
			want := theirs.ShouldSample(sdktrace.SamplingParameters{
				ParentContext: context.Background(), TraceID: trace.TraceID(id), Name: "x",
			}).Decision == sdktrace.RecordAndSample
			if got := ours.SampleTraceID(id); got != want {
				t.Fatalf("rate %v id %v: ours %v, OpenTelemetry %v", rate, id, got, want)
			}
		}
	}
}

// TestSamplerConsistent: the decision is a function of the id, and an id
// kept at one rate is kept at every higher rate.
func TestSamplerConsistent(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for i := 0; i < 10_000; i++ {
		id := randomTraceID(r)
		prev := false
		for _, rate := range testRates {
			s := NewSampler(rate)
			got := s.SampleTraceID(id)
			if got != s.SampleTraceID(id) {
				t.Fatalf("rate %v: two decisions for %v", rate, id)
			}
			if prev && !got {
				t.Fatalf("id %v kept at a lower rate but dropped at %v", id, rate)
			}
			prev = got
		}
	}
}

func TestSamplerParentBased(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for _, rate := range []float64{0, 0.5, 1} {
		s := NewSampler(rate)
		for i := 0; i < 1000; i++ {
			id := randomTraceID(r)
			if !s.ShouldSample(SpanContext{Sampling: Sampled}, id) {
				t.Fatalf("rate %v: a sampled parent was re-sampled away", rate)
			}
			if !s.ShouldSample(SpanContext{Sampling: Sampled, Debug: true}, id) {
				t.Fatalf("rate %v: debug parent dropped", rate)
			}
			if s.ShouldSample(SpanContext{Sampling: NotSampled}, id) {
				t.Fatalf("rate %v: an unsampled parent was sampled up", rate)
			}
			if got, want := s.ShouldSample(SpanContext{}, id), s.SampleTraceID(id); got != want {
				t.Fatalf("rate %v: no decision must use the ratio", rate)
			}
		}
	}
}

// TestSamplerFromHeaders runs the decision from real extracted headers.
func TestSamplerFromHeaders(t *testing.T) {
	never, always := NewSampler(0), NewSampler(1)
	cases := []struct {
		name    string
		h       HeaderMap
		atZero  bool // decision at sampling_rate 0
		atOne   bool // decision at sampling_rate 1
		formats []Format
	}{
		{"w3c 01", hm("traceparent", "00-"+w3cTrace+"-"+w3cSpan+"-01"), true, true, []Format{W3C}},
		{"w3c 00", hm("traceparent", "00-"+w3cTrace+"-"+w3cSpan+"-00"), false, false, []Format{W3C}},
		{"b3 no decision", hm("b3", b3Trace+"-"+b3Span), false, true, []Format{B3}},
		{"b3: 0 without ids", hm("b3", "0"), false, false, []Format{B3}},
		{"b3 debug", hm("x-b3-traceid", b3Trace, "x-b3-spanid", b3Span, "x-b3-flags", "1"), true, true, []Format{B3}},
		{"aws Sampled=?", hm("x-amzn-trace-id", "Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=?"), false, true, []Format{AWS}},
		{"nothing", HeaderMap{}, false, true, []Format{W3C}},
	}
	for _, tc := range cases {
		in, _ := Extract(tc.h, tc.formats)
		id := in.TraceID
		if !id.IsValid() {
			id = exporter.TraceID{15: 1} // the gateway's new id
		}
		if got := never.ShouldSample(in, id); got != tc.atZero {
			t.Errorf("%s at rate 0: %v, want %v", tc.name, got, tc.atZero)
		}
		if got := always.ShouldSample(in, id); got != tc.atOne {
			t.Errorf("%s at rate 1: %v, want %v", tc.name, got, tc.atOne)
		}
	}
}

func TestNewSamplerClamps(t *testing.T) {
	id := exporter.TraceID{8: 0xff} // sampled only at high rates
	for _, rate := range []float64{-1, math.Inf(-1), math.NaN()} {
		if NewSampler(rate).SampleTraceID(exporter.TraceID{}) {
			t.Errorf("rate %v sampled", rate)
		}
	}
	for _, rate := range []float64{1, 2, math.Inf(1)} {
		if !NewSampler(rate).SampleTraceID(id) {
			t.Errorf("rate %v dropped", rate)
		}
	}
}

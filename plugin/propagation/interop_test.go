package propagation

// Interoperability with independent implementations: the OpenTelemetry Go
// propagators. For every format they implement, what they inject we extract
// to the same ids and flags, and what we inject they extract.

import (
	"context"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/trace-exporter/trace-exporter/exporter"
	"go.opentelemetry.io/contrib/propagators/aws/xray"
	"go.opentelemetry.io/contrib/propagators/b3"
	"go.opentelemetry.io/contrib/propagators/jaeger"
	"go.opentelemetry.io/contrib/propagators/ot"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

type reference struct {
	name   string
	format Format
	prop   propagation.TextMapPropagator
	// only64 is set when the reference injects the low 64 bits of the trace
	// id only (the OpenTelemetry ot propagator).
	only64 bool
	// ids64 is set when the format carries 64-bit trace ids that the
	// reference pads to 128 bits (b3, jaeger, ot).
	ids64 bool
}

var references = []reference{
	{name: "w3c/TraceContext", format: W3C, prop: propagation.TraceContext{}},
	{name: "b3 single", format: B3Single, prop: b3.New(b3.WithInjectEncoding(b3.B3SingleHeader)), ids64: true},
	{name: "b3 multi", format: B3, prop: b3.New(b3.WithInjectEncoding(b3.B3MultipleHeader)), ids64: true},
	{name: "jaeger", format: Jaeger, prop: jaeger.Jaeger{}, ids64: true},
	{name: "ot", format: OT, prop: ot.OT{}, only64: true, ids64: true},
	{name: "aws/xray", format: AWS, prop: xray.Propagator{}},
}

// carrierToHeaders lowercases names as Kong's get_headers does.
func carrierToHeaders(c propagation.MapCarrier) HeaderMap {
	m := HeaderMap{}
	for k, v := range c {
		m[strings.ToLower(k)] = []string{v}
	}
	return m
}

func headersToCarrier(hs []Header) propagation.MapCarrier {
	c := propagation.MapCarrier{}
	for _, h := range hs {
		c[h.Name] = h.Value
		// xray reads its canonical spelling: MapCarrier lookups are exact.
		if h.Name == headerAWS {
			c["X-Amzn-Trace-Id"] = h.Value
		}
	}
	return c
}

func randomIDs(r *rand.Rand, only64 bool) (exporter.TraceID, exporter.SpanID) {
	var t exporter.TraceID
	var s exporter.SpanID
	for i := range t {
		t[i] = byte(r.Uint32())
	}
	for i := range s {
		s[i] = byte(r.Uint32())
	}
	if only64 {
		clear(t[:8])
	}
	t[15] |= 1 // never all zero
	s[7] |= 1
	return t, s
}

func TestInteropTheyInjectWeExtract(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	for _, ref := range references {
		t.Run(ref.name, func(t *testing.T) {
			for i := 0; i < 200; i++ {
				short := ref.ids64 && i%2 == 1
				traceID, spanID := randomIDs(r, short)
				sampled := i%4 < 2
				flags := trace.TraceFlags(0)
				if sampled {
					flags = trace.FlagsSampled
				}
				ctx := trace.ContextWithSpanContext(context.Background(), trace.NewSpanContext(trace.SpanContextConfig{
					TraceID: trace.TraceID(traceID), SpanID: trace.SpanID(spanID), TraceFlags: flags, Remote: true,
				}))
				carrier := propagation.MapCarrier{}
				ref.prop.Inject(ctx, carrier)

				got, ok := Extract(carrierToHeaders(carrier), []Format{ref.format})
				if !ok {
					t.Fatalf("could not extract %v", carrier)
				}
				want := traceID
				if ref.only64 {
					clear(want[:8])
				}
				wantFormat := ref.format
				if got.TraceID != want || got.SpanID != spanID || got.IsSampled() != sampled || got.Sampling == NoDecision ||
					got.Format != wantFormat {
					t.Fatalf("from %v extracted %+v; want trace %v span %v sampled %v", carrier, got, want, spanID, sampled)
				}
			}
		})
	}
}

func TestInteropWeInjectTheyExtract(t *testing.T) {
	r := rand.New(rand.NewPCG(13, 14))
	for _, ref := range references {
		t.Run(ref.name, func(t *testing.T) {
			for i := 0; i < 200; i++ {
				short := ref.ids64 && i%2 == 1
				traceID, spanID := randomIDs(r, short)
				sampled := i%4 < 2
				sc := SpanContext{TraceID: traceID, SpanID: spanID, ParentSpanID: exporter.SpanID{7: byte(i + 1)}, Sampling: NotSampled}
				if sampled {
					sc.Sampling = Sampled
				}
				hs := Inject(nil, sc, []Format{ref.format}, W3C)
				got := trace.SpanContextFromContext(ref.prop.Extract(context.Background(), headersToCarrier(hs)))
				if !got.IsValid() || got.TraceID() != trace.TraceID(traceID) || got.SpanID() != trace.SpanID(spanID) || got.IsSampled() != sampled {
					t.Fatalf("%v: they extracted trace %v span %v sampled %v; want %v %v %v",
						hs, got.TraceID(), got.SpanID(), got.IsSampled(), traceID, spanID, sampled)
				}
			}
		})
	}
}

// TestInteropTraceState: a tracestate we write is the one OpenTelemetry
// reads, and one it writes is the one we read.
func TestInteropTraceState(t *testing.T) {
	const state = "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE,acme@dt=1"
	traceID, spanID := randomIDs(rand.New(rand.NewPCG(1, 2)), false)
	sc := SpanContext{TraceID: traceID, SpanID: spanID, Sampling: Sampled, TraceState: state, Format: B3}
	ctx := propagation.TraceContext{}.Extract(context.Background(), headersToCarrier(Inject(nil, sc, []Format{W3C}, W3C)))
	if got := trace.SpanContextFromContext(ctx).TraceState().String(); got != state {
		t.Errorf("OpenTelemetry read tracestate %q, want %q", got, state)
	}
	carrier := propagation.MapCarrier{}
	propagation.TraceContext{}.Inject(ctx, carrier)
	back, ok := Extract(carrierToHeaders(carrier), []Format{W3C})
	if !ok || back.TraceState != state {
		t.Errorf("we read tracestate %q from %v", back.TraceState, carrier)
	}
}

// TestInteropRandomFlag: the W3C level 2 random flag survives both ways.
func TestInteropRandomFlag(t *testing.T) {
	traceID, spanID := randomIDs(rand.New(rand.NewPCG(3, 4)), false)
	sc := SpanContext{TraceID: traceID, SpanID: spanID, Sampling: Sampled, Random: true}
	ctx := propagation.TraceContext{}.Extract(context.Background(), headersToCarrier(Inject(nil, sc, []Format{W3C}, W3C)))
	if !trace.SpanContextFromContext(ctx).TraceFlags().IsRandom() {
		t.Fatal("OpenTelemetry lost the random flag we wrote")
	}
	carrier := propagation.MapCarrier{}
	propagation.TraceContext{}.Inject(ctx, carrier)
	if back, _ := Extract(carrierToHeaders(carrier), []Format{W3C}); !back.Random {
		t.Errorf("we lost the random flag of %v", carrier)
	}
}

// TestInteropDebug: b3 "d" / X-B3-Flags and jaeger's debug bit, both ways.
// The references keep debug in an unexported context value, so it is
// observed through their own re-injection.
func TestInteropDebug(t *testing.T) {
	traceID, spanID := randomIDs(rand.New(rand.NewPCG(5, 6)), false)
	sc := SpanContext{TraceID: traceID, SpanID: spanID, Sampling: Sampled, Debug: true}
	cases := []struct {
		ref       reference
		debugSeen func(propagation.MapCarrier) bool
	}{
		{references[1], func(c propagation.MapCarrier) bool { return strings.HasSuffix(c["b3"], "-d") }},
		{references[2], func(c propagation.MapCarrier) bool { return c["x-b3-flags"] == "1" }},
		{references[3], func(c propagation.MapCarrier) bool { return strings.HasSuffix(c["uber-trace-id"], ":3") }},
	}
	for _, tc := range cases {
		ctx := tc.ref.prop.Extract(context.Background(), headersToCarrier(Inject(nil, sc, []Format{tc.ref.format}, W3C)))
		carrier := propagation.MapCarrier{}
		tc.ref.prop.Inject(ctx, carrier)
		if !tc.debugSeen(carrier) {
			t.Errorf("%s: debug lost on their side: %v", tc.ref.name, carrier)
		}
		back, ok := Extract(carrierToHeaders(carrier), []Format{tc.ref.format})
		if !ok || !back.Debug || !back.IsSampled() {
			t.Errorf("%s: we did not read debug from %v: %+v", tc.ref.name, carrier, back)
		}
	}
}

// TestInteropDecisionOnly: OpenTelemetry's b3 writes "b3: 0" (and
// X-B3-Sampled alone) for a context without ids; we read the decision.
func TestInteropDecisionOnly(t *testing.T) {
	for _, ref := range references[1:3] {
		carrier := propagation.MapCarrier{}
		ref.prop.Inject(context.Background(), carrier)
		got, ok := Extract(carrierToHeaders(carrier), []Format{B3})
		if !ok || got.TraceID.IsValid() || got.Sampling != NotSampled {
			t.Errorf("%s: from %v extracted %+v %v, want a not-sampled decision without ids", ref.name, carrier, got, ok)
		}
	}
}

package propagation

import "github.com/trace-exporter/trace-exporter/exporter"

// Sampling is a caller's sampling decision as carried by a header.
type Sampling uint8

// Sampling decisions.
const (
	// NoDecision: the header carried none (b3 without X-B3-Sampled, AWS
	// Sampled=?, GCP without o=, …); the receiver decides.
	NoDecision Sampling = iota
	// NotSampled: the caller decided not to record this trace.
	NotSampled
	// Sampled: the caller records this trace.
	Sampled
)

// String names the decision for logs and test failures.
func (s Sampling) String() string {
	switch s {
	case NotSampled:
		return "not-sampled"
	case Sampled:
		return "sampled"
	}
	return "no-decision"
}

// SpanContext is a trace context as extracted from, or injected into,
// request headers.
//
// Extracted: SpanID is the caller's span, the parent of the gateway's root
// span (W3C calls it parent-id, Datadog parent-id, AWS Parent). TraceID may
// be invalid when the caller sent only a sampling decision (b3: 0,
// X-INSTANA-L: 0): Sampling holds the decision and the receiver starts a new
// trace. SpanID may be zero when the format allows a trace id alone (AWS
// Root without Parent, Datadog without parent id).
//
// Injected: SpanID is the span the upstream takes as its parent (the
// gateway's last balancer try); ParentSpanID its parent (the gateway's root
// span), written by the formats that carry it (b3, jaeger).
type SpanContext struct {
	TraceID      exporter.TraceID
	SpanID       exporter.SpanID
	ParentSpanID exporter.SpanID // b3 X-B3-ParentSpanId / jaeger parent field; informational
	Sampling     Sampling
	// Debug is b3's "d" / X-B3-Flags: 1 and jaeger's debug flag: the caller
	// forces sampling. It is written only with a Sampled decision.
	Debug bool
	// Random is the W3C level 2 random flag: the low 56 bits of TraceID are
	// random. Kept from traceparent; set it for trace ids you generate.
	Random bool
	// TraceState is the W3C tracestate (raw, validated), kept only with a
	// traceparent that was used.
	TraceState string
	// TraceStateChanged says the gateway changed an extracted tracestate
	// (sampling's threshold): W3C injection then writes it, where it
	// otherwise leaves the caller's header to travel upstream untouched.
	TraceStateChanged bool
	// Format is the format the context was extracted from (B3Single when the
	// b3 single header was used); FormatNone when it was not extracted.
	Format Format
}

// IsValid reports whether the context identifies a trace and a span.
func (sc SpanContext) IsValid() bool { return sc.TraceID.IsValid() && sc.SpanID.IsValid() }

// IsSampled reports whether the decision is Sampled.
func (sc SpanContext) IsSampled() bool { return sc.Sampling == Sampled }

// Child returns the context to inject upstream for a request that carried sc
// (or the zero SpanContext): the trace traceID, the upstream's parent span
// spanID with parent parentID, and the gateway's final sampling decision. It
// keeps Format (for preserve), TraceState, Random and, when sampled, Debug.
//
// traceID is sc.TraceID when that is valid, else the id the gateway
// generated; Child does not choose.
func (sc SpanContext) Child(traceID exporter.TraceID, spanID, parentID exporter.SpanID, sampled bool) SpanContext {
	out := SpanContext{
		TraceID:      traceID,
		SpanID:       spanID,
		ParentSpanID: parentID,
		Sampling:     NotSampled,
		Debug:        sampled && sc.Debug,
		Random:       sc.Random,
		TraceState:   sc.TraceState,
		Format:       sc.Format,
	}
	if sampled {
		out.Sampling = Sampled
	}
	if traceID != sc.TraceID {
		// A new trace: the caller's tracestate and random flag describe
		// another trace id.
		out.TraceState = ""
		out.Random = false
	}
	return out
}

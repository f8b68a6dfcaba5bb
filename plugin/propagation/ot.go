package propagation

import "strings"

// OpenTracing basic tracer headers (as Kong and the OpenTelemetry "ot"
// propagator use them):
//
//	ot-tracer-traceid: 16 or 32 hex digits
//	ot-tracer-spanid:  16 hex digits
//	ot-tracer-sampled: true/false (1/0 accepted)
//
// ot-baggage-* is not read or written.
const (
	headerOTTraceID = "ot-tracer-traceid"
	headerOTSpanID  = "ot-tracer-spanid"
	headerOTSampled = "ot-tracer-sampled"
)

func extractOT(h Getter) (SpanContext, outcome) {
	traceID := trimOWS(h.Get(headerOTTraceID))
	spanID := trimOWS(h.Get(headerOTSpanID))
	sampled := trimOWS(h.Get(headerOTSampled))
	if traceID == "" && spanID == "" && sampled == "" {
		return SpanContext{}, absent
	}
	sc := SpanContext{Format: OT}
	switch {
	case sampled == "":
	case sampled == "1" || strings.EqualFold(sampled, "true"):
		sc.Sampling = Sampled
	case sampled == "0" || strings.EqualFold(sampled, "false"):
		sc.Sampling = NotSampled
	default:
		return SpanContext{}, malformed
	}
	var ok bool
	if sc.TraceID, ok = parseTraceID64or128(traceID); !ok {
		return SpanContext{}, malformed
	}
	if sc.SpanID, ok = parseSpanID16(spanID); !ok {
		return SpanContext{}, malformed
	}
	return sc, found
}

// injectOT writes the full 128-bit id unless its upper half is zero. Kong
// and the OpenTelemetry ot propagator truncate to the low 64 bits, which
// makes the upstream's spans land in another trace than the gateway's; every
// OT extractor checked (Kong's, OpenTelemetry's) reads 32 digits.
func injectOT(dst []Header, sc SpanContext) []Header {
	sampled := "false"
	if sc.Sampling == Sampled {
		sampled = "true"
	}
	return append(dst,
		Header{headerOTTraceID, traceIDHex(sc.TraceID, true)},
		Header{headerOTSpanID, spanIDHex(sc.SpanID)},
		Header{headerOTSampled, sampled})
}

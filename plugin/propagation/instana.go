package propagation

import "strings"

// Instana (https://www.ibm.com/docs/en/instana-observability/current?topic=references-tracing-headers):
//
//	X-INSTANA-T: trace id, 16 or 32 hex digits (shorter ones left-padded)
//	X-INSTANA-S: the caller's span id, up to 16 hex digits
//	X-INSTANA-L: level, 1 (trace) or 0 (suppress), optionally followed by
//	             ",correlationType=…;correlationId=…" from website monitoring
//
// X-INSTANA-L: 0 alone (no ids) is a decision without context; 1 alone is
// nothing.
const (
	headerInstanaTraceID = "x-instana-t"
	headerInstanaSpanID  = "x-instana-s"
	headerInstanaLevel   = "x-instana-l"
)

func extractInstana(h Getter) (SpanContext, outcome) {
	traceID := trimOWS(h.Get(headerInstanaTraceID))
	spanID := trimOWS(h.Get(headerInstanaSpanID))
	level := trimOWS(h.Get(headerInstanaLevel))
	if traceID == "" && spanID == "" && level == "" {
		return SpanContext{}, absent
	}
	sc := SpanContext{Format: Instana}
	if level != "" {
		if i := strings.IndexByte(level, ','); i >= 0 {
			level = trimOWS(level[:i])
		}
		switch level {
		case "1":
			sc.Sampling = Sampled
		case "0":
			sc.Sampling = NotSampled
		default:
			return SpanContext{}, malformed
		}
	}
	if traceID == "" && spanID == "" {
		// Level 1 is every tracer's default: alone it says nothing (and
		// must not let any client force sampling without a context).
		if sc.Sampling == NotSampled {
			return sc, decisionOnly
		}
		return SpanContext{}, absent
	}
	if !decodeHexPadded(sc.TraceID[:], traceID) || !sc.TraceID.IsValid() ||
		!decodeHexPadded(sc.SpanID[:], spanID) || !sc.SpanID.IsValid() {
		return SpanContext{}, malformed
	}
	return sc, found
}

func injectInstana(dst []Header, sc SpanContext) []Header {
	return append(dst,
		Header{headerInstanaTraceID, traceIDHex(sc.TraceID, true)},
		Header{headerInstanaSpanID, spanIDHex(sc.SpanID)},
		Header{headerInstanaLevel, sampledDigit(sc)})
}

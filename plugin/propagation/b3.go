package propagation

import "strings"

// B3 (https://github.com/openzipkin/b3-propagation), two encodings:
//
//	b3: {TraceId}-{SpanId}[-{SamplingState}[-{ParentSpanId}]]  or  b3: {SamplingState}
//	X-B3-TraceId, X-B3-SpanId, X-B3-ParentSpanId, X-B3-Sampled, X-B3-Flags
//
// Trace ids are 16 or 32 hex digits, span ids 16; SamplingState is 0, 1 or
// d (debug, implies sampled). The single header wins when it is valid; an
// invalid one falls back to the multi headers, as Kong and OpenTelemetry do.
const (
	headerB3             = "b3"
	headerB3TraceID      = "x-b3-traceid"
	headerB3SpanID       = "x-b3-spanid"
	headerB3ParentSpanID = "x-b3-parentspanid"
	headerB3Sampled      = "x-b3-sampled"
	headerB3Flags        = "x-b3-flags"
)

func extractB3(h Getter) (SpanContext, outcome) {
	single, singleOutcome := extractB3Single(h)
	if singleOutcome == found {
		return single, found
	}
	multi, multiOutcome := extractB3Multi(h)
	switch multiOutcome {
	case found:
		if multi.Sampling == NoDecision && singleOutcome == decisionOnly {
			multi.Sampling, multi.Debug = single.Sampling, single.Debug
		}
		return multi, found
	case decisionOnly:
		if singleOutcome == decisionOnly {
			return single, decisionOnly
		}
		return multi, decisionOnly
	}
	if singleOutcome == decisionOnly {
		return single, decisionOnly
	}
	if singleOutcome == malformed || multiOutcome == malformed {
		return SpanContext{}, malformed
	}
	return SpanContext{}, absent
}

func extractB3Single(h Getter) (SpanContext, outcome) {
	raw := h.Get(headerB3)
	if raw == "" {
		return SpanContext{}, absent
	}
	s := trimOWS(raw)
	sc := SpanContext{Format: B3Single}
	if len(s) == 1 {
		if !parseB3SamplingState(s, &sc) {
			return SpanContext{}, malformed
		}
		return sc, decisionOnly
	}
	traceEnd := strings.IndexByte(s, '-')
	if traceEnd < 0 {
		return SpanContext{}, malformed
	}
	var ok bool
	if sc.TraceID, ok = parseTraceID64or128(s[:traceEnd]); !ok {
		return SpanContext{}, malformed
	}
	rest := s[traceEnd+1:]
	if len(rest) < 16 {
		return SpanContext{}, malformed
	}
	if sc.SpanID, ok = parseSpanID16(rest[:16]); !ok {
		return SpanContext{}, malformed
	}
	rest = rest[16:]
	switch len(rest) {
	case 0: // {trace}-{span}: no decision
	case 2: // -{sampling}
		if rest[0] != '-' || !parseB3SamplingState(rest[1:], &sc) {
			return SpanContext{}, malformed
		}
	case 19: // -{sampling}-{parent}
		if rest[0] != '-' || rest[2] != '-' || !parseB3SamplingState(rest[1:2], &sc) {
			return SpanContext{}, malformed
		}
		if sc.ParentSpanID, ok = parseSpanID16(rest[3:]); !ok {
			return SpanContext{}, malformed
		}
	default: // includes {trace}-{span}-{parent}, which the spec forbids
		return SpanContext{}, malformed
	}
	return sc, found
}

func parseB3SamplingState(s string, sc *SpanContext) bool {
	switch s {
	case "0":
		sc.Sampling = NotSampled
	case "1":
		sc.Sampling = Sampled
	case "d":
		sc.Sampling, sc.Debug = Sampled, true
	default:
		return false
	}
	return true
}

func extractB3Multi(h Getter) (SpanContext, outcome) {
	traceID := trimOWS(h.Get(headerB3TraceID))
	spanID := trimOWS(h.Get(headerB3SpanID))
	parentID := trimOWS(h.Get(headerB3ParentSpanID))
	sampled := trimOWS(h.Get(headerB3Sampled))
	flags := trimOWS(h.Get(headerB3Flags))
	if traceID == "" && spanID == "" && parentID == "" && sampled == "" && flags == "" {
		return SpanContext{}, absent
	}
	sc := SpanContext{Format: B3}
	// "true"/"false" are legacy values still sent by some tracers; Kong and
	// OpenTelemetry accept them.
	switch {
	case sampled == "":
	case sampled == "1" || strings.EqualFold(sampled, "true"):
		sc.Sampling = Sampled
	case sampled == "0" || strings.EqualFold(sampled, "false"):
		sc.Sampling = NotSampled
	default:
		return SpanContext{}, malformed
	}
	// Only "1" means debug; other X-B3-Flags values are ignored (spec).
	if flags == "1" {
		sc.Sampling, sc.Debug = Sampled, true
	}
	if traceID == "" && spanID == "" {
		switch {
		case parentID != "":
			return SpanContext{}, malformed
		case sc.Sampling == NoDecision: // only an ignored X-B3-Flags value
			return SpanContext{}, absent
		}
		return sc, decisionOnly
	}
	var ok bool
	if sc.TraceID, ok = parseTraceID64or128(traceID); !ok {
		return SpanContext{}, malformed
	}
	if sc.SpanID, ok = parseSpanID16(spanID); !ok {
		return SpanContext{}, malformed
	}
	if parentID != "" {
		if sc.ParentSpanID, ok = parseSpanID16(parentID); !ok {
			return SpanContext{}, malformed
		}
	}
	return sc, found
}

func injectB3(dst []Header, sc SpanContext) []Header {
	dst = append(dst,
		Header{headerB3TraceID, traceIDHex(sc.TraceID, true)},
		Header{headerB3SpanID, spanIDHex(sc.SpanID)})
	if sc.ParentSpanID.IsValid() {
		dst = append(dst, Header{headerB3ParentSpanID, spanIDHex(sc.ParentSpanID)})
	}
	// Debug implies sampled; the spec says not to send X-B3-Sampled with it.
	if sc.Debug && sc.Sampling == Sampled {
		return append(dst, Header{headerB3Flags, "1"})
	}
	return append(dst, Header{headerB3Sampled, sampledDigit(sc)})
}

func injectB3Single(dst []Header, sc SpanContext) []Header {
	var buf [32 + 1 + 16 + 2 + 17]byte
	b := appendTraceIDHex(buf[:0], sc.TraceID, true)
	b = append(b, '-')
	b = appendHex(b, sc.SpanID[:])
	switch {
	case sc.Debug && sc.Sampling == Sampled:
		b = append(b, "-d"...)
	case sc.Sampling == Sampled:
		b = append(b, "-1"...)
	default:
		b = append(b, "-0"...)
	}
	if sc.ParentSpanID.IsValid() {
		b = append(b, '-')
		b = appendHex(b, sc.ParentSpanID[:])
	}
	return append(dst, Header{headerB3, string(b)})
}

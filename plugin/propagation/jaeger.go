package propagation

import "strings"

// Jaeger (https://www.jaegertracing.io/docs/latest/client-libraries/#propagation-format):
//
//	uber-trace-id: {trace-id}:{span-id}:{parent-span-id}:{flags}
//
// Ids are hex without leading zeros in some clients (left-padded here),
// trace ids up to 32 digits, span ids up to 16; parent-span-id is
// deprecated ("0"); flags is a one-byte bitmap in one or two hex digits:
// 0x01 sampled, 0x02 debug. Some clients URL-encode the colons (%3A).
// Jaeger baggage (uberctx-*) is not read or written.
const (
	headerJaeger = "uber-trace-id"

	jaegerFlagSampled = 0x01
	jaegerFlagDebug   = 0x02
)

func extractJaeger(h Getter) (SpanContext, outcome) {
	raw := h.Get(headerJaeger)
	if raw == "" {
		return SpanContext{}, absent
	}
	s := trimOWS(raw)
	if strings.IndexByte(s, '%') >= 0 {
		s = strings.ReplaceAll(strings.ReplaceAll(s, "%3A", ":"), "%3a", ":")
	}
	var fields [4]string
	for i := 0; i < 3; i++ {
		c := strings.IndexByte(s, ':')
		if c < 0 {
			return SpanContext{}, malformed
		}
		fields[i], s = s[:c], s[c+1:]
	}
	fields[3] = s
	sc := SpanContext{Format: Jaeger}
	if !decodeHexPadded(sc.TraceID[:], fields[0]) || !sc.TraceID.IsValid() ||
		!decodeHexPadded(sc.SpanID[:], fields[1]) || !sc.SpanID.IsValid() {
		return SpanContext{}, malformed
	}
	// The parent field is deprecated and unused: a bad one does not spoil
	// the context (OpenTelemetry skips it, Kong only warns).
	if !decodeHexPadded(sc.ParentSpanID[:], fields[2]) {
		sc.ParentSpanID = [8]byte{}
	}
	var flags [1]byte
	if !decodeHexPadded(flags[:], fields[3]) {
		return SpanContext{}, malformed
	}
	sc.Sampling = NotSampled
	if flags[0]&jaegerFlagSampled != 0 {
		sc.Sampling = Sampled
		sc.Debug = flags[0]&jaegerFlagDebug != 0
	}
	return sc, found
}

func injectJaeger(dst []Header, sc SpanContext) []Header {
	var buf [32 + 1 + 16 + 1 + 16 + 1 + 2]byte
	b := appendTraceIDHex(buf[:0], sc.TraceID, true)
	b = append(b, ':')
	b = appendHex(b, sc.SpanID[:])
	b = append(b, ':')
	if sc.ParentSpanID.IsValid() {
		b = appendHex(b, sc.ParentSpanID[:])
	} else {
		b = append(b, '0')
	}
	switch {
	case sc.Debug && sc.Sampling == Sampled:
		b = append(b, ":3"...)
	case sc.Sampling == Sampled:
		b = append(b, ":1"...)
	default:
		b = append(b, ":0"...)
	}
	return append(dst, Header{headerJaeger, string(b)})
}

package propagation

import (
	"encoding/binary"
	"strings"
)

// Google Cloud (https://cloud.google.com/trace/docs/trace-context#legacy-http-header):
//
//	X-Cloud-Trace-Context: {32 hex trace id}/{decimal span id}[;o={options}]
//
// Options is a bitmask whose bit 0 means "traced". Without o= there is no
// decision (Kong reads that as "not sampled", which would drop every request
// a Google load balancer stamped, since the receiver never samples then).
const headerGCP = "x-cloud-trace-context"

func extractGCP(h Getter) (SpanContext, outcome) {
	raw := h.Get(headerGCP)
	if raw == "" {
		return SpanContext{}, absent
	}
	s := trimOWS(raw)
	slash := strings.IndexByte(s, '/')
	if slash < 0 {
		return SpanContext{}, malformed
	}
	sc := SpanContext{Format: GCP}
	if !decodeHex(sc.TraceID[:], s[:slash], &hexAny) || !sc.TraceID.IsValid() {
		return SpanContext{}, malformed
	}
	s = s[slash+1:]
	span, options, hasOptions := strings.Cut(s, ";")
	id, ok := parseDecimalUint64(span)
	if !ok || id == 0 {
		return SpanContext{}, malformed
	}
	binary.BigEndian.PutUint64(sc.SpanID[:], id)
	if hasOptions {
		o, ok := strings.CutPrefix(options, "o=")
		if !ok {
			return SpanContext{}, malformed
		}
		bits, ok := parseDecimalUint64(o)
		if !ok {
			return SpanContext{}, malformed
		}
		sc.Sampling = NotSampled
		if bits&1 != 0 {
			sc.Sampling = Sampled
		}
	}
	return sc, found
}

func injectGCP(dst []Header, sc SpanContext) []Header {
	var buf [32 + 1 + 20 + 4]byte
	b := appendHex(buf[:0], sc.TraceID[:])
	b = append(b, '/')
	b = appendDecimal(b, sc.SpanID[:])
	b = append(b, ";o="...)
	b = append(b, sampledDigit(sc)...)
	return append(dst, Header{headerGCP, string(b)})
}

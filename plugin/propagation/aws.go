package propagation

import "strings"

// AWS X-Ray (https://docs.aws.amazon.com/xray/latest/devguide/xray-concepts.html#xray-concepts-tracingheader):
//
//	X-Amzn-Trace-Id: Root=1-{8 hex epoch}-{24 hex};Parent={16 hex};Sampled={0|1|?}
//
// The trace id is the 32 digits after the version. Parent is optional (an
// AWS load balancer adds Root alone, or Self=…;Root=…); Sampled=? means no
// decision. Other keys (Self, Lineage, custom ones) are ignored.
const (
	headerAWS = "x-amzn-trace-id"

	awsRootLen = 35 // "1-" + 8 + "-" + 24
)

func extractAWS(h Getter) (SpanContext, outcome) {
	raw := h.Get(headerAWS)
	if raw == "" {
		return SpanContext{}, absent
	}
	s := raw
	sc := SpanContext{Format: AWS}
	haveRoot := false
	for len(s) > 0 {
		var part string
		if i := strings.IndexByte(s, ';'); i >= 0 {
			part, s = s[:i], s[i+1:]
		} else {
			part, s = s, ""
		}
		part = trimOWS(part)
		if part == "" {
			continue
		}
		eq := strings.IndexByte(part, '=')
		if eq < 0 {
			return SpanContext{}, malformed
		}
		key, value := trimOWS(part[:eq]), trimOWS(part[eq+1:])
		switch key {
		case "Root":
			if !parseAWSRoot(value, &sc) {
				return SpanContext{}, malformed
			}
			haveRoot = true
		case "Parent":
			// An all-zero Parent is "no parent": the Root alone still
			// joins the trace.
			if !decodeHex(sc.SpanID[:], value, &hexAny) {
				return SpanContext{}, malformed
			}
		case "Sampled":
			switch value {
			case "1":
				sc.Sampling = Sampled
			case "0":
				sc.Sampling = NotSampled
			case "?":
				sc.Sampling = NoDecision
			default:
				return SpanContext{}, malformed
			}
		}
	}
	if !haveRoot {
		return SpanContext{}, malformed
	}
	return sc, found
}

func parseAWSRoot(v string, sc *SpanContext) bool {
	if len(v) != awsRootLen || v[0] != '1' || v[1] != '-' || v[10] != '-' {
		return false
	}
	return decodeHex(sc.TraceID[:4], v[2:10], &hexAny) &&
		decodeHex(sc.TraceID[4:], v[11:], &hexAny) &&
		sc.TraceID.IsValid()
}

func injectAWS(dst []Header, sc SpanContext) []Header {
	var buf [len("Root=") + awsRootLen + len(";Parent=") + 16 + len(";Sampled=") + 1]byte
	b := append(buf[:0], "Root=1-"...)
	b = appendHex(b, sc.TraceID[:4])
	b = append(b, '-')
	b = appendHex(b, sc.TraceID[4:])
	b = append(b, ";Parent="...)
	b = appendHex(b, sc.SpanID[:])
	b = append(b, ";Sampled="...)
	b = append(b, sampledDigit(sc)...)
	return append(dst, Header{headerAWS, string(b)})
}

package propagation

// Header is one request header to set upstream. Names are lowercase.
type Header struct {
	Name  string
	Value string
}

type injectFunc func(dst []Header, sc SpanContext) []Header

var injectors = [formatCount]injectFunc{
	W3C:      injectW3C,
	B3:       injectB3,
	B3Single: injectB3Single,
	Jaeger:   injectJaeger,
	OT:       injectOT,
	AWS:      injectAWS,
	GCP:      injectGCP,
	Datadog:  injectDatadog,
	Instana:  injectInstana,
}

// Inject appends to dst the headers that carry sc in each of formats and
// returns the extended slice. Preserve stands for sc.Format (the extracted
// format, b3-single when the b3 single header was read), or defaultFormat
// when nothing was extracted (W3C if that is unset too, as Kong does). A
// format listed twice, or reached twice through preserve, is written once.
//
// sc must carry a valid trace id and span id: the decision alone is never
// sent (the gateway always has ids of its own), so nothing is appended
// otherwise. The sampled flag written is sc.Sampling == Sampled, the
// gateway's decision, in every format (Kong bug #11626 sent 01 always).
// Each header value costs one allocation; the caller can reuse dst.
func Inject(dst []Header, sc SpanContext, formats []Format, defaultFormat Format) []Header {
	if !sc.IsValid() {
		return dst
	}
	var done uint32
	for _, f := range formats {
		if f == Preserve {
			f = sc.Format
			if f == FormatNone {
				f = defaultFormat
			}
			if f == FormatNone || f == Preserve {
				f = W3C
			}
		}
		if f >= formatCount || injectors[f] == nil || done&(1<<f) != 0 {
			continue
		}
		done |= 1 << f
		dst = injectors[f](dst, sc)
	}
	return dst
}

// sampledDigit is "1" for a sampled context and "0" otherwise: formats
// without a "no decision" value get the gateway's decision.
func sampledDigit(sc SpanContext) string {
	if sc.Sampling == Sampled {
		return "1"
	}
	return "0"
}

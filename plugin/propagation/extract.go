package propagation

// outcome is what one format's extractor found.
type outcome uint8

const (
	absent       outcome = iota // none of the format's headers is present
	malformed                   // present but unusable: skipped and reported
	decisionOnly                // a sampling decision without ids (b3: 0, X-INSTANA-L: 0)
	found                       // a valid trace id (and usually a span id)
)

type extractFunc func(h Getter) (SpanContext, outcome)

var extractors = [formatCount]extractFunc{
	W3C:     extractW3C,
	B3:      extractB3,
	Jaeger:  extractJaeger,
	OT:      extractOT,
	AWS:     extractAWS,
	GCP:     extractGCP,
	Datadog: extractDatadog,
	Instana: extractInstana,
}

// FormatSet is a set of formats.
type FormatSet uint16

// Has reports whether f is in the set; b3 and b3-single are one member.
func (s FormatSet) Has(f Format) bool {
	f = f.extractor()
	return f < formatCount && s&(1<<f) != 0
}

// Extract reads the trace context from h, trying formats in order. The first
// format that yields a valid trace id wins. When none does, the first
// format that carried only a sampling decision (b3: 0, X-INSTANA-L: 0) is
// returned: the caller starts a new trace but honours that decision. ok is
// false when no format matched; the zero SpanContext is then returned.
//
// Unlike Kong, a stray decision-only header earlier in the list does not
// hide a complete context later in it (Kong stops at the first extractor
// returning anything). Malformed headers are skipped (see [ExtractChecked]).
// B3Single in formats means B3: one extractor reads both b3 encodings.
// Preserve and FormatNone are ignored.
func Extract(h Getter, formats []Format) (sc SpanContext, ok bool) {
	sc, ok, _ = ExtractChecked(h, formats)
	return sc, ok
}

// ExtractChecked is [Extract] that also reports the formats whose headers
// were present but could not be used (bad syntax, all-zero or missing ids,
// unknown values): the caller counts them. Only formats tried are
// reported: those after the one that matched are not read.
func ExtractChecked(h Getter, formats []Format) (sc SpanContext, ok bool, bad FormatSet) {
	var fallback SpanContext
	haveFallback := false
	for _, f := range formats {
		f = f.extractor()
		if f >= formatCount || extractors[f] == nil {
			continue
		}
		got, o := extractors[f](h)
		switch o {
		case found:
			return got, true, bad
		case decisionOnly:
			if !haveFallback {
				fallback, haveFallback = got, true
			}
		case malformed:
			bad |= 1 << f
		}
	}
	return fallback, haveFallback, bad
}

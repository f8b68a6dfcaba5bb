package sampling

import "strings"

// The OpenTelemetry entry of a W3C tracestate: "ot=" followed by
// "key:value" sub-keys separated by ";". Sampling reads th (the threshold
// the trace was sampled with) and rv (explicit randomness, in place of the
// trace id's).

const (
	otKey       = "ot"
	maxMembers  = 32  // W3C tracestate list members
	maxOTValue  = 256 // the ot entry's value
	subKeyTh    = "th"
	subKeyRv    = "rv"
	memberSep   = ","
	subKeySep   = ";"
	subKeyValue = ":"
)

// otState is what sampling reads from a tracestate's ot entry.
type otState struct {
	th    Threshold
	hasTh bool
	rv    Randomness
	hasRv bool
}

// parseOT reads th and rv from tracestate; malformed values count as
// absent.
func parseOT(tracestate string) otState {
	var s otState
	v, ok := otValue(tracestate)
	if !ok {
		return s
	}
	for v != "" {
		var kv string
		kv, v, _ = strings.Cut(v, subKeySep)
		k, val, _ := strings.Cut(kv, subKeyValue)
		switch k {
		case subKeyTh:
			s.th, s.hasTh = ParseThreshold(val)
		case subKeyRv:
			s.rv, s.hasRv = ParseRandomness(val)
		}
	}
	return s
}

// otValue finds the ot entry's value.
func otValue(tracestate string) (string, bool) {
	for tracestate != "" {
		var m string
		m, tracestate, _ = strings.Cut(tracestate, memberSep)
		m = strings.Trim(m, " \t")
		if v, ok := strings.CutPrefix(m, otKey+"="); ok {
			return v, true
		}
	}
	return "", false
}

// withTh returns tracestate with the ot entry's th set to tvalue, or
// removed when tvalue is "". As W3C asks of a changed entry, ot moves to
// the front; an entry left empty is dropped, and a list that would exceed
// 32 members loses its last one. The result is tracestate itself when
// nothing changes.
func withTh(tracestate, tvalue string) string {
	old, found := otValue(tracestate)
	var b strings.Builder
	if tvalue != "" {
		b.WriteString(subKeyTh + subKeyValue)
		b.WriteString(tvalue)
	}
	for rest := old; rest != ""; {
		var kv string
		kv, rest, _ = strings.Cut(rest, subKeySep)
		if kv == "" || strings.HasPrefix(kv, subKeyTh+subKeyValue) {
			continue
		}
		if b.Len() > 0 {
			b.WriteString(subKeySep)
		}
		b.WriteString(kv)
	}
	value := b.String()
	if value == old && (found || value == "") {
		return tracestate
	}
	if len(value) > maxOTValue {
		return tracestate // the entry cannot hold it: leave the caller's as it is
	}
	var out strings.Builder
	members := 0
	if value != "" {
		out.WriteString(otKey + "=")
		out.WriteString(value)
		members++
	}
	for rest := tracestate; rest != ""; {
		var m string
		m, rest, _ = strings.Cut(rest, memberSep)
		m = strings.Trim(m, " \t")
		if m == "" || strings.HasPrefix(m, otKey+"=") {
			continue
		}
		if members == maxMembers {
			break
		}
		if out.Len() > 0 {
			out.WriteString(memberSep)
		}
		out.WriteString(m)
		members++
	}
	return out.String()
}

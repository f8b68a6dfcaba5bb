package propagation

import "strings"

// W3C Trace Context (https://www.w3.org/TR/trace-context/):
//
//	traceparent: {version:2}-{trace-id:32}-{parent-id:16}-{flags:2}
//	tracestate:  key=value,key2=value2 (list, up to 32 members)
const (
	headerTraceparent = "traceparent"
	headerTracestate  = "tracestate"

	traceparentLen = 55 // version 00: exact length

	w3cFlagSampled = 0x01
	w3cFlagRandom  = 0x02 // trace context level 2: low 56 bits of trace-id are random
)

func extractW3C(h Getter) (SpanContext, outcome) {
	raw := h.Get(headerTraceparent)
	if raw == "" {
		return SpanContext{}, absent
	}
	sc, ok := parseTraceparent(trimOWS(raw))
	if !ok {
		return SpanContext{}, malformed
	}
	// tracestate is read only with a usable traceparent (spec §3.3.1) and
	// dropped whole when invalid, as OpenTelemetry does; its failure never
	// affects the traceparent.
	if ts := trimOWS(h.Get(headerTracestate)); ts != "" && validTracestate(ts) {
		sc.TraceState = ts
	}
	sc.Format = W3C
	return sc, found
}

// parseTraceparent follows the spec's versioning rules: version ff is
// invalid; version 00 is exactly 55 characters; a higher (future) version is
// parsed for its first four fields and may continue after a "-".
func parseTraceparent(s string) (SpanContext, bool) {
	var sc SpanContext
	if len(s) < traceparentLen || s[2] != '-' || s[35] != '-' || s[52] != '-' {
		return sc, false
	}
	var version, flags [1]byte
	if !decodeHex(version[:], s[0:2], &hexLower) || version[0] == 0xff {
		return sc, false
	}
	if version[0] == 0 && len(s) != traceparentLen {
		return sc, false
	}
	if len(s) > traceparentLen && s[traceparentLen] != '-' {
		return sc, false
	}
	if !decodeHex(sc.TraceID[:], s[3:35], &hexLower) ||
		!decodeHex(sc.SpanID[:], s[36:52], &hexLower) ||
		!decodeHex(flags[:], s[53:55], &hexLower) {
		return sc, false
	}
	if !sc.TraceID.IsValid() || !sc.SpanID.IsValid() {
		return sc, false
	}
	// Flags other than sampled and random are undefined: ignored, and not
	// passed on (the spec asks to reset them).
	sc.Sampling = NotSampled
	if flags[0]&w3cFlagSampled != 0 {
		sc.Sampling = Sampled
	}
	sc.Random = flags[0]&w3cFlagRandom != 0
	return sc, true
}

// validTracestate checks the list syntax of W3C tracestate without
// allocating: at most 32 members, each key=value with a valid key and value,
// no duplicate keys; empty members (and whitespace around members) allowed.
func validTracestate(s string) bool {
	const maxMembers = 32
	var keys [maxMembers]string
	n := 0
	for len(s) > 0 {
		var member string
		if i := strings.IndexByte(s, ','); i >= 0 {
			member, s = s[:i], s[i+1:]
		} else {
			member, s = s, ""
		}
		member = trimOWS(member)
		if member == "" {
			continue
		}
		eq := strings.IndexByte(member, '=')
		if eq < 0 || !validTracestateKey(member[:eq]) || !validTracestateValue(member[eq+1:]) {
			return false
		}
		if n == maxMembers {
			return false
		}
		key := member[:eq]
		for _, k := range keys[:n] {
			if k == key {
				return false
			}
		}
		keys[n] = key
		n++
	}
	return true
}

// validTracestateKey: simple-key = lcalpha 0*255(lcalpha / DIGIT / "_" /
// "-"/ "*" / "/"), or multi-tenant tenant-id@system-id (tenant up to 241
// characters starting with lcalpha or digit, system up to 14 starting with
// lcalpha).
func validTracestateKey(k string) bool {
	if len(k) == 0 || len(k) > 256 {
		return false
	}
	at := strings.IndexByte(k, '@')
	if at < 0 {
		return isLCAlpha(k[0]) && keyChars(k[1:])
	}
	tenant, system := k[:at], k[at+1:]
	return len(tenant) >= 1 && len(tenant) <= 241 && (isLCAlpha(tenant[0]) || isDigit(tenant[0])) && keyChars(tenant[1:]) &&
		len(system) >= 1 && len(system) <= 14 && isLCAlpha(system[0]) && keyChars(system[1:])
}

func keyChars(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !isLCAlpha(c) && !isDigit(c) && c != '_' && c != '-' && c != '*' && c != '/' {
			return false
		}
	}
	return true
}

// validTracestateValue: 0*255(chr) nblk-chr, chr = %x20 / nblk-chr,
// nblk-chr = %x21-2B / %x2D-3C / %x3E-7E (no "," or "=").
func validTracestateValue(v string) bool {
	if len(v) == 0 || len(v) > 256 || v[len(v)-1] == ' ' {
		return false
	}
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c < 0x20 || c > 0x7e || c == ',' || c == '=' {
			return false
		}
	}
	return true
}

func isLCAlpha(c byte) bool { return c >= 'a' && c <= 'z' }
func isDigit(c byte) bool   { return c >= '0' && c <= '9' }

func injectW3C(dst []Header, sc SpanContext) []Header {
	var buf [traceparentLen]byte
	b := append(buf[:0], "00-"...)
	b = appendHex(b, sc.TraceID[:])
	b = append(b, '-')
	b = appendHex(b, sc.SpanID[:])
	var flags byte
	if sc.Sampling == Sampled {
		flags |= w3cFlagSampled
	}
	if sc.Random {
		flags |= w3cFlagRandom
	}
	b = append(b, '-', hexDigits[flags>>4], hexDigits[flags&0x0f])
	dst = append(dst, Header{headerTraceparent, string(b)})
	// A context extracted from traceparent came with its tracestate, which
	// still travels upstream untouched (unless the user cleared it on
	// purpose): only a tracestate from elsewhere, or one the gateway
	// changed, is written (empty when the change removed every entry).
	if sc.Format == W3C && sc.TraceStateChanged || sc.Format != W3C && sc.TraceState != "" {
		dst = append(dst, Header{headerTracestate, sc.TraceState})
	}
	return dst
}

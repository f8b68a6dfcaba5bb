package plugin

import (
	"net/url"
	"strings"
	"unicode/utf8"
	"unsafe"

	"github.com/trace-exporter/trace-exporter/exporter"
)

const redacted = "REDACTED"

// redactQuery replaces the values of sensitive query parameters. Names are
// compared case-insensitively, after percent-decoding. The query is returned
// unchanged (no copy) when nothing matches, which is the common case.
func redactQuery(query string, names []string, a *arena) string {
	if len(names) == 0 || query == "" {
		return query
	}
	if !queryHasAny(query, names) {
		return query
	}
	// Rewritten pair by pair into a buffer on the stack, then the arena.
	var buf [512]byte
	out := buf[:0]
	for rest, first := query, true; ; first = false {
		pair, tail, more := strings.Cut(rest, "&")
		if !first {
			out = append(out, '&')
		}
		if key, _, _ := strings.Cut(pair, "="); key != "" && sensitiveParam(key, names) {
			out = append(append(append(out, key...), '='), redacted...)
		} else {
			out = append(out, pair...)
		}
		if !more {
			break
		}
		rest = tail
	}
	return a.str(unsafe.String(unsafe.SliceData(out), len(out)))
}

func queryHasAny(query string, names []string) bool {
	rest := query
	for rest != "" {
		var pair string
		pair, rest, _ = strings.Cut(rest, "&")
		key, _, _ := strings.Cut(pair, "=")
		if sensitiveParam(key, names) {
			return true
		}
	}
	return false
}

func sensitiveParam(key string, names []string) bool {
	if strings.IndexByte(key, '%') >= 0 || strings.IndexByte(key, '+') >= 0 {
		if k, err := url.QueryUnescape(key); err == nil {
			key = k
		}
	}
	// "token[]" and "token[0]" are the same parameter to most frameworks.
	if i := strings.IndexByte(key, '['); i > 0 {
		key = key[:i]
	}
	if key == "" {
		return false
	}
	k0 := key[0]
	for _, n := range names {
		// Most names differ from the key in the first byte: skip those
		// without the cost of EqualFold. ASCII bytes that fold to each other
		// differ at most in bit 0x20, so the test never skips a match; a
		// non-ASCII byte may fold to ASCII (the Kelvin sign to k): EqualFold.
		if n == "" {
			continue
		}
		if c := n[0]; c < utf8.RuneSelf && k0 < utf8.RuneSelf && c|0x20 != k0|0x20 {
			continue
		}
		if strings.EqualFold(key, n) {
			return true
		}
	}
	return false
}

// limitAttributes applies max_attributes (the attributes last appended are
// dropped first: span building appends the required ones first) and
// max_attribute_value_length (in characters, as OpenTelemetry counts), and
// replaces bytes that are not UTF-8 in values and the name (OTLP strings
// must be valid UTF-8; a lone surrogate escape in the payload would
// otherwise break the whole batch). The value limit is not a name limit:
// the span name is never cut.
func limitAttributes(s *exporter.Span, o *spanOptions) {
	s.Attributes = limitAttrs(s.Attributes, &s.DroppedAttributes, o)
	if !exporter.ValidUTF8(s.Name) {
		s.Name = fixString(s.Name, 0)
	}
}

// limitAttrs applies max_attributes (counting what it drops into dropped)
// and max_attribute_value_length, and makes string values valid UTF-8.
func limitAttrs(attrs []exporter.Attribute, dropped *uint32, o *spanOptions) []exporter.Attribute {
	if o.maxAttrs > 0 && len(attrs) > o.maxAttrs {
		*dropped += uint32(len(attrs) - o.maxAttrs)
		attrs = attrs[:o.maxAttrs:o.maxAttrs]
	}
	for i := range attrs {
		v := &attrs[i].Value
		switch v.Type {
		case exporter.TypeString:
			if str := v.AsString(); needsFix(str, o.maxValueLen) {
				attrs[i] = exporter.String(attrs[i].Key, fixString(str, o.maxValueLen))
			}
		case exporter.TypeStringSlice:
			vals := v.AsStringSlice()
			for j, str := range vals {
				if needsFix(str, o.maxValueLen) {
					vals[j] = fixString(str, o.maxValueLen)
				}
			}
		}
	}
	return attrs
}

// needsFix reports whether s is not UTF-8 or may hold more than max
// characters (a string of at most max bytes never does).
func needsFix(s string, max int) bool {
	return (max > 0 && len(s) > max) || !exporter.ValidUTF8(s)
}

// fixString makes s valid UTF-8 and at most max characters (runes; 0: no
// limit).
func fixString(s string, max int) string {
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	if max <= 0 || len(s) <= max {
		return s
	}
	n := 0
	for i := range s {
		if n == max {
			return s[:i]
		}
		n++
	}
	return s
}

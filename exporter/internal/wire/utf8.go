package wire

import "unicode/utf8"

// Protobuf string fields and JSON strings must be valid UTF-8: a collector
// refuses the whole request otherwise (Go's proto.Unmarshal fails on it).
// Kong hands over raw header and path bytes, so every string is checked on
// the way out and each run of invalid bytes becomes U+FFFD, exactly as
// strings.ToValidUTF8(s, "\uFFFD") would, without allocating.

const replacementChar = "\uFFFD"

// ValidUTF8Len is len(strings.ToValidUTF8(s, "\uFFFD")).
func ValidUTF8Len(s string) int {
	if ValidUTF8(s) {
		return len(s)
	}
	n := 0
	for i := 0; i < len(s); {
		if s[i] < utf8.RuneSelf {
			n++
			i++
			continue
		}
		r, w := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && w == 1 {
			n += len(replacementChar)
			for i < len(s) {
				if r, w = utf8.DecodeRuneInString(s[i:]); r != utf8.RuneError || w != 1 {
					break
				}
				i++
			}
			continue
		}
		n += w
		i += w
	}
	return n
}

// AppendValidUTF8 appends s with each run of invalid bytes replaced by U+FFFD.
func AppendValidUTF8(dst []byte, s string) []byte {
	if utf8.ValidString(s) {
		return append(dst, s...)
	}
	for i := 0; i < len(s); {
		r, w := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && w == 1 {
			dst = append(dst, replacementChar...)
			for i < len(s) {
				if r, w = utf8.DecodeRuneInString(s[i:]); r != utf8.RuneError || w != 1 {
					break
				}
				i++
			}
			continue
		}
		dst = append(dst, s[i:i+w]...)
		i += w
	}
	return dst
}

// ValidUTF8 is utf8.ValidString with ASCII, the common case, checked eight
// bytes per step: on attribute-sized strings (5 to 50 bytes)
// utf8.ValidString's set-up dominates.
func ValidUTF8(s string) bool {
	i := 0
	for ; i+8 <= len(s); i += 8 {
		c := s[i : i+8] // one bounds check; the eight loads combine into one
		w := uint64(c[0]) | uint64(c[1])<<8 | uint64(c[2])<<16 | uint64(c[3])<<24 |
			uint64(c[4])<<32 | uint64(c[5])<<40 | uint64(c[6])<<48 | uint64(c[7])<<56
		if w&0x8080808080808080 != 0 {
			return utf8.ValidString(s[i:])
		}
	}
	for ; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return utf8.ValidString(s[i:])
		}
	}
	return true
}

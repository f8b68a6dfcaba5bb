package plugin

import (
	"math"
	"math/bits"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
	"unsafe"
)

// scanner reads a JSON text once, left to right, without building a tree:
// the caller walks the objects it wants and skips every other value. Only
// the structure of skipped values is checked (brackets, separators, string
// ends, literals), not their escapes or number grammar: that is what makes
// skipping the bulk of a serialize payload (headers, query, entity fields)
// cheaper than validating it (BenchmarkParse).
//
// Errors are sticky: after the first one every method returns zero values
// and ok() reports false.
type scanner struct {
	s     string
	pos   int
	depth int
	bad   bool
	// key holds an unescaped object key (keys almost never have escapes).
	key []byte
}

// maxDepth is fastjson's nesting limit, kept so that both parsers refuse
// the same documents.
const maxDepth = 300

func (sc *scanner) ok() bool { return !sc.bad }

func (sc *scanner) fail() { sc.bad, sc.pos = true, len(sc.s) }

// peek skips whitespace and returns the next byte (0 at the end or after an
// error). cjson writes no whitespace: the first test is the common case.
func (sc *scanner) peek() byte {
	if sc.pos < len(sc.s) {
		if c := sc.s[sc.pos]; c > ' ' {
			return c
		}
	}
	return sc.peekSpace()
}

func (sc *scanner) peekSpace() byte {
	for sc.pos < len(sc.s) {
		switch c := sc.s[sc.pos]; c {
		case ' ', '\n', '\r', '\t':
			sc.pos++
		default:
			return c
		}
	}
	return 0
}

// enter consumes the '{' or '[' the caller peeked and reports whether the
// container has members; an empty one is consumed whole.
func (sc *scanner) enter(close byte) bool {
	sc.depth++
	if sc.depth > maxDepth {
		sc.fail()
		return false
	}
	sc.pos++
	if sc.peek() == close {
		sc.pos++
		sc.depth--
		return false
	}
	return !sc.bad
}

// next consumes the separator after a member: it reports true after ',',
// false after the closing byte (the container is done).
func (sc *scanner) next(close byte) bool {
	c := byte(0)
	if sc.pos < len(sc.s) {
		c = sc.s[sc.pos]
	}
	if c <= ' ' {
		c = sc.peek()
	}
	switch c {
	case ',':
		sc.pos++
		return true
	case close:
		sc.pos++
		sc.depth--
		return false
	}
	sc.fail()
	return false
}

// field reads a member's key and the ':' after it. The key is raw JSON text
// unless it has escapes; then it is unescaped into scratch space valid
// until the next call.
func (sc *scanner) field() string {
	if sc.peek() != '"' {
		sc.fail()
		return ""
	}
	raw, escaped := sc.rawString()
	if sc.pos >= len(sc.s) || sc.s[sc.pos] != ':' {
		if sc.peek() != ':' {
			sc.fail()
			return ""
		}
	}
	sc.pos++
	if !escaped {
		return raw
	}
	sc.key = appendUnescaped(sc.key[:0], raw)
	return unsafe.String(unsafe.SliceData(sc.key), len(sc.key))
}

// rawString consumes a string whose opening quote is at pos and returns its
// raw contents, and whether they hold a backslash.
//
// Serialize strings are short (5 to 50 bytes), where IndexByte's set-up
// costs more than the search, so it looks for the next '"' or '\\' eight
// bytes per step (SWAR): a byte b of w is one of the two when b^'"' or
// b^'\\' is zero, and (x - 0x01…) &^ x & 0x80… marks the lowest zero byte
// of x exactly. The loop is written out here rather than called: the call
// cost more than the search (BenchmarkParse).
func (sc *scanner) rawString() (string, bool) {
	const (
		lo    = 0x0101010101010101
		hi    = 0x8080808080808080
		quote = '"' * lo
		slash = '\\' * lo
	)
	s := sc.s
	start := sc.pos + 1
	escaped := false
	i := start
	for {
		j := -1
		for ; i+8 <= len(s); i += 8 {
			c := s[i : i+8] // one bounds check; the eight loads combine into one
			w := uint64(c[0]) | uint64(c[1])<<8 | uint64(c[2])<<16 | uint64(c[3])<<24 |
				uint64(c[4])<<32 | uint64(c[5])<<40 | uint64(c[6])<<48 | uint64(c[7])<<56
			q, b := w^quote, w^slash
			if m := ((q - lo) &^ q & hi) | ((b - lo) &^ b & hi); m != 0 {
				j = i + bits.TrailingZeros64(m)/8
				break
			}
		}
		if j < 0 {
			for ; i < len(s); i++ {
				if c := s[i]; c == '"' || c == '\\' {
					j = i
					break
				}
			}
			if j < 0 {
				sc.fail()
				return "", false
			}
		}
		if s[j] == '"' {
			sc.pos = j + 1
			return s[start:j], escaped
		}
		escaped = true
		i = j + 2 // the backslash and the byte it escapes
	}
}

// str reads a string value into the arena; any other value is skipped and
// gives "".
func (sc *scanner) str(a *arena) string {
	if sc.peek() != '"' {
		sc.skip()
		return ""
	}
	raw, escaped := sc.rawString()
	if !escaped {
		return a.str(raw)
	}
	return a.unescape(raw)
}

// num reads a number, or a string holding one (Kong sends some sizes as
// strings); anything else is skipped and gives 0, and so does an absurd
// value (see maxPayloadNumber).
func (sc *scanner) num() float64 {
	var n float64
	switch c := sc.peek(); {
	case c == '"':
		raw, escaped := sc.rawString()
		if escaped {
			raw = string(appendUnescaped(nil, raw))
		}
		n, _ = strconv.ParseFloat(raw, 64)
	case c == '-' || c >= '0' && c <= '9':
		n = sc.numberValue()
	default:
		sc.skip()
	}
	if math.IsNaN(n) || n > maxPayloadNumber || n < -maxPayloadNumber {
		return 0
	}
	return n
}

// maxPayloadNumber bounds every number read from a payload: epoch times in
// ns (balancer_start_ns ≈ 1.7e18) still fit, and so does a uint64. Absurd
// values (1e400 parses as +Inf) must not reach attributes or timestamps:
// some backends store a non-finite double and then cannot return the
// trace, and nanosecond conversions would overflow.
const maxPayloadNumber = 1e19

// number consumes a number token and returns its text.
func (sc *scanner) number() string {
	s, start := sc.s, sc.pos
	i := start
	for i < len(s) && numberBytes[s[i]] {
		i++
	}
	sc.pos = i
	return s[start:i]
}

// numberBytes are the bytes a number token is made of (as fastjson reads
// them; strconv checks the grammar).
var numberBytes = [256]bool{
	'0': true, '1': true, '2': true, '3': true, '4': true, '5': true, '6': true, '7': true, '8': true, '9': true,
	'.': true, '-': true, '+': true, 'e': true, 'E': true,
}

// numberValue consumes a number token and returns its value, as
// strconv.ParseFloat reads it (0 for a malformed number). Most Kong numbers
// are integers (statuses, sizes, ports, milliseconds), exact in a float64
// up to 15 digits: those are read in the same pass that finds their end.
func (sc *scanner) numberValue() float64 {
	s, i := sc.s, sc.pos
	start := i
	neg := i < len(s) && s[i] == '-'
	if neg {
		i++
	}
	var v int64
	digits := 0
	for ; i < len(s); i++ {
		d := s[i] - '0'
		if d > 9 {
			break
		}
		v = v*10 + int64(d)
		digits++
	}
	if digits > 0 && digits <= 15 && (i == len(s) || !numberBytes[s[i]]) {
		sc.pos = i
		f := float64(v)
		if neg {
			f = -f
		}
		return f
	}
	for i < len(s) && numberBytes[s[i]] {
		i++
	}
	sc.pos = i
	f, _ := strconv.ParseFloat(s[start:i], 64)
	return f
}

// skip consumes one value of any type.
func (sc *scanner) skip() {
	switch c := sc.peek(); c {
	case '"':
		sc.rawString()
	case '{':
		if sc.enter('}') {
			for {
				sc.field()
				sc.skip()
				if !sc.next('}') {
					break
				}
			}
		}
	case '[':
		if sc.enter(']') {
			for {
				sc.skip()
				if !sc.next(']') {
					break
				}
			}
		}
	case 't':
		sc.literal("true")
	case 'f':
		sc.literal("false")
	case 'n':
		sc.literal("null")
	default:
		if c == '-' || c >= '0' && c <= '9' {
			sc.number()
			return
		}
		sc.fail()
	}
}

func (sc *scanner) literal(lit string) {
	if !strings.HasPrefix(sc.s[sc.pos:], lit) {
		sc.fail()
		return
	}
	sc.pos += len(lit)
}

// unescape copies the unescaped form of a raw JSON string into the arena;
// it is never longer than the raw text.
func (a *arena) unescape(raw string) string {
	a.reserve(len(raw))
	start := len(a.buf)
	a.buf = appendUnescaped(a.buf, raw)
	if len(a.buf) == start {
		return ""
	}
	return unsafe.String(&a.buf[start], len(a.buf)-start)
}

// appendUnescaped decodes JSON escapes as fastjson (the differential tests'
// reference parser) does, so both read the same strings: a malformed escape, or a
// lone surrogate without a following \u escape, is kept as written; a
// surrogate followed by a \u escape that does not complete it gives U+FFFD.
func appendUnescaped(b []byte, s string) []byte {
	for {
		i := strings.IndexByte(s, '\\')
		if i < 0 {
			return append(b, s...)
		}
		b = append(b, s[:i]...)
		s = s[i+1:]
		if s == "" {
			return append(b, '\\')
		}
		c := s[0]
		s = s[1:]
		switch c {
		case '"', '\\', '/':
			b = append(b, c)
		case 'b':
			b = append(b, '\b')
		case 'f':
			b = append(b, '\f')
		case 'n':
			b = append(b, '\n')
		case 'r':
			b = append(b, '\r')
		case 't':
			b = append(b, '\t')
		case 'u':
			r, ok := hex4(s)
			if !ok {
				b = append(b, `\u`...)
				break
			}
			hi := s[:4]
			s = s[4:]
			if !utf16.IsSurrogate(r) {
				b = utf8.AppendRune(b, r)
				break
			}
			r2, ok := rune(0), len(s) >= 6 && s[0] == '\\' && s[1] == 'u'
			if ok {
				r2, ok = hex4(s[2:])
			}
			if !ok {
				b = append(append(b, `\u`...), hi...)
				break
			}
			b = utf8.AppendRune(b, utf16.DecodeRune(r, r2))
			s = s[6:]
		default:
			b = append(b, '\\', c)
		}
	}
}

// hex4 reads four hex digits.
func hex4(s string) (rune, bool) {
	if len(s) < 4 {
		return 0, false
	}
	var r rune
	for i := range 4 {
		c := s[i]
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c -= 'a' - 10
		case c >= 'A' && c <= 'F':
			c -= 'A' - 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}

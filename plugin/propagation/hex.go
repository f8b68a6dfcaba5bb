package propagation

import (
	"encoding/binary"
	"strconv"

	"github.com/trace-exporter/trace-exporter/exporter"
)

// invalidHex marks a byte that is not a hex digit in the decode tables.
const invalidHex = 0xff

// hexLower decodes lowercase hex only (W3C's HEXDIGLC); hexAny also
// accepts A-F, as the other formats' implementations do.
var hexLower, hexAny = hexTables()

func hexTables() (lower, anyCase [256]byte) {
	for i := range lower {
		lower[i], anyCase[i] = invalidHex, invalidHex
	}
	for c := '0'; c <= '9'; c++ {
		lower[c], anyCase[c] = byte(c-'0'), byte(c-'0')
	}
	for c := 'a'; c <= 'f'; c++ {
		lower[c], anyCase[c] = byte(c-'a'+10), byte(c-'a'+10)
	}
	for c := 'A'; c <= 'F'; c++ {
		anyCase[c] = byte(c - 'A' + 10)
	}
	return lower, anyCase
}

// decodeHex fills dst from exactly 2*len(dst) hex digits of s.
func decodeHex(dst []byte, s string, table *[256]byte) bool {
	if len(s) != 2*len(dst) {
		return false
	}
	var bad byte
	for i := range dst {
		hi, lo := table[s[2*i]], table[s[2*i+1]]
		dst[i] = hi<<4 | lo
		bad |= hi | lo
	}
	// Valid digits are < 16: one check on the OR of all of them.
	return bad&0xf0 == 0
}

// decodeHexPadded fills dst from 1 to 2*len(dst) hex digits (any case),
// left-padding with zeros, for formats whose clients drop leading zeros
// (jaeger, instana).
func decodeHexPadded(dst []byte, s string) bool {
	if len(s) == 0 || len(s) > 2*len(dst) {
		return false
	}
	clear(dst)
	// Walk from the last digit; byte i of dst gets digits from the right.
	var bad byte
	pos := len(dst) - 1
	for i := len(s) - 1; i >= 0; i -= 2 {
		lo := hexAny[s[i]]
		var hi byte
		if i > 0 {
			hi = hexAny[s[i-1]]
		}
		dst[pos] = hi<<4 | lo
		bad |= hi | lo
		pos--
	}
	return bad&0xf0 == 0
}

// parseTraceID64or128 decodes a 16- or 32-digit trace id (64-bit ids are
// left-padded with zeros, as every OpenTelemetry propagator does).
func parseTraceID64or128(s string) (id exporter.TraceID, ok bool) {
	switch len(s) {
	case 16:
		ok = decodeHex(id[8:], s, &hexAny)
	case 32:
		ok = decodeHex(id[:], s, &hexAny)
	}
	return id, ok && id.IsValid()
}

// parseSpanID16 decodes exactly 16 hex digits (any case).
func parseSpanID16(s string) (id exporter.SpanID, ok bool) {
	ok = decodeHex(id[:], s, &hexAny)
	return id, ok && id.IsValid()
}

// parseDecimalUint64 parses 1 to 20 ASCII digits that fit in 64 bits.
// strconv would accept a sign and underscores in some modes; ids never have
// them, so the digits are checked first.
func parseDecimalUint64(s string) (uint64, bool) {
	if len(s) == 0 || len(s) > 20 {
		return 0, false
	}
	var n uint64
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		d := uint64(c - '0')
		if n > (1<<64-1-d)/10 {
			return 0, false // overflow
		}
		n = n*10 + d
	}
	return n, true
}

const hexDigits = "0123456789abcdef"

func appendHex(dst []byte, src []byte) []byte {
	for _, b := range src {
		dst = append(dst, hexDigits[b>>4], hexDigits[b&0x0f])
	}
	return dst
}

// appendTraceIDHex writes 32 digits, or 16 when the upper half is zero and
// the format allows 64-bit ids (the id then came from a 64-bit tracer, and
// older tracers of those formats only read 16 digits).
func appendTraceIDHex(dst []byte, id exporter.TraceID, allow64 bool) []byte {
	if allow64 && binary.BigEndian.Uint64(id[:8]) == 0 {
		return appendHex(dst, id[8:])
	}
	return appendHex(dst, id[:])
}

func appendDecimal(dst []byte, b []byte) []byte {
	return strconv.AppendUint(dst, binary.BigEndian.Uint64(b), 10)
}

// trimOWS removes the optional whitespace (space, tab) HTTP allows around a
// field value; proxies and clients differ on whether they strip it.
func trimOWS(s string) string {
	for len(s) > 0 && (s[0] == ' ' || s[0] == '\t') {
		s = s[1:]
	}
	for len(s) > 0 && (s[len(s)-1] == ' ' || s[len(s)-1] == '\t') {
		s = s[:len(s)-1]
	}
	return s
}

// spanIDHex returns the 16-digit lowercase form of id (one allocation).
func spanIDHex(id [8]byte) string {
	var buf [16]byte
	return string(appendHex(buf[:0], id[:]))
}

// traceIDHex returns the id as appendTraceIDHex writes it (one allocation).
func traceIDHex(id exporter.TraceID, allow64 bool) string {
	var buf [32]byte
	return string(appendTraceIDHex(buf[:0], id, allow64))
}

// decimal64 returns the 8 big-endian bytes of b in decimal (one allocation).
func decimal64(b []byte) string {
	var buf [20]byte
	return string(appendDecimal(buf[:0], b))
}

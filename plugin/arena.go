package plugin

import (
	"strconv"
	"unsafe"
)

// arena holds the strings of one request's spans in a few large byte
// slices instead of one allocation per attribute value. The strings point
// into chunks that are never written again once handed out, so they stay
// valid and immutable for as long as a span references them.
type arena struct {
	buf []byte
}

func newArena(size int) arena { return arena{buf: make([]byte, 0, size)} }

// reserve makes room for n more bytes without moving bytes already handed
// out: a full chunk is left to the strings that use it and a new one starts.
func (a *arena) reserve(n int) {
	if cap(a.buf)-len(a.buf) >= n {
		return
	}
	size := 2 * cap(a.buf)
	if size < n {
		size = n
	}
	if size < 256 {
		size = 256
	}
	a.buf = make([]byte, 0, size)
}

// str copies s into the arena, so a span does not keep the whole payload
// alive (and the queue's byte accounting stays true).
func (a *arena) str(s string) string {
	if len(s) == 0 {
		return ""
	}
	a.reserve(len(s))
	start := len(a.buf)
	a.buf = append(a.buf, s...)
	return unsafe.String(&a.buf[start], len(s))
}

// concat joins parts into one arena string.
func (a *arena) concat(parts ...string) string {
	n := 0
	for _, p := range parts {
		n += len(p)
	}
	if n == 0 {
		return ""
	}
	a.reserve(n)
	start := len(a.buf)
	for _, p := range parts {
		a.buf = append(a.buf, p...)
	}
	return unsafe.String(&a.buf[start], n)
}

// itoa writes n in decimal into the arena (strconv.Itoa allocates for
// numbers of three digits and more: statuses, ports).
func (a *arena) itoa(n int) string {
	var buf [20]byte
	b := strconv.AppendInt(buf[:0], int64(n), 10)
	return a.str(unsafe.String(&b[0], len(b)))
}

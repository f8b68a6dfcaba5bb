package wire

import (
	"io"
	"strings"
)

// ReadCapped reads at most limit bytes and reports whether there was more.
// It reads small responses whole so the connection can be reused.
func ReadCapped(r io.Reader, limit int) ([]byte, bool) {
	b, err := io.ReadAll(io.LimitReader(r, int64(limit)+1))
	if err != nil {
		return b, false
	}
	if len(b) > limit {
		return b[:limit], true
	}
	return b, false
}

// RedactURL drops credentials and query (which may carry a token) from a
// URL before it is logged or used as a label.
func RedactURL(raw string) string {
	if i := strings.IndexAny(raw, "?#"); i >= 0 {
		raw = raw[:i]
	}
	if i := strings.Index(raw, "://"); i >= 0 {
		if at := strings.LastIndex(raw[i+3:], "@"); at >= 0 {
			raw = raw[:i+3] + raw[i+3+at+1:]
		}
	}
	return raw
}

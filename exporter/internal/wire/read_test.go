package wire

import (
	"strings"
	"testing"
)

func TestRedactURL(t *testing.T) {
	for in, want := range map[string]string{
		"https://user:pw@host:4318/v1/traces?token=x": "https://host:4318/v1/traces",
		"http://host/path#frag":                       "http://host/path",
		"host:4317":                                   "host:4317",
	} {
		if got := RedactURL(in); got != want {
			t.Errorf("RedactURL(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestReadCapped(t *testing.T) {
	b, more := ReadCapped(strings.NewReader("abcdef"), 4)
	if string(b) != "abcd" || !more {
		t.Errorf("over the cap: %q %v", b, more)
	}
	b, more = ReadCapped(strings.NewReader("abc"), 4)
	if string(b) != "abc" || more {
		t.Errorf("under the cap: %q %v", b, more)
	}
}

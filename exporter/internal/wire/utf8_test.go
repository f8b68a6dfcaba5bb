package wire

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// ValidUTF8 must agree with utf8.ValidString whatever the length and
// wherever a non-ASCII or invalid byte sits.
func TestValidUTF8MatchesStd(t *testing.T) {
	for _, insert := range []string{"", "é", "😀", "\xff", "\xe2\x82", "\xed\xa0\x80", "\xc0\xaf"} {
		for n := 0; n <= 24; n++ {
			for at := 0; at <= n; at++ {
				s := strings.Repeat("a", at) + insert + strings.Repeat("b", n-at)
				if got, want := ValidUTF8(s), utf8.ValidString(s); got != want {
					t.Errorf("ValidUTF8(%q) = %v, want %v", s, got, want)
				}
			}
		}
	}
}

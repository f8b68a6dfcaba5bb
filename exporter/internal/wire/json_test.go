package wire

import (
	"encoding/json"
	"strings"
	"testing"
)

// Every string, valid UTF-8 or not, encodes as valid JSON that reads back
// as the string with invalid bytes replaced.
func TestJSONStringsAreValidJSON(t *testing.T) {
	for _, s := range []string{"", "\x00", "\xff", "\xed\xa0\x80", "a\xc3", "\u2028", strings.Repeat("é", 100), "quote\" back\\ tab\t"} {
		b := AppendJSONString(nil, s)
		var back string
		if err := json.Unmarshal(b, &back); err != nil {
			t.Fatalf("%q encodes as invalid JSON %s: %v", s, b, err)
		}
		if want := strings.ToValidUTF8(s, "\uFFFD"); back != want {
			t.Errorf("%q round-trips to %q, want %q", s, back, want)
		}
	}
}

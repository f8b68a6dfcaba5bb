package sampling

import (
	"strconv"
	"strings"
	"testing"
)

func TestParseOT(t *testing.T) {
	for ts, want := range map[string]otState{
		"":                                    {},
		"vendor=x":                            {},
		"ot=th:8":                             {th: 0x80000000000000, hasTh: true},
		"a=b, ot=rv:6e6d1a75832a2f;th:fd70a ": {th: 0xfd70a000000000, hasTh: true, rv: 0x6e6d1a75832a2f, hasRv: true},
		"ot=th:XYZ;rv:short":                  {},
		"ot=p:8;r:62":                         {},
		"xot=th:8":                            {},
	} {
		if got := parseOT(ts); got != want {
			t.Errorf("%q: %+v, want %+v", ts, got, want)
		}
	}
}

func TestWithTh(t *testing.T) {
	rv := "rv:6e6d1a75832a2f"
	for _, tc := range []struct{ in, th, want string }{
		{"", "8", "ot=th:8"},
		{"", "", ""},
		{"vendor=x", "", "vendor=x"},
		{"vendor=x", "c", "ot=th:c,vendor=x"},
		{"ot=" + rv + ",vendor=x", "c", "ot=th:c;" + rv + ",vendor=x"},
		{"vendor=x, ot=th:8;" + rv, "c", "ot=th:c;" + rv + ",vendor=x"},
		{"ot=th:8", "", ""},
		{"ot=th:8;" + rv + ",a=b", "", "ot=" + rv + ",a=b"},
		{"a=b,ot=th:8", "8", "a=b,ot=th:8"}, // unchanged: left where it is
		{"ot=foo:bar;th:1", "2", "ot=th:2;foo:bar"},
	} {
		if got := withTh(tc.in, tc.th); got != tc.want {
			t.Errorf("withTh(%q, %q) = %q, want %q", tc.in, tc.th, got, tc.want)
		}
	}
	// A full list loses its last member to the new ot entry.
	var members []string
	for i := range maxMembers {
		members = append(members, "k"+strconv.Itoa(i)+"=v")
	}
	got := strings.Split(withTh(strings.Join(members, ","), "8"), ",")
	if len(got) != maxMembers || got[0] != "ot=th:8" || got[maxMembers-1] != "k30=v" {
		t.Errorf("full list: %v", got)
	}
}

package kongsim

import "testing"

// Expected results follow Lua 5.1's string.find (what Kong runs).
func TestLuaFind(t *testing.T) {
	for _, tc := range []struct {
		s, pat string
		want   bool
	}{
		{"hello", "ell", true},
		{"hello", "^ell", false},
		{"hello", "^h.l+o$", true},
		{"x-request-id", "^[%w!#$%%&'*+%-.^_`|~]+$", true},
		{"bad header", "^[%w!#$%%&'*+%-.^_`|~]+$", false},
		{"", "^[%w]+$", false},
		{"Authorization", "^[Aa][Uu][Tt][Hh][Oo][Rr][Ii][Zz][Aa][Tt][Ii][Oo][Nn]$", true},
		{"authorizations", "^[Aa][Uu][Tt][Hh][Oo][Rr][Ii][Zz][Aa][Tt][Ii][Oo][Nn]$", false},
		{"set-cookie", "^set%-cookie$", true},
		{"abc123", "^%a+%d+$", true},
		{"abc", "^%a-c$", true},
		{"ac", "^ab?c$", true},
		{"abbc", "^ab?c$", false},
		{"a.c", "^a%.c$", true},
		{"abc", "^a%.c$", false},
		{"x", "[^%d]", true},
		{"7", "^[^%d]$", false},
		{"A", "^%U$", false},
		{"a", "^%U$", true},
		{"z]", "^[]z]+$", true},
	} {
		got, err := LuaFind(tc.s, tc.pat)
		if err != nil || got != tc.want {
			t.Errorf("LuaFind(%q, %q) = %v, %v; want %v", tc.s, tc.pat, got, err, tc.want)
		}
	}
	for _, bad := range []string{"(a)", "%bxy", "[abc", "abc%"} {
		if _, err := LuaFind("abc", bad); err == nil {
			t.Errorf("pattern %q: want an error", bad)
		}
	}
}

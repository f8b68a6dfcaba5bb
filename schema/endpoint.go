package schema

import (
	"fmt"
	"net/netip"
	"strings"
)

// Endpoint shapes, written twice: as Lua patterns for Kong, which checks them
// when a config is written (Kong's own URL validator is a Lua function that a
// dumped schema cannot carry), and in Go for StartInstance. A test checks
// both agree on fuzzed input, and that net/url parses every accepted value.
//
// A URL is http or https (any letter case), optional userinfo without
// percent-escapes, a host name or a bracketed IPv6 address, an optional
// port, then nothing or a path, query or fragment without spaces or control
// characters. A bare endpoint (OTLP/gRPC's host:port) is the same without
// scheme and userinfo. Percent-escapes must be complete (badEscapeRules).

const (
	luaScheme   = "[Hh][Tt][Tt][Pp][Ss]?://"
	luaUserinfo = "[%w%-%._~!$&'*+,;=:]+@"
	luaRegHost  = "[%w%-%._~]+"
	luaIPv6Host = "%[[%x:%.]+%]"
	luaPort     = ":%d+"
	luaNoTail   = "$"
	luaTail     = "[/?#][^%c%s]*$"
)

var (
	urlRule = &MatchAnyRule{Patterns: endpointPatterns(false),
		Err: "must be an http:// or https:// URL with a host (no spaces, complete %-escapes)"}
	// endpointRule also accepts OTLP/gRPC's bare host:port; which exporter
	// and protocol need a full URL is an entity check (configChecks).
	endpointRule = &MatchAnyRule{Patterns: append(endpointPatterns(false), endpointPatterns(true)...),
		Err: "must be an http:// or https:// URL with a host, or host:port for OTLP/gRPC (no spaces, complete %-escapes)"}
	badEscapeRules = []MatchRule{
		{Pattern: "%%%X", Err: "a % must start a %XX escape"},
		{Pattern: "%%%x%X", Err: "a % must start a %XX escape"},
		{Pattern: "%%%x?$", Err: "a % must start a %XX escape"},
	}
)

// endpointPatterns lists every combination of the optional parts, since Lua
// patterns have neither alternation nor optional groups.
func endpointPatterns(bare bool) []string {
	var out []string
	prefixes := []string{"^" + luaScheme, "^" + luaScheme + luaUserinfo}
	if bare {
		prefixes = []string{"^"}
	}
	for _, p := range prefixes {
		for _, host := range []string{luaRegHost, luaIPv6Host} {
			for _, port := range []string{"", luaPort} {
				for _, tail := range []string{luaNoTail, luaTail} {
					out = append(out, p+host+port+tail)
				}
			}
		}
	}
	return out
}

// validURL is urlRule and badEscapeRules in Go.
func validURL(s string) bool {
	rest, ok := cutScheme(s)
	if !ok || !completeEscapes(s) {
		return false
	}
	if validAuthorityTail(rest) {
		return true
	}
	// With userinfo: a run of userinfo characters up to the first '@'.
	i := 0
	for i < len(rest) && isUserinfoChar(rest[i]) {
		i++
	}
	return i > 0 && i < len(rest) && rest[i] == '@' && validAuthorityTail(rest[i+1:])
}

// validEndpoint is endpointRule and badEscapeRules in Go.
func validEndpoint(s string) bool {
	return validURL(s) || (completeEscapes(s) && validAuthorityTail(s))
}

func urlProblem(s string) string {
	if !validURL(s) {
		return urlRule.Err
	}
	return ipv6Problem(s)
}

func endpointProblem(s string) string {
	if !validEndpoint(s) {
		return endpointRule.Err
	}
	return ipv6Problem(s)
}

// ipv6Problem checks a bracketed host is an IPv6 address, which Lua patterns
// cannot express: the one endpoint check Kong does not make when the config
// is written.
func ipv6Problem(s string) string {
	i := strings.IndexByte(s, '[')
	if i < 0 {
		return ""
	}
	j := strings.IndexByte(s[i:], ']')
	if j < 0 {
		return ""
	}
	if a, err := netip.ParseAddr(s[i+1 : i+j]); err != nil || !a.Is6() {
		return fmt.Sprintf("%s is not an IPv6 address", s[i:i+j+1])
	}
	return ""
}

// cutScheme removes "http://" or "https://" in any letter case.
func cutScheme(s string) (string, bool) {
	if len(s) < 7 || !equalFoldASCII(s[:4], "http") {
		return "", false
	}
	s = s[4:]
	if s[0] == 's' || s[0] == 'S' {
		s = s[1:]
	}
	if len(s) < 3 || s[:3] != "://" {
		return "", false
	}
	return s[3:], true
}

// validAuthorityTail: host, optional :port, then nothing or [/?#] and
// characters that are neither spaces nor control characters.
func validAuthorityTail(s string) bool {
	i := 0
	if i < len(s) && s[i] == '[' {
		j := i + 1
		for j < len(s) && (isHexDigit(s[j]) || s[j] == ':' || s[j] == '.') {
			j++
		}
		if j == i+1 || j >= len(s) || s[j] != ']' {
			return false
		}
		i = j + 1
	} else {
		for i < len(s) && isRegHostChar(s[i]) {
			i++
		}
		if i == 0 {
			return false
		}
	}
	if i < len(s) && s[i] == ':' {
		j := i + 1
		for j < len(s) && s[j] >= '0' && s[j] <= '9' {
			j++
		}
		if j == i+1 {
			return false
		}
		i = j
	}
	if i == len(s) {
		return true
	}
	if c := s[i]; c != '/' && c != '?' && c != '#' {
		return false
	}
	for _, c := range []byte(s[i+1:]) {
		if isLuaSpace(c) || isLuaControl(c) {
			return false
		}
	}
	return true
}

// completeEscapes: every '%' is followed by two hex digits.
func completeEscapes(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] == '%' && (i+2 >= len(s) || !isHexDigit(s[i+1]) || !isHexDigit(s[i+2])) {
			return false
		}
	}
	return true
}

func isRegHostChar(c byte) bool {
	return isLuaAlnum(c) || c == '-' || c == '.' || c == '_' || c == '~'
}

func isUserinfoChar(c byte) bool { return isRegHostChar(c) || indexByte("!$&'*+,;=:", c) }

func indexByte(set string, c byte) bool {
	for i := 0; i < len(set); i++ {
		if set[i] == c {
			return true
		}
	}
	return false
}

func equalFoldASCII(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if x >= 'A' && x <= 'Z' {
			x += 'a' - 'A'
		}
		if y >= 'A' && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

// The Lua character classes (C locale) the patterns use.
func isLuaAlpha(c byte) bool   { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }
func isLuaDigit(c byte) bool   { return c >= '0' && c <= '9' }
func isLuaAlnum(c byte) bool   { return isLuaAlpha(c) || isLuaDigit(c) }
func isLuaSpace(c byte) bool   { return c == ' ' || c >= '\t' && c <= '\r' }
func isLuaControl(c byte) bool { return c < 0x20 || c == 0x7f }
func isHexDigit(c byte) bool   { return isLuaDigit(c) || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F' }

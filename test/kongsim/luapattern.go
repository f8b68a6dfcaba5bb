package kongsim

import "fmt"

// LuaFind reports whether the Lua pattern matches somewhere in s, as
// Lua's string.find(s, pattern) does, which Kong's schema validators
// `match`, `not_match`, `match_all`, `match_none` and `match_any` use.
// Supported: anchors, '.', %a %d %l %s %u %w %x %p %c and their upper-case
// complements, %-escapes, [sets] with ranges and negation, and the
// quantifiers * + - ?. Captures, %b and %f are not (Kong schemas of
// plugins rarely use them): they are reported as an error.
func LuaFind(s, pattern string) (bool, error) {
	m := luaMatcher{src: s, pat: pattern}
	anchor := len(pattern) > 0 && pattern[0] == '^'
	p := 0
	if anchor {
		p = 1
	}
	for start := 0; start <= len(s); start++ {
		ok, err := m.match(start, p)
		if err != nil || ok {
			return ok, err
		}
		if anchor {
			break
		}
	}
	return false, nil
}

type luaMatcher struct {
	src, pat string
	depth    int
}

const luaMaxDepth = 200

func (m *luaMatcher) match(s, p int) (bool, error) {
	m.depth++
	defer func() { m.depth-- }()
	if m.depth > luaMaxDepth {
		return false, fmt.Errorf("pattern too complex")
	}
	for p < len(m.pat) {
		switch c := m.pat[p]; {
		case c == '(' || c == ')':
			return false, fmt.Errorf("captures are not supported")
		case c == '$' && p+1 == len(m.pat):
			return s == len(m.src), nil
		case c == '%' && p+1 < len(m.pat) && (m.pat[p+1] == 'b' || m.pat[p+1] == 'f'):
			return false, fmt.Errorf("%%%c is not supported", m.pat[p+1])
		}
		end, err := m.classEnd(p)
		if err != nil {
			return false, err
		}
		single := s < len(m.src) && m.singleMatch(m.src[s], p, end)
		if end < len(m.pat) {
			switch m.pat[end] {
			case '?':
				if single {
					if ok, err := m.match(s+1, end+1); ok || err != nil {
						return ok, err
					}
				}
				p = end + 1
				continue
			case '+':
				if !single {
					return false, nil
				}
				return m.maxExpand(s+1, p, end)
			case '*':
				return m.maxExpand(s, p, end)
			case '-':
				return m.minExpand(s, p, end)
			}
		}
		if !single {
			return false, nil
		}
		s, p = s+1, end
	}
	return true, nil
}

func (m *luaMatcher) maxExpand(s, p, end int) (bool, error) {
	n := 0
	for s+n < len(m.src) && m.singleMatch(m.src[s+n], p, end) {
		n++
	}
	for ; n >= 0; n-- {
		if ok, err := m.match(s+n, end+1); ok || err != nil {
			return ok, err
		}
	}
	return false, nil
}

func (m *luaMatcher) minExpand(s, p, end int) (bool, error) {
	for {
		if ok, err := m.match(s, end+1); ok || err != nil {
			return ok, err
		}
		if s < len(m.src) && m.singleMatch(m.src[s], p, end) {
			s++
			continue
		}
		return false, nil
	}
}

// classEnd returns the index just past the single-character class at p.
func (m *luaMatcher) classEnd(p int) (int, error) {
	switch m.pat[p] {
	case '%':
		if p+1 >= len(m.pat) {
			return 0, fmt.Errorf("malformed pattern (ends with '%%')")
		}
		return p + 2, nil
	case '[':
		q := p + 1
		if q < len(m.pat) && m.pat[q] == '^' {
			q++
		}
		for first := true; ; first = false {
			if q >= len(m.pat) {
				return 0, fmt.Errorf("malformed pattern (missing ']')")
			}
			c := m.pat[q]
			if c == ']' && !first {
				return q + 1, nil
			}
			q++
			if c == '%' {
				q++
			}
		}
	}
	return p + 1, nil
}

func (m *luaMatcher) singleMatch(c byte, p, end int) bool {
	switch m.pat[p] {
	case '.':
		return true
	case '%':
		return luaClass(c, m.pat[p+1])
	case '[':
		return m.setMatch(c, p, end-1)
	}
	return m.pat[p] == c
}

// setMatch matches c against the set pat[p:ec+1] ("[...]").
func (m *luaMatcher) setMatch(c byte, p, ec int) bool {
	negate := false
	p++
	if m.pat[p] == '^' {
		negate = true
		p++
	}
	for ; p < ec; p++ {
		switch {
		case m.pat[p] == '%' && p+1 < ec:
			p++
			if luaClass(c, m.pat[p]) {
				return !negate
			}
		case p+2 < ec && m.pat[p+1] == '-':
			if m.pat[p] <= c && c <= m.pat[p+2] {
				return !negate
			}
			p += 2
		case m.pat[p] == c:
			return !negate
		}
	}
	return negate
}

func luaClass(c, cl byte) bool {
	var res bool
	switch cl | 0x20 {
	case 'a':
		res = isLetter(c)
	case 'd':
		res = c >= '0' && c <= '9'
	case 'l':
		res = c >= 'a' && c <= 'z'
	case 's':
		res = c == ' ' || (c >= '\t' && c <= '\r')
	case 'u':
		res = c >= 'A' && c <= 'Z'
	case 'w':
		res = isLetter(c) || (c >= '0' && c <= '9')
	case 'x':
		res = (c >= '0' && c <= '9') || (c|0x20 >= 'a' && c|0x20 <= 'f')
	case 'p':
		res = c >= 0x21 && c <= 0x7e && !isLetter(c) && !(c >= '0' && c <= '9')
	case 'c':
		res = c < 0x20 || c == 0x7f
	default:
		return cl == c // an escaped literal, e.g. %- or %%
	}
	if cl >= 'A' && cl <= 'Z' {
		return !res
	}
	return res
}

func isLetter(c byte) bool { return (c|0x20) >= 'a' && (c|0x20) <= 'z' }

package schema

import (
	"strings"
)

// Resource attribute templates (Kong 3.10+): a value may contain $(EXPR) or
// ${EXPR}, rendered per request. Kong evaluates EXPR as Lua; this plugin
// reads only the variables it can reach, so EXPR must be one of:
//
//	headers.NAME  headers["NAME"]  headers['NAME']      request header
//	query_params.NAME  query_params["NAME"]             query parameter
//	uri_captures.NAME  uri_captures["NAME"]  uri_captures[N]
//	shared.NAME  shared["NAME"]                         kong.ctx.shared
//	kong.route.id  kong.route.name  kong.service.id  kong.service.name
//	kong.consumer.id  kong.consumer.username  kong.consumer.custom_id
//
// with spaces allowed around EXPR and inside brackets; a quoted NAME has no
// backslash, parenthesis, brace or control character. Every "$(" and "${"
// of a value must start such a template: anything else (a Lua expression,
// another variable, an unclosed template) is refused when the config is
// written, and the headers that carry credentials (authorization, cookie...)
// are refused too, since they never leave the gateway.
//
// The grammar is written once, as a tree of states (templateGrammar), from
// which come both the Lua patterns dumped for Kong (a match_none rule for
// every way a template can go wrong) and the Go check run at StartInstance.

// TemplateVariables lists the template variables, for messages and docs.
const TemplateVariables = "headers.NAME, query_params.NAME, uri_captures.NAME, uri_captures[N], shared.NAME, " +
	"kong.route.id, kong.route.name, kong.service.id, kong.service.name, kong.consumer.id, kong.consumer.username " +
	"or kong.consumer.custom_id"

const templateErr = "a resource attribute template reads " + TemplateVariables +
	" (NAME may be written [\"NAME\"]); no other variable or Lua expression"

// charset is one character class of the grammar: its Lua item (a literal,
// an escape or a [set]), the same class inside a union set (empty when the
// class is a negated set), and the Go test.
type charset struct {
	item string
	in   string
	has  func(byte) bool
}

func literal(c byte) charset {
	item := string(c)
	if !isLuaAlnum(c) {
		item = "%" + item
	}
	return charset{item: item, in: item, has: func(b byte) bool { return b == c }}
}

var (
	csSpace      = charset{item: "%s", in: "%s", has: isLuaSpace}
	csIdentStart = charset{item: "[%a_]", in: "%a_", has: func(c byte) bool { return isLuaAlpha(c) || c == '_' }}
	csIdent      = charset{item: "[%w_]", in: "%w_", has: func(c byte) bool { return isLuaAlnum(c) || c == '_' }}
	csDigit      = charset{item: "%d", in: "%d", has: isLuaDigit}
)

// quoted is the class of characters inside a quoted NAME.
func quoted(q byte) charset {
	return charset{item: "[^" + string(q) + "\\%(%){}%c]", has: func(c byte) bool {
		return c != q && c != '\\' && c != '(' && c != ')' && c != '{' && c != '}' && !isLuaControl(c)
	}}
}

// tstate is a state of the template grammar. The grammar is a tree: each
// state is reached by exactly one path from the opener, so the Lua pattern of
// that path is known.
type tstate struct {
	loop  *charset // characters that may repeat here
	edges []tedge
	close bool // the template may end here
	// dev overrides the Lua set of characters that cannot follow here, for
	// states whose allowed characters include a negated class.
	dev string
	// meaning is set on states that end a variable path: what the template
	// reads (for the Go side).
	meaning templateRead
}

type tedge struct {
	cs charset
	to *tstate
}

// templateRead is what a template reads: a source and a key.
type templateRead struct {
	source string // "headers", "query_params", "uri_captures", "shared", "kong"
	key    string // the NAME, index or kong field as written
	index  bool   // key is a numeric index: uri_captures[N]
}

func (s *tstate) add(cs charset, loop *charset) *tstate {
	n := &tstate{loop: loop}
	s.edges = append(s.edges, tedge{cs: cs, to: n})
	return n
}

func (s *tstate) word(w string) *tstate {
	for i := 0; i < len(w); i++ {
		s = s.add(literal(w[i]), nil)
	}
	return s
}

// closing marks s as the end of a variable, with optional spaces before the
// closer.
func (s *tstate) closing(read templateRead) {
	s.close = true
	s.meaning = read
	w := s.add(csSpace, &csSpace)
	w.close = true
	w.meaning = read
}

// bracketEnd: optional spaces, then "]", then the end of the variable.
func (s *tstate) bracketEnd(read templateRead) {
	s.add(literal(']'), nil).closing(read)
	s.add(csSpace, &csSpace).add(literal(']'), nil).closing(read)
}

// access adds .NAME, ["NAME"], ['NAME'] and, with index, [N].
func (s *tstate) access(source string, index bool) {
	read := templateRead{source: source}
	s.add(literal('.'), nil).add(csIdentStart, &csIdent).closing(read)
	b := s.add(literal('['), &csSpace)
	for _, q := range []byte{'"', '\''} {
		qc := quoted(q)
		open := b.add(literal(q), nil)
		open.dev = "[" + literal(q).item + "\\%(%){}%c]"
		name := open.add(qc, &qc)
		name.dev = "[\\%(%){}%c]"
		name.add(literal(q), nil).bracketEnd(read)
	}
	if index {
		b.add(csDigit, &csDigit).bracketEnd(templateRead{source: source, index: true})
	}
}

var templateGrammar = func() *tstate {
	start := &tstate{loop: &csSpace}
	start.word("headers").access("headers", false)
	start.word("query_params").access("query_params", false)
	start.word("uri_captures").access("uri_captures", true)
	start.word("shared").access("shared", false)
	kong := start.word("kong.")
	for _, entity := range []struct {
		name   string
		fields []string
	}{
		{"route", []string{"id", "name"}},
		{"service", []string{"id", "name"}},
		{"consumer", []string{"id", "username", "custom_id"}},
	} {
		e := kong.word(entity.name + ".")
		for _, f := range entity.fields {
			e.word(f).closing(templateRead{source: "kong"})
		}
	}
	return start
}()

const (
	luaOpener      = "%$[%(%{]"
	luaParenOpener = "%$%("
	luaBraceOpener = "%${"
)

// resourceTemplateRules are the Lua patterns of every way a value can break
// the grammar; Kong refuses a value that matches one.
func resourceTemplateRules() []MatchRule {
	var rules []MatchRule
	add := func(p string) { rules = append(rules, MatchRule{Pattern: p, Err: templateErr}) }
	add(luaParenOpener + "[^%)]*$")
	add(luaBraceOpener + "[^}]*$")
	var walk func(s *tstate, path string)
	walk = func(s *tstate, path string) {
		if s.loop != nil {
			path += s.loop.item + "*"
		}
		if s.close {
			add(luaParenOpener + path + "}")
			add(luaBraceOpener + path + "%)")
		}
		dev := s.dev
		if dev == "" {
			var allowed strings.Builder
			if s.loop != nil {
				allowed.WriteString(s.loop.in)
			}
			for _, e := range s.edges {
				allowed.WriteString(e.cs.in)
			}
			if s.close {
				allowed.WriteString("%)}")
			}
			dev = "[^" + allowed.String() + "]"
		}
		add(luaOpener + path + dev)
		for _, e := range s.edges {
			walk(e.to, path+e.cs.item)
		}
	}
	walk(templateGrammar, "")
	for _, h := range AlwaysRedactedHeaders {
		msg := "resource attribute templates cannot read " + h + ": it carries credentials and never leaves the gateway"
		if !strings.Contains(h, "-") {
			rules = append(rules, MatchRule{Pattern: luaOpener + "%s*headers%." + luaCaseless(h) + "[^%w_]", Err: msg})
		} else {
			rules = append(rules, MatchRule{Pattern: luaOpener + "%s*headers%." + luaCaseless(strings.ReplaceAll(h, "-", "_")) + "[^%w_]", Err: msg})
		}
		name := strings.ReplaceAll(luaCaseless(h), "%-", "[%-_]")
		for _, q := range []string{`"`, `'`} {
			rules = append(rules, MatchRule{Pattern: luaOpener + "%s*headers%[%s*" + q + name + q, Err: msg})
		}
	}
	return rules
}

// ResourceTemplateProblem checks a resource attribute value against the
// template grammar: "" when it is valid, else what is wrong, naming the
// template.
func ResourceTemplateProblem(value string) string {
	_, problem := ParseResourceTemplate(value)
	return problem
}

// TemplatePart is a piece of a parsed resource attribute value: literal
// text, or a variable to read.
type TemplatePart struct {
	Literal string
	// Source is "" for literal text, else headers, query_params,
	// uri_captures, shared or kong.
	Source string
	// Key: the header name (lower case, "_" read as "-", as Kong looks
	// headers up), the query parameter or shared key as written, the capture
	// name or index, or the kong field (route.id, service.name ...).
	Key string
	// Index: Key is a capture's number (uri_captures[N]), not its name.
	Index bool
}

// ParseResourceTemplate splits a resource attribute value into literal text
// and variables; problem is "" when the value follows the grammar.
func ParseResourceTemplate(value string) (parts []TemplatePart, problem string) {
	lit := 0
	for i := 0; i+1 < len(value); {
		if value[i] != '$' || (value[i+1] != '(' && value[i+1] != '{') {
			i++
			continue
		}
		closer := byte(')')
		if value[i+1] == '{' {
			closer = '}'
		}
		read, end, ok := walkTemplate(value, i+2, closer)
		if !ok {
			return nil, templateProblem(value[i:])
		}
		if read.source == "headers" {
			if h := strings.ReplaceAll(strings.ToLower(read.key), "_", "-"); IsAlwaysRedacted(h) {
				return nil, value[i:end] + ": " + h + " carries credentials and never leaves the gateway"
			}
		}
		if lit < i {
			parts = append(parts, TemplatePart{Literal: value[lit:i]})
		}
		parts = append(parts, templatePart(read))
		lit, i = end, end
	}
	if lit < len(value) {
		parts = append(parts, TemplatePart{Literal: value[lit:]})
	}
	return parts, ""
}

func templatePart(r templateRead) TemplatePart {
	p := TemplatePart{Source: r.source, Key: r.key, Index: r.index}
	if r.source == "headers" {
		p.Key = strings.ReplaceAll(strings.ToLower(r.key), "_", "-")
	}
	return p
}

// walkTemplate follows the grammar from value[pos] (just after the opener)
// and returns what the template reads and the index after its closer.
func walkTemplate(value string, pos int, closer byte) (templateRead, int, bool) {
	s := templateGrammar
	var key strings.Builder
	var path strings.Builder // the kong field, dotted
	for i := pos; i < len(value); i++ {
		c := value[i]
		if s.close && c == closer {
			r := s.meaning
			if r.source == "kong" {
				r.key = strings.TrimPrefix(path.String(), "kong.")
			} else {
				r.key = key.String()
			}
			return r, i + 1, true
		}
		if s.loop != nil && s.loop.has(c) {
			if collecting(s) {
				key.WriteByte(c)
			}
			continue
		}
		next := (*tstate)(nil)
		for _, e := range s.edges {
			if e.cs.has(c) {
				next = e.to
				break
			}
		}
		if next == nil {
			return templateRead{}, 0, false
		}
		if collecting(next) {
			key.WriteByte(c)
		} else if !isLuaSpace(c) && c != '[' && c != ']' && c != '"' && c != '\'' {
			path.WriteByte(c)
		}
		s = next
	}
	return templateRead{}, 0, false
}

// collecting reports whether the characters of s belong to the NAME or
// index: the states of a name or index loop.
func collecting(s *tstate) bool {
	return s.loop != nil && s.loop != &csSpace
}

func templateProblem(rest string) string {
	shown := rest
	if i := strings.IndexAny(rest[2:], ")}"); i >= 0 {
		shown = rest[:i+3]
	}
	if len(shown) > 60 {
		shown = shown[:60] + "..."
	}
	return shown + ": not a template this plugin can render; " + templateErr
}

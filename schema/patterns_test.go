package schema

import (
	"math/rand/v2"
	"net/url"
	"strings"
	"testing"

	"github.com/trace-exporter/trace-exporter/test/kongsim"
)

// The Lua patterns Kong applies when a config is written and the Go checks
// the plugin applies at StartInstance must give the same verdict on every
// value. These tests compare them on valid values, on every one-character
// mutation of them, and (go test -fuzz) on anything.

// luaRefuses applies a field's match, match_none and match_any as Kong does.
func luaRefuses(t testing.TB, f *Field, v string) bool {
	t.Helper()
	find := func(p string) bool {
		ok, err := kongsim.LuaFind(v, p)
		if err != nil {
			t.Fatalf("pattern %q: %v", p, err)
		}
		return ok
	}
	if f.Match != "" && !find(f.Match) {
		return true
	}
	for _, r := range f.MatchNone {
		if find(r.Pattern) {
			return true
		}
	}
	if f.MatchAny != nil {
		for _, p := range f.MatchAny.Patterns {
			if find(p) {
				return false
			}
		}
		return true
	}
	return false
}

var templateSeeds = []string{
	"plain", "", "$", "$5", "100$", "$$(headers.host)", "$(headers.host)", "${headers.host}",
	"a-$(headers.x_tenant)-b", "$(headers[\"x-tenant\"])", "$( headers['X-Tenant'] )", "$(headers[ \"a b\" ])",
	"$(query_params.page)", "${query_params[\"q\"]}", "$(uri_captures.user)", "$(uri_captures[1])", "$(uri_captures[ 12 ])",
	"$(shared.tenant)", "$(kong.route.id)", "$(kong.route.name)", "${kong.service.id}", "$(kong.service.name)",
	"$(kong.consumer.id)", "$(kong.consumer.username)", "$(kong.consumer.custom_id)", "$(query_params.a)-${shared.b}",
	"$(ngx.var.host)", "$(headers.host or 'x')", "$(headers.host", "$(headers.host}", "${headers.host)", "$()", "${}",
	"$(headers)", "$(headers.)", "$(headers.1a)", "$(headers[1])", "$(uri_captures[])", "$(headers[\"\"])",
	"$(headers['a\"])", "$(headers[\"a)\"])", "$(headers[\"a{\"])", "$(kong.node.id)", "$(kong.route)", "$(kong.route.ids)",
	"$(headers.cookie)", "$(headers.Cookie)", "$(headers['Set-Cookie'])", "$(headers[\"proxy_authorization\"])",
	"$(headers.proxy_authorization)", "$(headers.cookies)", "$(headers.authorization_x)", "$(headers[\"authorization \"])",
	"x$(headers.a)y$(query_params.b)z", "$(headers.a)$(headers.b)", "$(headers.a))", "$((headers.a))", "$($(headers.a))",
	"${ kong.consumer.custom_id }", "$(\theaders.a\n)", "$(headers[\"é\"])", "$(headers[\"\x01\"])", "$(headers['\\\\'])",
}

func TestTemplateRulesAgreeWithGo(t *testing.T) {
	for _, v := range templateSeeds {
		checkTemplateAgreement(t, v)
	}
	// Every one-character mutation of every valid seed.
	alphabet := []byte("$(){}[]\"'._-=:aAhkqsu1 \t\x00\xff\\")
	for _, v := range templateSeeds {
		if ResourceTemplateProblem(v) != "" {
			continue
		}
		for i := 0; i <= len(v); i++ {
			for _, c := range alphabet {
				checkTemplateAgreement(t, v[:i]+string(c)+v[i:]) // insert
				if i < len(v) {
					checkTemplateAgreement(t, v[:i]+string(c)+v[i+1:]) // replace
				}
			}
			if i < len(v) {
				checkTemplateAgreement(t, v[:i]+v[i+1:]) // delete
			}
		}
	}
}

func checkTemplateAgreement(t testing.TB, v string) {
	t.Helper()
	lua := luaRefuses(t, resourceValue, v)
	goProblem := ResourceTemplateProblem(v)
	if lua != (goProblem != "") {
		t.Errorf("%q: Kong (Lua patterns) refuses=%v, plugin says %q", v, lua, goProblem)
	}
}

func FuzzTemplateRules(f *testing.F) {
	for _, v := range templateSeeds {
		f.Add(v)
	}
	f.Fuzz(func(t *testing.T, v string) { checkTemplateAgreement(t, v) })
}

var endpointSeeds = []string{
	"http://c:4318/v1/traces", "https://collector.example.com/v1/traces?x=1#f", "HTTP://C", "hTTpS://c:1",
	"http://[::1]:4318/v1/traces", "http://[fe80::1]", "http://user:pw@c:4318/x", "http://u@c", "http://@c",
	"http://", "http://:80", "http://c:", "http://c:x", "http://c:80x", "http://c/ a", "http://c/%zz", "http://c/%2f",
	"http://c/%2", "http://c/%", "http://c/\x01", "http://c?\x7f", "ftp://c", "c:4317", "collector", "collector:4317",
	"[::1]:4317", "::1", "c:4317/path", "c d", "", "http://c_d.e~f-g", "http://a@b@c", "http://c#a#b", "http://c/é",
	"http://[zz]", "http://[]", "http://[::1", "https://c:443/", "http//c", "http:/c", "https:///x",
}

func TestEndpointRulesAgreeWithGo(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	alphabet := []byte(":/?#[]@%._-~!$&'*+,;=aZ09fF \x00\x7f\xe9")
	for _, v := range endpointSeeds {
		checkEndpointAgreement(t, v)
		for range 300 {
			b := []byte(v)
			switch i := rng.IntN(len(b) + 1); rng.IntN(3) {
			case 0:
				b = append(b[:i], append([]byte{alphabet[rng.IntN(len(alphabet))]}, b[i:]...)...)
			case 1:
				if i < len(b) {
					b[i] = alphabet[rng.IntN(len(alphabet))]
				}
			default:
				if i < len(b) {
					b = append(b[:i], b[i+1:]...)
				}
			}
			checkEndpointAgreement(t, string(b))
		}
	}
}

func checkEndpointAgreement(t testing.TB, v string) {
	t.Helper()
	for _, f := range []struct {
		field *Field
		check func(string) bool
	}{
		{&Field{MatchAny: urlRule, MatchNone: badEscapeRules}, validURL},
		{&Field{MatchAny: endpointRule, MatchNone: badEscapeRules}, validEndpoint},
	} {
		lua := luaRefuses(t, f.field, v)
		ok := f.check(v)
		if lua == ok {
			t.Errorf("%q (%s): Kong (Lua patterns) refuses=%v, plugin accepts=%v", v, f.field.MatchAny.Err, lua, ok)
		}
	}
	// Whatever is accepted, the exporters can parse (a bare endpoint is
	// dialled as http://host:port).
	if endpointProblem(v) == "" {
		raw := v
		if !validURL(v) {
			raw = "http://" + v
		}
		if u, err := url.Parse(raw); err != nil || u.Host == "" {
			t.Errorf("%q accepted, but net/url says %v (%+v)", v, err, u)
		}
	}
}

func FuzzEndpointRules(f *testing.F) {
	for _, v := range endpointSeeds {
		f.Add(v)
	}
	f.Fuzz(func(t *testing.T, v string) { checkEndpointAgreement(t, v) })
}

// Header values must not carry a line break; Kong checks the same.
func TestHeaderValueRuleAgreesWithGo(t *testing.T) {
	for _, v := range []string{"Bearer x", "a\rb", "a\nb", "\r\n", "é", strings.Repeat("x", 100)} {
		if luaRefuses(t, headerValue, v) != (headerValueProblem(v) != "") {
			t.Errorf("%q: Kong and plugin disagree", v)
		}
	}
}

// fieldAt finds a field of the tree by its dotted path ("[]" steps into an
// array's element record).
func fieldAt(t testing.TB, path string) *Field {
	t.Helper()
	fields := Fields()
	var f *Field
	for _, name := range strings.Split(path, ".") {
		name, elem := strings.CutSuffix(name, "[]")
		f = nil
		for i := range fields {
			if fields[i].Name == name {
				f = &fields[i]
			}
		}
		if f == nil {
			t.Fatalf("no field %s", path)
		}
		if elem {
			f = f.Elements
		}
		fields = f.Fields
	}
	return f
}

// The sampling fields' patterns and their Go twins agree, on seeds and on
// one-character mutations of them.
func TestSamplingRulesAgreeWithGo(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, tc := range []struct {
		path     string
		alphabet string
		seeds    []string
	}{
		{"remote_sampling.endpoint", ":/?#&=%.aZ09 ", []string{
			"http://jaeger:5778/sampling", "https://j/sampling?x=1", "http://j/sampling?service=kong", "http://j?service",
			"http://j/s?a=1&service=x", "http://j/s?services=x", "http://j/s?xservice=1", "http://j/s#service", "http://j/s?service#f",
			"http://j/s?service&x", "jaeger:5778", "http://j/%zz", "ftp://j/s",
		}},
		{"sampling_rules[].method", "aAzZ09 -", []string{"GET", "POST", "get", "Get", "G-T", "PURGE"}},
		{"sampling_rules[].path_prefix", "/a ?", []string{"/", "/api", "api", " /api"}},
		{"sampling_rules[].header_name", "aZ09-_ :", []string{"x-debug", "X_Debug", "x debug", "x:y"}},
	} {
		f := fieldAt(t, tc.path)
		check := func(v string) {
			if v == "" {
				return // Kong refuses empty strings before any pattern, and so does the plugin
			}
			if lua, goRefuses := luaRefuses(t, f, v), f.goCheck(v) != ""; lua != goRefuses {
				t.Errorf("%s %q: Kong (Lua patterns) refuses=%v, plugin refuses=%v", tc.path, v, lua, goRefuses)
			}
		}
		for _, v := range tc.seeds {
			check(v)
			for range 200 {
				b := []byte(v)
				i := rng.IntN(len(b) + 1)
				c := tc.alphabet[rng.IntN(len(tc.alphabet))]
				switch rng.IntN(3) {
				case 0:
					b = append(b[:i], append([]byte{c}, b[i:]...)...)
				case 1:
					if i < len(b) {
						b[i] = c
					}
				default:
					if i < len(b) {
						b = append(b[:i], b[i+1:]...)
					}
				}
				check(string(b))
			}
		}
	}
}

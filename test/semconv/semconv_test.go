package semconv

import (
	"strings"
	"testing"
)

func server(name string, attrs map[string]any, isErr bool) Span {
	return Span{Name: name, Kind: "server", Error: isErr, Attrs: attrs}
}

// The check accepts spans that follow the tables and names each departure.
func TestCheck(t *testing.T) {
	ok := map[string]any{"http.request.method": "GET", "url.path": "/a/b", "url.scheme": "http", "http.route": "/a",
		"http.response.status_code": int64(200), "server.address": "h", "server.port": int64(80)}
	with := func(k string, v any) map[string]any {
		m := map[string]any{}
		for key, val := range ok {
			m[key] = val
		}
		if v == nil {
			delete(m, k)
		} else {
			m[k] = v
		}
		return m
	}
	client := map[string]any{"http.request.method": "_OTHER", "http.request.method_original": "PURGE",
		"server.address": "up", "server.port": int64(80), "url.full": "http://up/x", "error.type": "timeout"}
	for _, c := range []struct {
		span Span
		want string // a fragment of the one problem expected; "" for none
	}{
		{server("GET /a", ok, false), ""},
		{server("GET /a/b", ok, false), "name"},
		{server("GET /a", with("url.scheme", nil), false), "url.scheme is required"},
		{server("GET /a", with("http.response.status_code", int64(503)), false), "must be ERROR"},
		{server("GET /a", with("http.response.status_code", int64(404)), true), "status ERROR for status code 404"},
		{server("GET /a", with("server.port", "80"), false), "want an integer"},
		{server("PURGE /a", with("http.request.method", "PURGE"), false), "neither a known method"},
		{Span{Name: "HTTP", Kind: "client", Error: true, Attrs: client}, ""},
		{Span{Name: "HTTP", Kind: "client", Error: false, Attrs: client}, "must be ERROR"},
		{Span{Name: "PURGE", Kind: "client", Error: true, Attrs: client}, "name"},
		{Span{Name: "HTTP echo", Kind: "client", Error: true, Attrs: client}, "name"},
		{Span{Name: "GET", Kind: "client", Error: true, Attrs: map[string]any{"http.request.method": "GET", "server.address": "up",
			"server.port": int64(80), "url.full": "http://up/x", "http.response.status_code": int64(502), "error.type": "connection_failed"}}, "want the status code 502"},
		{Span{Name: "GET", Kind: "client", Attrs: map[string]any{"http.request.method": "GET", "server.address": "up",
			"server.port": int64(80), "url.full": "http://u:p@up/x", "http.response.status_code": int64(200)}}, "credentials"},
	} {
		got := Check(c.span, DefaultKnownMethods)
		switch {
		case c.want == "" && len(got) > 0:
			t.Errorf("%s %q: unexpected problems %q", c.span.Kind, c.span.Name, got)
		case c.want != "" && (len(got) != 1 || !strings.Contains(got[0], c.want)):
			t.Errorf("%s %q: problems %q, want one about %q", c.span.Kind, c.span.Name, got, c.want)
		}
	}
}

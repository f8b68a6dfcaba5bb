package resourcetmpl

import (
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/trace-exporter/trace-exporter/schema"
)

// fakeRequest is a request's data as maps; it counts what was read.
type fakeRequest struct {
	headers  map[string][]string
	query    map[string][]string
	captures map[string]string // by name, or "#N" by number
	shared   map[string]string
	kong     map[string]string
}

func (f *fakeRequest) Header(n string) ([]string, bool) { v, ok := f.headers[n]; return v, ok }
func (f *fakeRequest) Query(n string) ([]string, bool)  { v, ok := f.query[n]; return v, ok }
func (f *fakeRequest) URICapture(k string, index bool) (string, bool) {
	if index {
		k = "#" + k
	}
	v, ok := f.captures[k]
	return v, ok
}
func (f *fakeRequest) Shared(k string) (string, bool) { v, ok := f.shared[k]; return v, ok }
func (f *fakeRequest) Kong(k string) (string, bool)   { v, ok := f.kong[k]; return v, ok }

func TestCompileSplitsStaticAndTemplates(t *testing.T) {
	static, set, err := Compile(map[string]string{
		"service.name": "edge", "deployment.environment.name": "prod", "price": "$5",
		"tenant": "$(headers.x_tenant)", "route": "${kong.route.name}",
	}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(static, map[string]string{"service.name": "edge", "deployment.environment.name": "prod", "price": "$5"}) {
		t.Errorf("static %v", static)
	}
	if got := set.Keys(); !reflect.DeepEqual(got, []string{"route", "tenant"}) {
		t.Errorf("templated keys %v", got)
	}
	if n := set.Needs(); !reflect.DeepEqual(n.Headers, []string{"x-tenant"}) || n.Query != nil || n.URICaptures || n.Shared != nil {
		t.Errorf("needs %+v", n)
	}
	// A redacted header renders empty: it is not read at all.
	_, redacted, _ := Compile(map[string]string{"k": "$(headers.x_key)-$(headers.x_tenant)"}, Options{RedactHeaders: []string{"x-key"}})
	if n := redacted.Needs(); !reflect.DeepEqual(n.Headers, []string{"x-tenant"}) {
		t.Errorf("needs with x-key redacted: %+v", n)
	}
	if _, set, _ := Compile(map[string]string{"a": "b"}, Options{}); set != nil {
		t.Error("no template: want no set")
	}
	if _, _, err := Compile(map[string]string{"env": "$(ngx.var.x)"}, Options{}); err == nil || !strings.Contains(err.Error(), `"env"`) {
		t.Errorf("invalid template: %v", err)
	}
}

func TestRender(t *testing.T) {
	req := &fakeRequest{
		headers:  map[string][]string{"x-tenant": {"acme"}, "x-multi": {"a", "b"}, "x-secret": {"s"}},
		query:    map[string][]string{"env": {"prod"}, "debug": {"true"}, "token": {"t0k"}, "ids": {"1", "2"}},
		captures: map[string]string{"user": "42", "#1": "42"},
		shared:   map[string]string{"tenant": "from-shared"},
		kong: map[string]string{"route.id": "r1", "route.name": "orders", "service.id": "s1", "service.name": "orders-svc",
			"consumer.id": "c1", "consumer.username": "ann", "consumer.custom_id": "A-1"},
	}
	_, set, err := Compile(map[string]string{
		"tenant":  "tenant-$(headers.x_tenant)",
		"multi":   "$(headers[\"X-Multi\"])",
		"secret":  "$(headers['x-secret'])",
		"env":     "${query_params.env}",
		"debug":   "$(query_params.debug)",
		"token":   "$(query_params.token)",
		"ids":     "$(query_params.ids)",
		"user":    "$(uri_captures.user)/$(uri_captures[1])",
		"shared":  "$( shared.tenant )",
		"kong":    "$(kong.route.id) $(kong.route.name) $(kong.service.id) $(kong.service.name) $(kong.consumer.id) $(kong.consumer.username) $(kong.consumer.custom_id)",
		"missing": "$(headers.x_absent)",
	}, Options{RedactHeaders: []string{"x-secret"}, RedactQuery: []string{"TOKEN"}})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, a := range set.Render(req, nil) {
		got[a.Key] = a.Value
	}
	want := map[string]string{
		"tenant": "tenant-acme", "multi": "a, b", "env": "prod", "debug": "true", "token": Redacted, "ids": "1,2",
		"user": "42/42", "shared": "from-shared", "kong": "r1 orders s1 orders-svc c1 ann A-1",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("rendered %v\nwant     %v", got, want)
	}
}

// Concurrent requests each get their own values: nothing rendered for one
// request reaches another's attributes.
func TestRenderKeepsRequestsApart(t *testing.T) {
	_, set, err := Compile(map[string]string{"tenant": "$(headers.x_tenant)", "q": "$(query_params.q)"}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for i := range 16 {
		wg.Go(func() {
			tenant := strings.Repeat(string(rune('a'+i)), 3)
			req := &fakeRequest{headers: map[string][]string{"x-tenant": {tenant}}, query: map[string][]string{"q": {tenant}}}
			for range 500 {
				attrs := set.Render(req, nil)
				if len(attrs) != 2 || attrs[0].Value != tenant || attrs[1].Value != tenant {
					t.Errorf("request %s rendered %v", tenant, attrs)
					return
				}
			}
		})
	}
	wg.Wait()
}

// Whatever the schema accepts compiles, and rendering it never fails; what
// it refuses does not compile.
func FuzzCompileRender(f *testing.F) {
	for _, v := range []string{"plain", "$(headers.a)", "x${query_params.b}y", "$(uri_captures[3])", "$(shared['k'])",
		"${kong.consumer.custom_id}", "$(ngx.var.x)", "$(headers.a", "$$(headers.a))", "$(headers[\"a b\"])"} {
		f.Add(v, "value")
	}
	f.Fuzz(func(t *testing.T, v, value string) {
		static, set, err := Compile(map[string]string{"k": v}, Options{RedactQuery: []string{"b"}})
		if (err == nil) != (schema.ResourceTemplateProblem(v) == "") {
			t.Fatalf("%q: compile error %v, schema says %q", v, err, schema.ResourceTemplateProblem(v))
		}
		if err != nil {
			return
		}
		if set == nil {
			if static["k"] != v {
				t.Fatalf("%q: static value %q", v, static["k"])
			}
			return
		}
		all := &fakeRequest{
			headers: map[string][]string{}, query: map[string][]string{}, captures: map[string]string{},
			shared: map[string]string{}, kong: map[string]string{},
		}
		for _, h := range set.Needs().Headers {
			all.headers[h] = []string{value}
		}
		if attrs := set.Render(all, nil); len(attrs) > 1 || len(attrs) == 1 && (attrs[0].Key != "k" || attrs[0].Value == "") {
			t.Fatalf("%q rendered %v", v, attrs)
		}
		if none := set.Render(&fakeRequest{}, nil); len(none) > 1 || len(none) == 1 && none[0].Value == "" {
			t.Fatalf("%q with no request data rendered %v", v, none)
		}
	})
}

package kongsim

import (
	"bytes"
	"errors"
	"net/http"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"

	pb "github.com/Kong/go-pdk/server/kong_plugin_protocol"
)

func TestEncodeLuaJSON(t *testing.T) {
	v := map[string]any{
		"path":  "/a/b",
		"ns":    1.726783839539123e18,
		"int":   200,
		"list":  []any{},
		"table": map[string]any{},
		"raw":   "caf\xe9\n\x01\x7f",
		"null":  nil,
	}
	cases := []struct {
		precision int
		want      string
	}{
		{14, `{"int":200,"list":[],"ns":1.7267838395391e+18,"null":null,"path":"\/a\/b","raw":"caf` + "\xe9" + `\n\u0001\u007f","table":{}}`},
		{16, `{"int":200,"list":[],"ns":1.726783839539123e+18,"null":null,"path":"\/a\/b","raw":"caf` + "\xe9" + `\n\u0001\u007f","table":{}}`},
	}
	for _, c := range cases {
		got, err := EncodeLuaJSON(v, c.precision)
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != c.want {
			t.Errorf("precision %d:\n got %s\nwant %s", c.precision, got, c.want)
		}
	}
	if _, err := EncodeLuaJSON(map[string]any{"f": func() {}}, 14); err == nil {
		t.Error("a function must not encode")
	}
	got, _ := EncodeLuaJSON(Object{{"b", 1}, {"a", 2.5}}, 14)
	if string(got) != `{"b":1,"a":2.5}` {
		t.Errorf("Object keeps its order: %s", got)
	}
}

// Replies are written without protobuf-go, so raw bytes pass unchecked and
// go-pdk's decoding fails exactly as it does with Kong.
func TestRepliesKeepRawBytes(t *testing.T) {
	var s pb.String
	err := proto.Unmarshal(encodeString("caf\xe9"), &s)
	if err == nil || !strings.Contains(err.Error(), "invalid UTF-8") {
		t.Errorf("String with Latin-1 bytes decoded without error: %v", err)
	}
	if err := proto.Unmarshal(encodeString("ok"), &s); err != nil || s.V != "ok" {
		t.Errorf("valid String: %v %q", err, s.V)
	}
	var st structpb.Struct
	if err := proto.Unmarshal(appendStruct(nil, map[string]any{
		"s": "x", "n": 1.5, "b": true, "l": []any{"a", "b"}, "t": map[string]any{"k": "v"}, "e": []any{},
	}), &st); err != nil {
		t.Fatal(err)
	}
	m := st.AsMap()
	if m["s"] != "x" || m["n"] != 1.5 || m["b"] != true || len(m["l"].([]any)) != 2 ||
		m["t"].(map[string]any)["k"] != "v" || len(m["e"].(map[string]any)) != 0 {
		t.Errorf("struct round trip: %v", m)
	}
	var v structpb.Value
	if err := proto.Unmarshal(appendValue(nil, nil), &v); err != nil || v.AsInterface() != nil {
		t.Errorf("nil value: %v %v", err, v.AsInterface())
	}
	var n pb.Int
	if err := proto.Unmarshal(encodeInt(-5), &n); err != nil || n.V != -5 {
		t.Errorf("negative Int: %v %d", err, n.V)
	}
	// Kong's unwrap quirks: false arrives as nil, null as "NULL_VALUE".
	if luaValue(structpb.NewBoolValue(false)) != nil || luaValue(structpb.NewNullValue()) != "NULL_VALUE" {
		t.Error("pb_unwrap quirks not reproduced")
	}
}

func TestSchemaValidate(t *testing.T) {
	schema, err := ParseSchema(map[string]any{"name": "x", "fields": []any{
		map[string]any{"protocols": map[string]any{"type": "set", "elements": map[string]any{"type": "string"}}},
		map[string]any{"config": map[string]any{"type": "record", "fields": []any{
			map[string]any{"endpoint": map[string]any{"type": "string", "required": true}},
			map[string]any{"mode": map[string]any{"type": "string", "default": "a", "one_of": []any{"a", "b"}}},
			map[string]any{"rate": map[string]any{"type": "number", "between": []any{0.0, 1.0}}},
			map[string]any{"delay": map[string]any{"type": "number", "gt": 0.0}},
			map[string]any{"count": map[string]any{"type": "integer"}},
			map[string]any{"on": map[string]any{"type": "boolean"}},
			map[string]any{"tags": map[string]any{"type": "array", "elements": map[string]any{"type": "string"}}},
			map[string]any{"headers": map[string]any{"type": "map", "keys": map[string]any{"type": "string"},
				"values": map[string]any{"type": "string"}}},
			map[string]any{"queue": map[string]any{"type": "record", "required": true, "fields": []any{
				map[string]any{"size": map[string]any{"type": "integer", "default": 10.0}},
			}}},
			map[string]any{"optional_rec": map[string]any{"type": "record", "fields": []any{
				map[string]any{"size": map[string]any{"type": "integer", "default": 10.0}},
			}}},
		}}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	got, err := schema.Validate(map[string]any{"endpoint": "http://x", "count": 3, "tags": []any{"a"},
		"headers": map[string]any{"k": "v"}, "on": nil})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"endpoint": "http://x", "mode": "a", "count": 3.0, "tags": []any{"a"},
		"headers": map[string]any{"k": "v"}, "queue": map[string]any{"size": 10.0}}
	gotJSON, _ := EncodeLuaJSON(got, 16)
	wantJSON, _ := EncodeLuaJSON(want, 16)
	if !bytes.Equal(gotJSON, wantJSON) {
		t.Errorf("normalized config\n got %s\nwant %s", gotJSON, wantJSON)
	}

	_, err = schema.Validate(map[string]any{"mode": "c", "rate": 2, "delay": 0, "count": 1.5, "on": "yes",
		"tags": "x", "headers": map[string]any{"k": 1}, "zzz": 1, "queue": map[string]any{"size": "big"}})
	var se *SchemaError
	if !errors.As(err, &se) {
		t.Fatalf("want a SchemaError, got %v", err)
	}
	wantErrs := map[string]string{
		"config.endpoint":   "required field missing",
		"config.mode":       "expected one of: a, b",
		"config.rate":       "value should be between 0 and 1",
		"config.delay":      "value must be greater than 0",
		"config.count":      "expected an integer",
		"config.on":         "expected a boolean",
		"config.tags":       "expected an array",
		"config.headers.k":  "expected a string",
		"config.zzz":        "unknown field",
		"config.queue.size": "expected an integer",
	}
	for k, v := range wantErrs {
		if se.Fields[k] != v {
			t.Errorf("%s: got %q, want %q", k, se.Fields[k], v)
		}
	}
	if len(se.Fields) != len(wantErrs) {
		t.Errorf("errors %v", se.Fields)
	}
	if _, err := schema.Validate(map[string]any{"endpoint": ""}); err == nil ||
		!strings.Contains(err.Error(), "length must be at least 1") {
		t.Errorf("empty string: %v", err)
	}
}

func TestParseDump(t *testing.T) {
	info, err := ParseDump([]byte(`{"Protocol":"ProtoBuf:1","SocketPath":"/x.socket","Plugins":[{"Name":"go-hello",
		"Phases":["access","log"],"Version":"0.1","Priority":1,
		"Schema":{"name":"go-hello","fields":[{"config":{"type":"record","fields":[{"message":{"type":"string"}}]}}]}},
		{"Name":"second","Schema":{"fields":[]}}]}` + "\n"))
	if err != nil {
		t.Fatal(err)
	}
	if info.Name != "go-hello" || info.Priority != 1 || !info.HasPhase("log") || info.HasPhase("rewrite") ||
		info.Schema.Config.Fields[0].Name != "message" {
		t.Errorf("info %+v", info)
	}
	for in, want := range map[string]string{
		``:                              "Expected value but found T_END",
		`[{"Name":"old"}]`:              `"MsgPack:1"`,
		`{"Protocol":"MsgPack:1"}`:      `"MsgPack:1"`,
		`{"Protocol":"ProtoBuf:1"}`:     "no plugins",
		`{"Protocol":"ProtoBuf:1","Plu`: "failed decoding plugin info",
	} {
		if _, err := ParseDump([]byte(in)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ParseDump(%q) = %v, want error containing %q", in, err, want)
		}
	}
}

func TestParseDeclarative(t *testing.T) {
	d, err := ParseDeclarative([]byte(`_format_version: "3.0"
services:
- name: echo
  url: http://127.0.0.1:9000/api
  retries: 2
  plugins:
  - name: p
    config: {a: 1}
  routes:
  - name: r1
    paths: ["/echo"]
    methods: [get]
    strip_path: false
    plugins:
    - name: p
- name: pooled
  host: pool
routes:
- name: r2
  hosts: ["*.example.com"]
  service: pooled
upstreams:
- name: pool
  targets:
  - target: 127.0.0.1
  - target: 127.0.0.1:9001
    weight: 0
targets:
- target: 127.0.0.2:9002
  upstream: pool
consumers:
- username: alice
plugins:
- name: p
  route: r2
- name: p
  enabled: false
- name: p
  consumer: alice
`))
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Services) != 2 || len(d.Routes) != 2 || len(d.Plugins) != 4 || len(d.Consumers) != 1 {
		t.Fatalf("entities: %d services %d routes %d plugins %d consumers", len(d.Services), len(d.Routes), len(d.Plugins), len(d.Consumers))
	}
	echo := d.Services[0]
	if echo.Host != "127.0.0.1" || echo.Port != 9000 || echo.Path != "/api" || echo.Retries != 2 || echo.ReadTimeout != 60000 {
		t.Errorf("service %+v", echo)
	}
	r1, r2 := d.Routes[0], d.Routes[1]
	if r1.Service != echo || r1.StripPath || r1.Methods[0] != "GET" || r2.Service != d.Services[1] {
		t.Errorf("routes %+v %+v", r1, r2)
	}
	if got := d.Upstreams[0].Targets; !equalStrings(got, []string{"127.0.0.1:8000", "127.0.0.2:9002"}) {
		t.Errorf("targets %v", got)
	}
	scopes := []string{}
	for _, p := range d.Plugins {
		scopes = append(scopes, p.ServiceID+"|"+p.RouteID+"|"+p.ConsumerID)
	}
	want := []string{"|" + r1.ID + "|", echo.ID + "||", "|" + r2.ID + "|", "||" + d.Consumers[0].ID}
	if !equalStrings(scopes, want) {
		t.Errorf("plugin scopes %q, want %q", scopes, want)
	}
	again, _ := ParseDeclarative([]byte(`_format_version: "3.0"
services:
- name: echo
  url: http://127.0.0.1:9000/api
`))
	if again.Services[0].ID != echo.ID {
		t.Error("generated ids are not stable")
	}
	for _, bad := range []string{`_format_version: "1.1"`, "_format_version: \"3.0\"\nroutes:\n- name: x\n  paths: [\"/\"]\n  service: nope\n",
		"_format_version: \"3.0\"\nservices:\n- name: s\n  url: http://x\n  routes:\n  - name: r\n    paths: [\"nope\"]\n"} {
		if _, err := ParseDeclarative([]byte(bad)); err == nil {
			t.Errorf("accepted %q", bad)
		}
	}
}

func TestRouterAndUpstreamPath(t *testing.T) {
	svc := &Service{ID: "s"}
	routes := []*Route{
		{ID: "root", Paths: []string{"/"}, Service: svc},
		{ID: "echo", Paths: []string{"/echo"}, Service: svc},
		{ID: "echo-get", Paths: []string{"/echo"}, Methods: []string{"GET"}, Service: svc},
		{ID: "host", Hosts: []string{"*.example.com"}, Service: svc},
		{ID: "re", Paths: []string{`~/items/\d+$`}, Service: svc},
	}
	rt, err := newRouter(routes)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ method, host, path, want, matched string }{
		{"GET", "localhost", "/echo/x", "echo-get", "/echo"},
		{"POST", "localhost", "/echoes", "echo", "/echo"},
		{"POST", "localhost", "/other", "root", "/"},
		{"POST", "a.example.com", "/other", "root", "/"},
		{"POST", "a.example.com", "/items/12", "re", "/items/12"},
	} {
		m := rt.match(c.method, c.host, c.path)
		if m == nil || m.route.ID != c.want || m.matched != c.matched {
			t.Errorf("%s %s %s → %+v, want %s", c.method, c.host, c.path, m, c.want)
		}
	}
	rt2, _ := newRouter([]*Route{{ID: "h", Hosts: []string{"api.example.com"}}})
	if rt2.match("GET", "other.com", "/") != nil {
		t.Error("host mismatch matched")
	}
	for _, c := range []struct {
		svcPath, path, matched string
		strip                  bool
		want                   string
	}{
		{"", "/echo/items", "/echo", true, "/items"},
		{"", "/echo", "/echo", true, "/"},
		{"/api", "/echo/items", "/echo", true, "/api/items"},
		{"/api/", "/echo/items", "/echo", true, "/api/items"},
		{"/api", "/echo", "/echo", true, "/api"},
		{"/api", "/echo/items", "/echo", false, "/api/echo/items"},
	} {
		if got := upstreamPath(c.svcPath, c.path, c.matched, c.strip); got != c.want {
			t.Errorf("upstreamPath(%q, %q, strip=%v) = %q, want %q", c.svcPath, c.path, c.strip, got, c.want)
		}
	}
}

func TestSerializeValuesAndRedaction(t *testing.T) {
	r, _ := http.NewRequest("GET", "http://localhost:8000/p?a=1&a=2&f", nil)
	r.RequestURI = "/p?a=1&a=2&f"
	r.RemoteAddr = "127.0.0.1:5555"
	r.Header.Set("Authorization", "secret")
	r.Header.Set("Proxy-Authorization", "secret")
	r.Header.Add("X-Multi", "1")
	r.Header.Add("X-Multi", "2")
	x := NewExchange(r, nil, 8000)
	x.setCtx("KONG_LOG_START", x.Ctx["KONG_PROCESSING_START"].(float64)+7)
	x.serializeValues = []serializeValue{
		{key: "trace_id", value: "abc", mode: "set"},
		{key: "request.headers.x-new", value: "n", mode: "add"},
		{key: "request.method", value: "X", mode: "add"},    // present: add does nothing
		{key: "nope.deep", value: "x", mode: "replace"},     // absent: replace does nothing
		{key: "response.status", value: 299.0, mode: "set"}, // overwrite
	}
	s := x.Serialize(Version{Minor: 9})
	req := s["request"].(map[string]any)
	h := req["headers"].(map[string]any)
	if h["authorization"] != "REDACTED" || h["proxy-authorization"] != "REDACTED" || h["x-new"] != "n" ||
		len(h["x-multi"].([]any)) != 2 {
		t.Errorf("headers %v", h)
	}
	if s["trace_id"] != "abc" || req["method"] != "GET" || s["nope"] != nil || s["response"].(map[string]any)["status"] != 299.0 {
		t.Errorf("serialize values not applied as Kong does: %v", s)
	}
	q := req["querystring"].(map[string]any)
	if len(q["a"].([]any)) != 2 || q["f"] != true {
		t.Errorf("querystring %v", q)
	}
	if s["latencies"].(map[string]any)["request"] != 7.0 || req["url"] != "http://localhost:8000/p?a=1&a=2&f" {
		t.Errorf("latencies %v url %v", s["latencies"], req["url"])
	}
	if _, ok := s["tries"]; ok {
		t.Error("tries present without a route")
	}
	if x.Headers.Get("Authorization") != "secret" {
		t.Error("redaction must not change the request headers")
	}
}

func TestStripSeq(t *testing.T) {
	a := stripSeq([]byte(`{"a":1,"__seq__":12,"b":2}`))
	b := stripSeq([]byte(`{"a":1,"__seq__":3,"b":2}`))
	if !bytes.Equal(a, b) {
		t.Errorf("%s != %s", a, b)
	}
}

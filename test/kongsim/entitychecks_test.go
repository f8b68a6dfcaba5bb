package kongsim

import (
	"encoding/json"
	"io"
	"log/slog"
	"strings"
	"testing"
)

func mustSchema(t *testing.T, js string) *Schema {
	t.Helper()
	var raw map[string]any
	if err := json.Unmarshal([]byte(js), &raw); err != nil {
		t.Fatal(err)
	}
	s, err := ParseSchema(raw)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// Each entity check refuses what Kong's does, with Kong's message, and
// accepts the rest; defaults are filled before the checks run.
func TestEntityChecks(t *testing.T) {
	s := mustSchema(t, `{"name":"x","fields":[{"config":{"type":"record","fields":[
		{"mode":{"type":"string","default":"a","one_of":["a","file","net"]}},
		{"path":{"type":"string"}},
		{"url":{"type":"string","referenceable":true}},
		{"alt":{"type":"string"}},
		{"cert":{"type":"string"}},{"key":{"type":"string"}},
		{"one":{"type":"string"}},{"two":{"type":"string"}},
		{"limit":{"type":"integer","default":1,"ne":0}},
		{"sub":{"type":"record","required":true,"fields":[{"endpoint":{"type":"string"}}]}}],
	  "entity_checks":[
		{"conditional":{"if_field":"mode","if_match":{"eq":"file"},"then_field":"path","then_match":{"required":true}}},
		{"conditional":{"if_field":"mode","if_match":{"one_of":["net"]},"then_field":"url","then_match":{"match_any":{"patterns":["^https?://"],"err":"need a URL"}}}},
		{"conditional_at_least_one_of":{"if_field":"mode","if_match":{"one_of":["net"]},"then_at_least_one_of":["url","alt"]}},
		{"mutually_required":["cert","key"]},
		{"mutually_exclusive":["one","sub.endpoint"]}]}}]}`)
	for _, tc := range []struct {
		config map[string]any
		errs   []string // "path: message" fragments, all of which must appear
	}{
		{map[string]any{}, nil},
		{map[string]any{"mode": "file"}, []string{"config.path: required field missing", "failed conditional validation given value of field 'mode'"}},
		{map[string]any{"mode": "file", "path": "/tmp/x"}, nil},
		{map[string]any{"mode": "net"}, []string{"at least one of these fields must be non-empty: 'url', 'alt'"}},
		{map[string]any{"mode": "net", "alt": "x"}, nil},
		{map[string]any{"mode": "net", "url": "ftp://x"}, []string{"config.url: need a URL"}},
		{map[string]any{"mode": "net", "url": "https://x"}, nil},
		// A vault reference is not checked when written: only its value could be.
		{map[string]any{"mode": "net", "url": "{vault://env/COLLECTOR}"}, nil},
		{map[string]any{"cert": "c"}, []string{"all or none of these fields must be set: 'cert', 'key'"}},
		{map[string]any{"cert": "c", "key": "k"}, nil},
		{map[string]any{"one": "a", "sub": map[string]any{"endpoint": "b"}}, []string{"only one or none of these fields must be set: 'one', 'sub.endpoint'"}},
		{map[string]any{"one": "a"}, nil},
		{map[string]any{"limit": 0}, []string{"config.limit: value must not be 0"}},
		{map[string]any{"path": ""}, []string{"config.path: length must be at least 1"}},
	} {
		_, err := s.Validate(tc.config)
		if (err != nil) != (len(tc.errs) > 0) {
			t.Errorf("%v: error %v, want %v", tc.config, err, tc.errs)
			continue
		}
		for _, e := range tc.errs {
			if !strings.Contains(err.Error(), e) {
				t.Errorf("%v: error %q lacks %q", tc.config, err, e)
			}
		}
	}
}

func TestUnknownEntityCheckRefused(t *testing.T) {
	var raw map[string]any
	_ = json.Unmarshal([]byte(`{"name":"x","fields":[{"config":{"type":"record","fields":[{"a":{"type":"string"}}],
		"entity_checks":[{"custom_entity_check":{"field_sources":["a"]}}]}}]}`), &raw)
	if _, err := ParseSchema(raw); err == nil {
		t.Fatal("a check a dumped schema cannot carry was accepted")
	}
}

// References in referenceable fields are resolved from the env vault into
// the config, and recorded in each record's "$refs", as Kong hands them to a
// plugin; an unresolvable one becomes "".
func TestVaultReferencesResolved(t *testing.T) {
	s := mustSchema(t, `{"name":"x","fields":[{"config":{"type":"record","fields":[
		{"endpoint":{"type":"string","referenceable":true}},
		{"plain":{"type":"string"}},
		{"headers":{"type":"map","keys":{"type":"string"},"values":{"type":"string","referenceable":true}}},
		{"sub":{"type":"record","required":true,"fields":[{"endpoint":{"type":"string","referenceable":true}}]}}]}}]}`)
	env := map[string]string{"COLLECTOR_URL": "http://c:4318", "TOKENS": `{"otel":"s3cret"}`}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	cfg, err := s.Validate(map[string]any{
		"endpoint": "{vault://env/collector-url}",
		"plain":    "{vault://env/COLLECTOR_URL}", // not referenceable: kept as written
		"headers":  map[string]any{"authorization": "{vault://env/TOKENS/otel}", "x-team": "edge"},
		"sub":      map[string]any{"endpoint": "{vault://env/MISSING}"},
	})
	if err != nil {
		t.Fatal(err)
	}
	resolveReferences(s.Config, cfg, lookup, slog.New(slog.NewTextHandler(io.Discard, nil)))
	got, _ := json.Marshal(cfg)
	want := `{"$refs":{"endpoint":"{vault://env/collector-url}","headers":{"authorization":"{vault://env/TOKENS/otel}"}},` +
		`"endpoint":"http://c:4318","headers":{"authorization":"s3cret","x-team":"edge"},"plain":"{vault://env/COLLECTOR_URL}",` +
		`"sub":{"$refs":{"endpoint":"{vault://env/MISSING}"},"endpoint":""}}`
	if string(got) != want {
		t.Errorf("resolved config\n got %s\nwant %s", got, want)
	}
}

func TestPluginProtocols(t *testing.T) {
	s := mustSchema(t, `{"name":"x","fields":[
		{"protocols":{"type":"set","required":true,"default":["grpc","grpcs","http","https"],
			"elements":{"type":"string","one_of":["grpc","grpcs","http","https"]}}},
		{"config":{"type":"record","fields":[{"a":{"type":"string"}}]}}]}`)
	if got, err := s.ValidateProtocols(nil); err != nil || strings.Join(got, ",") != "grpc,grpcs,http,https" {
		t.Errorf("default protocols %v %v", got, err)
	}
	if got, err := s.ValidateProtocols([]string{"https", "https", "grpcs"}); err != nil || strings.Join(got, ",") != "https,grpcs" {
		t.Errorf("protocols %v %v", got, err)
	}
	if _, err := s.ValidateProtocols([]string{"tcp"}); err == nil {
		t.Error("tcp accepted for an HTTP-only plugin")
	}
	decl, err := ParseDeclarative([]byte(`_format_version: "3.0"
services:
  - name: s
    url: http://127.0.0.1:1
    routes:
      - name: secure
        paths: [/s]
        protocols: [https]`))
	if err != nil {
		t.Fatal(err)
	}
	p := &Plugin{RouteID: decl.Routes[0].ID, Protocols: []string{"http"}}
	if err := checkProtocolsMatch(p, decl); err == nil || !strings.Contains(err.Error(), "must match the associated route's protocols") {
		t.Errorf("plugin on an https route with protocols [http]: %v", err)
	}
	p.Protocols = []string{"http", "https"}
	if err := checkProtocolsMatch(p, decl); err != nil {
		t.Error(err)
	}
}

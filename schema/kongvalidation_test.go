package schema

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/trace-exporter/trace-exporter/test/kongsim"
)

// Kong validates a config against the dumped schema when it is written; the
// plugin validates it again at StartInstance. The two must agree, or a
// config Kong accepted would be refused on every request (a 500 in 3.8+).
// kongsim applies Kong's validators (Lua patterns included) to the schema.
func TestKongAndPluginAgree(t *testing.T) {
	resetEnvForTest(noEnv)
	raw, _ := json.Marshal(KongSchema("trace-exporter", nil))
	var m map[string]any
	_ = json.Unmarshal(raw, &m)
	ks, err := kongsim.ParseSchema(m)
	if err != nil {
		t.Fatal(err)
	}
	base := map[string]any{"traces_endpoint": "http://c:4318/v1/traces"}
	for _, tc := range []struct {
		field string
		value any
	}{
		{"capture_request_headers", []any{"x-tenant"}},
		{"capture_request_headers", []any{"Authorization"}},
		{"capture_request_headers", []any{"COOKIE"}},
		{"capture_response_headers", []any{"Set-Cookie"}},
		{"capture_response_headers", []any{"x-set-cookie"}},
		{"capture_request_headers", []any{"x y"}},
		{"capture_request_headers", []any{"proxy-authorization"}},
		{"redact_headers", []any{"x-api-key"}},
		{"redact_headers", []any{"bad:name"}},
		{"http_response_header_for_traceid", "x-trace-id"},
		{"http_response_header_for_traceid", "x trace"},
		{"headers", map[string]any{"x-api-key": "secret"}},
		{"headers", map[string]any{"bad key": "v"}},
		{"propagation", map[string]any{"clear": []any{"x-b3-sampled"}}},
		{"propagation", map[string]any{"clear": []any{"(x)"}}},
		{"sampling_rate", 0.5},
		{"sampling_rate", 2},
		{"protocol", "grpc"},
		{"protocol", "thrift"},
	} {
		cfg := map[string]any{}
		for k, v := range base {
			cfg[k] = v
		}
		cfg[tc.field] = tc.value
		_, kongErr := ks.Validate(cfg)
		js, _ := json.Marshal(cfg)
		var c Config
		pluginErr := json.Unmarshal(js, &c)
		if (kongErr == nil) != (pluginErr == nil) {
			t.Errorf("%s=%v: Kong says %v, plugin says %v", tc.field, tc.value, kongErr, pluginErr)
		}
		if pluginErr != nil && !strings.Contains(pluginErr.Error(), tc.field) {
			t.Errorf("%s=%v: plugin error %q does not name the field", tc.field, tc.value, pluginErr)
		}
	}
}

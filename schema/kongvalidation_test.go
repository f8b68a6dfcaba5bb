package schema

import (
	"encoding/json"
	"log/slog"
	"strings"
	"testing"

	"github.com/trace-exporter/trace-exporter/test/kongsim"
)

// kong is Kong's side of this plugin's config, from the schema -dump prints:
// the check when a config is written, then the StartInstance payload.
func kong(t testing.TB, version string, lookup func(string) (string, bool)) *kongsim.Configurer {
	t.Helper()
	raw, _ := json.Marshal(KongSchema("trace-exporter", nil))
	var m map[string]any
	_ = json.Unmarshal(raw, &m)
	c, err := kongsim.NewConfigurer("trace-exporter", m, version)
	if err != nil {
		t.Fatal(err)
	}
	if lookup == nil {
		lookup = noEnv
	}
	c.LookupEnv = lookup
	c.Logger = slog.New(slog.DiscardHandler)
	return c
}

// startInstance decodes a config as the plugin does at StartInstance, from
// the payload Kong sends.
func startInstance(t testing.TB, payload []byte) (*Config, error) {
	t.Helper()
	var c Config
	err := json.Unmarshal(payload, &c)
	return &c, err
}

// agreementCases are configs (over a valid base) each rule of the schema
// decides: Kong must refuse exactly those the plugin refuses, or a config
// Kong accepted would be refused at StartInstance (every request would run
// without the plugin), and Kong would refuse configs that work.
var agreementCases = []map[string]any{
	{"capture_request_headers": []any{"x-tenant"}},
	{"capture_request_headers": []any{"Authorization"}},
	{"capture_request_headers": []any{"COOKIE"}},
	{"capture_response_headers": []any{"Set-Cookie"}},
	{"capture_response_headers": []any{"x-set-cookie"}},
	{"capture_request_headers": []any{"x y"}},
	{"capture_request_headers": []any{"proxy-authorization"}},
	{"capture_request_headers": []any{""}},
	{"redact_headers": []any{"x-api-key"}},
	{"redact_headers": []any{"bad:name"}},
	{"redact_query_params": []any{""}},
	{"http_response_header_for_traceid": "x-trace-id"},
	{"http_response_header_for_traceid": "x trace"},
	{"http_response_header_for_traceid": ""},
	{"headers": map[string]any{"x-api-key": "secret"}},
	{"headers": map[string]any{"bad key": "v"}},
	{"headers": map[string]any{"x": "a\r\nb"}},
	{"headers": map[string]any{"x": ""}},
	{"propagation": map[string]any{"clear": []any{"x-b3-sampled"}}},
	{"propagation": map[string]any{"clear": []any{"(x)"}}},
	{"propagation": map[string]any{"extract": []any{}}},
	{"propagation": map[string]any{"extract": []any{"w4c"}}},
	{"sampling_rate": 0.5},
	{"sampling_rate": 2},
	{"protocol": "grpc"},
	{"protocol": "thrift"},
	{"queue": map[string]any{"concurrency_limit": 0}},
	{"queue": map[string]any{"concurrency_limit": -1}},
	{"queue": map[string]any{"concurrency_limit": 65}},
	{"queue": map[string]any{"failure_threshold": 5, "breaker_cooldown": 0.5}},
	{"queue": map[string]any{"failure_threshold": -1}},
	{"queue": map[string]any{"breaker_cooldown": 1e7}},
	{"metrics": map[string]any{"endpoint": "http://c:4318/v1/metrics", "push_interval": 10, "enable_request_metrics": true}},
	{"metrics": map[string]any{"push_interval": 0}},
	{"metrics": map[string]any{"endpoint": "c:4318"}},
	{"access_logs": map[string]any{"endpoint": "http://c:4318/v1/logs", "custom_attributes_by_lua": map[string]any{"k": "return 1"}}},
	{"access_logs": map[string]any{"custom_attributes_by_lua": map[string]any{"k": ""}}},
	{"access_logs_endpoint": "http://c:4318/v1/logs"},
	{"access_logs_endpoint": "http://c:4318/v1/logs", "access_logs": map[string]any{"endpoint": "http://c:4318/v1/logs"}},
	{"logs_endpoint": "http://c:4318/v1/logs"},
	{"logs_endpoint": "not a url"},
	{"access_logs": map[string]any{"endpoint": "http://c:4318/v1/logs", "sampling_rate": 0.25}},
	{"access_logs": map[string]any{"endpoint": "http://c:4318/v1/logs", "sampling_rate": 1.5}},
	{"access_logs": map[string]any{"endpoint": "http://c:4318/v1/logs", "file_path": "/tmp/access.ndjson"}},
	{"access_logs": map[string]any{"endpoint": "http://c:4318/v1/logs", "file_path": ""}},
	{"exporter": "file", "file_path": "/tmp/spans.ndjson", "access_logs": map[string]any{"enabled": true, "file_path": "/tmp/access.ndjson"}},
	{"exporter": "stdout", "access_logs": map[string]any{"enabled": true}},
	{"exporter": "zipkin", "traces_endpoint": "http://z:9411/api/v2/spans", "access_logs": map[string]any{"enabled": true, "endpoint": "http://c:4318/v1/logs"}},
	{"spool_dir": ""},
	{"tls_ca_file": ""},
	{"tls_client_cert_file": "/c.pem"},
	{"tls_client_key_file": "/k.pem"},
	{"tls_client_cert_file": "/c.pem", "tls_client_key_file": "/k.pem"},
	{"exporter": "file"},
	{"exporter": "file", "file_path": "/tmp/spans.ndjson"},
	{"exporter": "stdout"},
	{"exporter": "zipkin", "traces_endpoint": "http://z:9411/api/v2/spans"},
	{"exporter": "zipkin", "traces_endpoint": "z:9411"},
	{"exporter": "zipkin", "protocol": "grpc", "traces_endpoint": "z:9411"},
	{"exporter": "http_json", "traces_endpoint": "https://hooks.example/x"},
	{"exporter": "otlp", "protocol": "grpc", "traces_endpoint": "collector:4317"},
	{"exporter": "otlp", "protocol": "grpc", "traces_endpoint": "http://collector:4317"},
	{"traces_endpoint": "ftp://c/x"},
	{"traces_endpoint": "http://c:4318/v1/traces?token=%zz"},
	{"traces_endpoint": "HTTPS://user:pw@c/v1/traces"},
	{"traces_endpoint": ""},
	{"endpoint": "http://old:4318/v1/traces"},
	{"batch_span_count": 0},
	{"batch_span_count": 50},
	{"batch_flush_delay": 0},
	{"batch_flush_delay": -1},
	{"static_attributes": map[string]any{"k": "v"}},
	{"static_attributes": map[string]any{"k": ""}},
	{"static_attributes": map[string]any{"": "v"}},
	{"resource_attributes": map[string]any{"service.name": "edge"}},
	{"resource_attributes": map[string]any{"service.name": ""}},
	{"resource_attributes": map[string]any{"tenant": "$(headers.x_tenant)", "env": "${query_params.env}-x"}},
	{"resource_attributes": map[string]any{"route": "$(kong.route.name)", "svc": "${kong.service.name}"}},
	{"resource_attributes": map[string]any{"user": "$(uri_captures.user)", "n": "$(uri_captures[1])", "s": "$(shared.tenant)"}},
	{"resource_attributes": map[string]any{"host": "$(ngx.var.host)"}},
	{"resource_attributes": map[string]any{"host": "$(headers.host or 'x')"}},
	{"resource_attributes": map[string]any{"auth": "$(headers.authorization)"}},
	{"resource_attributes": map[string]any{"auth": "$(headers['Proxy-Authorization'])"}},
	{"resource_attributes": map[string]any{"x": "$(headers.host"}},
	{"span_name": "path"},
	{"tail_sampling": map[string]any{"status_code_min": 600}},
	{"max_attributes": 0},
	{"http_known_methods": []any{"GET", "PURGE"}},
	{"http_known_methods": []any{"BAD METHOD"}},
	{"sampling_strategy": "parent_drop_probability_fallback"},
	{"sampling_strategy": "parent_based"},
	{"sampling_rules": []any{map[string]any{"method": "POST", "sampling_rate": 0.5}}},
	{"sampling_rules": []any{map[string]any{"sampling_rate": 0.5}}},
	{"sampling_rules": []any{map[string]any{"method": "GET"}, map[string]any{"header_value": "1"}}},
	{"sampling_rules": []any{map[string]any{"path_prefix": "/api", "header_value": "1"}}},
	{"sampling_rules": []any{map[string]any{"header_name": "x-debug", "header_value": "1"}}},
	{"sampling_rules": []any{map[string]any{"header_name": "x-debug"}}},
	{"sampling_rules": []any{map[string]any{"method": "get"}}},
	{"remote_sampling": map[string]any{"endpoint": "http://jaeger:5778/sampling"}},
	{"remote_sampling": map[string]any{"endpoint": "jaeger:5778"}},
	{"remote_sampling": map[string]any{"endpoint": "http://jaeger:5778/sampling?service=kong"}},
}

func TestKongAndPluginAgree(t *testing.T) {
	resetEnvForTest(noEnv)
	k := kong(t, "3.9", nil)
	for _, extra := range agreementCases {
		cfg := map[string]any{"traces_endpoint": "http://c:4318/v1/traces"}
		for key, v := range extra {
			cfg[key] = v
		}
		p, kongErr := k.Configure(kongsim.PluginEntity{Config: cfg})
		payload := mustJSONT(t, cfg)
		if kongErr == nil {
			payload = p.ConfigJSON()
		}
		_, pluginErr := startInstance(t, payload)
		if (kongErr == nil) != (pluginErr == nil) {
			t.Errorf("%v: Kong says %v, plugin says %v", extra, kongErr, pluginErr)
			continue
		}
		if pluginErr != nil && len(extra) == 1 {
			for key := range extra {
				// exporter decides which other field is required.
				if key != "exporter" && !strings.Contains(pluginErr.Error(), key) {
					t.Errorf("%v: plugin error %q does not name the field", extra, pluginErr)
				}
			}
		}
	}
}

// What Kong cannot check when a config is written, the plugin checks when
// the instance starts, naming the field; these are the only disagreements.
func TestRulesOnlyThePluginChecks(t *testing.T) {
	resetEnvForTest(noEnv)
	k := kong(t, "3.9", nil)
	for _, tc := range []struct {
		why    string
		config map[string]any
		field  string
	}{
		// The OTLP endpoint may come from the plugin server's environment.
		{"otlp endpoint from the environment", map[string]any{}, "traces_endpoint"},
		// The protocol may come from OTEL_EXPORTER_OTLP_PROTOCOL.
		{"bare endpoint with an HTTP protocol", map[string]any{"traces_endpoint": "collector:4317"}, "traces_endpoint"},
		{"bare endpoint with protocol written", map[string]any{"protocol": "http/json", "traces_endpoint": "collector:4317"}, "traces_endpoint"},
		{"bare deprecated endpoint", map[string]any{"endpoint": "old:4318"}, "endpoint"},
		// Lua patterns cannot tell an IPv6 address from hex digits and colons.
		{"IPv6 literal", map[string]any{"traces_endpoint": "http://[fe80:1]:4318/v1/traces"}, "traces_endpoint"},
		// A reference is checked once resolved: its value is the plugin's to see.
		{"vault reference resolving to a bad URL", map[string]any{"traces_endpoint": "{vault://env/BAD_URL}"}, "traces_endpoint"},
		{"unresolvable vault reference", map[string]any{"traces_endpoint": "{vault://env/MISSING}"}, "traces_endpoint"},
		// The access logs' OTLP endpoint may come from the environment.
		{"access logs over OTLP without an endpoint", map[string]any{"traces_endpoint": "http://c:4318/v1/traces",
			"access_logs": map[string]any{"enabled": true}}, "access_logs.endpoint"},
		// Whether a backend takes logs is the plugin's code to say (a
		// backend registered in code may).
		{"access logs to a backend without logs", map[string]any{"exporter": "zipkin", "traces_endpoint": "http://z:9411/api/v2/spans",
			"access_logs": map[string]any{"enabled": true}}, "access_logs.enabled"},
	} {
		kk := k
		if strings.Contains(tc.why, "vault") {
			kk = kong(t, "3.9", func(n string) (string, bool) {
				if n == "BAD_URL" {
					return "collector:4318", true
				}
				return "", false
			})
		}
		p, err := kk.Configure(kongsim.PluginEntity{Config: tc.config})
		if err != nil {
			t.Errorf("%s: Kong refused %v: %v", tc.why, tc.config, err)
			continue
		}
		_, pluginErr := startInstance(t, p.ConfigJSON())
		if pluginErr == nil || !strings.Contains(pluginErr.Error(), "config."+tc.field) {
			t.Errorf("%s: plugin error %v does not refuse naming %s", tc.why, pluginErr, tc.field)
		}
	}
}

// Vault references are resolved by Kong before StartInstance: the plugin
// decodes the secret, and the $refs member Kong adds is ignored.
func TestVaultReferencedFieldsReachThePluginResolved(t *testing.T) {
	resetEnvForTest(noEnv)
	env := map[string]string{"OTEL_COLLECTOR": "https://collector.example:4318/v1/traces", "OTEL_TOKEN": "Bearer s3cret"}
	k := kong(t, "3.16", func(n string) (string, bool) { v, ok := env[n]; return v, ok })
	p, err := k.Configure(kongsim.PluginEntity{Config: map[string]any{
		"traces_endpoint": "{vault://env/otel-collector}",
		"headers":         map[string]any{"authorization": "{vault://env/OTEL_TOKEN}"},
		"metrics":         map[string]any{"endpoint": "{vault://env/OTEL_COLLECTOR}"},
	}})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(p.ConfigJSON()), `"$refs"`) {
		t.Fatalf("payload has no $refs: %s", p.ConfigJSON())
	}
	c, err := startInstance(t, p.ConfigJSON())
	if err != nil {
		t.Fatal(err)
	}
	if c.TracesEndpoint != env["OTEL_COLLECTOR"] || c.Headers["authorization"] != "Bearer s3cret" || c.Metrics.Endpoint != env["OTEL_COLLECTOR"] {
		t.Errorf("references not resolved: %q %v %q", c.TracesEndpoint, c.Headers, c.Metrics.Endpoint)
	}
	// The reference form is refused where the field is not referenceable.
	if _, err := k.Configure(kongsim.PluginEntity{Config: map[string]any{
		"traces_endpoint": "http://c:4318/v1/traces", "tls_ca_file": "{vault://env/CA}"}}); err != nil {
		t.Errorf("a reference-looking path in a plain string field is just a string: %v", err)
	}
}

// Deprecated fields take effect where Kong applies them, on configs exactly
// as Kong sends them: defaults filled (so the new field is always present,
// with its default when the user did not write it), nulls removed, Kong's
// extra keys present.
func TestDeprecatedFieldsAsKongSendsThem(t *testing.T) {
	resetEnvForTest(noEnv)
	ep := "http://c:4318/v1/traces"
	for _, version := range []string{"3.4", "3.9", "3.16"} {
		k := kong(t, version, nil)
		for _, tc := range []struct {
			config      map[string]any
			batch       int
			delay       float64
			tracesURL   string
			description string
		}{
			{map[string]any{"traces_endpoint": ep}, 200, 1, ep, "no deprecated field"},
			{map[string]any{"traces_endpoint": ep, "batch_span_count": 50}, 50, 1, ep, "batch_span_count over the default queue"},
			{map[string]any{"traces_endpoint": ep, "batch_span_count": 50, "queue": map[string]any{"max_batch_size": 200}}, 50, 1, ep, "over queue written with its default"},
			{map[string]any{"traces_endpoint": ep, "batch_span_count": 50, "queue": map[string]any{"max_batch_size": 300}}, 50, 1, ep, "over queue written with another value"},
			{map[string]any{"traces_endpoint": ep, "batch_span_count": 200, "queue": map[string]any{"max_batch_size": 300}}, 300, 1, ep, "200 is its old default: ignored"},
			{map[string]any{"traces_endpoint": ep, "batch_flush_delay": 5, "queue": map[string]any{"max_coalescing_delay": 1}}, 200, 5, ep, "batch_flush_delay"},
			{map[string]any{"traces_endpoint": ep, "batch_flush_delay": 3, "queue": map[string]any{"max_coalescing_delay": 2}}, 200, 2, ep, "3 is its old default: ignored"},
			{map[string]any{"endpoint": "http://old:4318/v1/traces"}, 200, 1, "http://old:4318/v1/traces", "endpoint alone (3.4-3.7 configs)"},
			{map[string]any{"endpoint": "http://old:4318/v1/traces", "traces_endpoint": ep}, 200, 1, ep, "traces_endpoint wins over endpoint"},
		} {
			p, err := k.Configure(kongsim.PluginEntity{Config: tc.config, RouteID: "6f1c0e4e-1b1b-4c3c-9d9d-0a0a0a0a0a0a"})
			if err != nil {
				t.Fatalf("%s %s: Kong refused: %v", version, tc.description, err)
			}
			c, err := startInstance(t, p.ConfigJSON())
			if err != nil {
				t.Fatalf("%s %s: %v\n%s", version, tc.description, err, p.ConfigJSON())
			}
			if c.Queue.MaxBatchSize != tc.batch || c.Queue.MaxCoalescingDelay != tc.delay || c.TracesURL() != tc.tracesURL {
				t.Errorf("%s %s: max_batch_size %d max_coalescing_delay %v traces %q, want %d %v %q", version, tc.description,
					c.Queue.MaxBatchSize, c.Queue.MaxCoalescingDelay, c.TracesURL(), tc.batch, tc.delay, tc.tracesURL)
			}
		}
	}
}

func mustJSONT(t testing.TB, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

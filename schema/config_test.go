package schema

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
)

func noEnv(string) (string, bool) { return "", false }

func decode(t *testing.T, js string) (*Config, error) {
	t.Helper()
	var c Config
	err := json.Unmarshal([]byte(js), &c)
	return &c, err
}

func TestDefaultsApply(t *testing.T) {
	resetEnvForTest(noEnv)
	c, err := decode(t, `{"traces_endpoint":"http:\/\/collector:4318\/v1\/traces"}`)
	if err != nil {
		t.Fatal(err)
	}
	want := Defaults()
	want.TracesEndpoint = "http://collector:4318/v1/traces"
	if !reflect.DeepEqual(*c, want) {
		t.Errorf("decoded %+v\nwant    %+v", *c, want)
	}
}

// Kong adds these keys at the top level of every config it sends.
func TestKongExtraKeysAccepted(t *testing.T) {
	resetEnvForTest(noEnv)
	js := `{"traces_endpoint":"http:\/\/c:4318\/v1\/traces","route_id":"6f1c","service_id":"s","consumer_id":"c",
		"plugin_instance_name":"x","__plugin_id":"0b7e","__ws_id":"d6f4","__key__":"plugins:trace-exporter:6f1c:::d6f4","__seq__":3}`
	if _, err := decode(t, js); err != nil {
		t.Fatalf("Kong's extra keys refused: %v", err)
	}
}

func TestKongOpenTelemetryConfigCarriesOver(t *testing.T) {
	resetEnvForTest(noEnv)
	// A 3.9 opentelemetry plugin config as Kong stores it (defaults filled).
	js := `{"traces_endpoint":"http:\/\/otel:4318\/v1\/traces","logs_endpoint":null,"headers":{"X-Auth":"k"},
	 "resource_attributes":{"service.name":"edge"},"queue":{"max_batch_size":200,"max_coalescing_delay":1,"max_entries":10000,
	 "max_bytes":null,"initial_retry_delay":0.01,"max_retry_time":60,"max_retry_delay":60,"concurrency_limit":1},
	 "batch_span_count":null,"batch_flush_delay":null,"connect_timeout":1000,"send_timeout":5000,"read_timeout":5000,
	 "http_response_header_for_traceid":"X-Trace-Id","header_type":"preserve","sampling_rate":0.25,
	 "propagation":{"extract":["w3c","b3"],"inject":["preserve"],"clear":["X-Internal"],"default_format":"w3c"}}`
	c, err := decode(t, js)
	if err != nil {
		t.Fatalf("Kong opentelemetry config refused: %v", err)
	}
	if c.SamplingRate != 0.25 || c.Queue.MaxBytes != Defaults().Queue.MaxBytes || c.Propagation.Clear[0] != "x-internal" {
		t.Errorf("decoded %+v", c)
	}
}

func TestDeprecatedFieldsMap(t *testing.T) {
	resetEnvForTest(noEnv)
	c, err := decode(t, `{"endpoint":"http:\/\/old:4318\/v1\/traces","batch_span_count":50,"batch_flush_delay":4}`)
	if err != nil {
		t.Fatal(err)
	}
	if c.TracesURL() != "http://old:4318/v1/traces" || c.Queue.MaxBatchSize != 50 || c.Queue.MaxCoalescingDelay != 4 {
		t.Errorf("deprecated fields not mapped: %q %d %v", c.TracesURL(), c.Queue.MaxBatchSize, c.Queue.MaxCoalescingDelay)
	}
}

func TestBadConfigsNameTheField(t *testing.T) {
	resetEnvForTest(noEnv)
	ep := `"traces_endpoint":"http://c:4318/v1/traces"`
	for _, tc := range []struct{ js, field, reason string }{
		{`{}`, "traces_endpoint", "required"},
		{`{"traces_endpoint":"ftp://c/x"}`, "traces_endpoint", "URL"},
		{`{"traces_endpoint":"http://"}`, "traces_endpoint", "URL"},
		{`{"traces_endpoint":"::nope"}`, "traces_endpoint", "URL"},
		{`{"traces_endpoint":"http://c:4318/v%zz"}`, "traces_endpoint", "URL"},
		{`{"traces_endpoint":"collector:4318"}`, "traces_endpoint", "host:port"},
		{`{"exporter":"zipkin","protocol":"grpc","traces_endpoint":"collector:9411"}`, "traces_endpoint", "host:port"},
		{`{"exporter":"zipkin"}`, "traces_endpoint", "required"},
		{`{"traces_endpoint":""}`, "traces_endpoint", "empty"},
		{`{` + ep + `,"spool_dir":""}`, "spool_dir", "empty"},
		{`{` + ep + `,"static_attributes":{"k":""}}`, "static_attributes", "empty"},
		{`{` + ep + `,"static_attributes":{"":"v"}}`, "static_attributes", "empty"},
		{`{` + ep + `,"redact_query_params":[""]}`, "redact_query_params", "empty"},
		{`{` + ep + `,"logs_endpoint":"not a url"}`, "logs_endpoint", "URL"},
		{`{` + ep + `,"metrics":{"endpoint":"collector:4318"}}`, "metrics.endpoint", "URL"},
		{`{` + ep + `,"metrics":{"push_interval":0}}`, "metrics.push_interval", "greater"},
		{`{` + ep + `,"access_logs":{"endpoint":"ftp://x"}}`, "access_logs.endpoint", "URL"},
		{`{` + ep + `,"access_logs":{"endpoint":"http://a/v1/logs"},"access_logs_endpoint":"http://a/v1/logs"}`, "access_logs_endpoint", "not both"},
		{`{` + ep + `,"queue":{"failure_threshold":-1}}`, "queue.failure_threshold", "between"},
		{`{` + ep + `,"queue":{"breaker_cooldown":-1}}`, "queue.breaker_cooldown", "between"},
		{`{` + ep + `,"resource_attributes":{"env":"$(ngx.var.host)"}}`, "resource_attributes", "ngx.var.host"},
		{`{` + ep + `,"resource_attributes":{"env":"$(headers.cookie)"}}`, "resource_attributes", "credentials"},
		{`{` + ep + `,"queue":{"max_batch_size":0}}`, "queue.max_batch_size", "between"},
		{`{` + ep + `,"queue":{"max_batch_size":-5}}`, "queue.max_batch_size", "between"},
		{`{` + ep + `,"queue":{"max_entries":0}}`, "queue.max_entries", "between"},
		{`{` + ep + `,"queue":{"max_bytes":-1}}`, "queue.max_bytes", "between"},
		{`{` + ep + `,"queue":{"initial_retry_delay":0}}`, "queue.initial_retry_delay", "greater"},
		{`{` + ep + `,"queue":{"concurrency_limit":0}}`, "queue.concurrency_limit", "0"},
		{`{` + ep + `,"queue":{"max_batch_size":"ten"}}`, "queue.max_batch_size", "integer"},
		{`{` + ep + `,"connect_timeout":0}`, "connect_timeout", "between"},
		{`{` + ep + `,"sampling_rate":1.5}`, "sampling_rate", "between"},
		{`{` + ep + `,"sampling_rate":-0.1}`, "sampling_rate", "between"},
		{`{` + ep + `,"protocol":"http/xml"}`, "protocol", "one of"},
		{`{` + ep + `,"compression":"zstd"}`, "compression", "one of"},
		{`{` + ep + `,"header_type":"w4c"}`, "header_type", "one of"},
		{`{` + ep + `,"propagation":{"extract":["w3c","b4"]}}`, "propagation.extract[1]", "one of"},
		{`{` + ep + `,"propagation":{"inject":["preserve","nope"]}}`, "propagation.inject[1]", "one of"},
		{`{` + ep + `,"propagation":{"default_format":"preserve"}}`, "propagation.default_format", "one of"},
		{`{` + ep + `,"propagation":{"clear":["bad header"]}}`, "propagation.clear[0]", "header name"},
		{`{` + ep + `,"headers":{"bad key":"v"}}`, "headers", "header name"},
		{`{` + ep + `,"headers":{"x":"a\r\nb"}}`, "headers", "line break"},
		{`{` + ep + `,"resource_attributes":{"service.name":""}}`, "resource_attributes", "empty"},
		{`{` + ep + `,"capture_request_headers":["Authorization"]}`, "capture_request_headers[0]", "credentials"},
		{`{` + ep + `,"capture_response_headers":["set-cookie"]}`, "capture_response_headers[0]", "credentials"},
		{`{` + ep + `,"tls_client_cert_file":"/c.pem"}`, "tls_client_key_file", "required with tls_client_cert_file"},
		{`{` + ep + `,"http_response_header_for_traceid":"x y"}`, "http_response_header_for_traceid", "header name"},
		{`{` + ep + `,"span_name":"path"}`, "span_name", "one of"},
		{`{` + ep + `,"tail_sampling":{"status_code_min":600}}`, "tail_sampling.status_code_min", "between"},
		{`{` + ep + `,"max_attributes":0}`, "max_attributes", "between"},
		{`{"exporter":"file"}`, "file_path", "required"},
		{`{` + ep + `,"batch_span_count":-1}`, "batch_span_count", "between"},
		{`[1]`, "", "JSON object"},
	} {
		_, err := decode(t, tc.js)
		if err == nil {
			t.Errorf("%s: accepted", tc.js)
			continue
		}
		msg := err.Error()
		if tc.field != "" && !strings.Contains(msg, "config."+tc.field+":") {
			t.Errorf("%s: error %q does not name config.%s", tc.js, msg, tc.field)
		}
		if !strings.Contains(msg, tc.reason) {
			t.Errorf("%s: error %q does not say %q", tc.js, msg, tc.reason)
		}
	}
}

func TestAllProblemsReported(t *testing.T) {
	resetEnvForTest(noEnv)
	_, err := decode(t, `{"traces_endpoint":"http://c","sampling_rate":2,"queue":{"max_entries":0}}`)
	var fe *FieldError
	if !errors.As(err, &fe) || !strings.Contains(err.Error(), "sampling_rate") || !strings.Contains(err.Error(), "queue.max_entries") {
		t.Errorf("want both problems reported, got %v", err)
	}
}

func TestEnvironmentDefaults(t *testing.T) {
	env := map[string]string{
		"OTEL_EXPORTER_OTLP_ENDPOINT":    "http://collector:4318/",
		"OTEL_EXPORTER_OTLP_HEADERS":     "api-key=abc%20def, x-team = edge",
		"OTEL_EXPORTER_OTLP_COMPRESSION": "gzip",
		"OTEL_EXPORTER_OTLP_TIMEOUT":     "2500",
		"OTEL_EXPORTER_OTLP_CERTIFICATE": "/etc/ca.pem",
	}
	resetEnvForTest(func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	defer resetEnvForTest(noEnv)
	c, err := decode(t, `{}`)
	if err != nil {
		t.Fatal(err)
	}
	if c.TracesEndpoint != "http://collector:4318/v1/traces" || c.Compression != CompressionGzip ||
		c.SendTimeout != 2500 || c.ReadTimeout != 2500 || c.TLSCAFile != "/etc/ca.pem" ||
		c.Headers["api-key"] != "abc def" || c.Headers["x-team"] != "edge" {
		t.Errorf("env defaults not applied: %+v", c)
	}
	// The plugin config wins, field by field; headers are replaced, not merged.
	c, err = decode(t, `{"traces_endpoint":"http://mine:4318/v1/traces","compression":"none","headers":{"a":"b"},"send_timeout":100}`)
	if err != nil {
		t.Fatal(err)
	}
	if c.TracesEndpoint != "http://mine:4318/v1/traces" || c.Compression != CompressionNone ||
		len(c.Headers) != 1 || c.SendTimeout != 100 || c.ReadTimeout != 2500 {
		t.Errorf("config must override env: %+v", c)
	}
	// gRPC takes the base endpoint as is; the signal-specific one wins.
	c, _ = decode(t, `{"protocol":"grpc"}`)
	if c.TracesEndpoint != "http://collector:4318/" {
		t.Errorf("grpc endpoint from env: %q", c.TracesEndpoint)
	}
	env["OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"] = "https://traces.example/custom"
	resetEnvForTest(func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	c, _ = decode(t, `{}`)
	if c.TracesEndpoint != "https://traces.example/custom" {
		t.Errorf("signal endpoint: %q", c.TracesEndpoint)
	}
	env["OTEL_EXPORTER_OTLP_PROTOCOL"] = "thrift"
	resetEnvForTest(func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	if _, err := decode(t, `{}`); err == nil || !strings.Contains(err.Error(), "OTEL_EXPORTER_OTLP_PROTOCOL") {
		t.Errorf("bad env protocol must be refused naming the variable, got %v", err)
	}
}

// Every Config field is described in the field tree, and every described
// field exists: the Kong schema and the reference cannot miss one.
func TestFieldTreeMatchesConfig(t *testing.T) {
	var walk func(typ reflect.Type, fields []Field, path string)
	walk = func(typ reflect.Type, fields []Field, path string) {
		described := map[string]Field{}
		for _, f := range fields {
			described[f.Name] = f
		}
		for i := 0; i < typ.NumField(); i++ {
			sf := typ.Field(i)
			if !sf.IsExported() {
				continue // what decoding derived; go-pdk and Kong never see it
			}
			tag := sf.Tag.Get("json")
			if strings.Contains(tag, ",") {
				t.Errorf("%s%s: json tag %q has options; go-pdk and Kong would see them", path, sf.Name, tag)
			}
			f, ok := described[tag]
			if !ok {
				t.Errorf("config field %s%s is not in the field tree", path, tag)
				continue
			}
			delete(described, tag)
			if sf.Type.Kind() == reflect.Struct {
				walk(sf.Type, f.Fields, path+tag+".")
			}
			if f.Doc == "" {
				t.Errorf("%s%s has no documentation", path, tag)
			}
		}
		for name := range described {
			t.Errorf("field tree describes %s%s, which Config lacks", path, name)
		}
	}
	walk(reflect.TypeOf(Config{}), Fields(), "")
}

// OTEL_RESOURCE_ATTRIBUTES and OTEL_SERVICE_NAME are read for every backend;
// OTEL_SERVICE_NAME wins for service.name; values are percent-decoded and
// never read as templates (only the config's are).
func TestResourceEnvironment(t *testing.T) {
	env := map[string]string{
		"OTEL_RESOURCE_ATTRIBUTES": "deployment.environment.name=prod, service.name=from-attrs, note=a%20$(b)",
		"OTEL_SERVICE_NAME":        "edge",
	}
	resetEnvForTest(func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	defer resetEnvForTest(noEnv)
	c, err := decode(t, `{"exporter":"zipkin","traces_endpoint":"http://z:9411/api/v2/spans","resource_attributes":{"team":"core"}}`)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(c.ResourceAttributes, map[string]string{"team": "core"}) {
		t.Errorf("config's resource_attributes changed: %v", c.ResourceAttributes)
	}
	want := map[string]string{"deployment.environment.name": "prod", "service.name": "edge", "note": "a $(b)"}
	if got := EnvResourceAttributes(); !reflect.DeepEqual(got, want) {
		t.Errorf("environment resource %v, want %v", got, want)
	}
	env["OTEL_RESOURCE_ATTRIBUTES"] = "novalue"
	resetEnvForTest(func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	if _, err := decode(t, `{"traces_endpoint":"http://c:4318/v1/traces"}`); err == nil || !strings.Contains(err.Error(), "OTEL_RESOURCE_ATTRIBUTES") {
		t.Errorf("malformed OTEL_RESOURCE_ATTRIBUTES: %v", err)
	}
}

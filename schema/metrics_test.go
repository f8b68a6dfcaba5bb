package schema

import (
	"strings"
	"testing"
)

func envMap(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) {
		v, ok := m[k]
		return v, ok
	}
}

func metricsDestination(t *testing.T, env map[string]string, js string) (*Config, error) {
	t.Helper()
	resetEnvForTest(envMap(env))
	resetMetricsEnvForTest(envMap(env))
	t.Cleanup(func() { resetEnvForTest(noEnv); resetMetricsEnvForTest(noEnv) })
	if _, err := decode(t, js); err != nil {
		t.Fatalf("config refused: %v", err)
	}
	return MetricsDestination([]byte(js))
}

// The metrics destination is the traces backend's transport pointed at the
// metrics endpoint: config first, then OTEL_EXPORTER_OTLP_METRICS_*, then
// OTEL_EXPORTER_OTLP_*; never the TRACES_ variants.
func TestMetricsDestination(t *testing.T) {
	const traces = `"traces_endpoint":"http://t:4318/v1/traces"`
	for _, tc := range []struct {
		name     string
		env      map[string]string
		js       string
		endpoint string // "" : no destination
		check    func(t *testing.T, c *Config)
	}{
		{name: "no endpoint anywhere", js: `{` + traces + `,"metrics":{"enable_request_metrics":true}}`},
		{name: "metrics.endpoint, transport of the config",
			js: `{` + traces + `,"protocol":"http/json","compression":"gzip","headers":{"x-token":"k"},"send_timeout":1234,
			"metrics":{"endpoint":"https://m:4318/v1/metrics"}}`,
			endpoint: "https://m:4318/v1/metrics",
			check: func(t *testing.T, c *Config) {
				if c.Protocol != ProtocolHTTPJSON || c.Compression != CompressionGzip || c.Headers["x-token"] != "k" || c.SendTimeout != 1234 {
					t.Errorf("transport not carried over: %+v", c)
				}
			}},
		{name: "metrics.endpoint is OTLP whatever backend takes spans",
			js:       `{"exporter":"zipkin",` + traces + `,"metrics":{"endpoint":"http://m:4318/v1/metrics"}}`,
			endpoint: "http://m:4318/v1/metrics",
			check: func(t *testing.T, c *Config) {
				if c.Exporter != ExporterOTLP {
					t.Errorf("exporter %q", c.Exporter)
				}
			}},
		{name: "METRICS_ENDPOINT as it is",
			env:      map[string]string{EnvMetricsEndpoint: "http://m:9999/custom", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://base:4318"},
			js:       `{` + traces + `}`,
			endpoint: "http://m:9999/custom"},
		{name: "generic endpoint with /v1/metrics",
			env:      map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://base:4318/"},
			js:       `{}`,
			endpoint: "http://base:4318/v1/metrics"},
		{name: "generic endpoint as it is for gRPC, insecure",
			env:      map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "base:4317", "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc", "OTEL_EXPORTER_OTLP_INSECURE": "true"},
			js:       `{}`,
			endpoint: "http://base:4317"},
		{name: "config wins over METRICS_ variables, METRICS_ over generic, TRACES_ never",
			env: map[string]string{
				"OTEL_EXPORTER_OTLP_METRICS_HEADERS": "x-m=1", "OTEL_EXPORTER_OTLP_TRACES_HEADERS": "x-t=1",
				"OTEL_EXPORTER_OTLP_TRACES_COMPRESSION": "gzip", "OTEL_EXPORTER_OTLP_METRICS_TIMEOUT": "777",
				"OTEL_EXPORTER_OTLP_TIMEOUT": "999",
			},
			js:       `{` + traces + `,"read_timeout":42,"metrics":{"endpoint":"http://m:4318/v1/metrics"}}`,
			endpoint: "http://m:4318/v1/metrics",
			check: func(t *testing.T, c *Config) {
				if len(c.Headers) != 1 || c.Headers["x-m"] != "1" {
					t.Errorf("headers %v, want the METRICS_ ones", c.Headers)
				}
				if c.Compression != CompressionNone {
					t.Errorf("compression %q: a TRACES_ variable applied to metrics", c.Compression)
				}
				if c.SendTimeout != 777 || c.ReadTimeout != 42 {
					t.Errorf("timeouts send %d read %d, want 777 (METRICS_) and 42 (config)", c.SendTimeout, c.ReadTimeout)
				}
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := metricsDestination(t, tc.env, tc.js)
			if err != nil {
				t.Fatal(err)
			}
			if tc.endpoint == "" {
				if c != nil {
					t.Fatalf("destination %q, want none", c.TracesURL())
				}
				return
			}
			if c == nil {
				t.Fatalf("no destination, want %s", tc.endpoint)
			}
			if c.TracesURL() != tc.endpoint {
				t.Errorf("endpoint %q, want %q", c.TracesURL(), tc.endpoint)
			}
			if tc.check != nil {
				tc.check(t, c)
			}
		})
	}
}

func TestMetricsEnvironmentErrorsNameTheVariable(t *testing.T) {
	for _, tc := range []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{EnvMetricsEndpoint: "m:4318"}, EnvMetricsEndpoint},
		{map[string]string{"OTEL_EXPORTER_OTLP_METRICS_PROTOCOL": "thrift"}, "OTEL_EXPORTER_OTLP_METRICS_PROTOCOL"},
		{map[string]string{EnvMetricsTemporality: "sometimes"}, EnvMetricsTemporality},
	} {
		_, err := metricsDestination(t, tc.env, `{"traces_endpoint":"http://t:4318/v1/traces"}`)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("env %v: error %v, want one naming %s", tc.env, err, tc.want)
		}
	}
}

func TestMetricsTemporalityPreference(t *testing.T) {
	for v, want := range map[string]bool{"": false, "cumulative": false, "Delta": true, "LOWMEMORY": true} {
		resetMetricsEnvForTest(envMap(map[string]string{EnvMetricsTemporality: v}))
		got, err := MetricsDeltaTemporality()
		if err != nil || got != want {
			t.Errorf("%q: delta %v, %v; want %v", v, got, err, want)
		}
	}
	resetMetricsEnvForTest(noEnv)
}

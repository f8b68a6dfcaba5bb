package schema

import (
	"reflect"
	"strings"
	"testing"
)

func withEnv(env map[string]string) func() {
	resetEnvForTest(func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	return func() { resetEnvForTest(noEnv) }
}

// Where access log records go, for every way a config can ask for them.
func TestAccessLogsDestination(t *testing.T) {
	const traces = `"traces_endpoint":"http://c:4318/v1/traces"`
	for _, tc := range []struct {
		name   string
		env    map[string]string
		config string
		// Expected destination; empty exporter: access logs off.
		exporter ExporterName
		protocol Protocol
		url      string // TracesURL of the destination (OTLP)
		file     string
		topic    string
		headers  map[string]string
		field    string // AccessLogsEndpointField
	}{
		{name: "off", config: `{` + traces + `}`},
		{name: "access_logs.endpoint", config: `{` + traces + `,"headers":{"x-key":"k"},"access_logs":{"endpoint":"http://c:4318/v1/logs"}}`,
			exporter: ExporterOTLP, protocol: ProtocolHTTPProtobuf, url: "http://c:4318/v1/logs", headers: map[string]string{"x-key": "k"},
			field: "access_logs.endpoint"},
		{name: "3.13 spelling", config: `{` + traces + `,"access_logs_endpoint":"http://c:4318/v1/logs"}`,
			exporter: ExporterOTLP, protocol: ProtocolHTTPProtobuf, url: "http://c:4318/v1/logs", field: "access_logs_endpoint"},
		{name: "logs_endpoint alone", config: `{` + traces + `,"logs_endpoint":"http://l:4318/v1/logs"}`,
			exporter: ExporterOTLP, protocol: ProtocolHTTPProtobuf, url: "http://l:4318/v1/logs", field: "logs_endpoint"},
		{name: "access_logs.endpoint over logs_endpoint", config: `{` + traces + `,"logs_endpoint":"http://l:4318/v1/logs","access_logs":{"endpoint":"http://a:4318/v1/logs"}}`,
			exporter: ExporterOTLP, protocol: ProtocolHTTPProtobuf, url: "http://a:4318/v1/logs", field: "access_logs.endpoint"},
		{name: "grpc", config: `{"protocol":"grpc","traces_endpoint":"c:4317","access_logs":{"endpoint":"http://c:4317"}}`,
			exporter: ExporterOTLP, protocol: ProtocolGRPC, url: "http://c:4317", field: "access_logs.endpoint"},
		// An endpoint means OTLP whatever carries the spans.
		{name: "kafka spans, OTLP logs", config: `{"exporter":"kafka","kafka":{"brokers":["k:9092"]},"access_logs":{"endpoint":"http://c:4318/v1/logs"}}`,
			exporter: ExporterOTLP, protocol: ProtocolHTTPProtobuf, url: "http://c:4318/v1/logs", field: "access_logs.endpoint"},
		{name: "zipkin spans, OTLP logs", config: `{"exporter":"zipkin","traces_endpoint":"http://z:9411/api/v2/spans","access_logs":{"enabled":true,"endpoint":"http://c:4318/v1/logs"}}`,
			exporter: ExporterOTLP, protocol: ProtocolHTTPProtobuf, url: "http://c:4318/v1/logs", field: "access_logs.endpoint"},

		// enabled: the backend's own logs destination.
		{name: "enabled, logs endpoint from the environment",
			env:    map[string]string{"OTEL_EXPORTER_OTLP_LOGS_ENDPOINT": "http://e:4318/custom/logs", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://g:4318"},
			config: `{` + traces + `,"access_logs":{"enabled":true}}`, exporter: ExporterOTLP, protocol: ProtocolHTTPProtobuf, url: "http://e:4318/custom/logs"},
		{name: "enabled, generic endpoint from the environment", env: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://g:4318/"},
			config: `{` + traces + `,"access_logs":{"enabled":true}}`, exporter: ExporterOTLP, protocol: ProtocolHTTPProtobuf, url: "http://g:4318/v1/logs"},
		{name: "enabled, generic endpoint, grpc", env: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "g:4317", "OTEL_EXPORTER_OTLP_INSECURE": "true"},
			config: `{"protocol":"grpc",` + traces + `,"access_logs":{"enabled":true}}`, exporter: ExporterOTLP, protocol: ProtocolGRPC, url: "http://g:4317"},
		// The LOGS_ variables configure the logs, the TRACES_ ones the spans.
		{name: "logs variables", env: map[string]string{
			"OTEL_EXPORTER_OTLP_LOGS_ENDPOINT": "l:4317", "OTEL_EXPORTER_OTLP_LOGS_PROTOCOL": "grpc", "OTEL_EXPORTER_OTLP_LOGS_HEADERS": "x-logs=1",
			"OTEL_EXPORTER_OTLP_TRACES_HEADERS": "x-traces=1", "OTEL_EXPORTER_OTLP_HEADERS": "x-all=1"},
			config: `{` + traces + `,"access_logs":{"enabled":true}}`, exporter: ExporterOTLP, protocol: ProtocolGRPC, url: "l:4317",
			headers: map[string]string{"x-logs": "1"}},
		{name: "config over logs variables", env: map[string]string{"OTEL_EXPORTER_OTLP_LOGS_PROTOCOL": "grpc", "OTEL_EXPORTER_OTLP_LOGS_HEADERS": "x-logs=1"},
			config:   `{` + traces + `,"protocol":"http/json","headers":{"x-config":"1"},"access_logs":{"endpoint":"http://c:4318/v1/logs"}}`,
			exporter: ExporterOTLP, protocol: ProtocolHTTPJSON, url: "http://c:4318/v1/logs", headers: map[string]string{"x-config": "1"},
			field: "access_logs.endpoint"},
		{name: "generic variables", env: map[string]string{"OTEL_EXPORTER_OTLP_HEADERS": "x-all=1"},
			config: `{` + traces + `,"access_logs":{"endpoint":"http://c:4318/v1/logs"}}`, exporter: ExporterOTLP, protocol: ProtocolHTTPProtobuf,
			url: "http://c:4318/v1/logs", headers: map[string]string{"x-all": "1"}, field: "access_logs.endpoint"},
		{name: "file, same file", config: `{"exporter":"file","file_path":"/var/log/otlp.ndjson","access_logs":{"enabled":true}}`,
			exporter: ExporterFile, file: "/var/log/otlp.ndjson"},
		{name: "file, own file", config: `{"exporter":"file","file_path":"/var/log/otlp.ndjson","access_logs":{"enabled":true,"file_path":"/var/log/access.ndjson"}}`,
			exporter: ExporterFile, file: "/var/log/access.ndjson"},
		{name: "stdout", config: `{"exporter":"stdout","access_logs":{"enabled":true}}`, exporter: ExporterStdout},
		{name: "kafka", config: `{"exporter":"kafka","kafka":{"brokers":["k:9092"],"logs_topic":"kong_access"},"access_logs":{"enabled":true}}`,
			exporter: ExporterKafka, topic: "kong_access"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			defer withEnv(tc.env)()
			c, err := decode(t, tc.config)
			if err != nil {
				t.Fatal(err)
			}
			if f := c.AccessLogsEndpointField(); f != tc.field {
				t.Errorf("endpoint field %q, want %q", f, tc.field)
			}
			d := c.AccessLogsDestination()
			if tc.exporter == "" {
				if d != nil {
					t.Fatalf("access logs on: %+v", d)
				}
				return
			}
			if d == nil {
				t.Fatal("access logs off")
			}
			if d.Exporter != tc.exporter {
				t.Errorf("exporter %q, want %q", d.Exporter, tc.exporter)
			}
			if tc.exporter == ExporterOTLP {
				if d.TracesURL() != tc.url || d.Protocol != tc.protocol {
					t.Errorf("OTLP %s %s, want %s %s", d.Protocol, d.TracesURL(), tc.protocol, tc.url)
				}
				if !reflect.DeepEqual(d.Headers, tc.headers) {
					t.Errorf("headers %v, want %v", d.Headers, tc.headers)
				}
			}
			if tc.file != "" && d.FilePath != tc.file {
				t.Errorf("file %q, want %q", d.FilePath, tc.file)
			}
			if tc.topic != "" && d.Kafka.Topic != tc.topic {
				t.Errorf("topic %q, want %q", d.Kafka.Topic, tc.topic)
			}
			// The instance's own config is left as it was.
			if c.Kafka.Topic != Defaults().Kafka.Topic || tc.file != "" && c.FilePath != "/var/log/otlp.ndjson" {
				t.Errorf("the instance's config changed: topic %q, file %q", c.Kafka.Topic, c.FilePath)
			}
			if d.AccessLogsDestination() != nil {
				t.Error("the destination has a destination of its own")
			}
		})
	}
}

// What cannot be a destination is refused when the instance starts,
// naming the field or variable at fault.
func TestAccessLogsDestinationRefused(t *testing.T) {
	for _, tc := range []struct {
		name, config, want string
		env                map[string]string
	}{
		{name: "otlp without an endpoint", config: `{"traces_endpoint":"http://c:4318/v1/traces","access_logs":{"enabled":true}}`,
			want: "config.access_logs.endpoint: required"},
		{name: "zipkin", config: `{"exporter":"zipkin","traces_endpoint":"http://z:9411/api/v2/spans","access_logs":{"enabled":true}}`,
			want: "config.access_logs.enabled"},
		{name: "http_json", config: `{"exporter":"http_json","traces_endpoint":"http://h/x","access_logs":{"enabled":true}}`,
			want: "config.access_logs.enabled"},
		{name: "file_path elsewhere", config: `{"traces_endpoint":"http://c:4318/v1/traces","access_logs":{"endpoint":"http://c:4318/v1/logs","file_path":"/tmp/a"}}`,
			want: "config.access_logs.file_path"},
		{name: "bare environment endpoint over HTTP", env: map[string]string{"OTEL_EXPORTER_OTLP_LOGS_ENDPOINT": "l:4318"},
			config: `{"traces_endpoint":"http://c:4318/v1/traces","access_logs":{"enabled":true}}`, want: "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT"},
		{name: "bad environment endpoint", env: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://g 4318"},
			config: `{"traces_endpoint":"http://c:4318/v1/traces","access_logs":{"enabled":true}}`, want: "OTEL_EXPORTER_OTLP_ENDPOINT"},
		{name: "bad logs variable", env: map[string]string{"OTEL_EXPORTER_OTLP_LOGS_PROTOCOL": "thrift"},
			config: `{"traces_endpoint":"http://c:4318/v1/traces","access_logs":{"endpoint":"http://c:4318/v1/logs"}}`, want: "OTEL_EXPORTER_OTLP_LOGS_PROTOCOL"},
		{name: "sampling rate", config: `{"traces_endpoint":"http://c:4318/v1/traces","access_logs":{"endpoint":"http://c:4318/v1/logs","sampling_rate":-0.5}}`,
			want: "config.access_logs.sampling_rate"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			defer withEnv(tc.env)()
			_, err := decode(t, tc.config)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one naming %s", err, tc.want)
			}
		})
	}
}

// A malformed LOGS_ variable concerns access logs only: spans still load.
func TestLogsVariablesDoNotRefuseTraces(t *testing.T) {
	defer withEnv(map[string]string{"OTEL_EXPORTER_OTLP_LOGS_PROTOCOL": "thrift"})()
	c, err := decode(t, `{"traces_endpoint":"http://c:4318/v1/traces"}`)
	if err != nil || c.AccessLogsDestination() != nil {
		t.Fatalf("%v %+v", err, c)
	}
}

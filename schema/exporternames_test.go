package schema

import (
	"slices"
	"strings"
	"testing"
)

// A backend registered in code is accepted by the config and listed in the
// schema Kong receives; an unregistered one is refused naming the field.
func TestRegisteredExporterNames(t *testing.T) {
	resetEnvForTest(noEnv)
	if _, err := decode(t, `{"exporter":"acme_backend"}`); err == nil || !strings.Contains(err.Error(), "config.exporter") {
		t.Fatalf("unregistered exporter accepted or error not naming the field: %v", err)
	}
	RegisterExporterName("acme_backend")
	RegisterExporterName("acme_backend") // twice is harmless
	RegisterExporterName("otlp")         // built-in: not listed twice
	c, err := decode(t, `{"exporter":"acme_backend"}`)
	if err != nil || c.Exporter != "acme_backend" {
		t.Fatalf("registered exporter refused: %v", err)
	}
	names := ExporterNames()
	if !slices.Equal(names[:5], []string{"otlp", "zipkin", "http_json", "file", "stdout"}) ||
		slices.Index(names, "acme_backend") < 5 || len(names) != 6 {
		t.Errorf("names %v", names)
	}
	var exporterField Field
	for _, f := range Fields() {
		if f.Name == "exporter" {
			exporterField = f
		}
	}
	if !slices.Contains(exporterField.OneOf, any("acme_backend")) {
		t.Errorf("dumped one_of lacks the registered name: %v", exporterField.OneOf)
	}
	// Leave the process-wide list as the golden test expects it.
	registeredExporters.Lock()
	registeredExporters.names = slices.DeleteFunc(registeredExporters.names, func(n string) bool { return n == "acme_backend" })
	registeredExporters.Unlock()
}

// OTEL_EXPORTER_OTLP_* are OTLP settings: a zipkin or webhook backend never
// gets the OTLP endpoint or its credentials.
func TestEnvironmentAppliesToOTLPOnly(t *testing.T) {
	env := map[string]string{
		"OTEL_EXPORTER_OTLP_ENDPOINT":    "http://collector:4318",
		"OTEL_EXPORTER_OTLP_HEADERS":     "api-key=secret",
		"OTEL_EXPORTER_OTLP_COMPRESSION": "gzip",
	}
	resetEnvForTest(func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	defer resetEnvForTest(noEnv)
	c, err := decode(t, `{"exporter":"zipkin","traces_endpoint":"http://zipkin:9411/api/v2/spans"}`)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Headers) != 0 || c.Compression != CompressionNone {
		t.Errorf("OTLP env leaked into a zipkin config: %+v", c)
	}
	if _, err := decode(t, `{"exporter":"http_json"}`); err == nil || !strings.Contains(err.Error(), "traces_endpoint") {
		t.Errorf("http_json without an endpoint must be refused, not take the OTLP one: %v", err)
	}
	c, err = decode(t, `{}`)
	if err != nil || c.Headers["api-key"] != "secret" || c.Compression != CompressionGzip {
		t.Errorf("OTLP env not applied to otlp: %+v %v", c, err)
	}
}

// OTEL_EXPORTER_OTLP_INSECURE only turns a scheme-less gRPC endpoint into
// plaintext; explicit schemes and HTTP protocols are left alone.
func TestEnvironmentInsecure(t *testing.T) {
	env := map[string]string{
		"OTEL_EXPORTER_OTLP_PROTOCOL":        "grpc",
		"OTEL_EXPORTER_OTLP_TRACES_INSECURE": "TRUE",
		"OTEL_EXPORTER_OTLP_ENDPOINT":        "collector:4317",
	}
	resetEnvForTest(func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	defer resetEnvForTest(noEnv)
	for in, want := range map[string]string{
		`{}`:                               "http://collector:4317",
		`{"traces_endpoint":"other:4317"}`: "http://other:4317",
		`{"traces_endpoint":"https://other:4317"}`:                                 "https://other:4317",
		`{"endpoint":"legacy:4317"}`:                                               "http://legacy:4317",
		`{"protocol":"http/protobuf","traces_endpoint":"http://c:4318/v1/traces"}`: "http://c:4318/v1/traces",
	} {
		c, err := decode(t, in)
		if err != nil {
			t.Fatalf("%s: %v", in, err)
		}
		if got := c.TracesURL(); got != want {
			t.Errorf("%s: endpoint %q, want %q", in, got, want)
		}
	}
	env["OTEL_EXPORTER_OTLP_TRACES_INSECURE"] = "maybe"
	resetEnvForTest(func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	if _, err := decode(t, `{}`); err == nil || !strings.Contains(err.Error(), "OTEL_EXPORTER_OTLP_TRACES_INSECURE") {
		t.Errorf("bad INSECURE value must be refused naming the variable: %v", err)
	}
}

package customexporter

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/trace-exporter/trace-exporter/exporter"
	"github.com/trace-exporter/trace-exporter/plugin"
	"github.com/trace-exporter/trace-exporter/schema"
)

// The README shows this package's source verbatim: what users copy is what
// CI compiles and tests.
func TestReadmeShowsThisExample(t *testing.T) {
	src, err := os.ReadFile("customexporter.go")
	if err != nil {
		t.Fatal(err)
	}
	readme, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(readme, []byte("```go\n"+string(src)+"```\n")) {
		t.Fatal("README.md's \"Write your own exporter\" example differs from examples/customexporter/customexporter.go: copy the file into the README")
	}
}

// The example end to end, as Kong drives it: the plugin instance accepts
// exporter "ndjson" in its config, the log path runs the processor (health
// checks dropped, other spans tagged), and the backend receives JSON lines,
// gzipped, with the configured header, after one retried 503.
func TestExampleEndToEnd(t *testing.T) {
	var mu sync.Mutex
	var bodies [][]byte
	var headers []http.Header
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		raw, _ := io.ReadAll(r.Body)
		mu.Lock()
		defer mu.Unlock()
		if len(bodies) == 0 && len(headers) == 0 {
			headers = append(headers, nil) // first attempt: refused
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		zr, err := gzip.NewReader(bytes.NewReader(raw))
		if err != nil {
			t.Errorf("body not gzipped: %v", err)
			return
		}
		body, _ := io.ReadAll(zr)
		bodies = append(bodies, body)
		headers = append(headers, r.Header.Clone())
	}))
	defer backend.Close()

	env := plugin.NewEnv(exporter.NewRegistry(exporter.RegistryOptions{}))
	inst := plugin.NewWithEnv(env)
	cfg := `{"exporter":"ndjson","traces_endpoint":"` + backend.URL + `/spans","compression":"gzip",
		"headers":{"x-api-key":"k3y"},"queue":{"max_coalescing_delay":0.01,"initial_retry_delay":0.01}}`
	if err := json.Unmarshal([]byte(cfg), inst); err != nil {
		t.Fatalf("config with a registered exporter refused: %v", err)
	}
	payload, err := os.ReadFile(filepath.Join("..", "..", "plugin", "testdata", "serialize", "3.9-proxied-consumer.json"))
	if err != nil {
		t.Fatal(err)
	}
	inst.LogPayload(string(payload))
	inst.LogPayload(strings.Replace(string(payload), `"uri":"\/echo\/items`, `"uri":"\/health`, 1))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := env.Pipelines.ShutdownAll(ctx); err != nil {
		t.Fatalf("flush: %v", err)
	}

	mu.Lock()
	defer mu.Unlock()
	if len(bodies) != 1 || len(headers) != 2 {
		t.Fatalf("%d deliveries after %d attempts, want 1 after 2 (one 503 retried)", len(bodies), len(headers))
	}
	if headers[1].Get("X-Api-Key") != "k3y" || headers[1].Get("Content-Type") != "application/x-ndjson" {
		t.Errorf("headers %v", headers[1])
	}
	var lines []map[string]any
	sc := bufio.NewScanner(bytes.NewReader(bodies[0]))
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("not JSON lines: %v\n%s", err, bodies[0])
		}
		lines = append(lines, m)
	}
	// The /health request was dropped by the processor: only the first
	// request's root and balancer try arrive.
	if len(lines) != 2 || lines[0]["name"] != "GET /echo" || lines[0]["trace"] != "4bf92f3577b34da6a3ce929d0e0e4736" ||
		lines[0]["span"] != "00f067aa0ba902b7" || lines[1]["span"] != "b7ad6b7169203331" || lines[0]["ms"] != 5.0 {
		t.Errorf("lines %v", lines)
	}
	if got := env.Processors.Dropped.Load(); got != 2 {
		t.Errorf("processor drops counted: %d, want 2", got)
	}
}

// The processor alone: health checks dropped, other spans tagged.
func TestProcessor(t *testing.T) {
	spans := []exporter.Span{
		{Name: "GET /", Attributes: []exporter.Attribute{exporter.String("url.path", "/orders")}},
		{Name: "GET orders"},
	}
	out := dropHealthChecks{}.Process(spans, &exporter.Request{})
	if len(out) != 2 || out[1].Attributes[0].Value.AsString() != "payments" {
		t.Errorf("spans %+v", out)
	}
	spans[0].Attributes[0] = exporter.String("url.path", "/health")
	if out := (dropHealthChecks{}).Process(spans, &exporter.Request{}); len(out) != 0 {
		t.Errorf("health check kept")
	}
}

// The schema Kong receives from -dump lists the registered name, so Kong
// itself accepts `exporter: ndjson` when the config is written.
func TestKongSchemaListsTheRegisteredExporter(t *testing.T) {
	js, err := json.Marshal(schema.KongSchema("trace-exporter", exporter.Names()))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(js), `"exporter":{"default":"otlp","one_of":["otlp","zipkin","http_json","file","stdout","kafka","ndjson"]`) {
		t.Errorf("exporter field in the dumped schema: %s", js[strings.Index(string(js), `"exporter"`):][:120])
	}
}

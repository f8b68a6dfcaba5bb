package accesslogs

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/trace-exporter/trace-exporter/exporter"
	_ "github.com/trace-exporter/trace-exporter/exporter/builtin"
	"github.com/trace-exporter/trace-exporter/plugin"
	"github.com/trace-exporter/trace-exporter/test/otlpsink"
)

// The README shows this package's source verbatim.
func TestReadmeShowsThisExample(t *testing.T) {
	src, err := os.ReadFile("accesslogs.go")
	if err != nil {
		t.Fatal(err)
	}
	readme, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(readme, []byte("```go\n"+string(src)+"```\n")) {
		t.Fatal("README.md's access log processor example differs from examples/accesslogs/accesslogs.go: copy the file into the README")
	}
}

// The processor in a plugin instance: the record of a request carries the
// tenant its header named, a health check's record is dropped.
func TestExampleEndToEnd(t *testing.T) {
	traces, logs := otlpsink.Start(t), otlpsink.StartLogs(t)
	env := plugin.NewEnv(exporter.NewRegistry(exporter.RegistryOptions{}))
	inst := plugin.NewWithEnv(env)
	cfg := `{"traces_endpoint":"` + traces.TracesURL() + `","queue":{"max_coalescing_delay":0.01},
		"access_logs":{"endpoint":"` + logs.LogsURL() + `"}}`
	if err := json.Unmarshal([]byte(cfg), inst); err != nil {
		t.Fatal(err)
	}
	payload, err := os.ReadFile(filepath.Join("..", "..", "plugin", "testdata", "serialize", "3.9-proxied-consumer.json"))
	if err != nil {
		t.Fatal(err)
	}
	inst.LogPayload(string(payload))
	inst.LogPayload(strings.Replace(string(payload), `"uri":"\/echo\/items`, `"uri":"\/health`, 1))
	inst.LogPayload(strings.Replace(string(payload), `,"x-tenant":"acme"`, ``, 1))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := env.Pipelines.ShutdownAll(ctx); err != nil {
		t.Fatalf("flush: %v", err)
	}
	recs := logs.Records()
	if len(recs) != 2 {
		t.Fatalf("%d records, want 2 (the health check's dropped)", len(recs))
	}
	for i, want := range []string{"acme", "unknown"} {
		if v, ok := recs[i].Attr("tenant"); !ok || v.GetStringValue() != want {
			t.Errorf("record %d: tenant %v, want %q", i, v, want)
		}
	}
	if got := env.Stats.AccessLogs.Processors.Dropped.Load(); got != 1 {
		t.Errorf("drops counted: %d, want 1", got)
	}
}

package stdout

import (
	"bytes"
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/trace-exporter/trace-exporter/exporter"
	"github.com/trace-exporter/trace-exporter/exporter/internal/exportertest"
	"github.com/trace-exporter/trace-exporter/schema"
)

// captureStdout points the stdout backend at a buffer for the test.
func captureStdout(t *testing.T) *lockedBuffer {
	t.Helper()
	buf := &lockedBuffer{}
	t.Cleanup(SetWriter(buf))
	return buf
}

type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func stdoutConfig(format schema.StdoutFormat) *schema.Config {
	cfg := exportertest.Config("")
	cfg.Exporter = schema.ExporterStdout
	cfg.StdoutFormat = format
	return cfg
}

// Text: one readable line per span, with ids, kind, name, duration, status
// and attributes; values that would be ambiguous are quoted and nothing
// breaks the line.
func TestStdoutText(t *testing.T) {
	out := captureStdout(t)
	exp := exportertest.NewExporter(t, stdoutConfig(schema.StdoutText))
	b := exportertest.BackendBatch(8)
	b.Spans[1].Attributes = append(b.Spans[1].Attributes, exporter.String("multi.line", "a\nb"), exporter.String("bad.utf8", "x\xff"))
	if err := exportertest.ExportOnce(t, exp, b); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	if len(lines) != 3 {
		t.Fatalf("%d lines for 3 spans:\n%s", len(lines), out)
	}
	root := lines[0]
	for _, want := range []string{
		"2024-09-19T22:10:39.538Z edge-gw 08f92f3577b34da6a3ce929d0e0e4736 00f067aa0ba902b7 parent=53995c3f42cd8ad8 server \"GET /echo\" 12.345678ms status=error",
		`status_message="upstream answered 503"`,
		"http.request.method=GET", "http.response.status_code=503", "kong.latency.kong_ms=1.5", "kong.cache.hit=false",
		`user_agent.original="curl/8.5.0 \"quoted\""`, `http.request.header.x-multi=["a","b"]`, `event="kong.retry"`,
	} {
		if !strings.Contains(root, want) {
			t.Errorf("root line lacks %q:\n%s", want, root)
		}
	}
	if !strings.Contains(lines[1], ` client "GET echo" 3ms status=error`) || !strings.Contains(lines[1], `multi.line="a\nb"`) ||
		!strings.Contains(lines[1], `bad.utf8="x\ufffd"`) {
		t.Errorf("try line:\n%s", lines[1])
	}
}

// otlp_json: one OTLP/JSON request per batch and line, readable by the
// official decoder; concurrent pipelines never interleave lines.
func TestStdoutOTLPJSON(t *testing.T) {
	out := captureStdout(t)
	reg := exporter.NewRegistry(exporter.RegistryOptions{})
	a := stdoutConfig(schema.StdoutOTLPJSON)
	b := stdoutConfig(schema.StdoutOTLPJSON)
	b.Queue.MaxBatchSize = 3
	ha, _ := reg.Acquire(a)
	hb, err := reg.Acquire(b)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 50 {
		ha.Enqueue(exportertest.UniqueSpans(1, i, 2))
		hb.Enqueue(exportertest.UniqueSpans(2, i, 2))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := reg.ShutdownAll(ctx); err != nil {
		t.Fatal(err)
	}
	spans := 0
	for _, line := range strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n") {
		spans += len(exportertest.ViewOfOTLPJSONLine(t, []byte(line)))
	}
	if spans != 200 {
		t.Errorf("%d spans printed, want 200", spans)
	}
	one := captureStdout(t)
	exp := exportertest.NewExporter(t, stdoutConfig(schema.StdoutOTLPJSON))
	batch := exportertest.BackendBatch(9)
	if err := exportertest.ExportOnce(t, exp, batch); err != nil {
		t.Fatal(err)
	}
	exportertest.AssertSameSpans(t, "stdout otlp_json", exportertest.ViewOfBatch(batch), exportertest.ViewOfOTLPJSONLine(t, []byte(strings.TrimSpace(one.String()))), false)
}

// The text line names the service of the span's own resource.
func TestStdoutPerSpanResource(t *testing.T) {
	out := captureStdout(t)
	exp := exportertest.NewExporter(t, stdoutConfig(schema.StdoutText))
	if err := exportertest.ExportOnce(t, exp, exportertest.TwoResourceBatch()); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	want := []string{"kong", "tenant-a", "kong"}
	if len(lines) != 3 {
		t.Fatalf("%d lines", len(lines))
	}
	for i, l := range lines {
		if f := strings.Fields(l); len(f) < 2 || f[1] != want[i] {
			t.Errorf("line %d: %q, want service %q", i, l, want[i])
		}
	}
}

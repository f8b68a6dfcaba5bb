package exporter

import (
	"bytes"
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/trace-exporter/trace-exporter/schema"
)

// captureStdout points the stdout backend at a buffer for the test.
func captureStdout(t *testing.T) *lockedBuffer {
	t.Helper()
	buf := &lockedBuffer{}
	stdout.Lock()
	prev := stdout.w
	stdout.w = buf
	stdout.Unlock()
	t.Cleanup(func() {
		stdout.Lock()
		stdout.w = prev
		stdout.Unlock()
	})
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
	cfg := testConfig("")
	cfg.Exporter = schema.ExporterStdout
	cfg.StdoutFormat = format
	return cfg
}

// Text: one readable line per span, with ids, kind, name, duration, status
// and attributes; values that would be ambiguous are quoted and nothing
// breaks the line.
func TestStdoutText(t *testing.T) {
	out := captureStdout(t)
	exp := newExporterFor(t, stdoutConfig(schema.StdoutText))
	b := backendBatch(8)
	b.Spans[1].Attributes = append(b.Spans[1].Attributes, String("multi.line", "a\nb"), String("bad.utf8", "x\xff"))
	if err := exportOnce(t, exp, b); err != nil {
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
	reg := NewRegistry(RegistryOptions{})
	a := stdoutConfig(schema.StdoutOTLPJSON)
	b := stdoutConfig(schema.StdoutOTLPJSON)
	b.Queue.MaxBatchSize = 3
	ha, _ := reg.Acquire(a)
	hb, err := reg.Acquire(b)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 50 {
		ha.Enqueue(uniqueSpans(1, i, 2))
		hb.Enqueue(uniqueSpans(2, i, 2))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := reg.ShutdownAll(ctx); err != nil {
		t.Fatal(err)
	}
	spans := 0
	for _, line := range strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n") {
		spans += len(viewOfOTLPJSONLine(t, []byte(line)))
	}
	if spans != 200 {
		t.Errorf("%d spans printed, want 200", spans)
	}
	one := captureStdout(t)
	exp := newExporterFor(t, stdoutConfig(schema.StdoutOTLPJSON))
	batch := backendBatch(9)
	if err := exportOnce(t, exp, batch); err != nil {
		t.Fatal(err)
	}
	assertSameSpans(t, "stdout otlp_json", viewOfBatch(batch), viewOfOTLPJSONLine(t, []byte(strings.TrimSpace(one.String()))), false)
}

package builtin_test

import (
	"bytes"
	"context"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	_ "github.com/trace-exporter/trace-exporter/exporter/builtin"
	"github.com/trace-exporter/trace-exporter/exporter/stdout"

	"github.com/trace-exporter/trace-exporter/exporter"
	"github.com/trace-exporter/trace-exporter/exporter/internal/exportertest"
	"github.com/trace-exporter/trace-exporter/schema"
	"github.com/trace-exporter/trace-exporter/test/jaegertest"
)

// viewOfJaeger reads the view out of a trace served by Jaeger's query API.
func viewOfJaeger(tr *jaegertest.Trace) map[string]exportertest.ViewSpan {
	out := map[string]exportertest.ViewSpan{}
	for _, s := range tr.Spans {
		v := exportertest.ViewSpan{TraceID: s.TraceID, SpanID: s.SpanID, Parent: s.ParentSpanID, Name: s.OperationName, Kind: s.Kind, Attrs: map[string]string{}}
		for _, tag := range s.Tags {
			v.Attrs[tag.Key] = tag.String()
		}
		out[v.SpanID] = v
	}
	return out
}

// Done when: every backend delivers the same spans — same ids, names,
// kinds, attributes and parent links — as OTLP/HTTP does. OTLP/gRPC (plain
// and gzip) and Zipkin (gzip) go into a real Jaeger, which has all three
// receivers, and are read back through its query API next to the
// OTLP/HTTP reference; http_json, file and stdout are read back from what
// they wrote.
func TestEveryBackendDeliversTheSameSpans(t *testing.T) {
	j := jaegertest.Start(t)
	run := time.Now().UnixNano()
	type backend struct {
		name      string
		configure func(*schema.Config)
	}
	jaegerBackends := []backend{
		{"otlp http/protobuf (reference)", func(c *schema.Config) { c.TracesEndpoint = j.OTLPHTTPURL() }},
		{"otlp grpc", func(c *schema.Config) {
			c.Protocol, c.TracesEndpoint = schema.ProtocolGRPC, "http://"+j.OTLPGRPCAddr()
		}},
		{"otlp grpc gzip", func(c *schema.Config) {
			c.Protocol, c.TracesEndpoint, c.Compression = schema.ProtocolGRPC, "http://"+j.OTLPGRPCAddr(), schema.CompressionGzip
		}},
		{"zipkin gzip", func(c *schema.Config) {
			c.Exporter, c.TracesEndpoint, c.Compression = schema.ExporterZipkin, j.ZipkinURL(), schema.CompressionGzip
		}},
	}
	rec := exportertest.NewRecorder(t, nil, nil)
	dir := t.TempDir()
	stdoutBuf := &lockedBuffer{}
	t.Cleanup(stdout.SetWriter(stdoutBuf))
	localBackends := []backend{
		{"http_json", func(c *schema.Config) { c.Exporter, c.TracesEndpoint = schema.ExporterHTTPJSON, rec.Srv.URL }},
		{"file", func(c *schema.Config) {
			c.Exporter, c.FilePath = schema.ExporterFile, filepath.Join(dir, "spans.ndjson")
		}},
		{"stdout otlp_json", func(c *schema.Config) { c.Exporter, c.StdoutFormat = schema.ExporterStdout, schema.StdoutOTLPJSON }},
	}

	reg := exporter.NewRegistry(exporter.RegistryOptions{})
	batches := map[string]*exporter.Batch{}
	for i, b := range append(jaegerBackends, localBackends...) {
		cfg := exportertest.Config("")
		b.configure(cfg)
		batch := exportertest.BackendBatch(byte(0x10 + i))
		batch.Spans[0].TraceID[15] = byte(run) // a fresh trace per run
		for k := range batch.Spans {
			batch.Spans[k].TraceID = batch.Spans[0].TraceID
		}
		service := fmt.Sprintf("backends-%d-%d", run, i)
		cfg.ResourceAttributes = map[string]string{"service.name": service}
		h, err := reg.Acquire(cfg)
		if err != nil {
			t.Fatalf("%s: %v", b.name, err)
		}
		if !h.Enqueue(batch.Spans) {
			t.Fatalf("%s: enqueue refused", b.name)
		}
		batches[b.name] = batch
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := reg.ShutdownAll(ctx); err != nil {
		t.Fatalf("flush: %v", err)
	}

	// The reference: what OTLP/HTTP delivers is the batch, and Jaeger's
	// view of it is what the other network backends must match.
	refBatch := batches[jaegerBackends[0].name]
	refTrace, err := j.Client.WaitTrace(ctx, refBatch.Spans[0].TraceID.String(), 3)
	if err != nil {
		t.Fatalf("OTLP/HTTP trace not in Jaeger: %v", err)
	}
	refView := viewOfJaeger(refTrace)
	exportertest.AssertSameSpans(t, "otlp http/protobuf vs the batch", exportertest.ViewOfBatch(refBatch), refView, true)
	refSpans := map[string]jaegertest.Span{}
	for _, s := range refTrace.Spans {
		refSpans[s.SpanID] = s
	}
	for _, b := range jaegerBackends[1:] {
		t.Run(b.name, func(t *testing.T) {
			batch := batches[b.name]
			tr, err := j.Client.WaitTrace(ctx, batch.Spans[0].TraceID.String(), 3)
			if err != nil {
				t.Fatalf("trace not in Jaeger: %v", err)
			}
			// Same spans as the reference, trace id aside.
			want := map[string]exportertest.ViewSpan{}
			for id, v := range refView {
				v.TraceID = tr.TraceID
				if strings.HasPrefix(b.name, "zipkin") {
					// Zipkin's model has no tracestate (Jaeger shows OTLP's
					// as this tag); everything else must match.
					v.Attrs = maps.Clone(v.Attrs)
					delete(v.Attrs, "w3c.tracestate")
				}
				want[id] = v
			}
			got := viewOfJaeger(tr)
			exportertest.AssertSameSpans(t, b.name, want, got, true)
			for _, s := range tr.Spans {
				ref := refSpans[s.SpanID]
				if s.StartMicros != ref.StartMicros || s.DurationMicros != ref.DurationMicros || s.IsError() != ref.IsError() {
					t.Errorf("span %s: start %d duration %d error %v; OTLP/HTTP: %d %d %v",
						s.SpanID, s.StartMicros, s.DurationMicros, s.IsError(), ref.StartMicros, ref.DurationMicros, ref.IsError())
				}
				if !strings.HasPrefix(s.ServiceName, "backends-") {
					t.Errorf("span %s: service %q", s.SpanID, s.ServiceName)
				}
			}
		})
	}

	// Local backends, read back from what they wrote.
	t.Run("http_json", func(t *testing.T) {
		got, _ := exportertest.ViewOfPlainJSON(t, rec.WaitRequests(1, time.Second)[0].Body)
		exportertest.AssertSameSpans(t, "http_json", exportertest.ViewOfBatch(batches["http_json"]), got, false)
	})
	t.Run("file", func(t *testing.T) {
		data, err := os.ReadFile(filepath.Join(dir, "spans.ndjson"))
		if err != nil {
			t.Fatal(err)
		}
		exportertest.AssertSameSpans(t, "file", exportertest.ViewOfBatch(batches["file"]), exportertest.ViewOfOTLPJSONLine(t, []byte(strings.TrimSpace(string(data)))), false)
	})
	t.Run("stdout", func(t *testing.T) {
		exportertest.AssertSameSpans(t, "stdout", exportertest.ViewOfBatch(batches["stdout otlp_json"]), exportertest.ViewOfOTLPJSONLine(t, []byte(strings.TrimSpace(stdoutBuf.String()))), false)
	})
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

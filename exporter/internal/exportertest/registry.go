package exportertest

import (
	"context"
	"testing"
	"time"

	"github.com/trace-exporter/trace-exporter/exporter"
	"github.com/trace-exporter/trace-exporter/schema"
)

// Config is a valid OTLP/HTTP config for endpoint with fast test timings.
func Config(endpoint string) *schema.Config {
	c := schema.Defaults()
	c.TracesEndpoint = endpoint
	c.Queue.MaxCoalescingDelay = 0.05
	c.Queue.InitialRetryDelay = 0.01
	c.Queue.MaxRetryDelay = 0.1
	c.Queue.MaxRetryTime = 5
	return &c
}

// NewRegistry returns a registry shut down (with a deadline) when the
// test ends.
func NewRegistry(t *testing.T, opts exporter.RegistryOptions) *exporter.Registry {
	t.Helper()
	r := exporter.NewRegistry(opts)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = r.ShutdownAll(ctx)
	})
	return r
}

// Spans returns n small spans of one trace.
func Spans(n int) []exporter.Span {
	spans := make([]exporter.Span, n)
	for i := range spans {
		spans[i] = exporter.Span{
			TraceID: exporter.TraceID{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, byte(i + 1)},
			SpanID:  exporter.SpanID{1, 2, 3, 4, 5, 6, 7, byte(i + 1)},
			Name:    "GET /test", Kind: exporter.KindServer,
			StartUnixNano: 1_700_000_000_000_000_000, EndUnixNano: 1_700_000_000_001_000_000,
			Attributes: []exporter.Attribute{exporter.String("http.request.method", "GET"), exporter.Int("http.response.status_code", 200)},
		}
	}
	return spans
}

// WaitFor polls cond until it holds, failing after timeout.
func WaitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// CheckAccounting asserts that every accepted span is exported, dropped
// after acceptance, or still held.
func CheckAccounting(t *testing.T, s exporter.Stats) {
	t.Helper()
	after := s.Dropped[exporter.DropRetryExhausted] + s.Dropped[exporter.DropPermanent] + s.Dropped[exporter.DropRejected] + s.Dropped[exporter.DropCircuitOpen]
	// Shutdown drops happen both before acceptance (Enqueue refused) and
	// after; tests that mix them check by hand.
	if s.Enqueued != s.Exported+after+s.Dropped[exporter.DropShutdown]+uint64(s.QueueSpans) {
		t.Fatalf("accounting broken: %+v", s)
	}
}

// NewExporter builds the exporter cfg selects (its backend must be
// registered), shut down when the test ends.
func NewExporter(t *testing.T, cfg *schema.Config) exporter.Exporter {
	t.Helper()
	exp, err := exporter.New(cfg, exporter.Settings{Logger: DiscardLogger()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = exp.Shutdown(context.Background()) })
	return exp
}

// ExportOnce calls exp.Export on b with a 10 s bound.
func ExportOnce(t *testing.T, exp exporter.Exporter, b *exporter.Batch) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return exp.Export(ctx, *b)
}

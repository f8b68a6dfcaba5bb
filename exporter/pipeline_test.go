package exporter_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/trace-exporter/trace-exporter/exporter"
	"github.com/trace-exporter/trace-exporter/exporter/internal/exportertest"
	"github.com/trace-exporter/trace-exporter/exporter/internal/otlpenc"
	"github.com/trace-exporter/trace-exporter/schema"
)

// hangingReceiver accepts connections and never answers until the test ends.
func hangingReceiver(t *testing.T) *exportertest.Recorder {
	release := make(chan struct{})
	rc := exportertest.NewRecorder(t, nil, func(n int, w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	// exporter.Registered after the server's own Close: runs first, so Close does
	// not wait for hung handlers.
	t.Cleanup(func() { close(release) })
	return rc
}

func TestFullQueueDropsNewestCountedAndEnqueueNeverBlocks(t *testing.T) {
	rc := hangingReceiver(t)
	cfg := exportertest.Config(rc.TracesURL())
	cfg.Queue.MaxEntries = 100
	cfg.Queue.MaxBatchSize = 10
	cfg.ReadTimeout = 60000 // the batch in flight stays stuck
	reg := exportertest.NewRegistry(t, exporter.RegistryOptions{})
	h, _ := reg.Acquire(cfg)

	const offers = 2000
	accepted := 0
	var slowest time.Duration
	start := time.Now()
	for range offers {
		t0 := time.Now()
		if h.Enqueue(exportertest.Spans(2)) {
			accepted++
		}
		slowest = max(slowest, time.Since(t0))
	}
	total := time.Since(start)
	// 2000 offers to a queue whose backend hangs: each returns at once.
	// Bounds are loose (shared 2-core machine); BenchmarkEnqueue measures.
	if total > time.Second || slowest > 250*time.Millisecond {
		t.Fatalf("enqueue blocked: %d offers took %s, slowest %s", offers, total, slowest)
	}
	s := h.Stats()
	if accepted != 50 || s.Enqueued != 100 {
		t.Fatalf("accepted %d requests (%d spans), want 50 (100 spans: max_entries)", accepted, s.Enqueued)
	}
	if got, want := s.DroppedBy(exporter.DropQueueFullEntries), uint64(2*(offers-accepted)); got != want {
		t.Fatalf("queue_full_entries = %d, want %d", got, want)
	}
	if s.QueueSpans != 100 {
		t.Fatalf("held %d spans, want 100 (in-flight spans count against max_entries)", s.QueueSpans)
	}
}

func TestMaxBytesBoundsTheQueue(t *testing.T) {
	rc := hangingReceiver(t)
	cfg := exportertest.Config(rc.TracesURL())
	one := exporter.EstimateSpanBytes(&exportertest.Spans(1)[0])
	cfg.Queue.MaxBytes = 10*one + one/2 // room for 10 spans
	cfg.ReadTimeout = 60000
	reg := exportertest.NewRegistry(t, exporter.RegistryOptions{})
	h, _ := reg.Acquire(cfg)
	for range 30 {
		h.Enqueue(exportertest.Spans(1))
	}
	s := h.Stats()
	if s.Enqueued != 10 || s.DroppedBy(exporter.DropQueueFullBytes) != 20 {
		t.Fatalf("stats %+v: want 10 accepted, 20 dropped for bytes", s)
	}
	if s.QueueBytes > int64(cfg.Queue.MaxBytes) {
		t.Fatalf("queue holds %d bytes over max_bytes %d", s.QueueBytes, cfg.Queue.MaxBytes)
	}
}

func TestShutdownAllFlushesEverything(t *testing.T) {
	rc := exportertest.NewRecorder(t, nil, nil)
	cfg := exportertest.Config(rc.TracesURL())
	cfg.Queue.MaxBatchSize = 20
	cfg.Queue.MaxCoalescingDelay = 60 // only the shutdown can send the tail
	other := exportertest.Config(rc.TracesURL())
	other.Headers = map[string]string{"X-Second": "pipeline"}
	other.Queue.MaxCoalescingDelay = 60
	reg := exporter.NewRegistry(exporter.RegistryOptions{})
	h1, _ := reg.Acquire(cfg)
	h2, _ := reg.Acquire(other)
	for range 45 {
		h1.Enqueue(exportertest.Spans(1))
	}
	h2.Enqueue(exportertest.Spans(3))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := reg.ShutdownAll(ctx); err != nil {
		t.Fatalf("ShutdownAll: %v", err)
	}
	if got := rc.TotalSpans(); got != 48 {
		t.Fatalf("receiver got %d spans, want 48", got)
	}
	if s := h1.Stats(); s.Exported != 45 || s.QueueSpans != 0 || s.DroppedTotal() != 0 {
		t.Fatalf("stats %+v", s)
	}
	// After shutdown: refused, counted, never blocking.
	if h1.Enqueue(exportertest.Spans(2)) {
		t.Fatal("enqueue accepted after shutdown")
	}
	if s := h1.Stats(); s.DroppedBy(exporter.DropShutdown) != 2 {
		t.Fatalf("stats %+v: want 2 shutdown drops", s)
	}
	if _, err := reg.Acquire(exportertest.Config("http://127.0.0.1:1/v1/traces")); err == nil {
		t.Fatal("Acquire after exporter.ShutdownAll must fail")
	}
}

func TestShutdownDeadlineCountsWhatIsLeft(t *testing.T) {
	rc := hangingReceiver(t)
	cfg := exportertest.Config(rc.TracesURL())
	cfg.ReadTimeout = 60000
	cfg.Queue.MaxBatchSize = 5
	reg := exporter.NewRegistry(exporter.RegistryOptions{})
	h, _ := reg.Acquire(cfg)
	h.Enqueue(exportertest.Spans(5)) // goes in flight and hangs
	rc.WaitRequests(1, 5*time.Second)
	h.Enqueue(exportertest.Spans(4)) // waits behind it
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := reg.ShutdownAll(ctx)
	if took := time.Since(start); took > 2*time.Second {
		t.Fatalf("ShutdownAll took %s past a 300ms deadline", took)
	}
	if err == nil {
		t.Fatal("ShutdownAll must report the spans it could not send")
	}
	s := h.Stats()
	if s.DroppedBy(exporter.DropShutdown) != 9 || s.QueueSpans != 0 {
		t.Fatalf("stats %+v: want 9 spans lost to shutdown, none held", s)
	}
	exportertest.CheckAccounting(t, s)
}

func TestRegistrySharesPipelinesByBackend(t *testing.T) {
	rc := exportertest.NewRecorder(t, nil, nil)
	reg := exportertest.NewRegistry(t, exporter.RegistryOptions{})
	a := exportertest.Config(rc.TracesURL())
	b := exportertest.Config(rc.TracesURL())
	b.SamplingRate = 0.5 // not about the backend
	b.SpanName = schema.SpanNameMethod
	b.Headers = map[string]string{} // empty equals absent
	c := exportertest.Config(rc.TracesURL())
	c.Headers = map[string]string{"Authorization": "Bearer other"}
	d := exportertest.Config(rc.TracesURL())
	d.Protocol = schema.ProtocolHTTPJSON
	e := exportertest.Config(rc.TracesURL())
	e.Queue.MaxBatchSize = 7

	ha, _ := reg.Acquire(a)
	hb, _ := reg.Acquire(b)
	hc, _ := reg.Acquire(c)
	hd, _ := reg.Acquire(d)
	he, _ := reg.Acquire(e)
	if exporter.PipelineOf(ha) != exporter.PipelineOf(hb) {
		t.Fatal("same backend must share one pipeline")
	}
	for name, h := range map[string]*exporter.Handle{"headers": hc, "protocol": hd, "queue": he} {
		if exporter.PipelineOf(h) == exporter.PipelineOf(ha) {
			t.Errorf("different %s must get its own pipeline", name)
		}
	}
	if n := len(reg.Stats()); n != 4 {
		t.Fatalf("%d pipelines, want 4", n)
	}
	ids := map[string]bool{}
	for _, ps := range reg.Stats() {
		if strings.Contains(ps.Name, "Bearer") {
			t.Fatalf("pipeline name leaks a header: %q", ps.Name)
		}
		ids[ps.ID] = true
	}
	if len(ids) != 4 {
		t.Fatalf("pipeline ids %v are not distinct", ids)
	}
	// Both instances' spans go through the one pipeline.
	ha.Enqueue(exportertest.Spans(1))
	hb.Enqueue(exportertest.Spans(1))
	exportertest.WaitFor(t, 5*time.Second, "both exported", func() bool { return ha.Stats().Exported == 2 })
}

func TestIdlePipelineIsReapedAndHandleReacquires(t *testing.T) {
	rc := exportertest.NewRecorder(t, nil, nil)
	reg := exportertest.NewRegistry(t, exporter.RegistryOptions{IdleTimeout: 100 * time.Millisecond})
	h, _ := reg.Acquire(exportertest.Config(rc.TracesURL()))
	first := exporter.PipelineOf(h)
	h.Enqueue(exportertest.Spans(1))
	rc.WaitRequests(1, 5*time.Second)
	exportertest.WaitFor(t, 5*time.Second, "idle pipeline reaped", func() bool { return len(reg.Stats()) == 0 })
	// The handle of a still-configured instance keeps working.
	if !h.Enqueue(exportertest.Spans(2)) {
		t.Fatal("enqueue through a reaped pipeline's handle refused")
	}
	if exporter.PipelineOf(h) == first {
		t.Fatal("handle should point to a new pipeline")
	}
	rc.WaitRequests(2, 5*time.Second)
	if got := rc.TotalSpans(); got != 3 {
		t.Fatalf("receiver got %d spans, want 3", got)
	}
	if n := len(reg.Stats()); n != 1 {
		t.Fatalf("%d pipelines after re-acquire, want 1", n)
	}
}

func TestBusyPipelineIsNotReaped(t *testing.T) {
	rc := hangingReceiver(t)
	cfg := exportertest.Config(rc.TracesURL())
	cfg.ReadTimeout = 60000
	reg := exportertest.NewRegistry(t, exporter.RegistryOptions{IdleTimeout: 50 * time.Millisecond})
	h, _ := reg.Acquire(cfg)
	h.Enqueue(exportertest.Spans(1)) // stuck in flight: the pipeline holds a span
	time.Sleep(400 * time.Millisecond)
	if len(reg.Stats()) != 1 || h.Stats().QueueSpans != 1 {
		t.Fatal("a pipeline holding spans must not be reaped")
	}
}

func TestConcurrencyLimitAllowsParallelBatches(t *testing.T) {
	var gate atomic.Bool
	release := make(chan struct{})
	rc := exportertest.NewRecorder(t, nil, func(n int, w http.ResponseWriter, r *http.Request) {
		if !gate.Load() {
			select {
			case <-release:
			case <-time.After(5 * time.Second):
			}
		}
	})
	cfg := exportertest.Config(rc.TracesURL())
	cfg.Queue.MaxBatchSize = 1
	cfg.Queue.ConcurrencyLimit = 3
	reg := exportertest.NewRegistry(t, exporter.RegistryOptions{})
	h, _ := reg.Acquire(cfg)
	for range 5 {
		h.Enqueue(exportertest.Spans(1))
	}
	rc.WaitRequests(3, 5*time.Second)
	time.Sleep(100 * time.Millisecond)
	if n := len(rc.Received()); n != 3 || rc.MaxInFlight() != 3 {
		t.Fatalf("%d requests, %d at once: want 3 in flight, no more", n, rc.MaxInFlight())
	}
	gate.Store(true)
	close(release)
	exportertest.WaitFor(t, 5*time.Second, "all exported", func() bool { return h.Stats().Exported == 5 })
}

// panicky is a user-written exporter gone wrong.
type panicky struct{ calls atomic.Int32 }

func (p *panicky) Export(context.Context, exporter.Batch) error {
	if p.calls.Add(1) == 1 {
		panic("exporter bug")
	}
	return nil
}
func (p *panicky) Shutdown(context.Context) error { return nil }

var testPanicky = &panicky{}

func init() {
	exporter.Register("test-panicky", func(*schema.Config, exporter.Settings) (exporter.Exporter, error) { return testPanicky, nil })
	exporter.Register("test-broken", func(*schema.Config, exporter.Settings) (exporter.Exporter, error) {
		return nil, &schema.FieldError{Field: "tls_ca_file", Reason: "no such file"}
	})
}

func TestExporterPanicLosesTheBatchNotThePipeline(t *testing.T) {
	cfg := exportertest.Config("http://127.0.0.1:1/unused")
	cfg.Exporter = "test-panicky"
	cfg.Queue.MaxBatchSize = 2
	reg := exportertest.NewRegistry(t, exporter.RegistryOptions{})
	h, err := reg.Acquire(cfg)
	if err != nil {
		t.Fatal(err)
	}
	h.Enqueue(exportertest.Spans(2))
	exportertest.WaitFor(t, 5*time.Second, "panic counted", func() bool { return h.Stats().DroppedBy(exporter.DropPermanent) == 2 })
	h.Enqueue(exportertest.Spans(2))
	exportertest.WaitFor(t, 5*time.Second, "next batch exported", func() bool { return h.Stats().Exported == 2 })
}

func TestAcquireReportsExporterErrors(t *testing.T) {
	reg := exportertest.NewRegistry(t, exporter.RegistryOptions{})
	cfg := exportertest.Config("http://127.0.0.1:1/v1/traces")
	cfg.Exporter = "test-broken"
	_, err := reg.Acquire(cfg)
	var fe *schema.FieldError
	if !errors.As(err, &fe) || fe.Field != "tls_ca_file" {
		t.Fatalf("err = %v, want the factory's field error", err)
	}
	cfg.Exporter = "no-such-backend"
	if _, err := reg.Acquire(cfg); !errors.As(err, &fe) || fe.Field != "exporter" {
		t.Fatalf("err = %v, want a field error naming exporter", err)
	}
	cfg = exportertest.Config("http://127.0.0.1:1/v1/traces")
	cfg.Protocol = "http/thrift" // no such transport
	if _, err := reg.Acquire(cfg); !errors.As(err, &fe) || fe.Field != "protocol" {
		t.Fatalf("err = %v, want a field error naming protocol", err)
	}
	cfg = exportertest.Config("https://127.0.0.1:1/v1/traces")
	cfg.TLSCAFile = "/nonexistent/ca.pem"
	if _, err := reg.Acquire(cfg); !errors.As(err, &fe) || fe.Field != "tls_ca_file" {
		t.Fatalf("err = %v, want a field error naming tls_ca_file", err)
	}
	if len(reg.Stats()) != 0 {
		t.Fatal("failed acquisitions must not leave pipelines")
	}
}

// The estimate a queued span is charged is at least its protobuf size, so
// batches cut by estimated bytes stay under the OTLP request limit.
func TestEstimateCoversProtobufSize(t *testing.T) {
	empty := len(otlpenc.AppendTraces(nil, &exporter.Batch{}))
	for _, s := range append(exportertest.KongLikeBatch(4).Spans, exportertest.RichBatch().Spans...) {
		encoded := len(otlpenc.AppendTraces(nil, &exporter.Batch{Spans: []exporter.Span{s}})) - empty
		if est := exporter.EstimateSpanBytes(&s); est < encoded {
			t.Errorf("span %q: estimate %d below its encoded size %d", s.Name, est, encoded)
		}
	}
}

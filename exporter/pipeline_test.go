package exporter

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/trace-exporter/trace-exporter/schema"
)

// hangingReceiver accepts connections and never answers until the test ends.
func hangingReceiver(t *testing.T) *otlpReceiver {
	release := make(chan struct{})
	rc := newOTLPReceiver(t, func(n int, w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	// Registered after the server's own Close: runs first, so Close does
	// not wait for hung handlers.
	t.Cleanup(func() { close(release) })
	return rc
}

func TestFullQueueDropsNewestCountedAndEnqueueNeverBlocks(t *testing.T) {
	rc := hangingReceiver(t)
	cfg := testConfig(rc.url())
	cfg.Queue.MaxEntries = 100
	cfg.Queue.MaxBatchSize = 10
	cfg.ReadTimeout = 60000 // the batch in flight stays stuck
	reg := newTestRegistry(t, RegistryOptions{})
	h, _ := reg.Acquire(cfg)

	const offers = 2000
	accepted := 0
	var slowest time.Duration
	start := time.Now()
	for range offers {
		t0 := time.Now()
		if h.Enqueue(testSpans(2)) {
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
	if got, want := s.DroppedBy(DropQueueFullEntries), uint64(2*(offers-accepted)); got != want {
		t.Fatalf("queue_full_entries = %d, want %d", got, want)
	}
	if s.QueueSpans != 100 {
		t.Fatalf("held %d spans, want 100 (in-flight spans count against max_entries)", s.QueueSpans)
	}
}

func TestMaxBytesBoundsTheQueue(t *testing.T) {
	rc := hangingReceiver(t)
	cfg := testConfig(rc.url())
	one := estimateSpanBytes(&testSpans(1)[0])
	cfg.Queue.MaxBytes = 10*one + one/2 // room for 10 spans
	cfg.ReadTimeout = 60000
	reg := newTestRegistry(t, RegistryOptions{})
	h, _ := reg.Acquire(cfg)
	for range 30 {
		h.Enqueue(testSpans(1))
	}
	s := h.Stats()
	if s.Enqueued != 10 || s.DroppedBy(DropQueueFullBytes) != 20 {
		t.Fatalf("stats %+v: want 10 accepted, 20 dropped for bytes", s)
	}
	if s.QueueBytes > int64(cfg.Queue.MaxBytes) {
		t.Fatalf("queue holds %d bytes over max_bytes %d", s.QueueBytes, cfg.Queue.MaxBytes)
	}
}

func TestRequestSpansAreAdmittedTogether(t *testing.T) {
	q := newQueue(5, 1<<30, 100)
	if q.push(testSpans(3)) != pushAccepted {
		t.Fatal("3 of 5")
	}
	if r := q.push(testSpans(3)); r != pushFullEntries {
		t.Fatalf("3 more into 2 free slots: %v, want refused whole", r)
	}
	if q.push(testSpans(2)) != pushAccepted {
		t.Fatal("2 into 2 free slots")
	}
	spans, bytes := q.take(nil, 4, 1<<30)
	if len(spans) != 4 || bytes != 4*int64(estimateSpanBytes(&spans[0])) {
		t.Fatalf("took %d spans (%d bytes)", len(spans), bytes)
	}
	if n, _ := q.held(); n != 5 {
		t.Fatalf("taken spans must stay held until done: %d", n)
	}
	q.done(4, bytes)
	if n, _, _ := q.waiting(); n != 1 {
		t.Fatalf("%d waiting, want 1", n)
	}
}

func TestBatchesAreCutByBytes(t *testing.T) {
	q := newQueue(1000, 1<<40, 1000)
	big := testSpans(3)
	for i := range big {
		big[i].Name = string(make([]byte, 3<<20)) // 3 MiB names
	}
	q.push(big)
	first, _ := q.take(nil, 1000, maxBatchBytes)
	second, _ := q.take(nil, 1000, maxBatchBytes)
	if len(first) != 2 || len(second) != 1 {
		t.Fatalf("batches of %d and %d spans, want 2 and 1 under %d bytes", len(first), len(second), maxBatchBytes)
	}
	huge := testSpans(1)
	huge[0].Name = string(make([]byte, 2*maxBatchBytes))
	q.push(huge)
	if got, _ := q.take(nil, 1000, maxBatchBytes); len(got) != 1 {
		t.Fatal("a span larger than a batch must still go alone")
	}
}

func TestEstimateCoversProtobufSize(t *testing.T) {
	enc := &protoEncoder{sizing: true}
	for _, s := range append(kongLikeBatch(4).Spans, richBatch().Spans...) {
		if est, encoded := estimateSpanBytes(&s), enc.sizeSpan(&s)+3; est < encoded {
			t.Errorf("span %q: estimate %d below its encoded size %d", s.Name, est, encoded)
		}
	}
}

func TestShutdownAllFlushesEverything(t *testing.T) {
	rc := newOTLPReceiver(t, nil)
	cfg := testConfig(rc.url())
	cfg.Queue.MaxBatchSize = 20
	cfg.Queue.MaxCoalescingDelay = 60 // only the shutdown can send the tail
	other := testConfig(rc.url())
	other.Headers = map[string]string{"X-Second": "pipeline"}
	other.Queue.MaxCoalescingDelay = 60
	reg := NewRegistry(RegistryOptions{})
	h1, _ := reg.Acquire(cfg)
	h2, _ := reg.Acquire(other)
	for range 45 {
		h1.Enqueue(testSpans(1))
	}
	h2.Enqueue(testSpans(3))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := reg.ShutdownAll(ctx); err != nil {
		t.Fatalf("ShutdownAll: %v", err)
	}
	if got := rc.totalSpans(); got != 48 {
		t.Fatalf("receiver got %d spans, want 48", got)
	}
	if s := h1.Stats(); s.Exported != 45 || s.QueueSpans != 0 || s.DroppedTotal() != 0 {
		t.Fatalf("stats %+v", s)
	}
	// After shutdown: refused, counted, never blocking.
	if h1.Enqueue(testSpans(2)) {
		t.Fatal("enqueue accepted after shutdown")
	}
	if s := h1.Stats(); s.DroppedBy(DropShutdown) != 2 {
		t.Fatalf("stats %+v: want 2 shutdown drops", s)
	}
	if _, err := reg.Acquire(testConfig("http://127.0.0.1:1/v1/traces")); err == nil {
		t.Fatal("Acquire after ShutdownAll must fail")
	}
}

func TestShutdownDeadlineCountsWhatIsLeft(t *testing.T) {
	rc := hangingReceiver(t)
	cfg := testConfig(rc.url())
	cfg.ReadTimeout = 60000
	cfg.Queue.MaxBatchSize = 5
	reg := NewRegistry(RegistryOptions{})
	h, _ := reg.Acquire(cfg)
	h.Enqueue(testSpans(5)) // goes in flight and hangs
	rc.waitRequests(1, 5*time.Second)
	h.Enqueue(testSpans(4)) // waits behind it
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
	if s.DroppedBy(DropShutdown) != 9 || s.QueueSpans != 0 {
		t.Fatalf("stats %+v: want 9 spans lost to shutdown, none held", s)
	}
	checkAccounting(t, s)
}

func TestRegistrySharesPipelinesByBackend(t *testing.T) {
	rc := newOTLPReceiver(t, nil)
	reg := newTestRegistry(t, RegistryOptions{})
	a := testConfig(rc.url())
	b := testConfig(rc.url())
	b.SamplingRate = 0.5 // not about the backend
	b.SpanName = schema.SpanNameMethod
	b.Headers = map[string]string{} // empty equals absent
	c := testConfig(rc.url())
	c.Headers = map[string]string{"Authorization": "Bearer other"}
	d := testConfig(rc.url())
	d.Protocol = schema.ProtocolHTTPJSON
	e := testConfig(rc.url())
	e.Queue.MaxBatchSize = 7

	ha, _ := reg.Acquire(a)
	hb, _ := reg.Acquire(b)
	hc, _ := reg.Acquire(c)
	hd, _ := reg.Acquire(d)
	he, _ := reg.Acquire(e)
	if ha.pipe.Load() != hb.pipe.Load() {
		t.Fatal("same backend must share one pipeline")
	}
	for name, h := range map[string]*Handle{"headers": hc, "protocol": hd, "queue": he} {
		if h.pipe.Load() == ha.pipe.Load() {
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
	ha.Enqueue(testSpans(1))
	hb.Enqueue(testSpans(1))
	waitFor(t, 5*time.Second, "both exported", func() bool { return ha.Stats().Exported == 2 })
}

func TestIdlePipelineIsReapedAndHandleReacquires(t *testing.T) {
	rc := newOTLPReceiver(t, nil)
	reg := newTestRegistry(t, RegistryOptions{IdleTimeout: 100 * time.Millisecond})
	h, _ := reg.Acquire(testConfig(rc.url()))
	first := h.pipe.Load()
	h.Enqueue(testSpans(1))
	rc.waitRequests(1, 5*time.Second)
	waitFor(t, 5*time.Second, "idle pipeline reaped", func() bool { return len(reg.Stats()) == 0 })
	// The handle of a still-configured instance keeps working.
	if !h.Enqueue(testSpans(2)) {
		t.Fatal("enqueue through a reaped pipeline's handle refused")
	}
	if h.pipe.Load() == first {
		t.Fatal("handle should point to a new pipeline")
	}
	rc.waitRequests(2, 5*time.Second)
	if got := rc.totalSpans(); got != 3 {
		t.Fatalf("receiver got %d spans, want 3", got)
	}
	if n := len(reg.Stats()); n != 1 {
		t.Fatalf("%d pipelines after re-acquire, want 1", n)
	}
}

func TestBusyPipelineIsNotReaped(t *testing.T) {
	rc := hangingReceiver(t)
	cfg := testConfig(rc.url())
	cfg.ReadTimeout = 60000
	reg := newTestRegistry(t, RegistryOptions{IdleTimeout: 50 * time.Millisecond})
	h, _ := reg.Acquire(cfg)
	h.Enqueue(testSpans(1)) // stuck in flight: the pipeline holds a span
	time.Sleep(400 * time.Millisecond)
	if len(reg.Stats()) != 1 || h.Stats().QueueSpans != 1 {
		t.Fatal("a pipeline holding spans must not be reaped")
	}
}

func TestConcurrencyLimitAllowsParallelBatches(t *testing.T) {
	var gate atomic.Bool
	release := make(chan struct{})
	rc := newOTLPReceiver(t, func(n int, w http.ResponseWriter, r *http.Request) {
		if !gate.Load() {
			select {
			case <-release:
			case <-time.After(5 * time.Second):
			}
		}
	})
	cfg := testConfig(rc.url())
	cfg.Queue.MaxBatchSize = 1
	cfg.Queue.ConcurrencyLimit = 3
	reg := newTestRegistry(t, RegistryOptions{})
	h, _ := reg.Acquire(cfg)
	for range 5 {
		h.Enqueue(testSpans(1))
	}
	rc.waitRequests(3, 5*time.Second)
	time.Sleep(100 * time.Millisecond)
	if n := len(rc.snapshot()); n != 3 || rc.maxInFlight.Load() != 3 {
		t.Fatalf("%d requests, %d at once: want 3 in flight, no more", n, rc.maxInFlight.Load())
	}
	gate.Store(true)
	close(release)
	waitFor(t, 5*time.Second, "all exported", func() bool { return h.Stats().Exported == 5 })
}

// panicky is a user-written exporter gone wrong.
type panicky struct{ calls atomic.Int32 }

func (p *panicky) Export(context.Context, Batch) error {
	if p.calls.Add(1) == 1 {
		panic("exporter bug")
	}
	return nil
}
func (p *panicky) Shutdown(context.Context) error { return nil }

var testPanicky = &panicky{}

func init() {
	Register("test-panicky", func(*schema.Config, Settings) (Exporter, error) { return testPanicky, nil })
	Register("test-broken", func(*schema.Config, Settings) (Exporter, error) {
		return nil, &schema.FieldError{Field: "tls_ca_file", Reason: "no such file"}
	})
}

func TestExporterPanicLosesTheBatchNotThePipeline(t *testing.T) {
	cfg := testConfig("http://127.0.0.1:1/unused")
	cfg.Exporter = "test-panicky"
	cfg.Queue.MaxBatchSize = 2
	reg := newTestRegistry(t, RegistryOptions{})
	h, err := reg.Acquire(cfg)
	if err != nil {
		t.Fatal(err)
	}
	h.Enqueue(testSpans(2))
	waitFor(t, 5*time.Second, "panic counted", func() bool { return h.Stats().DroppedBy(DropPermanent) == 2 })
	h.Enqueue(testSpans(2))
	waitFor(t, 5*time.Second, "next batch exported", func() bool { return h.Stats().Exported == 2 })
}

func TestAcquireReportsExporterErrors(t *testing.T) {
	reg := newTestRegistry(t, RegistryOptions{})
	cfg := testConfig("http://127.0.0.1:1/v1/traces")
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
	cfg = testConfig("http://127.0.0.1:1/v1/traces")
	cfg.Protocol = "http/thrift" // no such transport
	if _, err := reg.Acquire(cfg); !errors.As(err, &fe) || fe.Field != "protocol" {
		t.Fatalf("err = %v, want a field error naming protocol", err)
	}
	cfg = testConfig("https://127.0.0.1:1/v1/traces")
	cfg.TLSCAFile = "/nonexistent/ca.pem"
	if _, err := reg.Acquire(cfg); !errors.As(err, &fe) || fe.Field != "tls_ca_file" {
		t.Fatalf("err = %v, want a field error naming tls_ca_file", err)
	}
	if len(reg.Stats()) != 0 {
		t.Fatal("failed acquisitions must not leave pipelines")
	}
}

func TestRetryBackoffGrowsWithJitterAndCaps(t *testing.T) {
	p := retryPolicy{initial: 10 * time.Millisecond, max: 200 * time.Millisecond, budget: time.Minute}
	for n, base := range map[int]time.Duration{1: 10, 2: 20, 3: 40, 4: 80, 5: 160, 6: 200, 30: 200} {
		base *= time.Millisecond
		lo, hi := base/2, min(base*3/2, p.max)
		seen := map[time.Duration]bool{}
		for range 200 {
			d := p.backoff(n)
			if d < lo || d > hi {
				t.Fatalf("retry %d: %s outside [%s, %s]", n, d, lo, hi)
			}
			seen[d] = true
		}
		if n < 6 && len(seen) < 10 {
			t.Fatalf("retry %d: no jitter (%d distinct delays)", n, len(seen))
		}
	}
}

func TestRetryRunStopsOnPermanentBudgetAndContext(t *testing.T) {
	p := retryPolicy{initial: time.Millisecond, max: 5 * time.Millisecond, budget: 100 * time.Millisecond}
	noop := func(error, time.Duration) {}
	calls := 0
	err := p.run(context.Background(), func(context.Context) error { calls++; return Permanent(errors.New("bad")) }, noop)
	if !IsPermanent(err) || calls != 1 {
		t.Fatalf("permanent: %v after %d calls", err, calls)
	}
	calls = 0
	start := time.Now()
	err = p.run(context.Background(), func(context.Context) error { calls++; return errors.New("down") }, noop)
	if !errors.Is(err, errRetryBudgetExhausted) || calls < 5 || time.Since(start) > time.Second {
		t.Fatalf("budget: %v after %d calls in %s", err, calls, time.Since(start))
	}
	// A server delay beyond the budget gives up at once instead of waiting.
	calls = 0
	err = p.run(context.Background(), func(context.Context) error { calls++; return Retryable(errors.New("busy"), time.Hour) }, noop)
	if !errors.Is(err, errRetryBudgetExhausted) || calls != 1 {
		t.Fatalf("long Retry-After: %v after %d calls", err, calls)
	}
	ctx, cancel := context.WithCancel(context.Background())
	go func() { time.Sleep(20 * time.Millisecond); cancel() }()
	p.budget = 10 * time.Hour
	p.max = time.Hour
	p.initial = time.Hour
	err = p.run(ctx, func(context.Context) error { return errors.New("down") }, noop)
	if !errors.Is(err, errStopped) {
		t.Fatalf("cancelled: %v", err)
	}
}

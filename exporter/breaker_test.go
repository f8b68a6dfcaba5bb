package exporter_test

import (
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/trace-exporter/trace-exporter/exporter"
	"github.com/trace-exporter/trace-exporter/exporter/internal/exportertest"
)

// After failure_threshold batches failed in a row, the circuit breaker
// sheds batches without calling the backend (counted circuit_open); after
// the cooldown one batch probes, and a success closes the breaker.
func TestCircuitBreakerShedsThenProbes(t *testing.T) {
	var down atomic.Bool
	down.Store(true)
	rc := exportertest.NewRecorder(t, nil, func(n int, w http.ResponseWriter, r *http.Request) {
		if down.Load() {
			w.WriteHeader(http.StatusBadRequest) // refused for good: one attempt per batch
			return
		}
		w.WriteHeader(http.StatusOK)
	})
	cfg := exportertest.Config(rc.TracesURL())
	cfg.Queue.MaxBatchSize = 1
	cfg.Queue.MaxCoalescingDelay = 0
	cfg.Queue.FailureThreshold = 2
	cfg.Queue.BreakerCooldown = 0.5
	reg := exportertest.NewRegistry(t, exporter.RegistryOptions{})
	h, _ := reg.Acquire(cfg)
	h.Enqueue(exportertest.Spans(1))
	h.Enqueue(exportertest.Spans(1))
	exportertest.WaitFor(t, 5*time.Second, "two failed batches", func() bool { return h.Stats().DroppedBy(exporter.DropPermanent) == 2 })
	if !h.Stats().CircuitOpen {
		t.Fatal("breaker not open after 2 failed batches")
	}
	tried := len(rc.Received())
	for range 10 {
		h.Enqueue(exportertest.Spans(1))
	}
	exportertest.WaitFor(t, 5*time.Second, "batches shed", func() bool { return h.Stats().DroppedBy(exporter.DropCircuitOpen) == 10 })
	if n := len(rc.Received()); n != tried {
		t.Fatalf("the backend got %d requests while the breaker was open", n-tried)
	}
	down.Store(false)
	time.Sleep(600 * time.Millisecond) // past the cooldown
	h.Enqueue(exportertest.Spans(1))
	exportertest.WaitFor(t, 5*time.Second, "probe delivered", func() bool { return h.Stats().Exported == 1 })
	if h.Stats().CircuitOpen {
		t.Fatal("a successful probe must close the breaker")
	}
	for range 5 {
		h.Enqueue(exportertest.Spans(1))
	}
	exportertest.WaitFor(t, 5*time.Second, "delivered after closing", func() bool { return h.Stats().Exported == 6 })
	exportertest.CheckAccounting(t, h.Stats())
}

// With a spool, an open breaker sheds nothing: batches wait on disk and
// are sent once the backend answers again.
func TestCircuitBreakerWithSpoolLosesNothing(t *testing.T) {
	var down atomic.Bool
	down.Store(true)
	rc := exportertest.NewRecorder(t, nil, func(n int, w http.ResponseWriter, r *http.Request) {
		if down.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusOK)
	})
	cfg := spoolConfig(t, rc.TracesURL(), t.TempDir())
	cfg.Queue.MaxBatchSize = 5
	cfg.Queue.MaxCoalescingDelay = 0.01
	cfg.Queue.MaxRetryTime = 0.05 // a batch's retries end soon: it goes back to disk, a failed batch
	cfg.Queue.FailureThreshold = 1
	cfg.Queue.BreakerCooldown = 1
	reg := exportertest.NewRegistry(t, exporter.RegistryOptions{})
	h, _ := reg.Acquire(cfg)
	waitSpoolOpen(t, h)
	for _, spans := range numberedSpans(0, 40) {
		h.Enqueue(spans)
	}
	exportertest.WaitFor(t, 5*time.Second, "breaker open", func() bool { return h.Stats().CircuitOpen })
	exportertest.WaitFor(t, 5*time.Second, "all on disk", func() bool { return h.Stats().SpoolSpans == 40 })
	// While open, the backend is left alone but for one probe batch (a few
	// attempts within 50 ms) per cooldown; without the breaker it would be
	// retried every 100 ms or less.
	before := len(rc.Received())
	time.Sleep(time.Second)
	if n := len(rc.Received()) - before; n > 6 {
		t.Fatalf("%d requests in 1 s with the breaker open (cooldown 1 s, retries within 50 ms)", n)
	}
	down.Store(false)
	exportertest.WaitFor(t, 10*time.Second, "all delivered", func() bool { return h.Stats().Exported == 40 })
	s := h.Stats()
	if s.DroppedTotal() != 0 || s.SpoolSpans != 0 {
		t.Fatalf("with a spool nothing is shed: %+v", s)
	}
}

package exporter

import (
	"net/http"
	"testing"
	"time"
)

// Kong's log events still reach the old plugin server while it flushes on
// SIGTERM (its pooled connections): spans offered during the flush are sent
// too; only after the flush are they refused, and counted.
func TestSpansOfferedWhileFlushingAreSent(t *testing.T) {
	rc := newOTLPReceiver(t, func(n int, w http.ResponseWriter, r *http.Request) {
		time.Sleep(200 * time.Millisecond)
		w.WriteHeader(http.StatusOK)
	})
	reg := NewRegistry(RegistryOptions{})
	h, _ := reg.Acquire(testConfig(rc.url()))
	h.Enqueue(testSpans(2))
	done := make(chan struct{})
	go func() {
		defer close(done)
		shutdownRegistry(t, reg, 3*time.Second)
	}()
	time.Sleep(50 * time.Millisecond)
	if !h.Enqueue(testSpans(3)) {
		t.Fatal("spans offered during the flush were refused")
	}
	<-done
	s := h.Stats()
	if s.Exported != 5 || s.DroppedTotal() != 0 {
		t.Fatalf("after the flush: %+v", s)
	}
	if h.Enqueue(testSpans(1)) || h.Stats().Dropped[DropShutdown] != 1 {
		t.Fatalf("after shutdown, spans must be refused and counted: %+v", h.Stats())
	}
}

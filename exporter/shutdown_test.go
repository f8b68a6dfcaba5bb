package exporter_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/trace-exporter/trace-exporter/exporter"
	"github.com/trace-exporter/trace-exporter/exporter/internal/exportertest"
)

// Kong's log events still reach the old plugin server while it flushes on
// SIGTERM (its pooled connections): spans offered during the flush are sent
// too; only after the flush are they refused, and counted.
func TestSpansOfferedWhileFlushingAreSent(t *testing.T) {
	rc := exportertest.NewRecorder(t, nil, func(n int, w http.ResponseWriter, r *http.Request) {
		time.Sleep(200 * time.Millisecond)
		w.WriteHeader(http.StatusOK)
	})
	reg := exporter.NewRegistry(exporter.RegistryOptions{})
	h, _ := reg.Acquire(exportertest.Config(rc.TracesURL()))
	h.Enqueue(exportertest.Spans(2))
	done := make(chan struct{})
	go func() {
		defer close(done)
		shutdownRegistry(t, reg, 3*time.Second)
	}()
	time.Sleep(50 * time.Millisecond)
	if !h.Enqueue(exportertest.Spans(3)) {
		t.Fatal("spans offered during the flush were refused")
	}
	<-done
	s := h.Stats()
	if s.Exported != 5 || s.DroppedTotal() != 0 {
		t.Fatalf("after the flush: %+v", s)
	}
	if h.Enqueue(exportertest.Spans(1)) || h.Stats().Dropped[exporter.DropShutdown] != 1 {
		t.Fatalf("after shutdown, spans must be refused and counted: %+v", h.Stats())
	}
}

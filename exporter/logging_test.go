package exporter_test

import (
	"context"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/trace-exporter/trace-exporter/exporter"
	"github.com/trace-exporter/trace-exporter/exporter/internal/exportertest"
)

// recordingHandler keeps the records logged through it.
type recordingHandler struct {
	mu      sync.Mutex
	records []slog.Record
}

func (h *recordingHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h *recordingHandler) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	h.records = append(h.records, r.Clone())
	h.mu.Unlock()
	return nil
}
func (h *recordingHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *recordingHandler) WithGroup(string) slog.Handler      { return h }

func (h *recordingHandler) count(msg string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := 0
	for _, r := range h.records {
		if r.Message == msg {
			n++
		}
	}
	return n
}

func (h *recordingHandler) attr(msg, key string) (slog.Value, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, r := range h.records {
		if r.Message != msg {
			continue
		}
		var v slog.Value
		found := false
		r.Attrs(func(a slog.Attr) bool {
			if a.Key == key {
				v, found = a.Value, true
			}
			return !found
		})
		if found {
			return v, true
		}
	}
	return slog.Value{}, false
}

// withRecordedLogs routes slog's default logger to a recorder for one test.
func withRecordedLogs(t *testing.T) *recordingHandler {
	h := &recordingHandler{}
	prev := slog.Default()
	slog.SetDefault(slog.New(h))
	t.Cleanup(func() { slog.SetDefault(prev) })
	return h
}

func TestFailuresAreLoggedOncePerIntervalWithCounts(t *testing.T) {
	logs := withRecordedLogs(t)
	rc := exportertest.NewRecorder(t, nil, func(n int, w http.ResponseWriter, r *http.Request) {
		http.Error(w, "schema mismatch", http.StatusBadRequest)
	})
	cfg := exportertest.Config(rc.TracesURL())
	cfg.Queue.MaxBatchSize = 1
	cfg.Queue.MaxCoalescingDelay = 0
	cfg.Headers = map[string]string{"Authorization": "Bearer top-secret"}
	reg := exporter.NewRegistry(exporter.RegistryOptions{LogInterval: time.Hour})
	h, _ := reg.Acquire(cfg)
	for range 20 {
		h.Enqueue(exportertest.Spans(1))
	}
	exportertest.WaitFor(t, 5*time.Second, "20 batches refused", func() bool { return h.Stats().DroppedBy(exporter.DropPermanent) == 20 })
	if n := logs.count("spans lost"); n != 1 {
		t.Fatalf("%d log lines for 20 failed batches within one interval, want 1", n)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_ = reg.ShutdownAll(ctx)
	// The rest is summed up when the pipeline stops.
	v, ok := logs.attr("spans lost (summary)", "occurrences_not_logged")
	if !ok || v.Int64() != 19 {
		t.Fatalf("summary reports %v (found %v), want 19", v, ok)
	}
	logs.mu.Lock()
	defer logs.mu.Unlock()
	for _, r := range logs.records {
		r.Attrs(func(a slog.Attr) bool {
			if strings.Contains(a.Value.String(), "top-secret") || strings.Contains(r.Message, "top-secret") {
				t.Errorf("a log line carries the backend credential: %s %v", r.Message, a)
			}
			return true
		})
	}
}

func TestTLSVerifyFalseWarnsAndCAFileVerifies(t *testing.T) {
	logs := withRecordedLogs(t)
	srv := exportertest.NewTLSServer(t)
	caFile := exportertest.WriteServerCA(t, srv)

	reg := exportertest.NewRegistry(t, exporter.RegistryOptions{})
	// Verification on, no CA: the self-signed test server is refused, for good.
	h, _ := reg.Acquire(exportertest.Config(srv.URL + "/v1/traces"))
	h.Enqueue(exportertest.Spans(1))
	exportertest.WaitFor(t, 5*time.Second, "unverified server refused", func() bool { return h.Stats().DroppedBy(exporter.DropPermanent) == 1 })

	withCA := exportertest.Config(srv.URL + "/v1/traces")
	withCA.TLSCAFile = caFile
	h, _ = reg.Acquire(withCA)
	h.Enqueue(exportertest.Spans(1))
	exportertest.WaitFor(t, 5*time.Second, "export with CA", func() bool { return h.Stats().Exported == 1 })

	insecure := exportertest.Config(srv.URL + "/v1/traces")
	insecure.TLSVerify = false
	h, _ = reg.Acquire(insecure)
	h.Enqueue(exportertest.Spans(1))
	exportertest.WaitFor(t, 5*time.Second, "export without verification", func() bool { return h.Stats().Exported == 1 })
	if n := logs.count("tls_verify is false: the backend's TLS certificate is not verified"); n != 1 {
		t.Fatalf("%d warnings for tls_verify=false, want 1", n)
	}
}

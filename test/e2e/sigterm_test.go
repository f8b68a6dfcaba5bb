package e2e

import (
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/trace-exporter/trace-exporter/test/harness"
	"github.com/trace-exporter/trace-exporter/test/otlpsink"
)

// Issue 2: SIGTERM (Kong's stop and every `kong reload`) flushes what the
// plugin process still holds. Spans sit in the queue behind a 30 s
// coalescing delay; the signal must send all of them within the shutdown
// deadline (5 s by default), and the process must exit 0.
func TestSIGTERMFlushesQueuedSpans(t *testing.T) {
	const (
		requests = 40
		delay    = 30 // seconds: far longer than the test waits
		deadline = 5 * time.Second
	)
	sink := otlpsink.Start(t)
	up := harness.StartUpstream(t, harness.UpstreamOptions{})
	logs := harness.NewLogRecorder(harness.TestLogger().Handler())
	gw := harness.StartGateway(t, harness.GatewayOptions{Logger: slog.New(logs), Config: map[string]any{
		"services": []any{map[string]any{"name": "svc", "url": up.URL(), "routes": []any{
			map[string]any{"name": "r", "paths": []string{"/r"}},
		}}},
		"plugins": []any{plugin(pluginConfig(sink.TracesURL(), "e2e-sigterm", map[string]any{
			"queue": map[string]any{"max_coalescing_delay": delay, "max_batch_size": 10000},
		}))},
	}})

	for i := range requests {
		resp := harness.Do(t, "GET", gw.URL()+"/r?i="+strconv.Itoa(i), http.Header{harness.TestIDHeader: {strconv.Itoa(i)}})
		if resp.Status != 200 {
			t.Fatalf("request %d: status %d", i, resp.Status)
		}
	}
	if err := gw.WaitIdle(bounded(t, 10*time.Second)); err != nil {
		t.Fatal(err)
	}
	traceIDs := map[string]bool{}
	for _, r := range up.Requests() {
		tp, err := harness.ParseTraceparent(r.Header.Get("traceparent"))
		if err != nil {
			t.Fatal(err)
		}
		traceIDs[tp.TraceID] = true
	}
	if len(traceIDs) != requests {
		t.Fatalf("%d distinct trace ids upstream, want %d", len(traceIDs), requests)
	}
	// Every log phase has run: the spans are queued, and the coalescing
	// delay keeps them there.
	time.Sleep(300 * time.Millisecond)
	if st := sink.Stats(); st.Requests != 0 {
		t.Fatalf("the backend got %d exports before SIGTERM: the spans were not held in the queue", st.Requests)
	}

	pid := gw.Sim().PID()
	sent := time.Now()
	if err := gw.Sim().Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	spans, err := sink.WaitSpans(bounded(t, deadline+2*time.Second), 2*requests)
	if err != nil {
		t.Fatalf("after SIGTERM: %v (%d spans arrived)", err, len(sink.Spans()))
	}
	flushed := time.Since(sent)
	t.Logf("%d spans of %d requests flushed %v after SIGTERM", len(spans), requests, flushed.Round(time.Millisecond))
	if flushed > deadline {
		t.Errorf("flush took %v, over the %v shutdown deadline", flushed, deadline)
	}
	perTrace := map[string]int{}
	for _, s := range spans {
		perTrace[s.TraceID()]++
	}
	for id := range traceIDs {
		if perTrace[id] != 2 {
			t.Errorf("trace %s: %d spans, want root + try", id, perTrace[id])
		}
	}
	if len(perTrace) != requests {
		t.Errorf("%d traces exported, want %d", len(perTrace), requests)
	}

	// The emulator (as Kong) logs the exit of the process it supervised.
	rec, err := logs.Wait(bounded(t, deadline+2*time.Second), func(r harness.LogRecord) bool {
		return r.Attrs["pid"] == strconv.Itoa(pid) && r.Attrs["status"] != ""
	})
	if err != nil {
		t.Fatalf("plugin server pid %d: no exit recorded: %v", pid, err)
	}
	if rec.Attrs["status"] != "exit status 0" {
		t.Errorf("plugin server pid %d ended with %q, want exit status 0", pid, rec.Attrs["status"])
	}
	if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
		t.Errorf("plugin server pid %d still exists after its exit was recorded (kill -0: %v)", pid, err)
	}
	if st := sink.Stats(); st.Refused != 0 {
		t.Errorf("%d exports refused by the backend", st.Refused)
	}
}

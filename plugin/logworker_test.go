package plugin

import (
	"context"
	"testing"
	"time"

	"github.com/trace-exporter/trace-exporter/exporter"
	"github.com/trace-exporter/trace-exporter/test/otlpsink"
)

// workerPlugin is an instance of an environment whose log worker waits
// delay for a batch to fill.
func workerPlugin(t *testing.T, sink *otlpsink.Sink, delay time.Duration, extra string) (*Plugin, *Env, *logWorker) {
	t.Helper()
	env := useRegistry(t, exporter.RegistryOptions{})
	env.logs = startLogWorker(env, delay)
	t.Cleanup(func() { env.DrainLogWork() })
	p := startInstance(t, env, `{"traces_endpoint":"`+sink.TracesURL()+`","queue":{"max_coalescing_delay":0.01}`+extra+`}`)
	return p, env, env.logs
}

// logEvent runs a request's access and log events; it returns the log
// phase's calls.
func logEvent(t *testing.T, p *Plugin) []string {
	f := newFakeKong(t, "3.9-retried.json", nil)
	f.run(p)
	return f.calls["log"]
}

// spansPerRequest is what the handler builds for one request of the
// fixture without a worker.
func spansPerRequest(t *testing.T, sink *otlpsink.Sink) int64 {
	env := useRegistry(t, exporter.RegistryOptions{})
	p := startInstance(t, env, `{"traces_endpoint":"`+sink.TracesURL()+`"}`)
	logEvent(t, p)
	return env.Stats.SpansBuilt.Load()
}

func waitCount(t *testing.T, what string, v interface{ Load() int64 }, want int64) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); v.Load() != want; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%s = %d, want %d", what, v.Load(), want)
		}
	}
}

// The Log handler answers once it has read serialize; the worker builds the
// spans afterwards, and Drain processes what it holds.
func TestLogWorkerAnswersBeforeTheLogPath(t *testing.T) {
	sink := otlpsink.Start(t)
	per := spansPerRequest(t, sink)
	p, env, w := workerPlugin(t, sink, time.Hour, "")
	for range 3 {
		if calls := logEvent(t, p); len(calls) == 0 || calls[0] != mSerialize {
			t.Fatalf("log phase calls %v", calls)
		}
	}
	if n, built := w.pending(), env.Stats.SpansBuilt.Load(); n != 3 || built != 0 {
		t.Fatalf("after the handlers returned: %d payloads held, %d spans built; want 3 and 0", n, built)
	}
	env.DrainLogWork()
	if built := env.Stats.SpansBuilt.Load(); built != 3*per {
		t.Fatalf("after Drain: %d spans built, want %d", built, 3*per)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := sink.WaitSpans(ctx, int(3*per)); err != nil {
		t.Fatalf("spans at the receiver: %v", err)
	}
	// Drained: the handler processes its requests itself.
	logEvent(t, p)
	if built := env.Stats.SpansBuilt.Load(); built != 4*per || env.Stats.LogWorkerFull.Load() != 0 {
		t.Fatalf("after Drain the handler built %d spans in all (want %d), full %d", built, 4*per, env.Stats.LogWorkerFull.Load())
	}
}

// A batch is processed when it is full, or when its first payload has
// waited the delay.
func TestLogWorkerBatchesBySizeOrDelay(t *testing.T) {
	sink := otlpsink.Start(t)
	per := spansPerRequest(t, sink)
	p, env, _ := workerPlugin(t, sink, time.Hour, "")
	for range logBatchJobs {
		logEvent(t, p)
	}
	waitCount(t, "spans built from a full batch", &env.Stats.SpansBuilt, logBatchJobs*per)

	p, env, _ = workerPlugin(t, sink, 20*time.Millisecond, "")
	logEvent(t, p)
	waitCount(t, "spans built after the delay", &env.Stats.SpansBuilt, per)
}

// When the worker holds its maximum the handler processes the request
// itself (counted), and nothing is lost; Drain waits for the batch in hand.
func TestLogWorkerFullFallsBackToTheHandler(t *testing.T) {
	sink := otlpsink.Start(t)
	per := spansPerRequest(t, sink)
	p, env, w := workerPlugin(t, sink, time.Hour, "")
	w.processing.Lock() // the worker is busy with a batch
	const extra = 5
	for range logMaxJobs + extra {
		logEvent(t, p)
	}
	if full, built := env.Stats.LogWorkerFull.Load(), env.Stats.SpansBuilt.Load(); full != extra || built != extra*per {
		t.Fatalf("worker full: %d requests processed by the handler (want %d), %d spans built (want %d)", full, extra, built, extra*per)
	}
	drained := make(chan struct{})
	go func() { env.DrainLogWork(); close(drained) }()
	select {
	case <-drained:
		t.Fatal("Drain returned while a batch was in hand")
	case <-time.After(50 * time.Millisecond):
	}
	w.processing.Unlock()
	<-drained
	if built := env.Stats.SpansBuilt.Load(); built != (logMaxJobs+extra)*per {
		t.Fatalf("after Drain: %d spans built, want %d", built, (logMaxJobs+extra)*per)
	}
}

// A request whose resource templates read uri_captures or kong.ctx.shared
// needs Kong during the event: the handler processes it.
func TestLogWorkerLeavesPDKTemplatesToTheHandler(t *testing.T) {
	sink := otlpsink.Start(t)
	p, env, w := workerPlugin(t, sink, time.Hour, `,"resource_attributes":{"plan":"$(shared.plan)"}`)
	calls := logEvent(t, p)
	if w.pending() != 0 || env.Stats.SpansBuilt.Load() == 0 {
		t.Fatalf("held %d, built %d: want the handler to build the spans", w.pending(), env.Stats.SpansBuilt.Load())
	}
	if calls[len(calls)-1] != mSharedGet {
		t.Fatalf("log phase calls %v, want kong.ctx.shared.get last", calls)
	}
}

// A panic in the log path is recovered and counted; the worker goes on.
func TestLogWorkerRecoversPanics(t *testing.T) {
	sink := otlpsink.Start(t)
	per := spansPerRequest(t, sink)
	p, env, w := workerPlugin(t, sink, time.Hour, "")
	if !w.offer(&runtime{}, "{}") { // a runtime without its parts panics
		t.Fatal("offer refused")
	}
	logEvent(t, p)
	env.DrainLogWork()
	if env.Stats.Panics.Load() != 1 || env.Stats.SpansBuilt.Load() != per {
		t.Fatalf("panics %d, spans %d: want 1 and %d", env.Stats.Panics.Load(), env.Stats.SpansBuilt.Load(), per)
	}
}

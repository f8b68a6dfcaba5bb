package plugin

import (
	"context"
	"encoding/json"
	"fmt"
	goruntime "runtime"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/trace-exporter/trace-exporter/exporter"
	"github.com/trace-exporter/trace-exporter/test/otlpsink"
)

// Instance churn: Kong starts a plugin instance per config and a new one on
// every config change, and go-pdk gives no close hook (nor does it ever free
// an instance's resources itself). 10 000 StartInstance decodes, as go-pdk
// does them (json.Unmarshal into New()), must leave goroutines and heap
// flat: instances hold no goroutine, and pipelines are per backend config,
// reaped when idle.

const churnCycles = 10000

func heapAfterGC() uint64 {
	goruntime.GC()
	goruntime.GC()
	var m goruntime.MemStats
	goruntime.ReadMemStats(&m)
	return m.HeapAlloc
}

// useRegistry returns an environment over a registry of the test's own
// (a short idle timeout, say), shut down at the end of the test.
func useRegistry(t *testing.T, opts exporter.RegistryOptions) *Env {
	t.Helper()
	reg := exporter.NewRegistry(opts)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = reg.ShutdownAll(ctx)
	})
	return NewEnv(reg)
}

func startInstance(t *testing.T, env *Env, config string) *Plugin {
	p := NewWithEnv(env)
	if err := json.Unmarshal([]byte(config), p); err != nil {
		t.Fatalf("StartInstance refused %s: %v", config, err)
	}
	return p
}

func checkFlat(t *testing.T, what string, goroutines int, heap uint64) {
	t.Helper()
	var g int
	var h uint64
	deadline := time.Now().Add(10 * time.Second)
	for {
		g, h = goruntime.NumGoroutine(), heapAfterGC()
		if g <= goroutines+2 && h <= heap+4<<20 || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Logf("%s: goroutines %d → %d, heap %.1f → %.1f MiB", what, goroutines, g, float64(heap)/(1<<20), float64(h)/(1<<20))
	if g > goroutines+2 {
		t.Fatalf("%s: goroutines grew from %d to %d", what, goroutines, g)
	}
	if h > heap+4<<20 {
		t.Fatalf("%s: heap grew from %d to %d bytes", what, heap, h)
	}
}

// Configs that differ outside the backend (sampling, naming, redaction,
// static attributes) share one pipeline.
func TestInstanceChurnSameBackendStaysFlat(t *testing.T) {
	sink := otlpsink.StartOptions(t, otlpsink.Options{Discard: true})
	env := useRegistry(t, exporter.RegistryOptions{})
	payload := fixtures(t)["3.9-proxied-consumer.json"]
	run := func(from, to int) {
		for i := from; i < to; i++ {
			p := startInstance(t, env, fmt.Sprintf(`{"traces_endpoint":%q,"sampling_rate":%g,"span_name":%q,`+
				`"static_attributes":{"churn":"%d"},"redact_headers":["x-%d"],"queue":{"max_coalescing_delay":0.05},"__seq__":%d}`,
				sink.TracesURL(), float64(i%100+1)/100, []string{"method_route", "method_path", "method"}[i%3], i, i, i+1))
			if i%10 == 0 {
				p.rt.logPayload(payload, nil)
			}
		}
	}
	run(0, 500) // warm up: the pipeline, its connections, pools
	time.Sleep(300 * time.Millisecond)
	g0, h0 := goruntime.NumGoroutine(), heapAfterGC()
	run(500, churnCycles)
	if n := len(env.Pipelines.Stats()); n != 1 {
		t.Fatalf("%d pipelines, want 1 shared by every instance", n)
	}
	checkFlat(t, "same-backend churn", g0, h0)
}

// Configs that each name another backend create a pipeline each; idle ones
// are reaped, so after the churn nothing is left.
func TestInstanceChurnDistinctBackendsReaped(t *testing.T) {
	sink := otlpsink.StartOptions(t, otlpsink.Options{Discard: true})
	g0, h0 := goruntime.NumGoroutine(), heapAfterGC()
	ignore := goleak.IgnoreCurrent()
	env := useRegistry(t, exporter.RegistryOptions{IdleTimeout: 50 * time.Millisecond})
	reg := env.Pipelines
	maxLive := 0
	for i := range churnCycles {
		// Another header value is another backend config: another pipeline.
		startInstance(t, env, fmt.Sprintf(`{"traces_endpoint":%q,"headers":{"x-tenant":"t%d"},"__seq__":%d}`, sink.TracesURL(), i, i+1))
		if i%500 == 0 {
			maxLive = max(maxLive, len(reg.Stats()))
		}
	}
	deadline := time.Now().Add(20 * time.Second)
	for len(reg.Stats()) > 0 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if n := len(reg.Stats()); n != 0 {
		t.Fatalf("%d pipelines left after the idle timeout", n)
	}
	t.Logf("distinct-backend churn: at most %d pipelines alive at once (sampled)", maxLive)
	checkFlat(t, "distinct-backend churn", g0, h0)
	goleak.VerifyNone(t, ignore, goleak.IgnoreTopFunction("internal/poll.runtime_pollWait"))
}

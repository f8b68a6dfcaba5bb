package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/trace-exporter/trace-exporter/test/harness"
	"github.com/trace-exporter/trace-exporter/test/kongsim"
)

// The memory bound: with the backend down, a plugin server offered ten
// times what its queue may hold (queue.max_bytes, by the queue's own
// estimate) keeps its resident memory within max_bytes + 30 MB, and flat
// once the queue is full: spans beyond the limit are refused and counted,
// not held.
const (
	overloadMaxBytes = 16 << 20
	overloadFactor   = 10
	rssAllowance     = 30 << 20
)

func TestPluginServerRSSUnderOverload(t *testing.T) {
	if testing.Short() {
		t.Skip("a few seconds of load through the emulator")
	}
	teBin, _ := pluginBinaries(t)
	payload := payloads(t)[0].text
	backend := fmt.Sprintf("http://127.0.0.1:%d/v1/traces", harness.RefusedPort(t)) // down: refuses at once
	config := map[string]any{
		"traces_endpoint": backend,
		"queue":           map[string]any{"max_bytes": overloadMaxBytes, "max_entries": 1000000},
	}

	// How many requests make the overload, by the queue's estimate of a
	// request's spans (measured in this process with the same config).
	perRequest := queuedBytesPerRequest(t, config, payload)
	events := overloadFactor * overloadMaxBytes / perRequest
	t.Logf("a request's spans count %d bytes against max_bytes: %d events make %d× the queue", perRequest, events, overloadFactor)

	s := newSim(t, teBin)
	p, err := s.Configure(kongsim.PluginEntity{Config: config})
	if err != nil {
		t.Fatal(err)
	}
	pid := s.PID()
	base := rss(t, pid)

	var mu sync.Mutex
	var samples []int64 // RSS every 50 ms, from the first event on
	stop := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				if v, err := readRSS(pid); err == nil {
					mu.Lock()
					samples = append(samples, v)
					mu.Unlock()
				}
			}
		}
	}()

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	const workers = 4
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < events; i += workers {
				if ctx.Err() != nil {
					errs <- ctx.Err()
					return
				}
				res := s.RunLog(p, &kongsim.LogData{Serialize: []byte(payload)})
				if res.Err != nil || len(res.Violations) != 0 {
					errs <- fmt.Errorf("event %d: %+v", i, res)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	loadSamples := func() int { mu.Lock(); defer mu.Unlock(); return len(samples) }()
	time.Sleep(time.Second) // the server holds its queue and retries: still flat?
	close(stop)
	<-sampled

	if len(samples) < 10 {
		t.Fatalf("only %d RSS samples", len(samples))
	}
	peak, last := int64(0), samples[len(samples)-1]
	for _, v := range samples {
		peak = max(peak, v)
	}
	// Flat: once the queue is full (the first fifth of the load), the
	// largest RSS of the rest of the run exceeds the largest of the second
	// fifth by little.
	fill := loadSamples / 5
	early := int64(0)
	for _, v := range samples[fill : 2*fill+1] {
		early = max(early, v)
	}
	limit := int64(overloadMaxBytes + rssAllowance)
	t.Logf("RSS: start %.1f MB, after filling %.1f MB, peak %.1f MB, end %.1f MB, limit %.1f MB (max_bytes %d MB + 30 MB); %d events, %d samples",
		mb(base), mb(early), mb(peak), mb(last), mb(limit), overloadMaxBytes>>20, events, len(samples))
	if peak > limit {
		t.Errorf("peak RSS %.1f MB exceeds max_bytes + 30 MB = %.1f MB", mb(peak), mb(limit))
	}
	if peak > early+8<<20 {
		t.Errorf("RSS kept growing after the queue was full: %.1f MB, then up to %.1f MB", mb(early), mb(peak))
	}
}

// queuedBytesPerRequest runs one request's log path in this process, into
// a pipeline with the same (unreachable) backend, and reads what the queue
// charged for its spans.
func queuedBytesPerRequest(t *testing.T, config map[string]any, payload string) int {
	t.Helper()
	cfg, _ := json.Marshal(config)
	p, env := newPluginInstance(t, string(cfg))
	p.LogPayload(payload)
	for _, ps := range env.Pipelines.Stats() {
		if ps.Stats.QueueBytes > 0 && int64(ps.Stats.Enqueued) == ps.Stats.QueueSpans && env.Stats.SpansBuilt.Load() == ps.Stats.QueueSpans {
			return int(ps.Stats.QueueBytes)
		}
	}
	t.Fatal("the request's spans were not found in a queue")
	return 0
}

func rss(tb testing.TB, pid int) int64 {
	tb.Helper()
	v, err := readRSS(pid)
	if err != nil {
		tb.Fatal(err)
	}
	return v
}

// readRSS reads VmRSS from /proc/<pid>/status, in bytes.
func readRSS(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range bytes.Split(b, []byte("\n")) {
		if v, ok := bytes.CutPrefix(line, []byte("VmRSS:")); ok {
			f := bytes.Fields(v) // "123456", "kB"
			if len(f) == 2 {
				n, err := strconv.ParseInt(string(f[0]), 10, 64)
				return n << 10, err
			}
		}
	}
	return 0, fmt.Errorf("no VmRSS in /proc/%d/status", pid)
}

func mb(n int64) float64 { return float64(n) / (1 << 20) }

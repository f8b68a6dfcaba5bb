package faults

import (
	"fmt"
	"testing"
	"time"

	"github.com/trace-exporter/trace-exporter/test/kongsim"
	"github.com/trace-exporter/trace-exporter/test/otlpsink"
)

// burst sends n log events at once (one batch) and fails on any error.
func burst(t *testing.T, p *plugin, prefix string, n int) {
	t.Helper()
	for i := range n {
		res := p.sim.RunLog(p.entity, &kongsim.LogData{Serialize: payload(fmt.Sprintf("%s-%03d", prefix, i), time.Now())})
		if res.Err != nil {
			t.Fatalf("log event: %v", res.Err)
		}
	}
}

// waitRequests waits until the backend saw n export requests.
func waitRequests(t *testing.T, be *backend, n int, timeout time.Duration) []reqInfo {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		log := be.requestLog()
		if len(log) >= n {
			return log
		}
		if time.Now().After(deadline) {
			t.Fatalf("backend saw %d export requests after %s, want %d", len(log), timeout, n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// 429 and 503 with Retry-After: the plugin waits what the server asked,
// not its own backoff (50 ms here), and no longer than needed.
func TestRetryAfterHonoured(t *testing.T) {
	be := newBackend(t)
	be.setResponder(otlpsink.Sequence(
		otlpsink.Response{Status: 429, RetryAfter: "2"},
		otlpsink.Response{Status: 503, RetryAfter: "1"},
	))
	config := pluginConfig(be.url())
	config["queue"].(map[string]any)["max_retry_time"] = 10
	p := startPlugin(t, "", config)
	burst(t, p, "ra", 10)
	log := waitRequests(t, be, 3, 15*time.Second)
	be.waitUnique(t, 10*spansPerRequest, 5*time.Second)
	if log[0].status != 429 || log[1].status != 503 || !log[2].accepted {
		t.Fatalf("answers %+v", log[:3])
	}
	wait1, wait2 := log[1].at.Sub(log[0].at), log[2].at.Sub(log[1].at)
	// Lower bounds: the server's delay. Upper: + 1 s for a loaded machine.
	if wait1 < 1950*time.Millisecond || wait1 > 3*time.Second {
		t.Fatalf("after 429 Retry-After: 2 the plugin waited %s", wait1)
	}
	if wait2 < 950*time.Millisecond || wait2 > 2*time.Second {
		t.Fatalf("after 503 Retry-After: 1 the plugin waited %s", wait2)
	}
	if unique, total := be.counts(); unique != total {
		t.Fatalf("%d duplicates", total-unique)
	}
	record(t, "429 Retry-After: 2", "retried after %s", wait1.Round(time.Millisecond))
	record(t, "503 Retry-After: 1", "retried after %s", wait2.Round(time.Millisecond))
}

// 400 is final: one request, the batch is dropped and counted, the next
// batch goes through.
func TestBadRequestNeverRetried(t *testing.T) {
	be := newBackend(t)
	be.setResponder(otlpsink.Sequence(otlpsink.Response{Status: 400, Message: "bad batch"}))
	p := startPlugin(t, "", pluginConfig(be.url()))
	burst(t, p, "bad", 10)
	waitRequests(t, be, 1, 5*time.Second)
	time.Sleep(2 * time.Second) // several backoff periods (50 ms .. 1 s)
	if n := len(be.requestLog()); n != 1 {
		t.Fatalf("the refused batch was sent %d times", n)
	}
	burst(t, p, "good", 10)
	be.waitUnique(t, 10*spansPerRequest, 5*time.Second)
	p.sim.Close()
	waitOutput(t, p.sim, "pipeline stopped", 10*time.Second)
	c, _ := finalCounts(p.sim.Output())
	if c["dropped_permanent_error"] != 10*spansPerRequest || c["exported"] != 10*spansPerRequest || c["retries"] != 0 {
		t.Fatalf("final counts %v", c)
	}
	record(t, "400", "1 request, 0 retries; %d spans counted permanent_error; next batch delivered", c["dropped_permanent_error"])
}

// A backend slower than the timeouts: each attempt is cut at the timeout
// (not the backend's 5 s), retried, and delivered once it answers.
func TestSlowBackendTimesOut(t *testing.T) {
	be := newBackend(t)
	be.setResponder(otlpsink.Always(otlpsink.Response{Delay: 5 * time.Second}))
	config := pluginConfig(be.url())
	config["read_timeout"] = 300
	config["queue"].(map[string]any)["max_retry_time"] = 20
	p := startPlugin(t, "", config)
	burst(t, p, "slow", 10)
	const slowFor = 3 * time.Second
	time.Sleep(slowFor)
	be.setResponder(nil)
	slow := len(be.requestLog())
	be.waitUnique(t, 10*spansPerRequest, 10*time.Second)
	// Attempt timeout 500+1000+300 ms, backoff 50 ms doubling: at least 2
	// attempts fit in 3 s; a plugin waiting for the backend would make 1.
	if slow < 2 {
		t.Fatalf("%d attempts in %s against a 5 s backend: the timeout did not cut them", slow, slowFor)
	}
	if unique, total := be.counts(); unique != 10*spansPerRequest || total != unique {
		t.Fatalf("unique %d total %d", unique, total)
	}
	record(t, "backend answering after 5 s, read_timeout 300 ms", "%d attempts cut in %s, then delivered once, no duplicates", slow, slowFor)
}

// Connection reset before and after the request body: retried, delivered,
// the plugin server stays up.
func TestConnectionResetRetried(t *testing.T) {
	be := newBackend(t)
	be.setResponder(otlpsink.Sequence(
		otlpsink.Response{Reset: otlpsink.ResetBeforeBody},
		otlpsink.Response{Reset: otlpsink.ResetAfterBody},
		otlpsink.Response{Reset: otlpsink.ResetAfterBody},
	))
	p := startPlugin(t, "", pluginConfig(be.url()))
	pid := p.sim.PID()
	burst(t, p, "rst", 10)
	be.waitUnique(t, 10*spansPerRequest, 10*time.Second)
	log := be.requestLog()
	if len(log) != 4 || !log[3].accepted {
		t.Fatalf("want 3 resets then a success, got %+v", log)
	}
	if p.sim.PID() != pid {
		t.Fatal("the plugin server restarted")
	}
	record(t, "reset before body, after body ×2", "retried 3 times, delivered once (%d spans), server still up", 10*spansPerRequest)
}

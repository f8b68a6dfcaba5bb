package faults

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/trace-exporter/trace-exporter/test/kongsim"
	"github.com/trace-exporter/trace-exporter/test/otlpsink"
)

// logBackend is backend's counterpart for access logs: an OTLP/HTTP logs
// receiver that can go down and come back (downable), keeping every
// accepted record (by the request id the record carries) across its
// incarnations.
type logBackend struct {
	*downable[*otlpsink.LogSink]

	mu        sync.Mutex
	byRequest map[string]int // kong.request.id → records accepted
	requests  []reqInfo
}

func newLogBackend(t *testing.T) *logBackend {
	b := &logBackend{byRequest: map[string]int{}}
	b.downable = newDownable(t, "logs backend", func(addr string) (*otlpsink.LogSink, error) {
		return otlpsink.ListenLogs(addr, otlpsink.LogOptions{Discard: true, OnRequest: b.onRequest})
	})
	return b
}

func (b *logBackend) url() string { return "http://" + b.addr + otlpsink.LogsPath }

func (b *logBackend) onRequest(r *otlpsink.LogRequest) {
	b.mu.Lock()
	defer b.mu.Unlock()
	n := 0
	if r.Export != nil {
		n = r.RecordCount()
	}
	b.requests = append(b.requests, reqInfo{at: r.Received, status: r.Status, spans: n, accepted: r.Accepted})
	if !r.Accepted {
		return
	}
	for _, rl := range r.Export.GetResourceLogs() {
		for _, sl := range rl.GetScopeLogs() {
			for _, lr := range sl.GetLogRecords() {
				for _, kv := range lr.GetAttributes() {
					if kv.GetKey() == "kong.request.id" {
						b.byRequest[kv.GetValue().GetStringValue()]++
					}
				}
			}
		}
	}
}

// counts returns the requests with a record and the records accepted.
func (b *logBackend) counts() (unique, total int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, n := range b.byRequest {
		unique++
		total += n
	}
	return unique, total
}

func (b *logBackend) has(requestID string) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.byRequest[requestID] > 0
}

func (b *logBackend) requestLog() []reqInfo {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]reqInfo(nil), b.requests...)
}

func (b *logBackend) waitUnique(t *testing.T, n int, timeout time.Duration) {
	t.Helper()
	waitCount(t, func() int { u, _ := b.counts(); return u }, n, timeout, "logs backend has records of %d requests after %s, want %d")
}

// logsPipelineCounts are the final counts of the access logs' pipeline
// alone (its "pipeline stopped" lines name its URL).
func logsPipelineCounts(lines []string, url string) (pipelineCounts, int) {
	var mine []string
	for _, l := range lines {
		if strings.Contains(l, url) {
			mine = append(mine, l)
		}
	}
	return finalCounts(mine)
}

// With the spool on, an outage of the access logs' backend longer than the
// retry budget, with more records than the memory queue holds, loses no
// record; the spans' backend, up all along, gets every span.
func TestAccessLogsBackendDownSpoolOnLosesNothing(t *testing.T) {
	spans, logs := newBackend(t), newLogBackend(t)
	outage, budget := scaledOutage()
	config := pluginConfig(spans.url())
	config["queue"].(map[string]any)["max_retry_time"] = budget
	// One record per request: half the spans' memory bound keeps the outage
	// (1 800 records) above what memory holds.
	config["queue"].(map[string]any)["max_entries"] = 1000
	config["spool_dir"] = shortTempDir(t)
	config["access_logs"] = map[string]any{"endpoint": logs.url()}
	p := startPlugin(t, "", config)
	const lead = 2 * time.Second
	total := lead + outage + lead
	s := startStream(func() (*kongsim.Sim, *kongsim.Plugin) { return p.sim, p.entity }, streamRate, "alog",
		int(total.Seconds())*streamRate)
	time.Sleep(lead)
	logs.stop()
	time.Sleep(outage)
	logs.start()
	results := s.wait()
	end := time.Now()
	ok, failed := delivered(results)
	if failed != 0 {
		t.Fatalf("%d log events failed on the Kong side", failed)
	}
	logs.waitUnique(t, len(ok), 60*time.Second)
	drained := time.Since(end)
	spans.waitUnique(t, len(ok)*spansPerRequest, 30*time.Second)
	for _, r := range ok {
		if !logs.has(r.id) {
			t.Fatalf("request %s has no access log record", r.id)
		}
	}
	unique, recs := logs.counts()
	p.sim.Close()
	waitOutput(t, p.sim, "pipeline stopped", 10*time.Second)
	c, n := logsPipelineCounts(p.sim.Output(), logs.url())
	if n != 1 || c["dropped"] != 0 || c["spooled"] == 0 || c["exported"] != uint64(recs) {
		t.Fatalf("logs pipeline final counts %v (%d lines; backend took %d records)", c, n, recs)
	}
	record(t, "traffic", "%d requests at %d/s, one access log record each; logs backend down %s, max_retry_time %gs, queue.max_entries 1000",
		len(ok), streamRate, outage, budget)
	record(t, "lost", "0 records (every request's record arrived); spans backend up: every span arrived")
	record(t, "duplicates", "%d", recs-unique)
	record(t, "spooled", "%d records written to disk", c["spooled"])
	record(t, "all records delivered", "%s after the stream ended (the backend was back 2 s before)", drained.Round(10*time.Millisecond))
}

// 400 from the access logs' backend is final: one request, its records
// dropped and counted, the next batch delivered; the spans are unaffected.
func TestAccessLogsBadRequestNeverRetried(t *testing.T) {
	spans, logs := newBackend(t), newLogBackend(t)
	logs.setResponder(otlpsink.Sequence(otlpsink.Response{Status: 400, Message: "bad batch"}))
	config := pluginConfig(spans.url())
	config["access_logs"] = map[string]any{"endpoint": logs.url()}
	p := startPlugin(t, "", config)
	burst(t, p, "alog-bad", 10)
	deadline := time.Now().Add(5 * time.Second)
	for len(logs.requestLog()) < 1 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(2 * time.Second) // several backoff periods (50 ms .. 1 s)
	if l := logs.requestLog(); len(l) != 1 || l[0].status != 400 {
		t.Fatalf("the refused batch was sent %d times: %+v", len(l), l)
	}
	burst(t, p, "alog-good", 10)
	logs.waitUnique(t, 10, 5*time.Second)
	spans.waitUnique(t, 20*spansPerRequest, 5*time.Second)
	p.sim.Close()
	waitOutput(t, p.sim, "pipeline stopped", 10*time.Second)
	c, _ := logsPipelineCounts(p.sim.Output(), logs.url())
	if c["dropped_permanent_error"] != 10 || c["exported"] != 10 || c["retries"] != 0 {
		t.Fatalf("logs pipeline final counts %v", c)
	}
	for i := range 10 {
		if id := fmt.Sprintf("alog-bad-%03d", i); logs.has(id) {
			t.Fatalf("%s was delivered after a 400", id)
		}
	}
	record(t, "access logs 400", "1 request, 0 retries; %d records counted permanent_error; next batch delivered; spans unaffected", c["dropped_permanent_error"])
}

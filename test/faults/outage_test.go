package faults

import (
	"fmt"
	"testing"
	"time"

	"github.com/trace-exporter/trace-exporter/test/kongsim"
)

const streamRate = 150 // log events per second

// outageRun streams log events while the backend is up, then down for the
// outage, then up again, and waits until the stream has ended.
func outageRun(t *testing.T, config map[string]any) (*plugin, *backend, []eventResult, time.Duration) {
	be := newBackend(t)
	outage, budget := scaledOutage()
	config["traces_endpoint"] = be.url()
	config["queue"].(map[string]any)["max_retry_time"] = budget
	p := startPlugin(t, "", config)
	const lead = 2 * time.Second
	total := lead + outage + lead
	s := startStream(func() (*kongsim.Sim, *kongsim.Plugin) { return p.sim, p.entity }, streamRate, "out",
		int(total.Seconds())*streamRate)
	time.Sleep(lead)
	be.stop()
	time.Sleep(outage)
	be.start()
	back := time.Now()
	// How long the backlog of the outage takes to arrive, measured while
	// the stream goes on.
	backlog := spansPerRequest * s.completed()
	drained := make(chan time.Duration, 1)
	go func() {
		for { // until the backlog arrived or the stream ended (spool off: it never does)
			if u, _ := be.counts(); u >= backlog {
				drained <- time.Since(back)
				return
			}
			select {
			case <-s.done:
				drained <- -1
				return
			case <-time.After(10 * time.Millisecond):
			}
		}
	}()
	results := s.wait()
	return p, be, results, <-drained
}

// With the spool on, a backend outage longer than the retry budget, with
// more spans than the memory queue holds, loses nothing.
func TestBackendDownSpoolOnLosesNothing(t *testing.T) {
	config := pluginConfig("")
	config["spool_dir"] = shortTempDir(t)
	p, be, results, backlogDrain := outageRun(t, config)
	ok, failed := delivered(results)
	if failed != 0 {
		t.Fatalf("%d log events failed on the Kong side", failed)
	}
	want := len(ok) * spansPerRequest
	start := time.Now()
	be.waitUnique(t, want, 60*time.Second)
	drain := time.Since(start)

	ids := be.requestIDs()
	for _, r := range ok {
		if ids[r.id] == 0 {
			t.Fatalf("request %s lost", r.id)
		}
	}
	unique, total := be.counts()
	if unique != want {
		t.Fatalf("%d unique spans, want %d", unique, want)
	}
	p.sim.Close()
	waitOutput(t, p.sim, "pipeline stopped", 10*time.Second)
	c, _ := finalCounts(p.sim.Output())
	if c["dropped"] != 0 || c["spooled"] == 0 || c["exported"] != uint64(total) {
		t.Fatalf("final counts %v (backend took %d spans)", c, total)
	}
	outage, budget := scaledOutage()
	record(t, "traffic", "%d requests (%d spans) at %d/s; backend down %s, max_retry_time %gs, queue.max_entries 2000",
		len(ok), want, streamRate, outage, budget)
	record(t, "lost", "0 (every request's spans arrived)")
	record(t, "duplicates", "%d", total-unique)
	record(t, "spooled", "%d spans written to disk", c["spooled"])
	record(t, "outage backlog delivered", "%s after the backend came back; all spans %s after the stream ended",
		backlogDrain.Round(10*time.Millisecond), drain.Round(10*time.Millisecond))
}

// With the spool off, the same outage loses spans, and the plugin's
// counters account for every one of them.
func TestBackendDownSpoolOffLossesCounted(t *testing.T) {
	p, be, results, _ := outageRun(t, pluginConfig(""))
	ok, failed := delivered(results)
	if failed != 0 {
		t.Fatalf("%d log events failed on the Kong side", failed)
	}
	want := len(ok) * spansPerRequest
	// Let retries of the last batches finish, then stop the plugin: its
	// final counters come in its log.
	time.Sleep(2 * time.Second)
	p.sim.Close()
	waitOutput(t, p.sim, "pipeline stopped", 10*time.Second)
	c, _ := finalCounts(p.sim.Output())
	unique, total := be.counts()
	lost := uint64(want - unique)
	if lost == 0 {
		t.Fatal("no span lost: the outage did not exceed what memory and retries absorb; the test proves nothing")
	}
	if c["dropped"] != lost {
		t.Fatalf("lost %d spans (sent %d, backend has %d) but the plugin counted %d dropped: %v", lost, want, unique, c["dropped"], c)
	}
	if c["exported"] != uint64(total) || c["enqueued"]+c["dropped_queue_full_entries"]+c["dropped_queue_full_bytes"] != uint64(want) {
		t.Fatalf("counts %v do not match the traffic: %d spans sent, backend took %d", c, want, total)
	}
	outage, budget := scaledOutage()
	record(t, "traffic", "%d requests (%d spans) at %d/s; backend down %s, max_retry_time %gs, queue.max_entries 2000",
		len(ok), want, streamRate, outage, budget)
	record(t, "lost", "%d spans = dropped counter %d (%s)", lost, c["dropped"], dropBreakdown(c))
}

func dropBreakdown(c pipelineCounts) string {
	s := ""
	for _, r := range []string{"queue_full_entries", "queue_full_bytes", "retry_exhausted", "permanent_error", "shutdown", "rejected", "spool_full", "spool_corrupt"} {
		if n := c["dropped_"+r]; n > 0 {
			if s != "" {
				s += ", "
			}
			s += fmt.Sprintf("%s %d", r, n)
		}
	}
	return s
}

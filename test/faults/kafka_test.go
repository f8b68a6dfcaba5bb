package faults

import (
	"fmt"
	"io"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/trace-exporter/trace-exporter/test/kafkatest"
	"github.com/trace-exporter/trace-exporter/test/kongsim"
	"github.com/trace-exporter/trace-exporter/test/testutil"
)

const kafkaTopic = "otlp_spans"

// kafkaBackend is an in-process Kafka broker that keeps its log across a
// stop and restart (as Kafka does), and a consumer that counts every span
// read from the topic.
type kafkaBackend struct {
	t        *testing.T
	broker   *kafkatest.Broker
	consumer *kafkatest.Consumer

	mu      sync.Mutex
	decoded int                 // records counted so far
	spans   map[string]int      // span id → times consumed
	roots   map[string][]string // kong.request.id → root span ids consumed
}

func newKafkaBackend(t *testing.T, opts ...kfake.Opt) *kafkaBackend {
	b := kafkatest.Start(t, append([]kfake.Opt{kfake.SeedTopics(4, kafkaTopic), kfake.DataDir(t.TempDir())}, opts...)...)
	return &kafkaBackend{t: t, broker: b, consumer: kafkatest.NewConsumer(t, b.Addr(), kafkaTopic),
		spans: map[string]int{}, roots: map[string][]string{}}
}

// config is the fault tests' plugin config, exporting to this broker.
func (k *kafkaBackend) config() map[string]any {
	c := pluginConfig("")
	delete(c, "traces_endpoint")
	c["exporter"] = "kafka"
	c["kafka"] = map[string]any{"brokers": []string{k.broker.Addr()}}
	return c
}

// update decodes the records consumed since the last call.
func (k *kafkaBackend) update() {
	k.mu.Lock()
	defer k.mu.Unlock()
	recs := k.consumer.Records()
	for _, r := range recs[k.decoded:] {
		req, err := kafkatest.DecodeValue(r.Value, false)
		if err != nil {
			k.t.Errorf("record at partition %d offset %d: %v", r.Partition, r.Offset, err)
			continue
		}
		for _, rs := range req.ResourceSpans {
			for _, ss := range rs.ScopeSpans {
				for _, sp := range ss.Spans {
					id := fmt.Sprintf("%x", sp.SpanId)
					k.spans[id]++
					for _, kv := range sp.Attributes {
						if kv.Key == "kong.request.id" {
							rid := kv.Value.GetStringValue()
							k.roots[rid] = append(k.roots[rid], id)
						}
					}
				}
			}
		}
	}
	k.decoded = len(recs)
}

func (k *kafkaBackend) counts() (unique, total int) {
	k.update()
	k.mu.Lock()
	defer k.mu.Unlock()
	for _, n := range k.spans {
		unique++
		total += n
	}
	return unique, total
}

func (k *kafkaBackend) requestIDs() map[string]bool {
	k.update()
	k.mu.Lock()
	defer k.mu.Unlock()
	out := make(map[string]bool, len(k.roots))
	for rid := range k.roots {
		out[rid] = true
	}
	return out
}

func (k *kafkaBackend) waitUnique(t *testing.T, n int, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		if u, _ := k.counts(); u >= n {
			return
		}
		if time.Now().After(deadline) {
			u, _ := k.counts()
			t.Fatalf("Kafka holds %d unique spans after %s, want %d", u, timeout, n)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// The broker goes down for longer than the retry budget, with more spans
// than the memory queue holds, and comes back on the same port: with the
// spool on, every span of every request reaches the topic.
func TestKafkaBrokerDownSpoolOnLosesNothing(t *testing.T) {
	k := newKafkaBackend(t)
	outage, budget := scaledOutage()
	config := k.config()
	config["spool_dir"] = shortTempDir(t)
	config["queue"].(map[string]any)["max_retry_time"] = budget
	p := startPlugin(t, "", config)
	const lead = 2 * time.Second
	s := startStream(func() (*kongsim.Sim, *kongsim.Plugin) { return p.sim, p.entity }, streamRate, "kdown",
		int((lead+outage+lead).Seconds())*streamRate)
	time.Sleep(lead)
	k.broker.Stop()
	time.Sleep(outage)
	if err := k.broker.Restart(); err != nil {
		t.Fatal(err)
	}
	back := time.Now()
	backlog := spansPerRequest * s.completed() // what the outage left behind
	backlogDrained := make(chan time.Duration, 1)
	go func() {
		for time.Since(back) < 60*time.Second {
			if u, _ := k.counts(); u >= backlog {
				backlogDrained <- time.Since(back)
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
		backlogDrained <- -1
	}()
	results := s.wait()
	ended := time.Now()
	ok, failed := delivered(results)
	if failed != 0 {
		t.Fatalf("%d log events failed on the Kong side", failed)
	}
	want := len(ok) * spansPerRequest
	k.waitUnique(t, want, 60*time.Second)
	drained := time.Since(ended)
	ids := k.requestIDs()
	for _, r := range ok {
		if !ids[r.id] {
			t.Fatalf("request %s lost", r.id)
		}
	}
	p.sim.Close()
	waitOutput(t, p.sim, "pipeline stopped", 10*time.Second)
	c, _ := finalCounts(p.sim.Output())
	unique, total := k.counts()
	if unique != want || c["dropped"] != 0 || c["spooled"] == 0 {
		t.Fatalf("%d unique spans of %d; final counts %v", unique, want, c)
	}
	record(t, "traffic", "%d requests (%d spans) at %d/s; broker down %s, max_retry_time %gs, queue.max_entries 2000",
		len(ok), want, streamRate, outage, budget)
	record(t, "lost", "0 (every request's spans consumed from the topic)")
	record(t, "duplicates", "%d", total-unique)
	record(t, "spooled", "%d spans written to disk", c["spooled"])
	record(t, "outage backlog delivered", "%s after the broker came back; all spans %s after the stream ended",
		(<-backlogDrained).Round(10*time.Millisecond), drained.Round(10*time.Millisecond))
}

// A slow broker (every produce answered late) slows exports, never Kong:
// the Log handler's latency stays that of a healthy backend, the queue
// absorbs the backlog, and nothing is lost or doubled. Slower than the
// attempt's deadline, exports time out and are retried (the spool keeps
// them); late writes may then land twice, which is counted.
func TestKafkaSlowBroker(t *testing.T) {
	k := newKafkaBackend(t)
	var delay atomic.Int64
	cl := k.broker.Cluster()
	cl.ControlKey(int16(kmsg.Produce), func(kmsg.Request) (kmsg.Response, error, bool) {
		cl.KeepControl()
		if d := time.Duration(delay.Load()); d > 0 {
			cl.SleepControl(func() { time.Sleep(d) })
		}
		return nil, nil, false
	})
	config := k.config()
	config["spool_dir"] = shortTempDir(t)
	p := startPlugin(t, "", config)
	const phase = 4 * time.Second
	s := startStream(func() (*kongsim.Sim, *kongsim.Plugin) { return p.sim, p.entity }, streamRate, "kslow",
		int((4*phase).Seconds())*streamRate)
	time.Sleep(phase)
	const slow, slower = 700 * time.Millisecond, 3500 * time.Millisecond // the attempt is 2.5 s
	delay.Store(int64(slow))
	time.Sleep(phase)
	delay.Store(int64(slower))
	time.Sleep(phase)
	delay.Store(0)
	results := s.wait()
	ok, failed := delivered(results)
	if failed != 0 {
		t.Fatalf("%d log events failed on the Kong side", failed)
	}
	want := len(ok) * spansPerRequest
	k.waitUnique(t, want, 60*time.Second)
	var latencies []time.Duration
	for _, r := range ok {
		latencies = append(latencies, r.end.Sub(r.start))
	}
	slices.Sort(latencies)
	p99 := latencies[len(latencies)*99/100]
	if p99 > slow/2 {
		t.Errorf("log events p99 %s while the broker answered in %s: Kong waited for the broker", p99, slow)
	}
	p.sim.Close()
	waitOutput(t, p.sim, "pipeline stopped", 10*time.Second)
	c, _ := finalCounts(p.sim.Output())
	unique, total := k.counts()
	if unique != want || c["dropped"] != 0 {
		t.Fatalf("%d unique spans of %d; final counts %v", unique, want, c)
	}
	record(t, "traffic", "%d requests (%d spans) at %d/s; produce answered after %s for %s, then %s (beyond the 2.5 s attempt) for %s",
		len(ok), want, streamRate, slow, phase, slower, phase)
	record(t, "lost", "0")
	record(t, "duplicates", "%d (writes that landed after their attempt timed out)", total-unique)
	record(t, "retries", "%d", c["retries"])
	record(t, "Kong side", "log event p99 %s, max %s", p99.Round(time.Millisecond), latencies[len(latencies)-1].Round(time.Millisecond))
}

// pipelineGauges reads the plugin server's /metrics and returns, for the
// pipeline whose backend label ends with suffix, its metrics by name
// (trace_exporter_pipeline_ prefix removed; dropped spans by reason as
// spans_dropped_total/<reason>).
func pipelineGauges(t *testing.T, metricsAddr, suffix string) map[string]float64 {
	t.Helper()
	resp, err := http.Get("http://" + metricsAddr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	out := map[string]float64{}
	line := regexp.MustCompile(`^trace_exporter_pipeline_(\w+)\{([^}]*)\} (\S+)$`)
	for _, l := range strings.Split(string(body), "\n") {
		m := line.FindStringSubmatch(l)
		if m == nil || !strings.Contains(m[2], suffix+`"`) {
			continue
		}
		name := m[1]
		if r := regexp.MustCompile(`reason="(\w+)"`).FindStringSubmatch(m[2]); r != nil {
			name += "/" + r[1]
		}
		v, _ := strconv.ParseFloat(m[3], 64)
		out[name] = v
	}
	if len(out) == 0 {
		t.Fatalf("no metrics for a pipeline ending in %s:\n%s", suffix, body)
	}
	return out
}

// What a Kong node holds while the broker is down, against the model the
// README's fleet section computes with: with the spool, every span goes to
// disk at bytes-per-span × rate × time, so a measured bytes-per-span
// predicts the spool at any later point; without it, memory holds at most
// queue.max_entries spans (or queue.max_bytes of them), and the rest is
// dropped and counted. Two pipelines of one plugin server, broker down from
// the start, the same traffic into each.
func TestKafkaOutageBacklogMatchesTheModel(t *testing.T) {
	metricsAddr := testutil.FreeAddr(t)
	t.Setenv("TRACE_EXPORTER_METRICS_LISTEN", metricsAddr)
	k := newKafkaBackend(t, kfake.SeedTopics(4, "otlp_spans_mem"))
	k.broker.Stop()
	spooled := k.config()
	spooled["spool_dir"] = shortTempDir(t)
	inMemory := k.config()
	inMemory["kafka"] = map[string]any{"brokers": []string{k.broker.Addr()}, "topic": "otlp_spans_mem"}
	maxEntries := int(inMemory["queue"].(map[string]any)["max_entries"].(int))
	p := startPlugin(t, "", spooled)
	mem, err := p.sim.Configure(kongsim.PluginEntity{ID: "3f2a4b1c-0000-4000-8000-00000000fa18", Config: inMemory})
	if err != nil {
		t.Fatal(err)
	}
	const phase = 4 * time.Second
	events := int(phase.Seconds()) * streamRate
	run := func(prefix string) int {
		a := startStream(func() (*kongsim.Sim, *kongsim.Plugin) { return p.sim, p.entity }, streamRate, prefix+"-disk", events)
		b := startStream(func() (*kongsim.Sim, *kongsim.Plugin) { return p.sim, mem }, streamRate, prefix+"-mem", events)
		okA, failedA := delivered(a.wait())
		okB, failedB := delivered(b.wait())
		if failedA+failedB != 0 || len(okA) != len(okB) {
			t.Fatalf("log events: %d and %d ok, %d and %d failed", len(okA), len(okB), failedA, failedB)
		}
		time.Sleep(300 * time.Millisecond) // the last batch reaches the spool
		return len(okA) * spansPerRequest
	}

	sent := run("one")
	disk := pipelineGauges(t, metricsAddr, "/otlp_spans")
	memory := pipelineGauges(t, metricsAddr, "/otlp_spans_mem")
	if disk["spool_spans"] != float64(sent) || memory["queue_spans"] != float64(sent) {
		t.Fatalf("after %d spans: spool holds %v, memory %v", sent, disk["spool_spans"], memory["queue_spans"])
	}
	diskPerSpan := disk["spool_bytes"] / disk["spool_spans"]
	memPerSpan := memory["queue_bytes"] / memory["queue_spans"]

	sent += run("two")
	if sent <= maxEntries {
		t.Fatalf("%d spans do not exceed queue.max_entries %d: the cap is not exercised", sent, maxEntries)
	}
	disk = pipelineGauges(t, metricsAddr, "/otlp_spans")
	memory = pipelineGauges(t, metricsAddr, "/otlp_spans_mem")
	predicted := float64(sent) * diskPerSpan
	if got := disk["spool_bytes"]; disk["spool_spans"] != float64(sent) || got < 0.95*predicted || got > 1.05*predicted {
		t.Errorf("spool: %v spans, %.0f bytes after %d spans; the model predicts %.0f bytes (%.1f bytes/span)", disk["spool_spans"], got, sent, predicted, diskPerSpan)
	}
	// Dropped: refused by the full queue, or given up after max_retry_time
	// (which makes room for newer spans).
	var dropped float64
	for name, v := range memory {
		if strings.HasPrefix(name, "spans_dropped_total/") {
			dropped += v
		}
	}
	if memory["queue_spans"] != float64(maxEntries) || dropped != float64(sent-maxEntries) || memory["spans_dropped_total/queue_full_entries"] == 0 {
		t.Errorf("memory: %v spans held, %v dropped (%v by a full queue); want queue.max_entries %d held and %d dropped",
			memory["queue_spans"], dropped, memory["spans_dropped_total/queue_full_entries"], maxEntries, sent-maxEntries)
	}
	if disk["queue_spans"] > 200 {
		t.Errorf("with the spool, %v spans stay in memory", disk["queue_spans"])
	}
	record(t, "bytes per span", "%.0f on disk (spool record, Kong 3.9 request of 2 spans), %.0f in the memory queue's estimate", diskPerSpan, memPerSpan)
	record(t, "model check", "%d spans at %d/s with the broker down: spool %.0f bytes, predicted %.0f; memory held %d (max_entries) and dropped %.0f",
		sent, 2*streamRate, disk["spool_bytes"], predicted, maxEntries, dropped)

	if err := k.broker.Restart(); err != nil {
		t.Fatal(err)
	}
	k.waitUnique(t, sent, 60*time.Second)
}

package faults

import (
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/trace-exporter/trace-exporter/test/kafkatest"
	"github.com/trace-exporter/trace-exporter/test/kongsim"
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

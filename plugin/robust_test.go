package plugin

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/trace-exporter/trace-exporter/exporter"
	"github.com/trace-exporter/trace-exporter/test/otlpsink"
)

// Bad input never crashes the plugin server: every serialize payload, however
// malformed, huge or odd, is either turned into spans or counted and skipped,
// and the next good payload still works. The log path is driven through
// logPayload, the stable entry point the Log handler uses after its one PDK
// call, so the parser behind it can change freely.

func robustPlugin(t testing.TB, extra string) *Plugin {
	t.Helper()
	sink := otlpsink.StartOptions(t, otlpsink.Options{Discard: true})
	p := NewWithEnv(NewEnv(exporter.DefaultRegistry)) // counters of its own
	cfg := fmt.Sprintf(`{"traces_endpoint":%q,"queue":{"max_coalescing_delay":0.05}%s,"__seq__":1}`, sink.TracesURL(), extra)
	if err := json.Unmarshal([]byte(cfg), p); err != nil {
		t.Fatalf("config refused: %v", err)
	}
	return p
}

func fixtures(t testing.TB) map[string]string {
	t.Helper()
	paths, err := filepath.Glob("testdata/serialize/*.json")
	if err != nil || len(paths) == 0 {
		t.Fatalf("no fixtures: %v", err)
	}
	out := map[string]string{}
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		out[filepath.Base(p)] = string(b)
	}
	return out
}

// outcomes sums the counters one payload moves: exactly one must move.
func outcomes(c *Stats) int64 {
	return c.SpansBuilt.Load() + c.PayloadInvalid.Load() + c.PayloadStream.Load() +
		c.PayloadTooLarge.Load() + c.Unsampled.Load()
}

// runPayload feeds one payload and reports whether it was counted.
func runPayload(t testing.TB, p *Plugin, payload string) {
	t.Helper()
	c := p.env.Stats
	before := outcomes(c)
	panicsBefore := c.Panics.Load()
	func() {
		defer p.recoverHandler("log") // as Log does: a panic is a bug, counted
		p.rt.logPayload(payload, nil)
	}()
	if c.Panics.Load() != panicsBefore {
		t.Fatalf("logPayload panicked on %.200q", payload)
	}
	if outcomes(c) == before {
		t.Fatalf("payload neither became spans nor was counted: %.200q", payload)
	}
}

func TestBadPayloadsCountedAndSkipped(t *testing.T) {
	p := robustPlugin(t, "")
	good := fixtures(t)["3.9-proxied-consumer.json"]
	manyHeaders := func() string {
		var b strings.Builder
		b.WriteString(`{"request":{"method":"GET","uri":"/","url":"http://h/","headers":{`)
		for i := range 100000 {
			if i > 0 {
				b.WriteByte(',')
			}
			fmt.Fprintf(&b, `"x-h-%d":"v%d"`, i, i)
		}
		b.WriteString(`}},"response":{"status":200},"started_at":1726783839538,"latencies":{"request":1}}`)
		return b.String()
	}()
	counters := p.env.Stats
	cases := []struct {
		name    string
		payload string
		counter int64Counter
	}{
		{"empty", "", &counters.PayloadInvalid},
		{"not json", "kong.log.serialize failed", &counters.PayloadInvalid},
		{"null", "null", &counters.PayloadInvalid},
		{"array", "[1,2,3]", &counters.PayloadInvalid},
		{"no request", `{"response":{"status":200}}`, &counters.PayloadInvalid},
		{"truncated", good[:len(good)/2], &counters.PayloadInvalid},
		{"stream subsystem", fixtures(t)["stream.json"], &counters.PayloadStream},
		{"too large", `{"request":{"uri":"` + strings.Repeat("a", 5<<20) + `"}}`, &counters.PayloadTooLarge},
		{"deep nesting", strings.Repeat("[", 200000) + strings.Repeat("]", 200000), &counters.PayloadInvalid},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before := c.counter.Load()
			runPayload(t, p, c.payload)
			if c.counter.Load() != before+1 {
				t.Fatalf("counter did not move")
			}
			built := counters.SpansBuilt.Load()
			runPayload(t, p, good) // the next request is unaffected
			if counters.SpansBuilt.Load() == built {
				t.Fatal("a good payload after a bad one made no spans")
			}
		})
	}
	// Odd but valid payloads become spans, never a crash.
	odd := map[string]string{
		"giant header count": manyHeaders,
		"non-UTF-8 bytes": strings.NewReplacer("/echo/items", "/\xff\xfe\x80/items", "curl", "cu\xc3\x28rl", "alice", "al\xedce").
			Replace(good),
		"absurd numbers": strings.NewReplacer(`"status":200`, `"status":1e308`, `"size":171`, `"size":-9e300`,
			`"started_at":1726783839538`, `"started_at":-1e300`, `"request":5`, `"request":1e400`, `"port":9000`, `"port":-70000`).
			Replace(good),
		"wrong types": strings.NewReplacer(`"status":200`, `"status":"200"`, `"headers":{`, `"headers":{"h":[[1],{"a":2}],`,
			`"tries":[`, `"tries":[null,"x",`, `"latencies":{`, `"latencies":{"kong":"fast",`).Replace(good),
	}
	for name, payload := range odd {
		t.Run(name, func(t *testing.T) { runPayload(t, p, payload) })
	}
}

type int64Counter = interface{ Load() int64 }

// FuzzLogPayload feeds Kong-shaped payloads (every fixture, per Kong
// version) and their mutations through the log path.
func FuzzLogPayload(f *testing.F) {
	for _, s := range fixtures(f) {
		f.Add(s)
	}
	f.Add(`{"request":{"headers":{"authorization":["a","b"]},"querystring":{"token":true}},"tries":[{}]}`)
	f.Add(`{"request":{},"response":{},"latencies":{"request":-1},"started_at":1e400}`)
	p := robustPlugin(f, `,"capture_request_headers":["x-tenant","x-multi"],"redact_query_params":["id"]`)
	f.Fuzz(func(t *testing.T, payload string) {
		runPayload(t, p, payload)
	})
}

// The Log handler's work with a full queue (every span refused and
// counted): well under a millisecond per request. BenchmarkLogPayloadFullQueue
// measures it; this test guards it loosely for a loaded CI machine.
func TestLogPathWithFullQueueNeverWaits(t *testing.T) {
	p := robustPlugin(t, `,"queue":{"max_entries":2,"max_batch_size":1000,"max_coalescing_delay":3600}`)
	payload := fixtures(t)["3.9-proxied-consumer.json"]
	p.rt.logPayload(payload, nil) // fills the queue (2 spans), never sent (1 h delay)
	rejected := p.env.Stats.QueueRejected.Load()
	const n = 2000
	start := time.Now()
	for range n {
		p.rt.logPayload(payload, nil)
	}
	avg := time.Since(start) / n
	if got := p.env.Stats.QueueRejected.Load() - rejected; got != n {
		t.Fatalf("%d of %d requests refused by the full queue", got, n)
	}
	if avg > 300*time.Microsecond {
		t.Fatalf("log path with a full queue: %s per request", avg)
	}
	t.Logf("log path with a full queue: %s per request", avg)
}

func BenchmarkLogPayloadFullQueue(b *testing.B) {
	p := robustPlugin(b, `,"queue":{"max_entries":2,"max_batch_size":1000,"max_coalescing_delay":3600}`)
	payload := fixtures(b)["3.9-proxied-consumer.json"]
	p.rt.logPayload(payload, nil)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			p.rt.logPayload(payload, nil)
		}
	})
}

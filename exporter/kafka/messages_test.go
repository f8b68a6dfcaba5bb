package kafka

import (
	"testing"
	"time"

	"github.com/trace-exporter/trace-exporter/exporter"
	"github.com/trace-exporter/trace-exporter/test/kafkatest"
)

// Spans of interleaved traces are grouped per trace, traces in order of
// first appearance, spans in batch order; the batch itself is untouched.
func TestGroupByTraceIsStable(t *testing.T) {
	tr := func(b byte) exporter.TraceID { return exporter.TraceID{b, 1} }
	spans := []exporter.Span{
		{TraceID: tr(1), SpanID: exporter.SpanID{1}}, {TraceID: tr(2), SpanID: exporter.SpanID{2}},
		{TraceID: tr(1), SpanID: exporter.SpanID{3}}, {TraceID: tr(3), SpanID: exporter.SpanID{4}},
		{TraceID: tr(2), SpanID: exporter.SpanID{5}}, {TraceID: tr(1), SpanID: exporter.SpanID{6}},
	}
	orig := append([]exporter.Span(nil), spans...)
	b := newBuilder(1<<20, false, true)
	got := groupByTrace(b, spans, &b.grouped, spanTrace)
	want := []byte{1, 3, 6, 2, 5, 4}
	for i, s := range got {
		if s.SpanID[0] != want[i] {
			t.Fatalf("order %v, want span ids %v", got, want)
		}
	}
	for i := range spans {
		if spans[i].SpanID != orig[i].SpanID {
			t.Fatal("the batch was reordered in place")
		}
	}
	// Already grouped: no copy.
	grouped := []exporter.Span{{TraceID: tr(1)}, {TraceID: tr(1)}, {TraceID: tr(2)}}
	if g := groupByTrace(b, grouped, &b.grouped, spanTrace); &g[0] != &grouped[0] {
		t.Error("a grouped batch was copied")
	}
}

// Every message the builder cuts fits the limit, carries whole spans, and
// the messages together carry every span once, in both modes and both
// encodings.
func TestBuilderSplitsWithinTheLimit(t *testing.T) {
	batch := oneTrace(120, 300, 9)
	batch.Spans = append(batch.Spans, uniqueTraces(60, 9).Spans...)
	for _, json := range []bool{false, true} {
		for _, byTrace := range []bool{false, true} {
			for _, limit := range []int{2000, 9000, 50000, 1 << 20} {
				b := newBuilder(limit, json, byTrace)
				b.build(batch)
				seen := map[string]int{}
				for i := range b.msgs {
					m := &b.msgs[i]
					if size := len(b.key(m)) + len(b.value(m)); size > limit {
						t.Fatalf("json=%v byTrace=%v limit %d: message of %d bytes", json, byTrace, limit, size)
					}
					req, err := kafkatest.DecodeValue(b.value(m), json)
					if err != nil {
						t.Fatal(err)
					}
					if n := kafkatest.SpanCount(req); n != m.items {
						t.Fatalf("message says %d spans, holds %d", m.items, n)
					}
					for id, n := range traceIDs(req) {
						if byTrace && id != string(b.key(m)) {
							t.Fatalf("message keyed %q holds trace %s", b.key(m), id)
						}
						seen[id] += n
					}
				}
				total := 0
				for _, n := range seen {
					total += n
				}
				if total+b.oversize != len(batch.Spans) {
					t.Fatalf("json=%v byTrace=%v limit %d: %d spans in messages + %d oversize, want %d", json, byTrace, limit, total, b.oversize, len(batch.Spans))
				}
			}
		}
	}
}

// The builder's buffers are reused: after the first batches, building the
// same shape allocates (almost) nothing.
func TestBuilderReusesItsBuffers(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are meaningless under the race detector")
	}
	batch := uniqueTraces(200, 10)
	b := newBuilder(messageLimit(1000000), false, true)
	b.build(batch)
	allocs := testing.AllocsPerRun(20, func() { b.build(batch) })
	if allocs > 1 {
		t.Errorf("%.1f allocations per build of 200 spans", allocs)
	}
}

func TestLedgerRemembersBoundedAndForgets(t *testing.T) {
	l := newLedger(3, time.Minute)
	now := time.Now()
	d := func(s string) digest { return l.digest([]byte("k"), []byte(s)) }
	if d("a") == d("b") || d("a") != d("a") || l.digest(nil, []byte("ka")) == l.digest([]byte("k"), []byte("a")) {
		t.Fatal("digests do not tell messages apart")
	}
	if !l.empty() {
		t.Fatal("new ledger not empty")
	}
	l.remember(d("a"), entry{at: now})
	l.remember(d("b"), entry{at: now, refused: true})
	if e, ok := l.lookup(d("b"), now); !ok || !e.refused {
		t.Fatalf("b: %v %v", e, ok)
	}
	l.remember(d("c"), entry{at: now.Add(time.Second)})
	l.remember(d("d"), entry{at: now.Add(2 * time.Second)})
	if _, ok := l.lookup(d("a"), now); ok {
		t.Error("the oldest entry survived the cap of 3")
	}
	if _, ok := l.lookup(d("d"), now); !ok {
		t.Error("the newest entry is gone")
	}
	if _, ok := l.lookup(d("c"), now.Add(2*time.Minute)); ok {
		t.Error("an entry older than the ttl was found")
	}
	for _, s := range []string{"a", "b", "c", "d"} {
		l.forget(d(s))
	}
	if !l.empty() {
		t.Error("not empty after forgetting everything")
	}
	// Re-remembering one message over and over keeps the order list small.
	for i := range 1000 {
		l.remember(d("x"), entry{at: now.Add(time.Duration(i) * time.Millisecond)})
	}
	if len(l.order) > 2*len(l.entries)+64 {
		t.Errorf("order holds %d items for %d entries", len(l.order), len(l.entries))
	}
}

func spanTrace(s *exporter.Span) exporter.TraceID { return s.TraceID }

package exporter

import "testing"

// spansForTest returns n small spans of one trace.
func spansForTest(n int) []Span {
	spans := make([]Span, n)
	for i := range spans {
		spans[i] = Span{
			TraceID: TraceID{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, byte(i + 1)},
			SpanID:  SpanID{1, 2, 3, 4, 5, 6, 7, byte(i + 1)},
			Name:    "GET /test", Kind: KindServer,
			Attributes: []Attribute{String("http.request.method", "GET"), Int("http.response.status_code", 200)},
		}
	}
	return spans
}

func TestRequestSpansAreAdmittedTogether(t *testing.T) {
	q := newQueue(5, 1<<30, 100)
	if q.push(spansForTest(3)) != pushAccepted {
		t.Fatal("3 of 5")
	}
	if r := q.push(spansForTest(3)); r != pushFullEntries {
		t.Fatalf("3 more into 2 free slots: %v, want refused whole", r)
	}
	if q.push(spansForTest(2)) != pushAccepted {
		t.Fatal("2 into 2 free slots")
	}
	spans, bytes := q.take(nil, 4, 1<<30)
	if len(spans) != 4 || bytes != 4*int64(EstimateSpanBytes(&spans[0])) {
		t.Fatalf("took %d spans (%d bytes)", len(spans), bytes)
	}
	if n, _ := q.held(); n != 5 {
		t.Fatalf("taken spans must stay held until done: %d", n)
	}
	q.done(4, bytes)
	if n, _, _ := q.waiting(); n != 1 {
		t.Fatalf("%d waiting, want 1", n)
	}
}

func TestBatchesAreCutByBytes(t *testing.T) {
	q := newQueue(1000, 1<<40, 1000)
	big := spansForTest(3)
	for i := range big {
		big[i].Name = string(make([]byte, 3<<20)) // 3 MiB names
	}
	q.push(big)
	first, _ := q.take(nil, 1000, maxBatchBytes)
	second, _ := q.take(nil, 1000, maxBatchBytes)
	if len(first) != 2 || len(second) != 1 {
		t.Fatalf("batches of %d and %d spans, want 2 and 1 under %d bytes", len(first), len(second), maxBatchBytes)
	}
	huge := spansForTest(1)
	huge[0].Name = string(make([]byte, 2*maxBatchBytes))
	q.push(huge)
	if got, _ := q.take(nil, 1000, maxBatchBytes); len(got) != 1 {
		t.Fatal("a span larger than a batch must still go alone")
	}
}

package exporter

import (
	"sync"
	"time"
	"unsafe"
)

// queue holds a pipeline's spans between Enqueue and the end of their
// export, bounded by span count and by estimated bytes.
//
// Full-queue policy: the newest spans are refused (and counted), never the
// oldest. Kong's queue drops the oldest entry instead; we do not because
//   - refusing is O(1) under the lock and needs no bookkeeping of partially
//     dropped batches, so the Log handler never waits on the exporter;
//   - spans already accepted may be in a batch being sent or retried (and,
//     with the spool, persisted): evicting them would break the
//     "accepted spans end up exported or counted once" accounting;
//   - under a lasting outage both policies lose the same number of spans;
//     the OTel SDK's BatchSpanProcessor and the Collector's sending queue
//     also refuse new data when full.
//
// A request's spans are admitted all together or not at all, so a trace is
// never exported with its root span missing.
//
// Spans in flight (taken for export, not yet done) still count against the
// limits: max_entries and max_bytes bound everything the pipeline holds in
// memory, which is what the limits are for.
type queue struct {
	maxSpans int
	maxBytes int64

	// notify wakes the batcher (capacity 1, sends never block): on the first
	// span after empty, when a full batch is waiting, and at shutdown.
	notify    chan struct{}
	batchSize int

	mu      sync.Mutex
	pending []queuedSpan // waiting spans, oldest first from head
	head    int
	firstAt time.Time // when the oldest waiting span arrived (batch delay start)
	spans   int       // held: waiting + in flight
	bytes   int64
	state   queueState

	// holdOpen, if set, keeps a shutting-down queue accepting while it
	// returns true (the spool's senders are still flushing). Called under
	// mu: it must not block.
	holdOpen func() bool
}

type queuedSpan struct {
	span Span
	size int64
}

type queueState uint8

const (
	queueOpen     queueState = iota
	queueReaped              // idle pipeline removed: callers re-acquire
	queueShutdown            // process stopping: flush what comes until the batcher is done
	queueClosed              // flushed or past the shutdown deadline: refuse
)

// pushResult says what happened to a push.
type pushResult uint8

const (
	pushAccepted pushResult = iota
	pushFullEntries
	pushFullBytes
	pushReaped
	pushShutdown
)

func newQueue(maxSpans int, maxBytes int64, batchSize int) *queue {
	reserveQueueMemory(maxBytes)
	return &queue{
		maxSpans:  maxSpans,
		maxBytes:  maxBytes,
		batchSize: batchSize,
		notify:    make(chan struct{}, 1),
	}
}

// push admits every span of spans or none of them. It never blocks on
// anything but the queue's short critical section.
func (q *queue) push(spans []Span) pushResult {
	var sizesArr [8]int64
	sizes := sizesArr[:0]
	var total int64
	for i := range spans {
		n := int64(estimateSpanBytes(&spans[i]))
		sizes = append(sizes, n)
		total += n
	}

	q.mu.Lock()
	switch {
	case q.state == queueReaped:
		q.mu.Unlock()
		return pushReaped
	case q.state == queueClosed:
		q.mu.Unlock()
		return pushShutdown
	case q.spans+len(spans) > q.maxSpans:
		q.mu.Unlock()
		return pushFullEntries
	case q.bytes+total > q.maxBytes:
		q.mu.Unlock()
		return pushFullBytes
	}
	wasEmpty := len(q.pending) == q.head
	if wasEmpty {
		q.firstAt = time.Now()
	}
	for i := range spans {
		q.pending = append(q.pending, queuedSpan{span: spans[i], size: sizes[i]})
	}
	q.spans += len(spans)
	q.bytes += total
	waiting := len(q.pending) - q.head
	q.mu.Unlock()

	if wasEmpty || (waiting >= q.batchSize && waiting-len(spans) < q.batchSize) {
		q.wake()
	}
	return pushAccepted
}

func (q *queue) wake() {
	select {
	case q.notify <- struct{}{}:
	default:
	}
}

// waiting returns the number of spans not yet taken, when the oldest of
// them arrived, and whether the queue is closed (reaped or shutting down:
// flush at once, then stop). Spans offered while shutting down are still
// taken (Kong's log events reach the old plugin server during a reload)
// until the batcher finds the queue empty: from then on they are refused.
func (q *queue) waiting() (n int, firstAt time.Time, draining bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	n = len(q.pending) - q.head
	if n == 0 && q.state == queueShutdown {
		if q.spans > 0 || (q.holdOpen != nil && q.holdOpen()) {
			return 0, q.firstAt, false // still flushing: wait (done wakes us)
		}
		q.state = queueClosed
	}
	return n, q.firstAt, q.state != queueOpen
}

// take moves up to maxSpans waiting spans (and at least one, whatever its
// size, up to maxBytes) into dst for export. They stay counted as held
// until done is called.
func (q *queue) take(dst []Span, maxSpans int, maxBytes int64) ([]Span, int64) {
	q.mu.Lock()
	defer q.mu.Unlock()
	var bytes int64
	end := q.head
	for end < len(q.pending) && end-q.head < maxSpans {
		if end > q.head && bytes+q.pending[end].size > maxBytes {
			break
		}
		bytes += q.pending[end].size
		dst = append(dst, q.pending[end].span)
		end++
	}
	clear(q.pending[q.head:end]) // let the GC have the spans' attributes once exported
	q.head = end
	switch {
	case q.head == len(q.pending):
		// Keep the array for the next burst unless a past burst made it
		// much larger than a batch.
		if cap(q.pending) > 4*q.batchSize+64 {
			q.pending = nil
		} else {
			q.pending = q.pending[:0]
		}
		q.head = 0
	case q.head >= 1024 && q.head*2 >= len(q.pending):
		n := copy(q.pending, q.pending[q.head:])
		clear(q.pending[n:])
		q.pending = q.pending[:n]
		q.head = 0
		// The rest starts the next batch: its delay runs from now.
		q.firstAt = time.Now()
	default:
		q.firstAt = time.Now()
	}
	return dst, bytes
}

// done releases spans that were taken, whatever their outcome.
func (q *queue) done(spans int, bytes int64) {
	q.mu.Lock()
	q.spans -= spans
	q.bytes -= bytes
	flushed := q.state == queueShutdown && q.spans == 0
	q.mu.Unlock()
	if flushed {
		q.wake()
	}
}

// held returns the spans and bytes held (waiting and in flight).
func (q *queue) held() (int, int64) {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.spans, q.bytes
}

// reapIfEmpty marks the queue reaped if it holds nothing; pushes then fail
// with pushReaped and the caller re-acquires a fresh pipeline.
func (q *queue) reapIfEmpty() bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.spans != 0 || q.state != queueOpen {
		return false
	}
	q.state = queueReaped
	reserveQueueMemory(-q.maxBytes)
	return true
}

// beginShutdown wakes the batcher to flush; see waiting.
func (q *queue) beginShutdown() {
	q.mu.Lock()
	if q.state == queueOpen {
		q.state = queueShutdown
	}
	q.mu.Unlock()
	q.wake()
}

// discardWaiting removes every waiting span (shutdown deadline passed) and
// returns how many there were.
func (q *queue) discardWaiting() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.state == queueShutdown {
		q.state = queueClosed
	}
	n := len(q.pending) - q.head
	var bytes int64
	for _, e := range q.pending[q.head:] {
		bytes += e.size
	}
	q.pending, q.head = nil, 0
	q.spans -= n
	q.bytes -= bytes
	return n
}

// Sizes of the structs a queued span occupies, charged on top of its data.
const (
	spanStructBytes      = int(unsafe.Sizeof(queuedSpan{}))
	attributeStructBytes = int(unsafe.Sizeof(Attribute{}))
	eventStructBytes     = int(unsafe.Sizeof(Event{}))
	stringHeaderBytes    = int(unsafe.Sizeof(""))
)

// estimateSpanBytes is what a queued span costs in memory: its structs plus
// its string bytes. It is cheap (no UTF-8 checks) and, for valid UTF-8, at
// least the span's protobuf size, since every struct is larger than the
// tags and lengths that encode it; so batches cut by this estimate never
// exceed the OTLP request size limit in protobuf.
func estimateSpanBytes(s *Span) int {
	n := spanStructBytes + len(s.TraceState) + len(s.Name) + len(s.StatusMessage) +
		estimateAttributesBytes(s.Attributes)
	for i := range s.Events {
		ev := &s.Events[i]
		n += eventStructBytes + len(ev.Name) + estimateAttributesBytes(ev.Attributes)
	}
	return n
}

func estimateAttributesBytes(attrs []Attribute) int {
	n := len(attrs) * attributeStructBytes
	for i := range attrs {
		a := &attrs[i]
		n += len(a.Key) + len(a.Value.AsString())
		for _, s := range a.Value.AsStringSlice() {
			n += stringHeaderBytes + len(s) + 4 // +4: the AnyValue wrapping each element
		}
	}
	return n
}

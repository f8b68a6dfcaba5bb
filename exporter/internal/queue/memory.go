package queue

import (
	"context"
	"sync"
	"time"
)

// Options size a memory queue.
type Options[T any] struct {
	MaxItems   int           // items held (waiting and in flight)
	MaxBytes   int64         // estimated bytes held
	BatchSize  int           // items per batch
	BatchBytes int64         // estimated bytes per batch (a larger item still goes alone)
	Delay      time.Duration // how long the oldest item waits for a batch to fill
	// Size estimates an item's memory (and at least its encoded size, so
	// batches cut by BatchBytes stay under request limits).
	Size func(*T) int64
}

// Memory is a pipeline's bounded memory queue.
//
// Full-queue policy: the newest items are refused (and counted by the
// caller), never the oldest. Kong's queue drops the oldest instead; this
// one does not because refusing is O(1) under the lock, so the log handler
// never waits on the exporter; items already accepted may be in a batch
// being sent or retried, and evicting them would break the "accepted items
// end up exported or counted once" accounting; under a lasting outage both
// policies lose the same number of items; and the OpenTelemetry SDK's batch
// processor and the Collector's sending queue also refuse new data when
// full.
//
// Items in flight (read, not yet Done) still count against the limits:
// MaxItems and MaxBytes bound everything the pipeline holds in memory.
type Memory[T any] struct {
	opts Options[T]

	// notify wakes one waiting reader (capacity 1, sends never block): on
	// the first item after empty, when a full batch waits, when the queue
	// drains or closes. A reader that leaves work behind wakes the next.
	notify chan struct{}
	pool   sync.Pool // []T of settled batches

	mu      sync.Mutex
	pending []entry[T] // waiting items, oldest first from head
	head    int
	firstAt time.Time // when the oldest waiting item arrived
	items   int64     // held: waiting + in flight
	bytes   int64
	state   state
}

type entry[T any] struct {
	item T
	size int64
}

type state uint8

const (
	open     state = iota
	reaped         // idle queue removed: callers re-acquire
	draining       // shutting down: hand out at once, accept until empty
	closed         // drained or past the deadline: refuse
)

// NewMemory returns an empty queue.
func NewMemory[T any](opts Options[T]) *Memory[T] {
	opts.BatchSize = max(opts.BatchSize, 1)
	if opts.BatchBytes <= 0 {
		opts.BatchBytes = opts.MaxBytes
	}
	return &Memory[T]{opts: opts, notify: make(chan struct{}, 1)}
}

// Offer admits every item or none. It never blocks on anything but the
// queue's short critical section.
func (q *Memory[T]) Offer(items []T) Result {
	var sizesArr [8]int64
	sizes := sizesArr[:0]
	var total int64
	for i := range items {
		n := q.opts.Size(&items[i])
		sizes = append(sizes, n)
		total += n
	}

	q.mu.Lock()
	switch {
	case q.state == reaped:
		q.mu.Unlock()
		return Reaped
	case q.state == closed:
		q.mu.Unlock()
		return Shutdown
	case q.items+int64(len(items)) > int64(q.opts.MaxItems):
		q.mu.Unlock()
		return FullItems
	case q.bytes+total > q.opts.MaxBytes:
		q.mu.Unlock()
		return FullBytes
	}
	wasEmpty := len(q.pending) == q.head
	if wasEmpty {
		q.firstAt = time.Now()
	}
	for i := range items {
		q.pending = append(q.pending, entry[T]{item: items[i], size: sizes[i]})
	}
	q.items += int64(len(items))
	q.bytes += total
	waiting := len(q.pending) - q.head
	q.mu.Unlock()

	if wasEmpty || (waiting >= q.opts.BatchSize && waiting-len(items) < q.opts.BatchSize) {
		q.wake()
	}
	return Accepted
}

func (q *Memory[T]) wake() {
	select {
	case q.notify <- struct{}{}:
	default:
	}
}

// Read waits for a batch by size or delay (at once while draining).
func (q *Memory[T]) Read(ctx context.Context) (*Batch[T], bool) {
	var timer *time.Timer
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	for {
		b, wait, ok := q.tryTake(time.Now())
		if !ok {
			q.wake() // let the other readers see the end too
			return nil, false
		}
		if b != nil {
			return b, true
		}
		var expire <-chan time.Time
		if wait > 0 {
			if timer == nil {
				timer = time.NewTimer(wait)
			} else {
				timer.Reset(wait)
			}
			expire = timer.C
		}
		select {
		case <-q.notify:
		case <-expire:
		case <-ctx.Done():
			return nil, false
		}
		if timer != nil && expire != nil && !timer.Stop() {
			select {
			case <-timer.C:
			default:
			}
		}
	}
}

// tryTake takes a batch if one is due. Otherwise it returns how long until
// one is (0: wait for a change), or ok false when the queue is finished.
func (q *Memory[T]) tryTake(now time.Time) (b *Batch[T], wait time.Duration, ok bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	n := len(q.pending) - q.head
	switch {
	case q.state == closed, q.state == reaped:
		return nil, 0, false
	case n == 0 && q.state == draining:
		if q.items > 0 {
			return nil, 0, true // in flight: wait, offers may still come
		}
		q.state = closed
		return nil, 0, false
	case n == 0:
		return nil, 0, true
	case n < q.opts.BatchSize && q.state == open:
		if wait := q.firstAt.Add(q.opts.Delay).Sub(now); wait > 0 {
			return nil, wait, true
		}
	}
	buf, _ := q.pool.Get().([]T)
	items, bytes := q.takeLocked(buf[:0], q.opts.BatchSize, q.opts.BatchBytes, now)
	if len(q.pending)-q.head >= q.opts.BatchSize || (q.state == draining && len(q.pending) > q.head) {
		q.wake() // more is due: the next reader
	}
	return &Batch[T]{Items: items, bytes: bytes, done: q.settle}, 0, true
}

// takeLocked moves up to maxItems waiting items (and at least one,
// whatever its size, up to maxBytes) into dst. They stay held until
// released.
func (q *Memory[T]) takeLocked(dst []T, maxItems int, maxBytes int64, now time.Time) ([]T, int64) {
	var bytes int64
	end := q.head
	for end < len(q.pending) && end-q.head < maxItems {
		if end > q.head && bytes+q.pending[end].size > maxBytes {
			break
		}
		bytes += q.pending[end].size
		dst = append(dst, q.pending[end].item)
		end++
	}
	clear(q.pending[q.head:end]) // let the GC have the items once exported
	q.head = end
	switch {
	case q.head == len(q.pending):
		// Keep the array for the next burst unless a past burst made it
		// much larger than a batch.
		if cap(q.pending) > 4*q.opts.BatchSize+64 {
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
		q.firstAt = now // the rest starts the next batch: its delay runs from now
	default:
		q.firstAt = now
	}
	return dst, bytes
}

// settle releases a batch's items, whatever its outcome: a memory queue
// cannot keep a returned batch, so its items are lost.
func (q *Memory[T]) settle(b *Batch[T], o Outcome) int {
	n := len(b.Items)
	q.Release(b.Items, b.bytes)
	b.Items = nil
	if o == Returned {
		return n
	}
	return 0
}

// Release ends the hold on items taken with TakeWaiting (or a settled
// batch's) and recycles their slice.
func (q *Memory[T]) Release(items []T, bytes int64) {
	q.mu.Lock()
	q.items -= int64(len(items))
	q.bytes -= bytes
	flushed := q.state == draining && q.items == 0
	q.mu.Unlock()
	if flushed {
		q.wake()
	}
	clear(items)
	if cap(items) <= 4*q.opts.BatchSize {
		q.pool.Put(items[:0]) // one small allocation per batch, not per item
	}
}

// TakeWaiting takes up to maxItems waiting items (at least one, up to
// maxBytes) without waiting for a batch to fill: a spool writes them to
// disk as soon as they arrive. They stay held until Release or Requeue.
func (q *Memory[T]) TakeWaiting(maxItems int, maxBytes int64) ([]T, int64) {
	buf, _ := q.pool.Get().([]T)
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.pending) == q.head {
		return nil, 0
	}
	return q.takeLocked(buf[:0], maxItems, maxBytes, time.Now())
}

// Requeue puts items taken with TakeWaiting back in front of the waiting
// ones (they could not be written), still held.
func (q *Memory[T]) Requeue(items []T) {
	if len(items) == 0 {
		return
	}
	back := make([]entry[T], 0, len(items)+len(q.pending))
	for i := range items {
		back = append(back, entry[T]{item: items[i], size: q.opts.Size(&items[i])})
	}
	q.mu.Lock()
	back = append(back, q.pending[q.head:]...)
	q.pending, q.head = back, 0
	q.firstAt = time.Now()
	q.mu.Unlock()
	q.wake()
}

// Notify is the channel a queue's single consumer other than Read (a
// spool's writer) waits on for items to arrive.
func (q *Memory[T]) Notify() <-chan struct{} { return q.notify }

// Drain starts the shutdown (see Source).
func (q *Memory[T]) Drain() {
	q.mu.Lock()
	if q.state == open {
		q.state = draining
	}
	q.mu.Unlock()
	q.wake()
}

// Close refuses new items and drops the waiting ones, returning how many.
func (q *Memory[T]) Close() (int, error) {
	return len(q.CloseAndTake()), nil
}

// CloseAndTake closes the queue and hands its waiting items to the caller
// (a spool persists them); they are no longer held.
func (q *Memory[T]) CloseAndTake() []T {
	q.mu.Lock()
	if q.state != reaped { // a reaped queue keeps sending callers to a new one
		q.state = closed
	}
	var out []T
	var bytes int64
	for _, e := range q.pending[q.head:] {
		out = append(out, e.item)
		bytes += e.size
	}
	q.items -= int64(len(out))
	q.bytes -= bytes
	q.pending, q.head = nil, 0
	q.mu.Unlock()
	q.wake()
	return out
}

// Reap marks an empty, open queue reaped.
func (q *Memory[T]) Reap() bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.items != 0 || q.state != open {
		return false
	}
	q.state = reaped
	return true
}

// Usage reports the items and bytes held.
func (q *Memory[T]) Usage() Usage {
	q.mu.Lock()
	defer q.mu.Unlock()
	return Usage{Items: q.items, Bytes: q.bytes}
}

// Durable: a memory queue loses what is returned to it.
func (q *Memory[T]) Durable() bool { return false }

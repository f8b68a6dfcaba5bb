package queue

import (
	"context"
	"sync"
	"testing"
	"time"
)

type item struct {
	id   int
	size int64
}

func items(from, n int, size int64) []item {
	out := make([]item, n)
	for i := range out {
		out[i] = item{from + i, size}
	}
	return out
}

func newTestQueue(maxItems int, maxBytes int64, batch int, delay time.Duration) *Memory[item] {
	return NewMemory(Options[item]{
		MaxItems: maxItems, MaxBytes: maxBytes, BatchSize: batch, BatchBytes: 1 << 20,
		Delay: delay, Size: func(it *item) int64 { return it.size },
	})
}

func read(t *testing.T, q *Memory[item]) *Batch[item] {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	b, ok := q.Read(ctx)
	if !ok {
		t.Fatal("Read finished")
	}
	return b
}

// A request's items are admitted all together or not at all, and items in
// flight still count against the limits until their batch is settled.
func TestOfferAdmitsWholeRequests(t *testing.T) {
	q := newTestQueue(5, 1<<30, 4, 0)
	if q.Offer(items(0, 3, 10)) != Accepted {
		t.Fatal("3 of 5")
	}
	if r := q.Offer(items(3, 3, 10)); r != FullItems {
		t.Fatalf("3 more into 2 free slots: %v, want refused whole", r)
	}
	if q.Offer(items(3, 2, 10)) != Accepted {
		t.Fatal("2 into 2 free slots")
	}
	b := read(t, q)
	if len(b.Items) != 4 || b.Bytes() != 40 || b.Items[0].id != 0 || b.Items[3].id != 3 {
		t.Fatalf("batch %+v (%d bytes)", b.Items, b.Bytes())
	}
	if u := q.Usage(); u.Items != 5 || u.Bytes != 50 {
		t.Fatalf("read items must stay held until settled: %+v", u)
	}
	if r := q.Offer(items(9, 1, 10)); r != FullItems {
		t.Fatalf("in-flight items count: %v", r)
	}
	b.Done(Settled)
	if u := q.Usage(); u.Items != 1 || u.Bytes != 10 {
		t.Fatalf("after settling: %+v", u)
	}
	if r := q.Offer(items(9, 1, 1<<40)); r != FullBytes {
		t.Fatalf("bytes bound: %v", r)
	}
}

// A batch is handed out when it is full, or when its oldest item waited the
// delay, whichever comes first; batches are cut by bytes too.
func TestReadCutsBySizeDelayAndBytes(t *testing.T) {
	q := newTestQueue(1000, 1<<40, 10, 50*time.Millisecond)
	q.Offer(items(0, 25, 1))
	start := time.Now()
	if b := read(t, q); len(b.Items) != 10 || time.Since(start) > 40*time.Millisecond {
		t.Fatalf("full batch: %d items after %s", len(b.Items), time.Since(start))
	} else {
		b.Done(Settled)
	}
	read(t, q).Done(Settled) // the second full batch
	start = time.Now()
	b := read(t, q)
	if len(b.Items) != 5 || time.Since(start) < 30*time.Millisecond {
		t.Fatalf("partial batch: %d items after %s, want 5 after the delay", len(b.Items), time.Since(start))
	}
	b.Done(Settled)

	big := NewMemory(Options[item]{MaxItems: 100, MaxBytes: 1 << 40, BatchSize: 100, BatchBytes: 5 << 20, Size: func(it *item) int64 { return it.size }})
	big.Offer(items(0, 3, 3<<20))
	if b := read(t, big); len(b.Items) != 1 {
		t.Fatalf("3 MiB items under a 5 MiB batch: %d per batch, want 1", len(b.Items))
	}
	huge := NewMemory(Options[item]{MaxItems: 100, MaxBytes: 1 << 40, BatchSize: 100, BatchBytes: 1 << 20, Size: func(it *item) int64 { return it.size }})
	huge.Offer(items(0, 1, 2<<20))
	if b := read(t, huge); len(b.Items) != 1 {
		t.Fatal("an item larger than a batch must still go alone")
	}
}

// Drain hands out what waits at once, keeps accepting while items are in
// flight, and finishes every reader once nothing is left.
func TestDrainFlushesThenFinishes(t *testing.T) {
	q := newTestQueue(100, 1<<30, 50, time.Hour)
	q.Offer(items(0, 3, 1))
	q.Drain()
	b := read(t, q)
	if len(b.Items) != 3 {
		t.Fatalf("drain must not wait for the delay: %d items", len(b.Items))
	}
	if q.Offer(items(3, 2, 1)) != Accepted {
		t.Fatal("offers while a batch is in flight must still be accepted")
	}
	b.Done(Settled)
	read(t, q).Done(Settled)
	var wg sync.WaitGroup
	for range 3 {
		wg.Go(func() {
			if _, ok := q.Read(context.Background()); ok {
				t.Error("a drained queue handed out a batch")
			}
		})
	}
	wg.Wait()
	if r := q.Offer(items(9, 1, 1)); r != Shutdown {
		t.Fatalf("offer after the drain finished: %v", r)
	}
}

// Close drops what waits (counted) and lets in-flight batches settle; a
// returned batch of a memory queue is lost.
func TestCloseAndReturned(t *testing.T) {
	q := newTestQueue(100, 1<<30, 2, 0)
	q.Offer(items(0, 5, 1))
	b := read(t, q)
	if lost, err := q.Close(); lost != 3 || err != nil {
		t.Fatalf("close lost %d (%v), want the 3 waiting", lost, err)
	}
	if lost := b.Done(Returned); lost != 2 {
		t.Fatalf("returned batch: %d lost, want 2", lost)
	}
	if u := q.Usage(); u.Items != 0 || u.Bytes != 0 {
		t.Fatalf("usage after close: %+v", u)
	}
	if b.Done(Settled) != 0 {
		t.Fatal("Done twice must be a no-op")
	}
}

// An idle, empty queue is reaped: readers finish and offers answer Reaped.
func TestReap(t *testing.T) {
	q := newTestQueue(100, 1<<30, 2, 0)
	q.Offer(items(0, 1, 1))
	if q.Reap() {
		t.Fatal("reaped a queue holding an item")
	}
	read(t, q).Done(Settled)
	done := make(chan struct{})
	go func() {
		defer close(done)
		if _, ok := q.Read(context.Background()); ok {
			t.Error("a reaped queue handed out a batch")
		}
	}()
	if !q.Reap() {
		t.Fatal("an empty queue must be reapable")
	}
	q.wake()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("reader still waiting on a reaped queue")
	}
	if q.Offer(items(1, 1, 1)) != Reaped {
		t.Fatal("offer to a reaped queue")
	}
}

// TakeWaiting and Requeue serve a spool's writer: taken items stay held,
// requeued ones come back first.
func TestTakeWaitingAndRequeue(t *testing.T) {
	q := newTestQueue(100, 1<<30, 10, time.Hour)
	q.Offer(items(0, 4, 1))
	got, bytes := q.TakeWaiting(3, 1<<20)
	if len(got) != 3 || bytes != 3 || q.Usage().Items != 4 {
		t.Fatalf("took %v (%d bytes), usage %+v", got, bytes, q.Usage())
	}
	q.Requeue(got)
	q.Drain()
	b := read(t, q)
	if len(b.Items) != 4 || b.Items[0].id != 0 || b.Items[3].id != 3 {
		t.Fatalf("requeued items must come first, in order: %+v", b.Items)
	}
}

// Several readers share the work: every item is read exactly once.
func TestConcurrentReadersSeeEveryItemOnce(t *testing.T) {
	q := newTestQueue(100000, 1<<40, 7, time.Millisecond)
	seen := make([]int, 5000)
	var mu sync.Mutex
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for {
				b, ok := q.Read(context.Background())
				if !ok {
					return
				}
				mu.Lock()
				for _, it := range b.Items {
					seen[it.id]++
				}
				mu.Unlock()
				b.Done(Settled)
			}
		})
	}
	for i := 0; i < 5000; i += 5 {
		if q.Offer(items(i, 5, 1)) != Accepted {
			t.Fatal("refused")
		}
	}
	q.Drain()
	wg.Wait()
	for id, n := range seen {
		if n != 1 {
			t.Fatalf("item %d read %d times", id, n)
		}
	}
}

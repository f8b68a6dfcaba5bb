// Package queue holds what a pipeline has accepted until its export ends:
// the bounded memory queue here, and the disk spool (package spool) that
// implements the same Source interface, so a pipeline has one path — its
// workers Read batches and settle each with Done — whichever holds them.
// It is generic over the item (spans, log records): the pipeline passes the
// item's size estimate.
package queue

import "context"

// Source is where a pipeline's workers take batches from.
type Source[T any] interface {
	// Offer admits every item or none (a request's spans stay together) and
	// never blocks: it runs in Kong's log handler.
	Offer(items []T) Result
	// Read waits for the next batch: BatchSize items waiting, the oldest of
	// them waiting Delay, or at once while draining. ok is false once the
	// source is finished: drained after Drain, closed, or ctx ended.
	Read(ctx context.Context) (b *Batch[T], ok bool)
	// Drain starts the shutdown: Read hands out what waits without delay and
	// finishes once nothing is left; Offer keeps accepting until then (Kong
	// may still deliver log events to a plugin server it is replacing).
	Drain()
	// Close ends the source at the shutdown deadline and returns how many
	// waiting items were lost (a spool keeps them on disk instead) and what
	// failed in closing. Batches handed out are still settled with Done
	// afterwards.
	Close() (lost int, err error)
	// Reap marks an idle source that holds nothing as reaped (Offer then
	// answers Reaped) and reports whether it did.
	Reap() bool
	// Usage reports what the source holds now.
	Usage() Usage
	// Durable reports whether a Returned batch is kept (a spool): with the
	// circuit breaker open, the pipeline then leaves batches where they
	// are instead of shedding them.
	Durable() bool
}

// Result says what Offer did.
type Result uint8

// Offer results.
const (
	Accepted Result = iota
	FullItems
	FullBytes
	Reaped   // the idle source was reaped: acquire a new one
	Shutdown // the source is finished: refused
)

// Usage is what a source holds: in memory (waiting and in flight), and on
// disk for a spool.
type Usage struct {
	Items, Bytes             int64
	StoredItems, StoredBytes int64
	StoreOpen                bool // a spool's file is open
}

// Outcome is how a batch ended, for Done.
type Outcome uint8

// Batch outcomes.
const (
	// Settled: delivered, or dropped for good and counted by the pipeline;
	// the source forgets the items.
	Settled Outcome = iota
	// Returned: not sent (shutdown deadline, circuit breaker, retry budget
	// spent, Stop closed); the source keeps the items if it can (a spool
	// does) and Done reports how many it could not keep.
	Returned
)

// Batch is what Read hands out; the worker owns it until Done.
type Batch[T any] struct {
	Items []T
	// Stop, when it closes, ends the batch's retries early; the worker then
	// settles the batch as Returned (a spool takes it back).
	Stop <-chan struct{}

	bytes int64 // estimated, as charged when the items were accepted
	done  func(*Batch[T], Outcome) int
}

// Done settles the batch once; it returns how many of its items are lost
// (Returned items the source could not keep).
func (b *Batch[T]) Done(o Outcome) (lost int) {
	if b.done == nil {
		return 0
	}
	f := b.done
	b.done = nil
	return f(b, o)
}

// Bytes is the batch's estimated size, as its items were charged when
// accepted (0 for batches read from disk).
func (b *Batch[T]) Bytes() int64 { return b.bytes }

// NewBatch makes a batch that calls done when it is settled; for sources
// outside this package.
func NewBatch[T any](items []T, done func(*Batch[T], Outcome) int) *Batch[T] {
	return &Batch[T]{Items: items, done: done}
}

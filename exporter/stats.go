package exporter

import "sync/atomic"

// DropReason says why spans were lost. Every span accepted by Enqueue ends
// up either exported or dropped with exactly one reason.
type DropReason uint8

// Drop reasons. The first three happen at Enqueue (the span was never
// accepted); the others after acceptance. Labels are stable: metrics and
// logs use them.
const (
	// DropQueueFullEntries: queue.max_entries spans were already held.
	DropQueueFullEntries DropReason = iota
	// DropQueueFullBytes: queue.max_bytes were already held.
	DropQueueFullBytes
	// DropShutdown: the pipeline was shutting down, or its flush deadline
	// passed with the spans still unsent.
	DropShutdown
	// DropRetryExhausted: retryable failures lasted past queue.max_retry_time.
	DropRetryExhausted
	// DropPermanent: the backend refused the batch for good (4xx, 500, bad
	// data) or the exporter failed in a way retrying cannot fix.
	DropPermanent
	// DropRejected: the backend accepted the batch but rejected these spans
	// (OTLP partial success).
	DropRejected
	// DropSpoolFull: the oldest spans on disk, deleted to keep the spool
	// within spool_max_bytes.
	DropSpoolFull
	// DropSpoolCorrupt: spans of spool records that failed their checksum
	// or could not be decoded (skipped and deleted).
	DropSpoolCorrupt
	// DropCircuitOpen: shed without trying the backend while the circuit
	// breaker was open (queue.failure_threshold); with a spool they wait
	// on disk instead.
	DropCircuitOpen

	numDropReasons
)

var dropReasonNames = [numDropReasons]string{
	"queue_full_entries", "queue_full_bytes", "shutdown",
	"retry_exhausted", "permanent_error", "rejected",
	"spool_full", "spool_corrupt", "circuit_open",
}

// String returns the reason's metric label.
func (r DropReason) String() string {
	if r < numDropReasons {
		return dropReasonNames[r]
	}
	return "unknown"
}

// DropReasons lists every reason, in label order, for metric exposition.
func DropReasons() []DropReason {
	out := make([]DropReason, numDropReasons)
	for i := range out {
		out[i] = DropReason(i)
	}
	return out
}

// Stats is a snapshot of one pipeline's counters. Counters only grow;
// QueueSpans and QueueBytes are gauges.
type Stats struct {
	Enqueued      uint64 // spans accepted by Enqueue
	Exported      uint64 // spans the backend acknowledged
	Dropped       [numDropReasons]uint64
	Batches       uint64 // export requests that succeeded (fully or partially)
	FailedBatches uint64 // batches given up (retry exhausted, permanent, shutdown)
	Retries       uint64 // export attempts after the first one of a batch
	QueueSpans    int64  // spans held: waiting or in flight
	QueueBytes    int64  // estimated bytes of the spans held

	// Spool (spool_dir set). Spans found in the spool at open (Replayed)
	// end up in Exported or Dropped like enqueued ones; spans left in the
	// spool at shutdown (SpoolSpans) are neither: the next process sends them.
	Spooled      uint64 // spans written to the spool
	Replayed     uint64 // spans found in the spool at open (an earlier process's)
	SpoolCorrupt uint64 // records skipped as corrupt (their spans: DropSpoolCorrupt)
	SpoolSpans   int64  // spans on disk, being sent or waiting
	SpoolBytes   int64  // bytes of those records
	SpoolOpen    bool   // the spool file is open (false while another process holds its lock)

	CircuitOpen bool   // the circuit breaker sheds batches now
	Panics      uint64 // exporter panics recovered (their batches: DropPermanent)
}

// DroppedBy returns the count of one reason.
func (s Stats) DroppedBy(r DropReason) uint64 { return s.Dropped[r] }

// DroppedTotal sums every reason.
func (s Stats) DroppedTotal() uint64 {
	var n uint64
	for _, v := range s.Dropped {
		n += v
	}
	return n
}

// counters are the live, lock-free form of Stats.
type counters struct {
	enqueued      atomic.Uint64
	exported      atomic.Uint64
	dropped       [numDropReasons]atomic.Uint64
	batches       atomic.Uint64
	failedBatches atomic.Uint64
	retries       atomic.Uint64
	spooled       atomic.Uint64
	replayed      atomic.Uint64
	spoolCorrupt  atomic.Uint64
	panics        atomic.Uint64
}

func (c *counters) drop(r DropReason, n int) {
	if n > 0 {
		c.dropped[r].Add(uint64(n))
	}
}

func (c *counters) snapshot() Stats {
	s := Stats{
		Enqueued:      c.enqueued.Load(),
		Exported:      c.exported.Load(),
		Batches:       c.batches.Load(),
		FailedBatches: c.failedBatches.Load(),
		Retries:       c.retries.Load(),
		Spooled:       c.spooled.Load(),
		Replayed:      c.replayed.Load(),
		SpoolCorrupt:  c.spoolCorrupt.Load(),
		Panics:        c.panics.Load(),
	}
	for i := range c.dropped {
		s.Dropped[i] = c.dropped[i].Load()
	}
	return s
}

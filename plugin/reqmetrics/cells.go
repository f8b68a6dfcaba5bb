package reqmetrics

import (
	"math"
	"sync/atomic"

	"github.com/trace-exporter/trace-exporter/exporter"
)

// cell is one histogram's counters in one stripe: the bucket counts (their
// total is the count) and the sum, in the layout's base unit.
type cell struct {
	sum     atomic.Int64
	buckets [maxBuckets]atomic.Uint64
}

func (c *cell) observe(bucket int, v int64) {
	c.buckets[bucket].Add(1)
	c.sum.Add(v)
}

// extremes are a histogram's min and max, shared by its stripes: after the
// first values they are only read on the log path, written when a value
// beats them.
type extremes struct {
	min, max atomic.Int64
}

func (e *extremes) init() {
	e.min.Store(math.MaxInt64)
	e.max.Store(math.MinInt64)
}

func (e *extremes) observe(v int64) {
	for m := e.min.Load(); v < m && !e.min.CompareAndSwap(m, v); m = e.min.Load() {
	}
	for m := e.max.Load(); v > m && !e.max.CompareAndSwap(m, v); m = e.max.Load() {
	}
}

// take reads them, and starts them over when reset (delta temporality: min
// and max of the interval).
func (e *extremes) take(reset bool) (lo, hi int64, ok bool) {
	if reset {
		lo, hi = e.min.Swap(math.MaxInt64), e.max.Swap(math.MinInt64)
	} else {
		lo, hi = e.min.Load(), e.max.Load()
	}
	return lo, hi, lo <= hi
}

// sample is the request an exemplar points to: its trace, its SERVER span,
// when it was recorded and the value it gave each histogram.
type sample struct {
	traceID  exporter.TraceID
	spanID   exporter.SpanID
	unixNano int64
	values   [maxHists]int64
}

// exemplarRefresh: a bucket's exemplar is replaced by a newer request at
// most this often (nanoseconds), so that a fully sampled stream does not
// write a shared slot on every request.
const exemplarRefresh = int64(1e9)

// exemplarSlots hold a histogram's latest exemplar per bucket.
type exemplarSlots [maxBuckets]atomic.Pointer[sample]

// offer stores the request's sample in a slot unless the slot holds one
// younger than exemplarRefresh. The sample is allocated on first use, so
// requests whose slots are fresh allocate nothing.
func (x *exemplarSlots) offer(bucket int, ref *exemplarRef) {
	slot := &x[bucket]
	if old := slot.Load(); old != nil && ref.unixNano-old.unixNano < exemplarRefresh {
		return
	}
	if ref.s == nil {
		ref.s = &sample{traceID: ref.traceID, spanID: ref.spanID, unixNano: ref.unixNano, values: ref.values}
	}
	slot.Store(ref.s)
}

// exemplarRef is a recording's exemplar under construction.
type exemplarRef struct {
	traceID  exporter.TraceID
	spanID   exporter.SpanID
	unixNano int64
	values   [maxHists]int64
	s        *sample
}

// floatAdd adds v to a float64 kept as bits.
func floatAdd(bits *atomic.Uint64, v float64) {
	for {
		old := bits.Load()
		if bits.CompareAndSwap(old, math.Float64bits(math.Float64frombits(old)+v)) {
			return
		}
	}
}

// toBase converts milliseconds (Kong's unit) to microseconds.
func toBase(ms float64) int64 { return int64(math.Round(ms * 1000)) }

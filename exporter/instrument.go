package exporter

import (
	"math"
	"sync/atomic"
	"time"
)

// Export histograms: items per export attempt and the attempt's duration,
// per pipeline, recorded around every attempt so every backend, built-in
// or custom, is measured the same way.

// Bucket upper bounds. Batches are cut at queue.max_batch_size (200 by
// default); latencies span a local collector (~1 ms) to a slow remote one.
var (
	batchSpansBounds    = []float64{1, 5, 10, 25, 50, 100, 200, 500, 1000, 2000, 5000}
	exportSecondsBounds = []float64{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30}
)

// Histogram is a snapshot of a fixed-bucket histogram. Counts[i] is the
// number of observations ≤ Bounds[i] and > Bounds[i-1]; the last element of
// Counts counts those above every bound.
type Histogram struct {
	Bounds []float64
	Counts []uint64
	Count  uint64
	Sum    float64
}

// Cumulative returns the count of observations ≤ each bound, as Prometheus
// exposes buckets.
func (h Histogram) Cumulative() map[float64]uint64 {
	out := make(map[float64]uint64, len(h.Bounds))
	var n uint64
	for i, b := range h.Bounds {
		n += h.Counts[i]
		out[b] = n
	}
	return out
}

// ExportHistograms are one pipeline's export measurements. A retried batch
// is observed once per attempt.
type ExportHistograms struct {
	BatchSpans    Histogram // items per export attempt
	ExportSeconds Histogram // duration of each export attempt, whatever its outcome
}

// histogram records observations without locks: one atomic add per bucket
// hit, the sum as float bits updated by compare-and-swap.
type histogram struct {
	bounds  []float64
	counts  []atomic.Uint64 // len(bounds)+1
	sumBits atomic.Uint64
}

func newHistogram(bounds []float64) *histogram {
	return &histogram{bounds: bounds, counts: make([]atomic.Uint64, len(bounds)+1)}
}

func (h *histogram) observe(v float64) {
	i := 0
	for i < len(h.bounds) && v > h.bounds[i] {
		i++
	}
	h.counts[i].Add(1)
	for {
		old := h.sumBits.Load()
		if h.sumBits.CompareAndSwap(old, math.Float64bits(math.Float64frombits(old)+v)) {
			break
		}
	}
}

func (h *histogram) snapshot() Histogram {
	s := Histogram{Bounds: h.bounds, Counts: make([]uint64, len(h.counts))}
	for i := range h.counts {
		s.Counts[i] = h.counts[i].Load()
		s.Count += s.Counts[i]
	}
	s.Sum = math.Float64frombits(h.sumBits.Load())
	return s
}

// exportHistograms belong to one pipeline.
type exportHistograms struct {
	batchItems    *histogram
	exportSeconds *histogram
}

func newExportHistograms() exportHistograms {
	return exportHistograms{batchItems: newHistogram(batchSpansBounds), exportSeconds: newHistogram(exportSecondsBounds)}
}

func (h exportHistograms) observe(items int, took time.Duration) {
	h.exportSeconds.observe(took.Seconds())
	h.batchItems.observe(float64(items))
}

func (h exportHistograms) snapshot() ExportHistograms {
	return ExportHistograms{BatchSpans: h.batchItems.snapshot(), ExportSeconds: h.exportSeconds.snapshot()}
}

package exporter

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/trace-exporter/trace-exporter/schema"
)

// Export histograms: spans per export attempt and the attempt's duration,
// per pipeline. They are recorded by a wrapper around every Exporter a
// registered factory builds (see lookupFactory), so every backend, built-in
// or custom, is measured the same way and the pipeline code stays unaware.

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
	BatchSpans    Histogram // spans per export attempt
	ExportSeconds Histogram // duration of each export attempt, whatever its outcome
}

// histogram records observations without locks: one atomic add per bucket
// hit, the sum as float bits updated by compare-and-swap.
type histogram struct {
	bounds  []float64
	counts  []atomic.Uint64 // len(bounds)+1
	count   atomic.Uint64
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
	h.count.Add(1)
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

type pipelineHistograms struct {
	batchSpans    *histogram
	exportSeconds *histogram
	refs          int // exporters using it (guarded by histogramsByPipeline)
}

// histogramsByPipeline is keyed by pipeline id (the id PipelineStats
// reports). An entry lives while an exporter of that pipeline does.
var histogramsByPipeline = struct {
	sync.Mutex
	byID map[string]*pipelineHistograms
}{byID: map[string]*pipelineHistograms{}}

// HistogramsFor returns the export histograms of the pipeline with this id
// (PipelineStats.ID), if it is running.
func HistogramsFor(pipelineID string) (ExportHistograms, bool) {
	histogramsByPipeline.Lock()
	h, ok := histogramsByPipeline.byID[pipelineID]
	histogramsByPipeline.Unlock()
	if !ok {
		return ExportHistograms{}, false
	}
	return ExportHistograms{BatchSpans: h.batchSpans.snapshot(), ExportSeconds: h.exportSeconds.snapshot()}, true
}

func acquireHistograms(id string) *pipelineHistograms {
	histogramsByPipeline.Lock()
	defer histogramsByPipeline.Unlock()
	h, ok := histogramsByPipeline.byID[id]
	if !ok {
		h = &pipelineHistograms{batchSpans: newHistogram(batchSpansBounds), exportSeconds: newHistogram(exportSecondsBounds)}
		histogramsByPipeline.byID[id] = h
	}
	h.refs++
	return h
}

func releaseHistograms(id string, h *pipelineHistograms) {
	histogramsByPipeline.Lock()
	defer histogramsByPipeline.Unlock()
	if h.refs--; h.refs <= 0 && histogramsByPipeline.byID[id] == h {
		delete(histogramsByPipeline.byID, id)
	}
}

// pipelineIDOf is the id newPipeline gives the pipeline of cfg: a short
// hash of its registry key.
func pipelineIDOf(cfg *schema.Config) string {
	key, err := pipelineKey(cfg)
	if err != nil {
		return ""
	}
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:4])
}

// instrumented wraps a factory so the Exporter it builds is measured.
func instrumented(f Factory) Factory {
	return func(cfg *schema.Config, set Settings) (Exporter, error) {
		e, err := f(cfg, set)
		if err != nil || e == nil {
			return e, err
		}
		id := pipelineIDOf(cfg)
		return &measuredExporter{Exporter: e, id: id, h: acquireHistograms(id)}, nil
	}
}

// measuredExporter passes every call through unchanged (errors keep their
// type for the retry layer) and records each Export attempt.
type measuredExporter struct {
	Exporter
	id       string
	h        *pipelineHistograms
	shutdown sync.Once
}

func (m *measuredExporter) Export(ctx context.Context, batch Batch) error {
	start := time.Now()
	err := m.Exporter.Export(ctx, batch)
	m.h.exportSeconds.observe(time.Since(start).Seconds())
	m.h.batchSpans.observe(float64(len(batch.Spans)))
	return err
}

func (m *measuredExporter) Shutdown(ctx context.Context) error {
	m.shutdown.Do(func() { releaseHistograms(m.id, m.h) })
	return m.Exporter.Shutdown(ctx)
}

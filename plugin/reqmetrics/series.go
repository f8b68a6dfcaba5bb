package reqmetrics

import (
	"math/rand/v2"
	"sync/atomic"
)

// The histograms of a request series.
const (
	hTotal        = iota // latencies.request, Latency family: kong.latency.total and the duration
	hDurationOnly        // latencies.request, Requests family alone: the duration only
	hInternal            // latencies.kong: kong.latency.internal
	hUpstream            // latencies.proxy: kong.latency.upstream
	hRequestSize
	hResponseSize
	numHists
)

// maxHists is the histogram count of the widest series kind (requests, AI).
const maxHists = numHists

var httpLayouts = [numHists]*layout{latencyLayout, latencyLayout, latencyLayout, latencyLayout, sizeLayout, sizeLayout}

// series holds the measurements of one attribute set. Counters are
// striped: a recording picks a stripe at random, so concurrent Log
// handlers of one route seldom write the same cache line; a collection
// adds the stripes up.
type series struct {
	attrs    requestAttrs
	overflow bool // the overflow series: no attribute but otel.metric.overflow
	stripes  []stripe
	ext      [numHists]extremes
	ex       [numHists]exemplarSlots
	prev     *httpSnap // last exported totals (delta temporality; collector only)
}

// stripe is one share of a series' counters, padded so that two stripes
// never share a cache line.
type stripe struct {
	requests atomic.Uint64
	hists    [numHists]cell
	_        [64]byte
}

func newSeries(attrs requestAttrs, stripes int) *series {
	s := &series{attrs: attrs, stripes: make([]stripe, stripes)}
	for i := range s.ext {
		s.ext[i].init()
	}
	return s
}

// stripeCount is the stripes per series: the next power of two of the CPUs
// Go runs on, at most 8 (memory grows with it, contention falls).
func stripeCount(procs int) int {
	n := 1
	for n < procs && n < 8 {
		n <<= 1
	}
	return n
}

// observed is a histogram a recording wrote: where its exemplar goes.
type observed struct{ hist, bucket int }

func (s *series) record(f Families, r *Request, mask uint32, now func() int64) {
	st := &s.stripes[rand.Uint32()&mask]
	var done [numHists]observed
	n := 0
	var values [maxHists]int64
	observe := func(h int, v int64) {
		b := httpLayouts[h].bucket(v)
		st.hists[h].observe(b, v)
		s.ext[h].observe(v)
		values[h] = v
		done[n] = observed{h, b}
		n++
	}
	if f&Requests != 0 {
		st.requests.Add(1)
	}
	if r.TotalMs >= 0 {
		switch {
		case f&Latency != 0:
			observe(hTotal, toBase(r.TotalMs))
		case f&Requests != 0:
			observe(hDurationOnly, toBase(r.TotalMs))
		}
	}
	if f&Latency != 0 {
		if r.KongMs >= 0 {
			observe(hInternal, toBase(r.KongMs))
		}
		if r.UpstreamMs >= 0 {
			observe(hUpstream, toBase(r.UpstreamMs))
		}
	}
	if f&Bandwidth != 0 {
		if r.RequestBytes >= 0 {
			observe(hRequestSize, r.RequestBytes)
		}
		if r.ResponseBytes >= 0 {
			observe(hResponseSize, r.ResponseBytes)
		}
	}
	if n == 0 || !r.TraceID.IsValid() {
		return
	}
	ref := exemplarRef{traceID: r.TraceID, spanID: r.SpanID, unixNano: now(), values: values}
	for _, o := range done[:n] {
		s.ex[o.hist].offer(o.bucket, &ref)
	}
}

package reqmetrics

import (
	"math"
	"sort"
	"strconv"

	"github.com/trace-exporter/trace-exporter/exporter"
)

// histSnap is a histogram's totals at a collection.
type histSnap struct {
	count    uint64
	sum      int64
	buckets  [maxBuckets]uint64
	min, max int64
	minMax   bool
}

func (h *histSnap) read(c *cell) {
	for i := range c.buckets {
		n := c.buckets[i].Load()
		h.buckets[i] += n
		h.count += n
	}
	h.sum += c.sum.Load()
}

// minus leaves what was added since prev (delta temporality).
func (h *histSnap) minus(prev *histSnap) {
	h.count -= prev.count
	h.sum -= prev.sum
	for i := range h.buckets {
		h.buckets[i] -= prev.buckets[i]
	}
}

type httpSnap struct {
	requests uint64
	hists    [numHists]histSnap
}

// snapshot adds up the series' stripes. resetExtremes starts min and max
// over (delta temporality); extremes false leaves them out.
func (s *series) snapshot(extremes, resetExtremes bool) httpSnap {
	var out httpSnap
	for i := range s.stripes {
		st := &s.stripes[i]
		out.requests += st.requests.Load()
		for h := range out.hists {
			out.hists[h].read(&st.hists[h])
		}
	}
	if extremes {
		for h := range out.hists {
			out.hists[h].min, out.hists[h].max, out.hists[h].minMax = s.ext[h].take(resetExtremes)
		}
	}
	return out
}

// delta turns a cumulative snapshot into what was added since the last one.
func (s *series) delta(snap httpSnap) httpSnap {
	cur := snap
	if s.prev != nil {
		snap.requests -= s.prev.requests
		for h := range snap.hists {
			snap.hists[h].minus(&s.prev.hists[h])
		}
	}
	s.prev = &cur
	return snap
}

type aiSnap struct {
	usages        uint64
	input, output int64
	costs         uint64
	cost          float64
	hists         [numAIHists]histSnap
}

func (s *aiSeries) snapshot(extremes, resetExtremes bool) aiSnap {
	out := aiSnap{usages: s.usages.Load(), input: s.inputTokens.Load(), output: s.outputTokens.Load(),
		costs: s.costs.Load(), cost: math.Float64frombits(s.cost.Load())}
	for h := range out.hists {
		out.hists[h].read(&s.hists[h])
		if extremes {
			out.hists[h].min, out.hists[h].max, out.hists[h].minMax = s.ext[h].take(resetExtremes)
		}
	}
	return out
}

func (s *aiSeries) delta(snap aiSnap) aiSnap {
	cur := snap
	if p := s.prev; p != nil {
		snap.usages -= p.usages
		snap.input -= p.input
		snap.output -= p.output
		snap.costs -= p.costs
		snap.cost -= p.cost
		for h := range snap.hists {
			snap.hists[h].minus(&p.hists[h])
		}
	}
	s.prev = &cur
	return snap
}

// collection says how points are written.
type collection struct {
	start, now  uint64 // the points' start and time
	temporality exporter.Temporality
	// exemplarsFrom: only exemplars recorded from this time (unix ns) on are
	// exported, so each push carries those of its own interval.
	exemplarsFrom int64
}

// metricSet builds the metrics of one collection from the series of one
// or more aggregators: points of equal attributes add up.
type metricSet struct {
	c          collection
	count      projection
	httpHists  []projection
	tokens     projection
	cost       projection
	aiHists    []projection
	keyScratch []byte
}

func newMetricSet(c collection) *metricSet {
	return &metricSet{c: c, httpHists: make([]projection, len(httpHists)), aiHists: make([]projection, len(aiHists))}
}

// projection is one metric's points by attribute key.
type projection struct {
	points map[string]*pointAcc
}

type pointAcc struct {
	attrs []exporter.Attribute
	n     int64
	f     float64
	h     histSnap
	ex    [maxBuckets]exemplarPick
}

type exemplarPick struct {
	s     *sample
	value int64
}

// point returns the point of src's values of ids (plus extra), the
// overflow point for the overflow series.
func (m *metricSet) point(p *projection, src attributed, overflow bool, ids []attrID, extra ...exporter.Attribute) *pointAcc {
	key := m.keyScratch[:0]
	var attrs []exporter.Attribute
	if overflow {
		key = append(key, 0xff)
	}
	build := func(a exporter.Attribute) {
		attrs = append(attrs, a)
		key = append(key, a.Key...)
		key = append(key, 0)
		switch a.Value.Type {
		case exporter.TypeInt:
			key = strconv.AppendInt(key, a.Value.AsInt(), 10)
		default:
			key = append(key, a.Value.AsString()...)
		}
		key = append(key, 0)
	}
	if !overflow {
		for _, id := range ids {
			if a, ok := src.attr(id); ok {
				build(a)
			}
		}
	}
	for _, a := range extra {
		build(a)
	}
	m.keyScratch = key
	if p.points == nil {
		p.points = map[string]*pointAcc{}
	}
	if acc := p.points[string(key)]; acc != nil {
		return acc
	}
	if overflow {
		attrs = append([]exporter.Attribute{overflowAttr}, attrs...)
	}
	acc := &pointAcc{attrs: attrs}
	acc.h.min, acc.h.max = math.MaxInt64, math.MinInt64
	p.points[string(key)] = acc
	return acc
}

// addHist adds a series' histogram to a point, with its exemplars of this
// collection.
func (m *metricSet) addHist(acc *pointAcc, spec *histSpec, hist int, h *histSnap, slots *exemplarSlots) {
	mapBucket := spec.mapBucket
	if mapBucket == nil {
		mapBucket = func(i int) int { return i }
	}
	acc.h.count += h.count
	acc.h.sum += h.sum
	for i, n := range h.buckets[:len(spec.layout.bounds)+1] {
		acc.h.buckets[mapBucket(i)] += n
	}
	if h.minMax {
		acc.h.minMax = true
		acc.h.min, acc.h.max = min(acc.h.min, h.min), max(acc.h.max, h.max)
	}
	for i := range len(spec.layout.bounds) + 1 {
		s := slots[i].Load()
		if s == nil || s.unixNano < m.c.exemplarsFrom {
			continue
		}
		pick := &acc.ex[mapBucket(i)]
		if pick.s == nil || s.unixNano > pick.s.unixNano {
			*pick = exemplarPick{s, s.values[hist]}
		}
	}
}

func (m *metricSet) addHTTP(s *series, snap *httpSnap) {
	if snap.requests > 0 {
		m.point(&m.count, &s.attrs, s.overflow, requestCountAttrs).n += int64(snap.requests)
	}
	m.addHists(httpHists, m.httpHists, &s.attrs, s.overflow, snap.hists[:], s.ex[:])
}

// addHists adds a series' histograms (snaps, their exemplars in ex) to the
// points of specs' metrics (projs): alike for request and AI series.
func (m *metricSet) addHists(specs []histSpec, projs []projection, attrs attributed, overflow bool, snaps []histSnap, ex []exemplarSlots) {
	for i := range specs {
		spec := &specs[i]
		for _, h := range spec.hists {
			if snaps[h].count == 0 {
				continue
			}
			acc := m.point(&projs[i], attrs, overflow, spec.attrs)
			m.addHist(acc, spec, h, &snaps[h], &ex[h])
		}
	}
}

var (
	tokenInput  = exporter.String("gen_ai.token.type", "input")
	tokenOutput = exporter.String("gen_ai.token.type", "output")
)

func (m *metricSet) addAI(s *aiSeries, snap *aiSnap) {
	if snap.usages > 0 {
		m.point(&m.tokens, &s.attrs, s.overflow, genAIAttrs, tokenInput).n += snap.input
		m.point(&m.tokens, &s.attrs, s.overflow, genAIAttrs, tokenOutput).n += snap.output
	}
	if snap.costs > 0 {
		m.point(&m.cost, &s.attrs, s.overflow, genAICacheAttrs).f += snap.cost
	}
	m.addHists(aiHists, m.aiHists, &s.attrs, s.overflow, snap.hists[:], s.ex[:])
}

// metrics returns the collection's metrics, each with at least one point,
// points in a stable order.
func (m *metricSet) metrics() []exporter.Metric {
	var out []exporter.Metric
	sum := func(p *projection, name, unit, desc string, double bool) {
		if len(p.points) == 0 {
			return
		}
		metric := exporter.Metric{Name: name, Unit: unit, Description: desc, Type: exporter.MetricSum,
			Temporality: m.c.temporality, Monotonic: true}
		for _, acc := range sortedPoints(p) {
			metric.Numbers = append(metric.Numbers, exporter.NumberPoint{Attributes: acc.attrs,
				StartUnixNano: m.c.start, TimeUnixNano: m.c.now, IsDouble: double, Int: acc.n, Double: acc.f})
		}
		out = append(out, metric)
	}
	sum(&m.count, requestCountName, "{request}", requestCountDesc, false)
	for i := range httpHists {
		out = m.appendHist(out, &httpHists[i], &m.httpHists[i])
	}
	sum(&m.tokens, tokenUsageName, "{token}", "Number of tokens consumed by the Gen AI operation.", false)
	sum(&m.cost, costName, "{cost}", "Cost of AI requests.", true)
	for i := range aiHists {
		out = m.appendHist(out, &aiHists[i], &m.aiHists[i])
	}
	return out
}

func (m *metricSet) appendHist(out []exporter.Metric, spec *histSpec, p *projection) []exporter.Metric {
	if len(p.points) == 0 {
		return out
	}
	bounds := spec.exportBounds()
	unit := spec.layout.perUnit
	metric := exporter.Metric{Name: spec.name, Unit: spec.unit, Description: spec.desc, Type: exporter.MetricHistogram,
		Temporality: m.c.temporality}
	for _, acc := range sortedPoints(p) {
		pt := exporter.HistogramPoint{Attributes: acc.attrs, StartUnixNano: m.c.start, TimeUnixNano: m.c.now,
			Count: acc.h.count, Sum: float64(acc.h.sum) / unit, Bounds: bounds,
			BucketCounts: append([]uint64(nil), acc.h.buckets[:len(bounds)+1]...)}
		if acc.h.minMax {
			pt.HasMinMax, pt.Min, pt.Max = true, float64(acc.h.min)/unit, float64(acc.h.max)/unit
		}
		for _, e := range acc.ex[:len(bounds)+1] {
			if e.s != nil {
				pt.Exemplars = append(pt.Exemplars, exporter.Exemplar{TimeUnixNano: uint64(e.s.unixNano),
					Value: float64(e.value) / unit, TraceID: e.s.traceID, SpanID: e.s.spanID})
			}
		}
		metric.Histograms = append(metric.Histograms, pt)
	}
	return append(out, metric)
}

func sortedPoints(p *projection) []*pointAcc {
	keys := make([]string, 0, len(p.points))
	for k := range p.points {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make([]*pointAcc, len(keys))
	for i, k := range keys {
		out[i] = p.points[k]
	}
	return out
}

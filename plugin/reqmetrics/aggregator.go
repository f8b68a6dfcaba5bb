package reqmetrics

import (
	"log/slog"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/trace-exporter/trace-exporter/exporter"
)

// Destination takes an aggregator's pushes: a metrics pipeline's handle,
// through the plugin's glue. Push must not block.
type Destination interface {
	Push(metrics []exporter.Metric)
}

// Aggregator holds the request metrics of one destination, shared by every
// plugin instance that sends there (Kong starts an instance per config
// and never says when one is gone; a destination outlives them). Record is
// the log path's: lock-free on known attribute sets. A goroutine pushes
// the totals every push interval.
type Aggregator struct {
	name  string // for logs: the destination, without credentials
	opts  Options
	start time.Time
	mask  uint32 // stripes - 1
	http  *table[series]
	ai    *table[aiSeries]

	dest     Destination // nil: nothing pushed (served on /metrics only)
	interval atomic.Int64

	collectMu sync.Mutex // the push's state: delta baselines, lastPush
	lastPush  time.Time

	overflowWarned [2]atomic.Bool // request series, AI series

	stop     chan struct{}
	stopOnce sync.Once
	done     chan struct{}
}

func newAggregator(name string, opts Options, dest Destination, interval time.Duration) *Aggregator {
	stripes := stripeCount(runtime.GOMAXPROCS(0))
	a := &Aggregator{name: name, opts: opts, start: opts.now(), mask: uint32(stripes - 1), dest: dest,
		stop: make(chan struct{}), done: make(chan struct{})}
	a.lastPush = a.start
	overflow := newSeries(requestAttrs{}, stripes)
	overflow.overflow = true
	aiOverflow := newAISeries(aiAttrs{})
	aiOverflow.overflow = true
	a.http = newTable(opts.MaxSeries, overflow)
	a.ai = newTable(opts.MaxSeries, aiOverflow)
	a.SetInterval(interval)
	if dest != nil {
		go a.run()
	} else {
		close(a.done)
	}
	return a
}

// SetInterval sets the push interval: the latest instance's push_interval
// wins (Kong sends a new instance after every config change).
func (a *Aggregator) SetInterval(d time.Duration) { a.interval.Store(int64(max(d, MinPushInterval))) }

// MinPushInterval bounds push_interval from below: a tinier value would
// only keep the backend busy.
const MinPushInterval = 100 * time.Millisecond

// Record adds one request's measurements to the families f names.
func (a *Aggregator) Record(f Families, r *Request) {
	var buf [256]byte
	attrs := attrsOf(r)
	key := attrs.appendKey(buf[:0])
	s, overflowed := a.http.get(key, func() *series { return newSeries(attrs.clone(), int(a.mask)+1) })
	if overflowed {
		a.warnOverflow(0, "request", a.http.size())
	}
	s.record(f, r, a.mask, a.nowNano)
	if f&AI != 0 && len(r.AI) > 0 {
		a.recordAI(f, r)
	}
}

func (a *Aggregator) recordAI(f Families, r *Request) {
	for i := range r.AI {
		u := &r.AI[i]
		attrs := aiAttrs{u.Provider, u.RequestModel, u.ResponseModel, r.Workspace, r.Consumer,
			u.CacheStatus, u.VectorDB, u.EmbeddingsProvider, u.EmbeddingsModel}
		var buf [256]byte
		key := attrs.appendKey(buf[:0])
		s, overflowed := a.ai.get(key, func() *aiSeries { return newAISeries(attrs.clone()) })
		if overflowed {
			a.warnOverflow(1, "AI", a.ai.size())
		}
		var ref *exemplarRef
		if r.TraceID.IsValid() {
			ref = &exemplarRef{traceID: r.TraceID, spanID: r.SpanID, unixNano: a.nowNano()}
		}
		s.record(f, u, r.TotalMs, ref)
	}
}

func (a *Aggregator) nowNano() int64 { return a.opts.now().UnixNano() }

// warnOverflow logs the first overflow of a table: what goes beyond the
// limit is still counted, without its attributes (Overflowed counts it).
func (a *Aggregator) warnOverflow(table int, kind string, size int) {
	if !a.overflowWarned[table].Load() && a.overflowWarned[table].CompareAndSwap(false, true) {
		a.opts.Logger.Warn("request metrics: too many attribute sets; new ones are counted in the series otel.metric.overflow=true",
			slog.String("destination", a.name), slog.String("metrics", kind), slog.Int("limit", size))
	}
}

// Overflowed is how many recordings went to the overflow series.
func (a *Aggregator) Overflowed() uint64 { return a.http.overflowed.Load() + a.ai.overflowed.Load() }

// Series is how many attribute sets the aggregator holds.
func (a *Aggregator) Series() int { return a.http.size() + a.ai.size() }

// Name describes the destination, without credentials.
func (a *Aggregator) Name() string { return a.name }

func (a *Aggregator) run() {
	defer close(a.done)
	d := time.Duration(a.interval.Load())
	tick := time.NewTicker(d)
	defer tick.Stop()
	for {
		select {
		case <-a.stop:
			return
		case <-tick.C:
			a.push()
			if nd := time.Duration(a.interval.Load()); nd != d {
				d = nd
				tick.Reset(d)
			}
		}
	}
}

// push collects and hands the metrics to the destination.
func (a *Aggregator) push() {
	if ms := a.collect(); len(ms) > 0 {
		a.dest.Push(ms)
	}
}

// collect builds the push's metrics in the temporality of the options:
// cumulative totals since the aggregator started, or what was added since
// the previous push. Only exemplars of the interval are carried.
func (a *Aggregator) collect() []exporter.Metric {
	a.collectMu.Lock()
	defer a.collectMu.Unlock()
	now := a.opts.now()
	c := collection{start: uint64(a.start.UnixNano()), now: uint64(now.UnixNano()),
		temporality: exporter.TemporalityCumulative, exemplarsFrom: a.lastPush.UnixNano()}
	delta := a.opts.delta
	if delta {
		c.start, c.temporality = uint64(a.lastPush.UnixNano()), exporter.TemporalityDelta
	}
	a.lastPush = now
	set := newMetricSet(c)
	for _, s := range a.http.all() {
		snap := s.snapshot(true, delta)
		if delta {
			snap = s.delta(snap)
		}
		set.addHTTP(s, &snap)
	}
	for _, s := range a.ai.all() {
		snap := s.snapshot(true, delta)
		if delta {
			snap = s.delta(snap)
		}
		set.addAI(s, &snap)
	}
	return set.metrics()
}

// addCumulative adds the aggregator's totals to set, with every latest
// exemplar (a scrape of /metrics), leaving the push's state alone.
func (a *Aggregator) addCumulative(set *metricSet) {
	for _, s := range a.http.all() {
		snap := s.snapshot(false, false)
		set.addHTTP(s, &snap)
	}
	for _, s := range a.ai.all() {
		snap := s.snapshot(false, false)
		set.addAI(s, &snap)
	}
}

// flush stops the pushes and, the first time, pushes once more for what
// was recorded since the last push.
func (a *Aggregator) flush() {
	a.stopOnce.Do(func() {
		close(a.stop)
		<-a.done
		if a.dest != nil {
			a.push()
		}
	})
}

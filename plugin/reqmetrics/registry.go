package reqmetrics

import (
	"log/slog"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/trace-exporter/trace-exporter/exporter"
)

// Options tune a Registry; zero values take the defaults.
type Options struct {
	// MaxSeries bounds the attribute sets of each aggregator (request
	// series and AI series each); past it, measurements go to the overflow
	// series (otel.metric.overflow=true). Default DefaultMaxSeries.
	MaxSeries int
	// Logger receives the overflow warnings. Default slog.Default().
	Logger *slog.Logger

	clock func() time.Time // tests
	delta bool             // per aggregator (Target.Delta)
}

// DefaultMaxSeries is the OpenTelemetry SDK's default cardinality limit.
const DefaultMaxSeries = 2000

func (o Options) now() time.Time { return o.clock() }

// Registry holds a process's aggregators, one per metrics destination
// (plugin.Env owns it).
type Registry struct {
	opts Options
	mu   sync.Mutex
	aggs map[string]*Aggregator

	served atomic.Bool

	noticesMu sync.Mutex
	notices   map[string]bool
}

// SetServed says the plugin server's /metrics serves request metrics:
// instances with request metrics on and no endpoint then record for it.
// Set it before instances start.
func (r *Registry) SetServed(on bool) { r.served.Store(on) }

// Served reports SetServed's setting.
func (r *Registry) Served() bool { return r.served.Load() }

// NewRegistry returns an empty registry.
func NewRegistry(opts Options) *Registry {
	if opts.MaxSeries <= 0 {
		opts.MaxSeries = DefaultMaxSeries
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.clock == nil {
		opts.clock = time.Now
	}
	return &Registry{opts: opts, aggs: map[string]*Aggregator{}, notices: map[string]bool{}}
}

// Target is a metrics destination as instances name it.
type Target struct {
	// Key identifies the destination: instances with equal keys share an
	// aggregator. It must cover everything that makes two destinations
	// different series in a backend (endpoint, resource, temporality...).
	Key string
	// Name describes it in logs (no credentials).
	Name string
	// Delta selects delta temporality for the pushes (else cumulative).
	Delta bool
	// Interval is the instance's push_interval.
	Interval time.Duration
	// Dest makes the destination, once per aggregator; nil: the metrics
	// are not pushed (served on the plugin server's /metrics only).
	Dest func() Destination
}

// Acquire returns the target's aggregator, creating it on first use. The
// latest instance's interval becomes the aggregator's.
func (r *Registry) Acquire(t Target) *Aggregator {
	r.mu.Lock()
	defer r.mu.Unlock()
	if a := r.aggs[t.Key]; a != nil {
		a.SetInterval(t.Interval)
		return a
	}
	opts := r.opts
	opts.delta = t.Delta
	var dest Destination
	if t.Dest != nil {
		dest = t.Dest()
	}
	a := newAggregator(t.Name, opts, dest, t.Interval)
	r.aggs[t.Key] = a
	return a
}

func (r *Registry) all() []*Aggregator {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]*Aggregator, 0, len(r.aggs))
	for _, a := range r.aggs {
		out = append(out, a)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out
}

// Flush pushes every aggregator's last metrics and stops the pushes: the
// plugin server calls it at SIGTERM, before its pipelines flush.
func (r *Registry) Flush() {
	var wg sync.WaitGroup
	for _, a := range r.all() {
		wg.Go(a.flush)
	}
	wg.Wait()
}

// Cumulative returns every aggregator's totals since it started, merged
// (each request is recorded by one aggregator), with each bucket's latest
// exemplar: what the plugin server's /metrics serves.
func (r *Registry) Cumulative() []exporter.Metric {
	aggs := r.all()
	if len(aggs) == 0 {
		return nil
	}
	start := aggs[0].start
	for _, a := range aggs[1:] {
		if a.start.Before(start) {
			start = a.start
		}
	}
	set := newMetricSet(collection{start: uint64(start.UnixNano()), now: uint64(r.opts.now().UnixNano()),
		temporality: exporter.TemporalityCumulative})
	for _, a := range aggs {
		a.addCumulative(set)
	}
	return set.metrics()
}

// Cumulative returns the aggregator's totals since it started, with each
// bucket's latest exemplar, leaving the pushes' state alone.
func (a *Aggregator) Cumulative() []exporter.Metric {
	set := newMetricSet(collection{start: uint64(a.start.UnixNano()), now: uint64(a.opts.now().UnixNano()),
		temporality: exporter.TemporalityCumulative})
	a.addCumulative(set)
	return set.metrics()
}

// AggregatorStats describes one aggregator for the plugin server's own
// metrics.
type AggregatorStats struct {
	Name       string
	Series     int
	Overflowed uint64
}

// Stats lists the aggregators, sorted by name.
func (r *Registry) Stats() []AggregatorStats {
	aggs := r.all()
	out := make([]AggregatorStats, len(aggs))
	for i, a := range aggs {
		out[i] = AggregatorStats{Name: a.name, Series: a.Series(), Overflowed: a.Overflowed()}
	}
	return out
}

// Notice logs msg the first time key is noticed in the process: what a
// configuration asks for and an external plugin cannot see is said once,
// not per instance.
func (r *Registry) Notice(key, msg string, attrs ...any) {
	r.noticesMu.Lock()
	seen := r.notices[key]
	r.notices[key] = true
	r.noticesMu.Unlock()
	if !seen {
		r.opts.Logger.Warn(msg, attrs...)
	}
}

package reqmetrics

import (
	"math"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/trace-exporter/trace-exporter/exporter"
)

const all = Requests | Latency | Bandwidth

// Kong's request metrics carry Kong's names, units, instruments and
// attributes; the duration histogram carries the semantic conventions'.
func TestRequestMetricsShape(t *testing.T) {
	c := newClock()
	a := testRegistry(c, 0).Acquire(Target{Key: "k", Interval: time.Minute})
	for range 3 {
		r := req("GET", 200, 7)
		a.Record(all, &r)
	}
	for range 2 {
		r := req("POST", 503, 3000)
		a.Record(all, &r)
	}
	// No route matched: Kong answered itself, nothing was proxied.
	unrouted := Request{Method: "GET", Status: 404, Source: "kong", Scheme: "http", RequestBytes: 80, ResponseBytes: 50,
		TotalMs: 0, KongMs: 0, UpstreamMs: -1}
	a.Record(all, &unrouted)
	c.advance(time.Minute)
	ms := a.collect()

	wantNames := []string{"http.server.request.count", "http.server.request.duration", "kong.latency.total",
		"kong.latency.internal", "kong.latency.upstream", "http.server.request.size", "http.server.response.size"}
	if !slices.Equal(names(ms), wantNames) {
		t.Fatalf("metrics %v, want %v", names(ms), wantNames)
	}
	count := find(ms, "http.server.request.count")
	if count.Type != exporter.MetricSum || !count.Monotonic || count.Unit != "{request}" || count.Temporality != exporter.TemporalityCumulative {
		t.Errorf("request count: %+v", count)
	}
	wantCounts := map[string]float64{
		"http.request.method=GET,kong.response.source=upstream,kong.response.status_code=200,kong.route.name=r1,kong.service.name=svc,kong.workspace.name=default":  3,
		"http.request.method=POST,kong.response.source=upstream,kong.response.status_code=503,kong.route.name=r1,kong.service.name=svc,kong.workspace.name=default": 2,
		"http.request.method=GET,kong.response.source=kong,kong.response.status_code=404":                                                                           1,
	}
	if got := counts(count); !mapsEqual(got, wantCounts) {
		t.Errorf("request count points:\n got %v\nwant %v", got, wantCounts)
	}

	dur := find(ms, "http.server.request.duration")
	if dur.Unit != "s" || dur.Type != exporter.MetricHistogram {
		t.Errorf("duration: %+v", dur)
	}
	p := histPoint(t, dur, "error.type=503,http.request.method=POST,http.response.status_code=503,http.route=/r1,kong.route.name=r1,kong.service.name=svc,url.scheme=http")
	wantBounds := []float64{0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10}
	if !slices.Equal(p.Bounds, wantBounds) {
		t.Errorf("duration bounds %v, want the semantic conventions' %v", p.Bounds, wantBounds)
	}
	if p.Count != 2 || p.Sum != 6 || !p.HasMinMax || p.Min != 3 || p.Max != 3 || p.BucketCounts[11] != 2 {
		t.Errorf("3 s twice: %+v", p)
	}
	p = histPoint(t, dur, "http.request.method=GET,http.response.status_code=200,http.route=/r1,kong.route.name=r1,kong.service.name=svc,url.scheme=http")
	if p.Count != 3 || p.BucketCounts[1] != 3 || math.Abs(p.Sum-0.021) > 1e-12 {
		t.Errorf("7 ms three times (bucket (0.005, 0.01]): %+v", p)
	}
	p = histPoint(t, dur, "http.request.method=GET,http.response.status_code=404,url.scheme=http")
	if p.Count != 1 || p.BucketCounts[0] != 1 {
		t.Errorf("0 ms, first bucket: %+v", p)
	}

	total := find(ms, "kong.latency.total")
	p = histPoint(t, total, "kong.route.name=r1,kong.service.name=svc,kong.workspace.name=default")
	if p.Count != 5 || len(p.Bounds) != 16 || p.Bounds[0] != 0.001 || p.Bounds[2] != 0.005 {
		t.Errorf("kong.latency.total: %+v", p)
	}
	up := find(ms, "kong.latency.upstream")
	if got := counts(up); len(got) != 1 || got["kong.route.name=r1,kong.service.name=svc,kong.workspace.name=default"] != 5 {
		t.Errorf("kong.latency.upstream has no point for the request Kong answered itself: %v", got)
	}
	size := find(ms, "http.server.response.size")
	p = histPoint(t, size, "kong.route.name=r1,kong.service.name=svc,kong.workspace.name=default")
	if size.Unit != "By" || p.Count != 5 || p.Sum != 25000 || p.BucketCounts[3] != 5 {
		t.Errorf("response size 5000 B five times, bucket (4096, 16384]: %+v", p)
	}
}

func mapsEqual(a, b map[string]float64) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if bv, ok := b[k]; !ok || math.Abs(bv-v) > 1e-9 {
			return false
		}
	}
	return true
}

// Each instance records the families its flags turn on, into the
// aggregator it shares with other instances.
func TestFamiliesFollowEachInstancesFlags(t *testing.T) {
	c := newClock()
	reg := testRegistry(c, 0)
	a := reg.Acquire(Target{Key: "k", Interval: time.Minute})
	requestsOnly := req("GET", 200, 20)
	a.Record(Requests, &requestsOnly)
	latencyOnly := req("GET", 200, 40)
	a.Record(Latency, &latencyOnly)
	a.Record(Latency, &latencyOnly)
	consumer := req("GET", 200, 40)
	consumer.Consumer = "alice"
	a.Record(Bandwidth, &consumer)
	ms := a.collect()

	const route = "kong.route.name=r1,kong.service.name=svc,kong.workspace.name=default"
	if got := counts(find(ms, "http.server.request.count")); len(got) != 1 || got["http.request.method=GET,kong.response.source=upstream,kong.response.status_code=200,"+route] != 1 {
		t.Errorf("request count from the Requests instance only: %v", got)
	}
	if got := counts(find(ms, "http.server.request.duration")); len(got) != 1 || sum(got) != 3 {
		t.Errorf("duration from both Requests and Latency instances (3 requests): %v", got)
	}
	if got := counts(find(ms, "kong.latency.total")); sum(got) != 2 {
		t.Errorf("kong.latency.total from the Latency instance only: %v", got)
	}
	if got := counts(find(ms, "http.server.request.size")); len(got) != 1 || got["kong.auth.consumer.name=alice,"+route] != 1 {
		t.Errorf("request size from the Bandwidth instance, with its consumer: %v", got)
	}
}

func sum(m map[string]float64) float64 {
	s := 0.0
	for _, v := range m {
		s += v
	}
	return s
}

// Past MaxSeries attribute sets, measurements go to one overflow point per
// metric (otel.metric.overflow=true) and are counted: nothing is lost.
func TestOverflowSeriesCountsWhatIsBeyondTheLimit(t *testing.T) {
	c := newClock()
	a := testRegistry(c, 2).Acquire(Target{Key: "k", Interval: time.Minute})
	for i, route := range []string{"a", "b", "c", "d", "e", "c"} {
		r := req("GET", 200, float64(i))
		r.Route = route
		a.Record(all, &r)
	}
	ms := a.collect()
	got := counts(find(ms, "http.server.request.count"))
	if got["otel.metric.overflow=true"] != 4 || sum(got) != 6 || len(got) != 3 {
		t.Errorf("request count points %v: want 2 named and 4 in the overflow point", got)
	}
	if got := counts(find(ms, "kong.latency.total")); got["otel.metric.overflow=true"] != 4 {
		t.Errorf("kong.latency.total points %v", got)
	}
	if a.Overflowed() != 4 || a.Series() != 2 {
		t.Errorf("overflowed %d, series %d; want 4, 2", a.Overflowed(), a.Series())
	}
}

// Cumulative pushes carry totals since the aggregator started (one start
// time), delta pushes what the interval added; both carry only the
// interval's exemplars.
func TestTemporality(t *testing.T) {
	for _, delta := range []bool{false, true} {
		c := newClock()
		start := c.unixNano()
		a := testRegistry(c, 0).Acquire(Target{Key: "k", Interval: time.Minute, Delta: delta})
		r := sampled(req("GET", 200, 30), 1)
		a.Record(all, &r)
		a.Record(all, &r)
		c.advance(time.Minute)
		t1 := c.unixNano()
		first := a.collect()
		c.advance(time.Second)
		r2 := sampled(req("GET", 200, 30), 2)
		a.Record(all, &r2)
		c.advance(time.Minute)
		second := a.collect()
		c.advance(time.Minute)
		third := a.collect()

		wantStart, wantCount, wantTemporality := start, int64(3), exporter.TemporalityCumulative
		if delta {
			wantStart, wantCount, wantTemporality = t1, 1, exporter.TemporalityDelta
		}
		n := find(second, "http.server.request.count")
		if n.Temporality != wantTemporality || n.Numbers[0].Int != wantCount || n.Numbers[0].StartUnixNano != wantStart {
			t.Errorf("delta %v: second push %+v, want %d from %d", delta, n.Numbers[0], wantCount, wantStart)
		}
		if f := find(first, "http.server.request.count"); f.Numbers[0].Int != 2 || f.Numbers[0].StartUnixNano != start || f.Numbers[0].TimeUnixNano != t1 {
			t.Errorf("delta %v: first push %+v", delta, f.Numbers[0])
		}
		h := find(second, "kong.latency.total").Histograms[0]
		if len(h.Exemplars) != 1 || h.Exemplars[0].TraceID != r2.TraceID {
			t.Errorf("delta %v: second push exemplars %+v, want only the interval's (trace %x)", delta, h.Exemplars, r2.TraceID)
		}
		if delta && len(third) != 0 {
			t.Errorf("delta: an interval without requests pushed %v", names(third))
		}
		if !delta && find(third, "http.server.request.count").Numbers[0].Int != 3 {
			t.Errorf("cumulative: the totals go on being pushed")
		}
		if !delta && len(find(third, "kong.latency.total").Histograms[0].Exemplars) != 0 {
			t.Errorf("cumulative: exemplars of an earlier interval pushed again")
		}
	}
}

// Exemplars point to the trace and SERVER span of a sampled request, in the
// bucket its value fell in, with its value in the metric's unit; a
// bucket's exemplar is replaced at most once a second.
func TestExemplars(t *testing.T) {
	c := newClock()
	a := testRegistry(c, 0).Acquire(Target{Key: "k", Interval: time.Minute})
	unsampled := req("GET", 200, 30)
	a.Record(all, &unsampled)
	first := sampled(req("GET", 200, 30), 1)
	a.Record(all, &first)
	c.advance(100 * time.Millisecond)
	tooSoon := sampled(req("GET", 200, 31), 2)
	a.Record(all, &tooSoon)
	slow := sampled(req("GET", 200, 600), 3)
	a.Record(all, &slow)
	c.advance(time.Minute)
	ms := a.collect()

	dur := find(ms, "http.server.request.duration").Histograms[0]
	if len(dur.Exemplars) != 2 {
		t.Fatalf("duration exemplars %+v, want one per bucket used by a sampled request", dur.Exemplars)
	}
	e := dur.Exemplars[0]
	if e.TraceID != first.TraceID || e.SpanID != first.SpanID || math.Abs(e.Value-0.030) > 1e-12 {
		t.Errorf("bucket (0.025, 0.05]: exemplar %+v, want the first sampled request's (30 ms)", e)
	}
	if e := dur.Exemplars[1]; e.TraceID != slow.TraceID || e.Value != 0.6 {
		t.Errorf("bucket (0.5, 0.75]: exemplar %+v", e)
	}
	size := find(ms, "http.server.request.size").Histograms[0]
	if len(size.Exemplars) != 1 || size.Exemplars[0].Value != 300 || size.Exemplars[0].TraceID != first.TraceID {
		t.Errorf("request size exemplars %+v", size.Exemplars)
	}
	c.advance(time.Second)
	later := sampled(req("GET", 200, 32), 4)
	a.Record(all, &later)
	c.advance(time.Second)
	dur = find(a.collect(), "http.server.request.duration").Histograms[0]
	if len(dur.Exemplars) != 1 || dur.Exemplars[0].TraceID != later.TraceID {
		t.Errorf("after a second, a newer request replaces the exemplar: %+v", dur.Exemplars)
	}
}

// Concurrent Log handlers lose nothing.
func TestConcurrentRecordingIsExact(t *testing.T) {
	a := NewRegistry(Options{}).Acquire(Target{Key: "k", Interval: time.Minute})
	const workers, each = 8, 2000
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				r := req("GET", 200+i%3, float64(i%50))
				if i%10 == 0 {
					r = sampled(r, byte(w))
				}
				a.Record(all, &r)
			}
		})
	}
	wg.Wait()
	ms := a.collect()
	if got := sum(counts(find(ms, "http.server.request.count"))); got != workers*each {
		t.Errorf("counted %v requests, want %d", got, workers*each)
	}
	total := 0.0
	for _, p := range find(ms, "kong.latency.total").Histograms {
		total += p.Sum
	}
	want := 0.0
	for i := range each {
		want += float64(i%50) / 1000
	}
	if math.Abs(total-want*workers) > 1e-6 {
		t.Errorf("latency sum %v, want %v", total, want*workers)
	}
}

// /metrics serves every aggregator's totals merged, with the latest
// exemplars whatever their age, and leaves the pushes' state alone.
func TestRegistryCumulativeMergesDestinations(t *testing.T) {
	c := newClock()
	reg := testRegistry(c, 0)
	a := reg.Acquire(Target{Key: "a", Interval: time.Minute, Delta: true})
	b := reg.Acquire(Target{Key: "b", Interval: time.Minute})
	r := sampled(req("GET", 200, 30), 1)
	a.Record(all, &r)
	b.Record(all, &r)
	b.Record(all, &r)
	for range 2 {
		c.advance(time.Minute)
		ms := reg.Cumulative()
		if got := sum(counts(find(ms, "http.server.request.count"))); got != 3 {
			t.Errorf("merged count %v, want 3", got)
		}
		if ex := find(ms, "kong.latency.total").Histograms[0].Exemplars; len(ex) != 1 {
			t.Errorf("exemplars %+v", ex)
		}
	}
	if got := find(a.collect(), "http.server.request.count").Numbers[0].Int; got != 1 {
		t.Errorf("a's delta push after scrapes: %d, want 1", got)
	}
}

// The aggregator pushes every interval; Flush pushes what is left once,
// and stops the pushes.
func TestPushesAndFlush(t *testing.T) {
	dest := newCapture()
	reg := NewRegistry(Options{})
	a := reg.Acquire(Target{Key: "k", Interval: MinPushInterval, Dest: func() Destination { return dest }})
	r := req("GET", 200, 1)
	a.Record(Requests, &r)
	for range 2 {
		select {
		case <-dest.pushed:
		case <-time.After(10 * time.Second):
			t.Fatal("no push within 10 s at a 100 ms interval")
		}
	}
	a.Record(Requests, &r)
	reg.Flush()
	reg.Flush()
	pushes := dest.all()
	last := pushes[len(pushes)-1]
	if got := find(last, "http.server.request.count").Numbers[0].Int; got != 2 {
		t.Errorf("flush pushed %d, want the total 2", got)
	}
	n := len(pushes)
	time.Sleep(3 * MinPushInterval)
	if len(dest.all()) != n {
		t.Errorf("pushes went on after Flush, or a second Flush pushed again")
	}
}

// The latest instance's push_interval wins; too small an interval is raised
// to MinPushInterval.
func TestPushIntervalOfTheLatestInstance(t *testing.T) {
	reg := NewRegistry(Options{})
	a := reg.Acquire(Target{Key: "k", Interval: time.Minute})
	if b := reg.Acquire(Target{Key: "k", Interval: 10 * time.Second}); b != a {
		t.Fatal("one destination, two aggregators")
	}
	if got := time.Duration(a.interval.Load()); got != 10*time.Second {
		t.Errorf("interval %v", got)
	}
	reg.Acquire(Target{Key: "k", Interval: time.Millisecond})
	if got := time.Duration(a.interval.Load()); got != MinPushInterval {
		t.Errorf("interval %v, want %v", got, MinPushInterval)
	}
}

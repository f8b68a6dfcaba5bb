package reqmetrics

import (
	"fmt"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/trace-exporter/trace-exporter/exporter"
)

// clock is a settable time source.
type clock struct{ ns atomic.Int64 }

func newClock() *clock {
	c := &clock{}
	c.ns.Store(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC).UnixNano())
	return c
}

func (c *clock) now() time.Time          { return time.Unix(0, c.ns.Load()) }
func (c *clock) advance(d time.Duration) { c.ns.Add(int64(d)) }
func (c *clock) unixNano() uint64        { return uint64(c.ns.Load()) }

// capture is a Destination that keeps every push.
type capture struct {
	mu     sync.Mutex
	pushes [][]exporter.Metric
	pushed chan struct{}
}

func newCapture() *capture { return &capture{pushed: make(chan struct{}, 100)} }

func (c *capture) Push(ms []exporter.Metric) {
	c.mu.Lock()
	c.pushes = append(c.pushes, ms)
	c.mu.Unlock()
	c.pushed <- struct{}{}
}

func (c *capture) all() [][]exporter.Metric {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([][]exporter.Metric(nil), c.pushes...)
}

func testRegistry(c *clock, maxSeries int) *Registry {
	return NewRegistry(Options{MaxSeries: maxSeries, clock: c.now})
}

// find returns the metric named name, or nil.
func find(ms []exporter.Metric, name string) *exporter.Metric {
	for i := range ms {
		if ms[i].Name == name {
			return &ms[i]
		}
	}
	return nil
}

func names(ms []exporter.Metric) []string {
	var out []string
	for _, m := range ms {
		out = append(out, m.Name)
	}
	return out
}

// attrString renders attributes as "k=v,k=v" sorted by key.
func attrString(attrs []exporter.Attribute) string {
	var parts []string
	for _, a := range attrs {
		v := a.Value.AsString()
		switch a.Value.Type {
		case exporter.TypeInt:
			v = fmt.Sprint(a.Value.AsInt())
		case exporter.TypeBool:
			v = fmt.Sprint(a.Value.AsBool())
		}
		parts = append(parts, a.Key+"="+v)
	}
	sort.Strings(parts)
	return strings.Join(parts, ",")
}

// counts maps each point's attributes to its value (sums) or count
// (histograms).
func counts(m *exporter.Metric) map[string]float64 {
	out := map[string]float64{}
	if m == nil {
		return out
	}
	for _, p := range m.Numbers {
		v := float64(p.Int)
		if p.IsDouble {
			v = p.Double
		}
		out[attrString(p.Attributes)] += v
	}
	for _, p := range m.Histograms {
		out[attrString(p.Attributes)] += float64(p.Count)
	}
	return out
}

func histPoint(t *testing.T, m *exporter.Metric, attrs string) *exporter.HistogramPoint {
	t.Helper()
	if m == nil {
		t.Fatalf("metric missing")
	}
	for i := range m.Histograms {
		if attrString(m.Histograms[i].Attributes) == attrs {
			return &m.Histograms[i]
		}
	}
	var have []string
	for _, p := range m.Histograms {
		have = append(have, attrString(p.Attributes))
	}
	t.Fatalf("%s: no point %s; have %v", m.Name, attrs, have)
	return nil
}

// req is a proxied request on route r1 of service svc.
func req(method string, status int, totalMs float64) Request {
	return Request{Service: "svc", Route: "r1", Workspace: "default", Method: method, Status: status, Source: "upstream",
		HTTPRoute: "/r1", Scheme: "http", RequestBytes: 300, ResponseBytes: 5000,
		TotalMs: totalMs, KongMs: 1, UpstreamMs: totalMs - 1}
}

func sampled(r Request, n byte) Request {
	r.TraceID = exporter.TraceID{0xaa, n}
	r.SpanID = exporter.SpanID{0xbb, n}
	return r
}

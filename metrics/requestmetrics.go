package metrics

import (
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/trace-exporter/trace-exporter/exporter"
	"github.com/trace-exporter/trace-exporter/plugin/reqmetrics"
)

// EnvRequests is the environment variable that turns -metrics-requests on
// ("true", "1").
const EnvRequests = "TRACE_EXPORTER_METRICS_REQUESTS"

// RegisterRequestMetrics adds to reg the request metrics aggregators'
// own state (attribute sets held, measurements past the cardinality limit)
// and, when serve is set, the request metrics themselves: the totals of
// every destination's aggregator, named as an OpenTelemetry Collector's
// Prometheus exporter names OTLP metrics, with each histogram bucket's
// latest exemplar (trace_id, span_id) in the OpenMetrics format.
func RegisterRequestMetrics(reg *prometheus.Registry, rm *reqmetrics.Registry, serve bool) {
	reg.MustRegister(newAggregatorCollector(rm))
	if serve {
		reg.MustRegister(&requestMetricsCollector{rm: rm})
	}
}

// aggregatorCollector exposes each aggregator's state.
type aggregatorCollector struct {
	rm                 *reqmetrics.Registry
	series, overflowed *prometheus.Desc
}

func newAggregatorCollector(rm *reqmetrics.Registry) *aggregatorCollector {
	labels := []string{"destination"}
	return &aggregatorCollector{rm: rm,
		series: prometheus.NewDesc(Namespace+"_request_metrics_series",
			"Attribute sets a request metrics destination holds (at most 2000 of each kind: requests, AI).", labels, nil),
		overflowed: prometheus.NewDesc(Namespace+"_request_metrics_overflow_total",
			"Requests recorded without their attributes (otel.metric.overflow=true) because their destination held too many attribute sets.", labels, nil),
	}
}

func (c *aggregatorCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.series
	ch <- c.overflowed
}

func (c *aggregatorCollector) Collect(ch chan<- prometheus.Metric) {
	for _, s := range c.rm.Stats() {
		ch <- prometheus.MustNewConstMetric(c.series, prometheus.GaugeValue, float64(s.Series), s.Name)
		ch <- prometheus.MustNewConstMetric(c.overflowed, prometheus.CounterValue, float64(s.Overflowed), s.Name)
	}
}

// requestMetricsCollector converts the request metrics at scrape time. It
// describes nothing: its families and labels follow the data.
type requestMetricsCollector struct{ rm *reqmetrics.Registry }

func (c *requestMetricsCollector) Describe(chan<- *prometheus.Desc) {}

func (c *requestMetricsCollector) Collect(ch chan<- prometheus.Metric) {
	ms := c.rm.Cumulative()
	for i := range ms {
		collectOTLPMetric(ch, &ms[i])
	}
}

// collectOTLPMetric sends one metric's points. Every point of a family
// has the family's labels (the union of its points' attributes, "" where
// a point has none): Prometheus reads an empty label as no label.
func collectOTLPMetric(ch chan<- prometheus.Metric, m *exporter.Metric) {
	var keys []string
	index := map[string]int{}
	addKeys := func(attrs []exporter.Attribute) {
		for _, a := range attrs {
			if _, ok := index[a.Key]; !ok {
				index[a.Key] = len(keys)
				keys = append(keys, a.Key)
			}
		}
	}
	for _, p := range m.Numbers {
		addKeys(p.Attributes)
	}
	for _, p := range m.Histograms {
		addKeys(p.Attributes)
	}
	labels := make([]string, len(keys))
	for i, k := range keys {
		labels[i] = promName(k)
	}
	desc := prometheus.NewDesc(promMetricName(m), m.Description, labels, nil)
	values := func(attrs []exporter.Attribute) []string {
		out := make([]string, len(keys))
		for _, a := range attrs {
			v := a.Value.AsString()
			switch a.Value.Type {
			case exporter.TypeInt:
				v = strconv.FormatInt(a.Value.AsInt(), 10)
			case exporter.TypeBool:
				v = "false"
				if a.Value.AsBool() {
					v = "true"
				}
			}
			out[index[a.Key]] = v
		}
		return out
	}
	for _, p := range m.Numbers {
		v := float64(p.Int)
		if p.IsDouble {
			v = p.Double
		}
		m, err := prometheus.NewConstMetricWithCreatedTimestamp(desc, prometheus.CounterValue, v, unixNano(p.StartUnixNano), values(p.Attributes)...)
		send(ch, m, err)
	}
	for _, p := range m.Histograms {
		buckets := make(map[float64]uint64, len(p.Bounds))
		var cum uint64
		for i, b := range p.Bounds {
			cum += p.BucketCounts[i]
			buckets[b] = cum
		}
		h, err := prometheus.NewConstHistogramWithCreatedTimestamp(desc, p.Count, p.Sum, buckets, unixNano(p.StartUnixNano), values(p.Attributes)...)
		if err == nil && len(p.Exemplars) > 0 {
			exemplars := make([]prometheus.Exemplar, len(p.Exemplars))
			for i, e := range p.Exemplars {
				exemplars[i] = prometheus.Exemplar{Value: e.Value, Timestamp: unixNano(e.TimeUnixNano),
					Labels: prometheus.Labels{"trace_id": e.TraceID.String(), "span_id": e.SpanID.String()}}
			}
			h, err = prometheus.NewMetricWithExemplars(h, exemplars...)
		}
		send(ch, h, err)
	}
}

func send(ch chan<- prometheus.Metric, m prometheus.Metric, err error) {
	if err != nil {
		// Every name and label comes from this package's conversions: an
		// error is a bug, reported without failing the scrape.
		slog.Warn("request metric not served", "error", err)
		return
	}
	ch <- m
}

// promMetricName is the OTLP metric's name as the OpenTelemetry
// Collector's Prometheus exporter writes it: dots to underscores, the unit
// as a suffix (seconds, bytes; annotations such as {request} dropped),
// _total after a monotonic sum.
func promMetricName(m *exporter.Metric) string {
	name := promName(m.Name)
	switch m.Unit {
	case "s":
		name += "_seconds"
	case "By":
		name += "_bytes"
	}
	if m.Type == exporter.MetricSum && m.Monotonic && !strings.HasSuffix(name, "_total") {
		name += "_total"
	}
	return name
}

// promName replaces what a Prometheus name cannot hold with '_'.
func promName(s string) string {
	b := []byte(s)
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_' || c >= '0' && c <= '9' && i > 0) {
			b[i] = '_'
		}
	}
	return string(b)
}

func unixNano(ns uint64) time.Time { return time.Unix(0, int64(ns)) }

package exportertest

import (
	colmetricspb "go.opentelemetry.io/proto/otlp/collector/metrics/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	metricspb "go.opentelemetry.io/proto/otlp/metrics/v1"
	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"

	"github.com/trace-exporter/trace-exporter/exporter"
)

// RichMetricsBatch covers every metric shape the encoders handle: a
// monotonic cumulative int sum, a delta double sum, a gauge, a histogram
// with exemplars and min/max, an empty histogram point.
func RichMetricsBatch() *exporter.MetricsBatch {
	start, now := uint64(1_700_000_000_000_000_000), uint64(1_700_000_060_000_000_000)
	route := []exporter.Attribute{exporter.String("http.request.method", "GET"), exporter.String("http.route", "/users/{id}"), exporter.Int("http.response.status_code", 200)}
	tid := RichBatch().Spans[0].TraceID
	return &exporter.MetricsBatch{
		Resource: RichBatch().Resource,
		Scope:    exporter.NewScope(),
		Metrics: []exporter.Metric{
			{Name: "http.server.request.count", Unit: "{request}", Type: exporter.MetricSum, Temporality: exporter.TemporalityCumulative, Monotonic: true,
				Numbers: []exporter.NumberPoint{{Attributes: route, StartUnixNano: start, TimeUnixNano: now, Int: 42}, {StartUnixNano: start, TimeUnixNano: now, Int: 0}}},
			{Name: "bytes", Description: "d\xff", Unit: "By", Type: exporter.MetricSum, Temporality: exporter.TemporalityDelta,
				Numbers: []exporter.NumberPoint{{TimeUnixNano: now, IsDouble: true, Double: 1.5}}},
			{Name: "up", Type: exporter.MetricGauge, Numbers: []exporter.NumberPoint{{TimeUnixNano: now, IsDouble: true, Double: 0}}},
			{Name: "http.server.request.duration", Unit: "s", Type: exporter.MetricHistogram, Temporality: exporter.TemporalityCumulative,
				Histograms: []exporter.HistogramPoint{
					{Attributes: route, StartUnixNano: start, TimeUnixNano: now, Count: 3, Sum: 0.75, HasMinMax: true, Min: 0.05, Max: 0.5,
						Bounds: []float64{0.1, 0.5, 1}, BucketCounts: []uint64{1, 2, 0, 0},
						Exemplars: []exporter.Exemplar{{TimeUnixNano: now - 5, Value: 0.5, TraceID: tid, SpanID: exporter.SpanID{1, 2, 3, 4, 5, 6, 7, 8},
							FilteredAttributes: []exporter.Attribute{exporter.String("kong.request.id", "r1")}}, {Value: 0.05}}},
					{StartUnixNano: start, TimeUnixNano: now},
				}},
		},
	}
}

// MetricsToOTLP builds the official generated structs for a metrics batch.
func MetricsToOTLP(b *exporter.MetricsBatch) *colmetricspb.ExportMetricsServiceRequest {
	sm := &metricspb.ScopeMetrics{
		Scope:     &commonpb.InstrumentationScope{Name: valid(b.Scope.Name), Version: valid(b.Scope.Version)},
		SchemaUrl: valid(b.Scope.SchemaURL),
	}
	for i := range b.Metrics {
		sm.Metrics = append(sm.Metrics, toOTLPMetric(&b.Metrics[i]))
	}
	rm := &metricspb.ResourceMetrics{ScopeMetrics: []*metricspb.ScopeMetrics{sm}}
	if b.Resource != nil {
		rm.Resource = &resourcepb.Resource{Attributes: toOTLPAttributes(b.Resource.Attributes)}
		rm.SchemaUrl = valid(b.Resource.SchemaURL)
	}
	return &colmetricspb.ExportMetricsServiceRequest{ResourceMetrics: []*metricspb.ResourceMetrics{rm}}
}

func toOTLPMetric(m *exporter.Metric) *metricspb.Metric {
	out := &metricspb.Metric{Name: valid(m.Name), Description: valid(m.Description), Unit: valid(m.Unit)}
	numbers := func() []*metricspb.NumberDataPoint {
		var ps []*metricspb.NumberDataPoint
		for _, p := range m.Numbers {
			q := &metricspb.NumberDataPoint{Attributes: toOTLPAttributes(p.Attributes), StartTimeUnixNano: p.StartUnixNano,
				TimeUnixNano: p.TimeUnixNano, Exemplars: toOTLPExemplars(p.Exemplars)}
			if p.IsDouble {
				q.Value = &metricspb.NumberDataPoint_AsDouble{AsDouble: p.Double}
			} else {
				q.Value = &metricspb.NumberDataPoint_AsInt{AsInt: p.Int}
			}
			ps = append(ps, q)
		}
		return ps
	}
	switch m.Type {
	case exporter.MetricGauge:
		out.Data = &metricspb.Metric_Gauge{Gauge: &metricspb.Gauge{DataPoints: numbers()}}
	case exporter.MetricSum:
		out.Data = &metricspb.Metric_Sum{Sum: &metricspb.Sum{DataPoints: numbers(),
			AggregationTemporality: metricspb.AggregationTemporality(m.Temporality), IsMonotonic: m.Monotonic}}
	case exporter.MetricHistogram:
		h := &metricspb.Histogram{AggregationTemporality: metricspb.AggregationTemporality(m.Temporality)}
		for _, p := range m.Histograms {
			sum := p.Sum
			q := &metricspb.HistogramDataPoint{Attributes: toOTLPAttributes(p.Attributes), StartTimeUnixNano: p.StartUnixNano,
				TimeUnixNano: p.TimeUnixNano, Count: p.Count, Sum: &sum, BucketCounts: p.BucketCounts, ExplicitBounds: p.Bounds,
				Exemplars: toOTLPExemplars(p.Exemplars)}
			if p.HasMinMax {
				mn, mx := p.Min, p.Max
				q.Min, q.Max = &mn, &mx
			}
			h.DataPoints = append(h.DataPoints, q)
		}
		out.Data = &metricspb.Metric_Histogram{Histogram: h}
	}
	return out
}

func toOTLPExemplars(xs []exporter.Exemplar) []*metricspb.Exemplar {
	var out []*metricspb.Exemplar
	for _, x := range xs {
		e := &metricspb.Exemplar{FilteredAttributes: toOTLPAttributes(x.FilteredAttributes), TimeUnixNano: x.TimeUnixNano,
			Value: &metricspb.Exemplar_AsDouble{AsDouble: x.Value}}
		if x.SpanID.IsValid() {
			e.SpanId = x.SpanID[:]
		}
		if x.TraceID.IsValid() {
			e.TraceId = x.TraceID[:]
		}
		out = append(out, e)
	}
	return out
}

package exporter

import (
	"context"
	"unsafe"

	"github.com/trace-exporter/trace-exporter/schema"
)

// metricSignal is the metrics signal: each item is one metric of a push
// (its points for every attribute set). Metrics are not spooled: a
// cumulative push carries the totals again, and the next push follows
// within push_interval.
var metricSignal = &signal[Metric]{
	name: "metrics",
	unit: "metrics",
	size: func(m *Metric) int64 { return int64(estimateMetricBytes(m)) },
	accepts: func(exp Exporter) bool {
		_, ok := exp.(MetricsExporter)
		return ok
	},
	push: func(ctx context.Context, exp Exporter, b *batchOf[Metric]) error {
		return exp.(MetricsExporter).ExportMetrics(ctx, MetricsBatch{Resource: b.resource, Scope: b.scope, Metrics: b.items})
	},
}

// MetricsHandle is a plugin server's handle on a metrics pipeline.
type MetricsHandle = PipelineHandle[Metric]

// AcquireMetrics returns a handle on the metrics pipeline for cfg's
// backend, whose endpoint is the metrics destination (see AcquireLogs).
func (r *Registry) AcquireMetrics(cfg *schema.Config) (*MetricsHandle, error) {
	return acquire(r, metricSignal, cfg)
}

const (
	metricStructBytes   = int(unsafe.Sizeof(Metric{})) + 8
	numberPointBytes    = int(unsafe.Sizeof(NumberPoint{}))
	histogramPointBytes = int(unsafe.Sizeof(HistogramPoint{}))
	exemplarStructBytes = int(unsafe.Sizeof(Exemplar{}))
	bucketBytesPerBound = 8 + 8 + 2 // a bound, a count and their tags
)

// estimateMetricBytes is what a queued metric costs in memory, at least
// its protobuf size.
func estimateMetricBytes(m *Metric) int {
	n := metricStructBytes + len(m.Name) + len(m.Description) + len(m.Unit)
	for i := range m.Numbers {
		p := &m.Numbers[i]
		n += numberPointBytes + estimateAttributesBytes(p.Attributes) + estimateExemplarsBytes(p.Exemplars)
	}
	for i := range m.Histograms {
		p := &m.Histograms[i]
		n += histogramPointBytes + estimateAttributesBytes(p.Attributes) + estimateExemplarsBytes(p.Exemplars) +
			(len(p.Bounds)+1)*bucketBytesPerBound
	}
	return n
}

func estimateExemplarsBytes(es []Exemplar) int {
	n := 0
	for i := range es {
		n += exemplarStructBytes + estimateAttributesBytes(es[i].FilteredAttributes)
	}
	return n
}

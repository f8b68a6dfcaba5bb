package exporter

import "context"

// MetricType says which points a Metric holds.
type MetricType uint8

// Metric types (a subset of OTLP's: what request metrics need).
const (
	MetricSum MetricType = iota + 1
	MetricGauge
	MetricHistogram
)

// Temporality is OTLP's aggregation temporality of sums and histograms.
type Temporality int32

// Temporalities (OTLP values).
const (
	TemporalityDelta      Temporality = 1
	TemporalityCumulative Temporality = 2
)

// Metric is one metric of a push: its identity and its points, one per
// attribute set.
type Metric struct {
	Name        string
	Description string
	Unit        string
	Type        MetricType
	Temporality Temporality // sums and histograms
	Monotonic   bool        // sums
	Numbers     []NumberPoint
	Histograms  []HistogramPoint
}

// NumberPoint is a point of a sum or gauge.
type NumberPoint struct {
	Attributes    []Attribute
	StartUnixNano uint64
	TimeUnixNano  uint64
	IsDouble      bool
	Int           int64
	Double        float64
	Exemplars     []Exemplar
}

// HistogramPoint is a point of an explicit-bucket histogram: BucketCounts
// has one more element than Bounds (the last counts values above every
// bound).
type HistogramPoint struct {
	Attributes    []Attribute
	StartUnixNano uint64
	TimeUnixNano  uint64
	Count         uint64
	Sum           float64
	HasMinMax     bool
	Min, Max      float64
	Bounds        []float64
	BucketCounts  []uint64
	Exemplars     []Exemplar
}

// Exemplar links a measurement to the trace it was taken in.
type Exemplar struct {
	TimeUnixNano       uint64
	Value              float64
	TraceID            TraceID
	SpanID             SpanID
	FilteredAttributes []Attribute
}

// MetricsBatch is what a MetricsExporter receives: metrics of one scope.
type MetricsBatch struct {
	Resource *Resource
	Scope    Scope
	Metrics  []Metric
}

// MetricsExporter is implemented by an Exporter whose backend also takes
// metrics: a pipeline of the metrics signal calls ExportMetrics under the
// same contract as Export (a *PartialError's Rejected counts data points).
type MetricsExporter interface {
	ExportMetrics(ctx context.Context, batch MetricsBatch) error
}

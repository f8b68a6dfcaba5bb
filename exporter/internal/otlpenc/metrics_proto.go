package otlpenc

import (
	"math"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/trace-exporter/trace-exporter/exporter"
)

// Field numbers of metrics/v1.
const (
	fieldMetricName        protowire.Number = 1
	fieldMetricDescription protowire.Number = 2
	fieldMetricUnit        protowire.Number = 3
	fieldMetricGauge       protowire.Number = 5
	fieldMetricSum         protowire.Number = 7
	fieldMetricHistogram   protowire.Number = 9

	fieldDataPoints  protowire.Number = 1 // Gauge, Sum, Histogram
	fieldTemporality protowire.Number = 2 // Sum, Histogram
	fieldMonotonic   protowire.Number = 3 // Sum

	fieldNumberAttributes protowire.Number = 7
	fieldPointStart       protowire.Number = 2
	fieldPointTime        protowire.Number = 3
	fieldNumberAsDouble   protowire.Number = 4
	fieldNumberExemplars  protowire.Number = 5
	fieldNumberAsInt      protowire.Number = 6

	fieldHistAttributes protowire.Number = 9
	fieldHistCount      protowire.Number = 4
	fieldHistSum        protowire.Number = 5
	fieldHistBuckets    protowire.Number = 6
	fieldHistBounds     protowire.Number = 7
	fieldHistExemplars  protowire.Number = 8
	fieldHistMin        protowire.Number = 11
	fieldHistMax        protowire.Number = 12

	fieldExemplarAttributes protowire.Number = 7
	fieldExemplarTime       protowire.Number = 2
	fieldExemplarAsDouble   protowire.Number = 3
	fieldExemplarSpanID     protowire.Number = 4
	fieldExemplarTraceID    protowire.Number = 5
)

// AppendMetrics appends the OTLP ExportMetricsServiceRequest for b to dst:
// one ResourceMetrics with one ScopeMetrics.
func AppendMetrics(dst []byte, b *exporter.MetricsBatch) []byte {
	e := getEncoder()
	dst = e.AppendMetrics(dst, b)
	putEncoder(e)
	return dst
}

// AppendMetrics is the package function with this encoder's scratch.
func (e *Encoder) AppendMetrics(dst []byte, b *exporter.MetricsBatch) []byte {
	return e.appendRequest(dst, len(b.Metrics), b.Resource, b.Scope,
		func(int) *exporter.Resource { return b.Resource },
		func(i int) int { return e.sizeMetric(&b.Metrics[i]) },
		func(dst []byte, i int) []byte { return e.appendMetric(dst, &b.Metrics[i]) })
}

// dataField is the oneof member a metric's points go in.
func dataField(m *exporter.Metric) protowire.Number {
	switch m.Type {
	case exporter.MetricGauge:
		return fieldMetricGauge
	case exporter.MetricHistogram:
		return fieldMetricHistogram
	}
	return fieldMetricSum
}

func (e *Encoder) sizeMetric(m *exporter.Metric) int {
	return e.sizeString(m.Name) + e.sizeString(m.Description) + e.sizeString(m.Unit) + sizeField(e.sizeData(m))
}

// sizeData is the size of the Gauge, Sum or Histogram message.
func (e *Encoder) sizeData(m *exporter.Metric) int {
	n := 0
	if m.Type == exporter.MetricHistogram {
		for i := range m.Histograms {
			n += sizeField(e.sizeHistogramPoint(&m.Histograms[i]))
		}
	} else {
		for i := range m.Numbers {
			n += sizeField(e.sizeNumberPoint(&m.Numbers[i]))
		}
	}
	if m.Type != exporter.MetricGauge && m.Temporality != 0 {
		n += 1 + protowire.SizeVarint(uint64(m.Temporality))
	}
	if m.Type == exporter.MetricSum && m.Monotonic {
		n += 2
	}
	return n
}

func (e *Encoder) appendMetric(b []byte, m *exporter.Metric) []byte {
	b = e.appendString(b, tagOf(fieldMetricName, protowire.BytesType), m.Name)
	b = e.appendString(b, tagOf(fieldMetricDescription, protowire.BytesType), m.Description)
	b = e.appendString(b, tagOf(fieldMetricUnit, protowire.BytesType), m.Unit)
	b = appendLenPrefix(b, tagOf(dataField(m), protowire.BytesType), e.sizeData(m))
	if m.Type == exporter.MetricHistogram {
		for i := range m.Histograms {
			p := &m.Histograms[i]
			b = appendLenPrefix(b, tagOf(fieldDataPoints, protowire.BytesType), e.sizeHistogramPoint(p))
			b = e.appendHistogramPoint(b, p)
		}
	} else {
		for i := range m.Numbers {
			p := &m.Numbers[i]
			b = appendLenPrefix(b, tagOf(fieldDataPoints, protowire.BytesType), e.sizeNumberPoint(p))
			b = e.appendNumberPoint(b, p)
		}
	}
	if m.Type != exporter.MetricGauge && m.Temporality != 0 {
		b = append(b, tagOf(fieldTemporality, protowire.VarintType))
		b = protowire.AppendVarint(b, uint64(m.Temporality))
	}
	if m.Type == exporter.MetricSum && m.Monotonic {
		b = append(b, tagOf(fieldMonotonic, protowire.VarintType), 1)
	}
	return b
}

func (e *Encoder) sizeTimes(start, t uint64) int {
	n := 0
	if start != 0 {
		n += 1 + 8
	}
	if t != 0 {
		n += 1 + 8
	}
	return n
}

func appendTimes(b []byte, start, t uint64) []byte {
	if start != 0 {
		b = append(b, tagOf(fieldPointStart, protowire.Fixed64Type))
		b = protowire.AppendFixed64(b, start)
	}
	if t != 0 {
		b = append(b, tagOf(fieldPointTime, protowire.Fixed64Type))
		b = protowire.AppendFixed64(b, t)
	}
	return b
}

// sizeNumberPoint: the value is a oneof member, always written.
func (e *Encoder) sizeNumberPoint(p *exporter.NumberPoint) int {
	return e.sizeTimes(p.StartUnixNano, p.TimeUnixNano) + 1 + 8 + e.sizeExemplars(p.Exemplars) +
		e.sizeAttributes(p.Attributes)
}

// appendNumberPoint writes a NumberDataPoint in field-number order.
func (e *Encoder) appendNumberPoint(b []byte, p *exporter.NumberPoint) []byte {
	b = appendTimes(b, p.StartUnixNano, p.TimeUnixNano)
	if p.IsDouble {
		b = append(b, tagOf(fieldNumberAsDouble, protowire.Fixed64Type))
		b = protowire.AppendFixed64(b, math.Float64bits(p.Double))
	}
	b = e.appendExemplars(b, tagOf(fieldNumberExemplars, protowire.BytesType), p.Exemplars)
	if !p.IsDouble {
		b = append(b, tagOf(fieldNumberAsInt, protowire.Fixed64Type))
		b = protowire.AppendFixed64(b, uint64(p.Int))
	}
	return e.appendAttributes(b, tagOf(fieldNumberAttributes, protowire.BytesType), p.Attributes)
}

func (e *Encoder) sizeHistogramPoint(p *exporter.HistogramPoint) int {
	n := e.sizeTimes(p.StartUnixNano, p.TimeUnixNano) + e.sizeAttributes(p.Attributes) + e.sizeExemplars(p.Exemplars)
	if p.Count != 0 {
		n += 1 + 8
	}
	n += 1 + 8 // sum: optional, present
	if len(p.BucketCounts) > 0 {
		n += sizeField(8 * len(p.BucketCounts))
	}
	if len(p.Bounds) > 0 {
		n += sizeField(8 * len(p.Bounds))
	}
	if p.HasMinMax {
		n += 2 * (1 + 8)
	}
	return n
}

// appendHistogramPoint writes a HistogramDataPoint in field-number order.
func (e *Encoder) appendHistogramPoint(b []byte, p *exporter.HistogramPoint) []byte {
	b = appendTimes(b, p.StartUnixNano, p.TimeUnixNano)
	if p.Count != 0 {
		b = append(b, tagOf(fieldHistCount, protowire.Fixed64Type))
		b = protowire.AppendFixed64(b, p.Count)
	}
	b = append(b, tagOf(fieldHistSum, protowire.Fixed64Type))
	b = protowire.AppendFixed64(b, math.Float64bits(p.Sum))
	if len(p.BucketCounts) > 0 {
		b = appendLenPrefix(b, tagOf(fieldHistBuckets, protowire.BytesType), 8*len(p.BucketCounts))
		for _, c := range p.BucketCounts {
			b = protowire.AppendFixed64(b, c)
		}
	}
	if len(p.Bounds) > 0 {
		b = appendLenPrefix(b, tagOf(fieldHistBounds, protowire.BytesType), 8*len(p.Bounds))
		for _, v := range p.Bounds {
			b = protowire.AppendFixed64(b, math.Float64bits(v))
		}
	}
	b = e.appendExemplars(b, tagOf(fieldHistExemplars, protowire.BytesType), p.Exemplars)
	b = e.appendAttributes(b, tagOf(fieldHistAttributes, protowire.BytesType), p.Attributes)
	if p.HasMinMax {
		b = append(b, tagOf(fieldHistMin, protowire.Fixed64Type))
		b = protowire.AppendFixed64(b, math.Float64bits(p.Min))
		b = append(b, tagOf(fieldHistMax, protowire.Fixed64Type))
		b = protowire.AppendFixed64(b, math.Float64bits(p.Max))
	}
	return b
}

func (e *Encoder) sizeExemplar(x *exporter.Exemplar) int {
	n := e.sizeAttributes(x.FilteredAttributes) + 1 + 8 // value: oneof, always written
	if x.TimeUnixNano != 0 {
		n += 1 + 8
	}
	if x.SpanID.IsValid() {
		n += sizeField(len(x.SpanID))
	}
	if x.TraceID.IsValid() {
		n += sizeField(len(x.TraceID))
	}
	return n
}

func (e *Encoder) sizeExemplars(xs []exporter.Exemplar) int {
	n := 0
	for i := range xs {
		n += sizeField(e.sizeExemplar(&xs[i]))
	}
	return n
}

func (e *Encoder) appendExemplars(b []byte, tag byte, xs []exporter.Exemplar) []byte {
	for i := range xs {
		x := &xs[i]
		b = appendLenPrefix(b, tag, e.sizeExemplar(x))
		if x.TimeUnixNano != 0 {
			b = append(b, tagOf(fieldExemplarTime, protowire.Fixed64Type))
			b = protowire.AppendFixed64(b, x.TimeUnixNano)
		}
		b = append(b, tagOf(fieldExemplarAsDouble, protowire.Fixed64Type))
		b = protowire.AppendFixed64(b, math.Float64bits(x.Value))
		if x.SpanID.IsValid() {
			b = appendLenPrefix(b, tagOf(fieldExemplarSpanID, protowire.BytesType), len(x.SpanID))
			b = append(b, x.SpanID[:]...)
		}
		if x.TraceID.IsValid() {
			b = appendLenPrefix(b, tagOf(fieldExemplarTraceID, protowire.BytesType), len(x.TraceID))
			b = append(b, x.TraceID[:]...)
		}
		b = e.appendAttributes(b, tagOf(fieldExemplarAttributes, protowire.BytesType), x.FilteredAttributes)
	}
	return b
}

package otlpenc

import (
	"strconv"

	"github.com/trace-exporter/trace-exporter/exporter"
	"github.com/trace-exporter/trace-exporter/exporter/internal/wire"
)

// AppendMetricsJSON appends the ExportMetricsServiceRequest for b as
// OTLP/JSON.
func AppendMetricsJSON(b []byte, batch *exporter.MetricsBatch) []byte {
	return appendJSONRequest(b, "resourceMetrics", "scopeMetrics", "metrics", len(batch.Metrics), batch.Resource, batch.Scope,
		func(int) *exporter.Resource { return batch.Resource },
		func(b []byte, i int) []byte { return appendJSONMetric(b, &batch.Metrics[i]) })
}

func appendJSONMetric(b []byte, m *exporter.Metric) []byte {
	b = append(b, '{')
	comma := false
	b, comma = appendJSONStringField(b, "name", m.Name, comma)
	b, comma = appendJSONStringField(b, "description", m.Description, comma)
	b, comma = appendJSONStringField(b, "unit", m.Unit, comma)
	if comma {
		b = append(b, ',')
	}
	switch m.Type {
	case exporter.MetricGauge:
		b = append(b, `"gauge":{`...)
	case exporter.MetricHistogram:
		b = append(b, `"histogram":{`...)
	default:
		b = append(b, `"sum":{`...)
	}
	b = append(b, `"dataPoints":[`...)
	if m.Type == exporter.MetricHistogram {
		for i := range m.Histograms {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendJSONHistogramPoint(b, &m.Histograms[i])
		}
	} else {
		for i := range m.Numbers {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendJSONNumberPoint(b, &m.Numbers[i])
		}
	}
	b = append(b, ']')
	if m.Type != exporter.MetricGauge && m.Temporality != 0 {
		b = append(b, `,"aggregationTemporality":`...)
		b = strconv.AppendInt(b, int64(m.Temporality), 10)
	}
	if m.Type == exporter.MetricSum && m.Monotonic {
		b = append(b, `,"isMonotonic":true`...)
	}
	return append(b, `}}`...)
}

func appendJSONNumberPoint(b []byte, p *exporter.NumberPoint) []byte {
	b = append(b, '{')
	comma := false
	if len(p.Attributes) > 0 {
		b = appendJSONAttributes(b, "attributes", p.Attributes, false)
		comma = true
	}
	b, comma = appendJSONTime(b, "startTimeUnixNano", p.StartUnixNano, comma)
	b, comma = appendJSONTime(b, "timeUnixNano", p.TimeUnixNano, comma)
	if comma {
		b = append(b, ',')
	}
	if p.IsDouble {
		b = append(b, `"asDouble":`...)
		b = wire.AppendJSONFloat(b, p.Double)
	} else {
		b = append(b, `"asInt":"`...)
		b = strconv.AppendInt(b, p.Int, 10)
		b = append(b, '"')
	}
	b = appendJSONExemplars(b, p.Exemplars)
	return append(b, '}')
}

func appendJSONHistogramPoint(b []byte, p *exporter.HistogramPoint) []byte {
	b = append(b, '{')
	comma := false
	if len(p.Attributes) > 0 {
		b = appendJSONAttributes(b, "attributes", p.Attributes, false)
		comma = true
	}
	b, comma = appendJSONTime(b, "startTimeUnixNano", p.StartUnixNano, comma)
	b, comma = appendJSONTime(b, "timeUnixNano", p.TimeUnixNano, comma)
	b, comma = appendJSONTime(b, "count", p.Count, comma)
	if comma {
		b = append(b, ',')
	}
	b = append(b, `"sum":`...)
	b = wire.AppendJSONFloat(b, p.Sum)
	if len(p.BucketCounts) > 0 {
		b = append(b, `,"bucketCounts":[`...)
		for i, c := range p.BucketCounts {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, '"')
			b = strconv.AppendUint(b, c, 10)
			b = append(b, '"')
		}
		b = append(b, ']')
	}
	if len(p.Bounds) > 0 {
		b = append(b, `,"explicitBounds":[`...)
		for i, v := range p.Bounds {
			if i > 0 {
				b = append(b, ',')
			}
			b = wire.AppendJSONFloat(b, v)
		}
		b = append(b, ']')
	}
	if p.HasMinMax {
		b = append(b, `,"min":`...)
		b = wire.AppendJSONFloat(b, p.Min)
		b = append(b, `,"max":`...)
		b = wire.AppendJSONFloat(b, p.Max)
	}
	b = appendJSONExemplars(b, p.Exemplars)
	return append(b, '}')
}

func appendJSONExemplars(b []byte, xs []exporter.Exemplar) []byte {
	if len(xs) == 0 {
		return b
	}
	b = append(b, `,"exemplars":[`...)
	for i := range xs {
		x := &xs[i]
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, '{')
		comma := false
		if len(x.FilteredAttributes) > 0 {
			b = appendJSONAttributes(b, "filteredAttributes", x.FilteredAttributes, false)
			comma = true
		}
		b, comma = appendJSONTime(b, "timeUnixNano", x.TimeUnixNano, comma)
		if comma {
			b = append(b, ',')
		}
		b = append(b, `"asDouble":`...)
		b = wire.AppendJSONFloat(b, x.Value)
		if x.SpanID.IsValid() {
			b = append(b, `,"spanId":"`...)
			b = wire.AppendHex(b, x.SpanID[:])
			b = append(b, '"')
		}
		if x.TraceID.IsValid() {
			b = append(b, `,"traceId":"`...)
			b = wire.AppendHex(b, x.TraceID[:])
			b = append(b, '"')
		}
		b = append(b, '}')
	}
	return append(b, ']')
}

package jaegertest

import (
	"time"

	"github.com/trace-exporter/trace-exporter/test/waterfall"
)

// Waterfall converts the trace for test/waterfall, so a trace read back from
// Jaeger prints the same way as one received by test/otlpsink.
func (tr *Trace) Waterfall() waterfall.Trace {
	out := waterfall.Trace{TraceID: tr.TraceID, Spans: make([]waterfall.Span, len(tr.Spans))}
	for i := range tr.Spans {
		s := &tr.Spans[i]
		start := time.UnixMicro(s.StartMicros).UTC()
		ws := waterfall.Span{
			TraceID:       s.TraceID,
			SpanID:        s.SpanID,
			ParentID:      s.ParentSpanID,
			Name:          s.OperationName,
			Kind:          s.Kind,
			Service:       s.ServiceName,
			Start:         start,
			End:           start.Add(time.Duration(s.DurationMicros) * time.Microsecond),
			Error:         s.IsError(),
			StatusMessage: s.StringTag("otel.status_description"),
			Attributes:    make(map[string]string, len(s.Tags)),
		}
		for _, t := range s.Tags {
			ws.Attributes[t.Key] = t.String()
		}
		out.Spans[i] = ws
	}
	return out
}

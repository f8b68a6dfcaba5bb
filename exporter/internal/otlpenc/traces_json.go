package otlpenc

import (
	"strconv"

	"github.com/trace-exporter/trace-exporter/exporter"
	"github.com/trace-exporter/trace-exporter/exporter/internal/wire"
)

// OTLP/JSON (the protobuf JSON mapping with OTLP's exceptions): trace and
// span ids are lowercase hex, not base64; enums are integers; keys are
// lowerCamelCase; 64-bit integers (times, intValue) are decimal strings.
// Fields equal to their proto3 zero value are left out, as protojson does;
// receivers treat the two the same.

// AppendTracesJSON appends the ExportTraceServiceRequest for b as OTLP/JSON,
// grouped by resource as AppendTraces does.
func AppendTracesJSON(b []byte, batch *exporter.Batch) []byte {
	return appendJSONRequest(b, "resourceSpans", "scopeSpans", "spans", len(batch.Spans), batch.Resource, batch.Scope,
		func(i int) *exporter.Resource { return resourceOf(&batch.Spans[i], batch) },
		func(b []byte, i int) []byte { return appendJSONSpan(b, &batch.Spans[i]) })
}

func appendJSONSpan(b []byte, s *exporter.Span) []byte {
	b = append(b, `{"traceId":"`...)
	b = wire.AppendHex(b, s.TraceID[:])
	b = append(b, `","spanId":"`...)
	b = wire.AppendHex(b, s.SpanID[:])
	b = append(b, '"')
	b, _ = appendJSONStringField(b, "traceState", s.TraceState, true)
	if s.ParentSpanID.IsValid() {
		b = append(b, `,"parentSpanId":"`...)
		b = wire.AppendHex(b, s.ParentSpanID[:])
		b = append(b, '"')
	}
	if s.Flags != 0 {
		b = append(b, `,"flags":`...)
		b = strconv.AppendUint(b, uint64(s.Flags), 10)
	}
	b, _ = appendJSONStringField(b, "name", s.Name, true)
	if s.Kind != 0 {
		b = append(b, `,"kind":`...)
		b = strconv.AppendInt(b, int64(s.Kind), 10)
	}
	b, _ = appendJSONTime(b, "startTimeUnixNano", s.StartUnixNano, true)
	b, _ = appendJSONTime(b, "endTimeUnixNano", s.EndUnixNano, true)
	b = appendJSONAttributes(b, "attributes", s.Attributes, true)
	if s.DroppedAttributes != 0 {
		b = append(b, `,"droppedAttributesCount":`...)
		b = strconv.AppendUint(b, uint64(s.DroppedAttributes), 10)
	}
	if len(s.Events) > 0 {
		b = append(b, `,"events":[`...)
		for i := range s.Events {
			ev := &s.Events[i]
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, '{')
			var comma bool
			b, comma = appendJSONTime(b, "timeUnixNano", ev.TimeUnixNano, false)
			b, comma = appendJSONStringField(b, "name", ev.Name, comma)
			b = appendJSONAttributes(b, "attributes", ev.Attributes, comma)
			b = append(b, '}')
		}
		b = append(b, ']')
	}
	if s.Status != 0 || s.StatusMessage != "" {
		b = append(b, `,"status":{`...)
		comma := false
		b, comma = appendJSONStringField(b, "message", s.StatusMessage, comma)
		if s.Status != 0 {
			if comma {
				b = append(b, ',')
			}
			b = append(b, `"code":`...)
			b = strconv.AppendInt(b, int64(s.Status), 10)
		}
		b = append(b, '}')
	}
	return append(b, '}')
}

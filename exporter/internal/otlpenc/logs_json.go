package otlpenc

import (
	"strconv"

	"github.com/trace-exporter/trace-exporter/exporter"
	"github.com/trace-exporter/trace-exporter/exporter/internal/wire"
)

// AppendLogsJSON appends the ExportLogsServiceRequest for b as OTLP/JSON,
// grouped by resource as AppendLogs does.
func AppendLogsJSON(b []byte, batch *exporter.LogBatch) []byte {
	return appendJSONRequest(b, "resourceLogs", "scopeLogs", "logRecords", len(batch.Records), batch.Resource, batch.Scope,
		batch.ResourceOf,
		func(b []byte, i int) []byte { return appendJSONLog(b, &batch.Records[i]) })
}

func appendJSONLog(b []byte, r *exporter.LogRecord) []byte {
	b = append(b, '{')
	comma := false
	b, comma = appendJSONTime(b, "timeUnixNano", r.TimeUnixNano, comma)
	b, comma = appendJSONTime(b, "observedTimeUnixNano", r.ObservedTimeUnixNano, comma)
	if r.SeverityNumber != 0 {
		if comma {
			b = append(b, ',')
		}
		b = append(b, `"severityNumber":`...)
		b = strconv.AppendInt(b, int64(r.SeverityNumber), 10)
		comma = true
	}
	b, comma = appendJSONStringField(b, "severityText", r.SeverityText, comma)
	if r.Body != "" {
		if comma {
			b = append(b, ',')
		}
		b = append(b, `"body":{"stringValue":`...)
		b = wire.AppendJSONString(b, r.Body)
		b = append(b, '}')
		comma = true
	}
	if len(r.Attributes) > 0 {
		b = appendJSONAttributes(b, "attributes", r.Attributes, comma)
		comma = true
	}
	if r.DroppedAttributes != 0 {
		if comma {
			b = append(b, ',')
		}
		b = append(b, `"droppedAttributesCount":`...)
		b = strconv.AppendUint(b, uint64(r.DroppedAttributes), 10)
		comma = true
	}
	if r.Flags != 0 {
		if comma {
			b = append(b, ',')
		}
		b = append(b, `"flags":`...)
		b = strconv.AppendUint(b, uint64(r.Flags), 10)
		comma = true
	}
	if r.TraceID.IsValid() {
		if comma {
			b = append(b, ',')
		}
		b = append(b, `"traceId":"`...)
		b = wire.AppendHex(b, r.TraceID[:])
		b = append(b, '"')
		comma = true
	}
	if r.SpanID.IsValid() {
		if comma {
			b = append(b, ',')
		}
		b = append(b, `"spanId":"`...)
		b = wire.AppendHex(b, r.SpanID[:])
		b = append(b, '"')
		comma = true
	}
	b, _ = appendJSONStringField(b, "eventName", r.EventName, comma)
	return append(b, '}')
}

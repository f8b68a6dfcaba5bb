package otlpenc

import (
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/trace-exporter/trace-exporter/exporter"
)

// Field numbers of logs/v1 LogRecord.
const (
	fieldLogTime              protowire.Number = 1
	fieldLogSeverityNumber    protowire.Number = 2
	fieldLogSeverityText      protowire.Number = 3
	fieldLogBody              protowire.Number = 5
	fieldLogAttributes        protowire.Number = 6
	fieldLogDroppedAttributes protowire.Number = 7
	fieldLogFlags             protowire.Number = 8
	fieldLogTraceID           protowire.Number = 9
	fieldLogSpanID            protowire.Number = 10
	fieldLogObservedTime      protowire.Number = 11
	fieldLogEventName         protowire.Number = 12
)

// AppendLogs appends the OTLP ExportLogsServiceRequest for b to dst,
// grouped by resource as AppendTraces does.
func AppendLogs(dst []byte, b *exporter.LogBatch) []byte {
	e := getEncoder()
	dst = e.AppendLogs(dst, b)
	putEncoder(e)
	return dst
}

// AppendLogs is the package function with this encoder's scratch.
func (e *Encoder) AppendLogs(dst []byte, b *exporter.LogBatch) []byte {
	return e.appendRequest(dst, len(b.Records), b.Resource, b.Scope,
		b.ResourceOf,
		func(i int) int { return e.sizeLog(&b.Records[i]) },
		func(dst []byte, i int) []byte { return e.appendLog(dst, &b.Records[i]) })
}

func (e *Encoder) sizeLog(r *exporter.LogRecord) int {
	n := e.sizeString(r.SeverityText) + e.sizeAttributes(r.Attributes) + e.sizeString(r.EventName)
	if r.TimeUnixNano != 0 {
		n += 1 + 8
	}
	if r.SeverityNumber != 0 {
		n += 1 + protowire.SizeVarint(uint64(r.SeverityNumber))
	}
	if r.Body != "" {
		n += sizeField(sizeField(e.strLen(r.Body))) // AnyValue{string_value}
	}
	if r.DroppedAttributes != 0 {
		n += 1 + protowire.SizeVarint(uint64(r.DroppedAttributes))
	}
	if r.Flags != 0 {
		n += 1 + 4
	}
	if r.TraceID.IsValid() {
		n += sizeField(len(r.TraceID))
	}
	if r.SpanID.IsValid() {
		n += sizeField(len(r.SpanID))
	}
	if r.ObservedTimeUnixNano != 0 {
		n += 1 + 8
	}
	return n
}

// appendLog writes the fields of a LogRecord message in field-number order.
func (e *Encoder) appendLog(b []byte, r *exporter.LogRecord) []byte {
	if r.TimeUnixNano != 0 {
		b = append(b, tagOf(fieldLogTime, protowire.Fixed64Type))
		b = protowire.AppendFixed64(b, r.TimeUnixNano)
	}
	if r.SeverityNumber != 0 {
		b = append(b, tagOf(fieldLogSeverityNumber, protowire.VarintType))
		b = protowire.AppendVarint(b, uint64(r.SeverityNumber))
	}
	b = e.appendString(b, tagOf(fieldLogSeverityText, protowire.BytesType), r.SeverityText)
	if r.Body != "" {
		n := e.strLen(r.Body)
		b = appendLenPrefix(b, tagOf(fieldLogBody, protowire.BytesType), sizeField(n))
		b = appendLenPrefix(b, tagOf(fieldAnyString, protowire.BytesType), n)
		b = e.appendStr(b, r.Body)
	}
	b = e.appendAttributes(b, tagOf(fieldLogAttributes, protowire.BytesType), r.Attributes)
	if r.DroppedAttributes != 0 {
		b = append(b, tagOf(fieldLogDroppedAttributes, protowire.VarintType))
		b = protowire.AppendVarint(b, uint64(r.DroppedAttributes))
	}
	if r.Flags != 0 {
		b = append(b, tagOf(fieldLogFlags, protowire.Fixed32Type))
		b = protowire.AppendFixed32(b, r.Flags)
	}
	if r.TraceID.IsValid() {
		b = appendLenPrefix(b, tagOf(fieldLogTraceID, protowire.BytesType), len(r.TraceID))
		b = append(b, r.TraceID[:]...)
	}
	if r.SpanID.IsValid() {
		b = appendLenPrefix(b, tagOf(fieldLogSpanID, protowire.BytesType), len(r.SpanID))
		b = append(b, r.SpanID[:]...)
	}
	if r.ObservedTimeUnixNano != 0 {
		b = append(b, tagOf(fieldLogObservedTime, protowire.Fixed64Type))
		b = protowire.AppendFixed64(b, r.ObservedTimeUnixNano)
	}
	return e.appendString(b, tagOf(fieldLogEventName, protowire.BytesType), r.EventName)
}

package exporter

import (
	"context"
	"encoding/binary"
	"fmt"
	"math"
	"unsafe"

	"github.com/trace-exporter/trace-exporter/exporter/internal/spool"
	"github.com/trace-exporter/trace-exporter/schema"
)

// logs is the log record signal (access logs).
var logs = &signal[LogRecord]{
	name:  "logs",
	unit:  "log_records",
	size:  func(r *LogRecord) int64 { return int64(estimateLogBytes(r)) },
	codec: logCodec{},
	accepts: func(exp Exporter) bool {
		_, ok := exp.(LogExporter)
		return ok
	},
	push: func(ctx context.Context, exp Exporter, b *batchOf[LogRecord]) error {
		return exp.(LogExporter).ExportLogs(ctx, LogBatch{Resource: b.resource, Scope: b.scope, Records: b.items})
	},
}

// LogHandle is a plugin instance's handle on its logs pipeline.
type LogHandle = PipelineHandle[LogRecord]

// AcquireLogs returns a handle on the logs pipeline for cfg's backend,
// whose endpoint (traces_endpoint as the backend reads it) is the logs
// destination: the caller passes a config whose endpoint points there.
// It fails, naming the field, when the backend does not take logs.
func (r *Registry) AcquireLogs(cfg *schema.Config) (*LogHandle, error) {
	return acquire(r, logs, cfg)
}

const logRecordStructBytes = int(unsafe.Sizeof(LogRecord{})) + 8 // + the queue entry's size field

// estimateLogBytes is what a queued record costs in memory; like
// estimateSpanBytes, at least its protobuf size.
func estimateLogBytes(r *LogRecord) int {
	return logRecordStructBytes + len(r.SeverityText) + len(r.Body) + len(r.EventName) +
		estimateAttributesBytes(r.Attributes)
}

// logCodec writes log records in spool records: times, severity, body,
// attributes, flags, trace and span ids, event name, own resource.
type logCodec struct{}

func (logCodec) Append(b []byte, r *LogRecord) []byte {
	b = binary.AppendUvarint(b, r.TimeUnixNano)
	b = binary.AppendUvarint(b, r.ObservedTimeUnixNano)
	b = binary.AppendVarint(b, int64(r.SeverityNumber))
	b = spool.AppendString(b, r.SeverityText)
	b = spool.AppendString(b, r.Body)
	b = appendSpoolAttributes(b, r.Attributes)
	b = binary.AppendUvarint(b, uint64(r.DroppedAttributes))
	b = binary.AppendUvarint(b, uint64(r.Flags))
	b = append(b, r.TraceID[:]...)
	b = append(b, r.SpanID[:]...)
	b = spool.AppendString(b, r.EventName)
	return appendSpoolResource(b, r.Resource)
}

func (logCodec) Decode(d *spool.Decoder) LogRecord {
	var r LogRecord
	r.TimeUnixNano = d.Uvarint()
	r.ObservedTimeUnixNano = d.Uvarint()
	r.SeverityNumber = SeverityNumber(d.Varint())
	r.SeverityText = d.String()
	r.Body = d.String()
	r.Attributes = decodeSpoolAttributes(d)
	r.DroppedAttributes = uint32(d.UvarintMax(math.MaxUint32))
	r.Flags = uint32(d.UvarintMax(math.MaxUint32))
	d.Bytes(r.TraceID[:])
	d.Bytes(r.SpanID[:])
	r.EventName = d.String()
	r.Resource = decodeSpoolResource(d)
	return r
}

// errNotFor is the refusal of a backend that cannot carry a signal.
func errNotFor(sig, exporter string) error {
	return &schema.FieldError{Field: "exporter", Reason: fmt.Sprintf("%q does not take %s", exporter, sig)}
}

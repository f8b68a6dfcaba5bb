package exporter

import "context"

// SeverityNumber is OTLP's log severity (1 TRACE … 9 INFO … 13 WARN …
// 17 ERROR … 21 FATAL, 4 steps each).
type SeverityNumber int32

// Severities the plugin writes.
const (
	SeverityInfo  SeverityNumber = 9
	SeverityWarn  SeverityNumber = 13
	SeverityError SeverityNumber = 17
)

// LogRecord is one log record as plugin/ hands it over (an access log
// record: one per request). The exporter owns it once enqueued.
type LogRecord struct {
	TimeUnixNano         uint64 // when the event happened (the request's start)
	ObservedTimeUnixNano uint64 // when the plugin observed it
	SeverityNumber       SeverityNumber
	SeverityText         string
	Body                 string // a string body (OTLP AnyValue string_value)
	Attributes           []Attribute
	DroppedAttributes    uint32
	Flags                uint32 // W3C trace flags in the low 8 bits (OTLP LogRecord.flags)
	TraceID              TraceID
	SpanID               SpanID
	// EventName is OTLP's event_name (empty: none).
	EventName string
	// Resource, when set, is the record's own resource, as for Span.
	Resource *Resource
}

// LogBatch is what a LogExporter receives: log records of one scope, with
// the resource of every record that does not carry its own.
type LogBatch struct {
	Resource *Resource
	Scope    Scope
	Records  []LogRecord
}

// ResourceOf returns the resource record i of the batch is exported with.
func (b *LogBatch) ResourceOf(i int) *Resource {
	if r := b.Records[i].Resource; r != nil {
		return r
	}
	return b.Resource
}

// LogExporter is implemented by an Exporter whose backend also takes log
// records: a pipeline of the logs signal calls ExportLogs under the same
// contract as Export (see Exporter), with the same error kinds (a
// *PartialError's Rejected counts log records). A backend without it
// cannot be the destination of access logs; the config is refused.
type LogExporter interface {
	ExportLogs(ctx context.Context, batch LogBatch) error
}

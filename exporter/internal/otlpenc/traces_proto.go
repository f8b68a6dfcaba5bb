package otlpenc

import (
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/trace-exporter/trace-exporter/exporter"
)

// Field numbers of trace/v1 (Span, Event, Status).
const (
	fieldSpanTraceID           protowire.Number = 1
	fieldSpanSpanID            protowire.Number = 2
	fieldSpanTraceState        protowire.Number = 3
	fieldSpanParentSpanID      protowire.Number = 4
	fieldSpanName              protowire.Number = 5
	fieldSpanKind              protowire.Number = 6
	fieldSpanStartTime         protowire.Number = 7
	fieldSpanEndTime           protowire.Number = 8
	fieldSpanAttributes        protowire.Number = 9
	fieldSpanDroppedAttributes protowire.Number = 10
	fieldSpanEvents            protowire.Number = 11
	fieldSpanStatus            protowire.Number = 15
	fieldSpanFlags             protowire.Number = 16

	fieldEventTime       protowire.Number = 1
	fieldEventName       protowire.Number = 2
	fieldEventAttributes protowire.Number = 3

	fieldStatusMessage protowire.Number = 2
	fieldStatusCode    protowire.Number = 3
)

// AppendTraces appends the OTLP ExportTraceServiceRequest for b to dst:
// one ResourceSpans per distinct resource (a span's own, else the batch's),
// in order of first use, each with one ScopeSpans.
func AppendTraces(dst []byte, b *exporter.Batch) []byte {
	e := getEncoder()
	dst = e.AppendTraces(dst, b)
	putEncoder(e)
	return dst
}

// AppendTraces is the package function with this encoder's scratch.
func (e *Encoder) AppendTraces(dst []byte, b *exporter.Batch) []byte {
	return e.appendRequest(dst, len(b.Spans), b.Resource, b.Scope,
		func(i int) *exporter.Resource { return resourceOf(&b.Spans[i], b) },
		func(i int) int { return e.sizeSpan(&b.Spans[i]) },
		func(dst []byte, i int) []byte { return e.appendSpan(dst, &b.Spans[i]) })
}

// resourceOf is the resource a span is exported with.
func resourceOf(s *exporter.Span, b *exporter.Batch) *exporter.Resource {
	if s.Resource != nil {
		return s.Resource
	}
	return b.Resource
}

func (e *Encoder) sizeSpan(s *exporter.Span) int {
	n := sizeField(len(s.TraceID)) + sizeField(len(s.SpanID)) +
		e.sizeString(s.TraceState) + e.sizeString(s.Name) + e.sizeAttributes(s.Attributes)
	if s.ParentSpanID.IsValid() {
		n += sizeField(len(s.ParentSpanID))
	}
	if s.Kind != 0 {
		n += 1 + protowire.SizeVarint(uint64(s.Kind))
	}
	if s.StartUnixNano != 0 {
		n += 1 + 8
	}
	if s.EndUnixNano != 0 {
		n += 1 + 8
	}
	if s.DroppedAttributes != 0 {
		n += 1 + protowire.SizeVarint(uint64(s.DroppedAttributes))
	}
	for i := range s.Events {
		n += sizeField(e.sizeEvent(&s.Events[i]))
	}
	if s.Status != 0 || s.StatusMessage != "" {
		n += sizeField(e.sizeStatus(s))
	}
	if s.Flags != 0 {
		n += 2 + 4 // field 16 needs a two-byte tag
	}
	return n
}

// appendSpan writes the fields of a Span message in field-number order.
func (e *Encoder) appendSpan(b []byte, s *exporter.Span) []byte {
	b = appendLenPrefix(b, tagOf(fieldSpanTraceID, protowire.BytesType), len(s.TraceID))
	b = append(b, s.TraceID[:]...)
	b = appendLenPrefix(b, tagOf(fieldSpanSpanID, protowire.BytesType), len(s.SpanID))
	b = append(b, s.SpanID[:]...)
	b = e.appendString(b, tagOf(fieldSpanTraceState, protowire.BytesType), s.TraceState)
	if s.ParentSpanID.IsValid() {
		b = appendLenPrefix(b, tagOf(fieldSpanParentSpanID, protowire.BytesType), len(s.ParentSpanID))
		b = append(b, s.ParentSpanID[:]...)
	}
	b = e.appendString(b, tagOf(fieldSpanName, protowire.BytesType), s.Name)
	if s.Kind != 0 {
		b = append(b, tagOf(fieldSpanKind, protowire.VarintType))
		b = protowire.AppendVarint(b, uint64(s.Kind))
	}
	if s.StartUnixNano != 0 {
		b = append(b, tagOf(fieldSpanStartTime, protowire.Fixed64Type))
		b = protowire.AppendFixed64(b, s.StartUnixNano)
	}
	if s.EndUnixNano != 0 {
		b = append(b, tagOf(fieldSpanEndTime, protowire.Fixed64Type))
		b = protowire.AppendFixed64(b, s.EndUnixNano)
	}
	b = e.appendAttributes(b, tagOf(fieldSpanAttributes, protowire.BytesType), s.Attributes)
	if s.DroppedAttributes != 0 {
		b = append(b, tagOf(fieldSpanDroppedAttributes, protowire.VarintType))
		b = protowire.AppendVarint(b, uint64(s.DroppedAttributes))
	}
	for i := range s.Events {
		ev := &s.Events[i]
		b = appendLenPrefix(b, tagOf(fieldSpanEvents, protowire.BytesType), e.sizeEvent(ev))
		if ev.TimeUnixNano != 0 {
			b = append(b, tagOf(fieldEventTime, protowire.Fixed64Type))
			b = protowire.AppendFixed64(b, ev.TimeUnixNano)
		}
		b = e.appendString(b, tagOf(fieldEventName, protowire.BytesType), ev.Name)
		b = e.appendAttributes(b, tagOf(fieldEventAttributes, protowire.BytesType), ev.Attributes)
	}
	if s.Status != 0 || s.StatusMessage != "" {
		b = appendLenPrefix(b, tagOf(fieldSpanStatus, protowire.BytesType), e.sizeStatus(s))
		b = e.appendString(b, tagOf(fieldStatusMessage, protowire.BytesType), s.StatusMessage)
		if s.Status != 0 {
			b = append(b, tagOf(fieldStatusCode, protowire.VarintType))
			b = protowire.AppendVarint(b, uint64(s.Status))
		}
	}
	if s.Flags != 0 {
		b = protowire.AppendTag(b, fieldSpanFlags, protowire.Fixed32Type)
		b = protowire.AppendFixed32(b, s.Flags)
	}
	return b
}

func (e *Encoder) sizeEvent(ev *exporter.Event) int {
	n := e.sizeString(ev.Name) + e.sizeAttributes(ev.Attributes)
	if ev.TimeUnixNano != 0 {
		n += 1 + 8
	}
	return n
}

func (e *Encoder) sizeStatus(s *exporter.Span) int {
	n := e.sizeString(s.StatusMessage)
	if s.Status != 0 {
		n += 1 + protowire.SizeVarint(uint64(s.Status))
	}
	return n
}

package exporter

import (
	"context"
	"encoding/binary"
	"math"
	"unsafe"

	"github.com/trace-exporter/trace-exporter/exporter/internal/spool"
)

// traces is the span signal: what a pipeline of spans needs to know of its
// items.
var traces = &signal[Span]{
	name:  "traces",
	unit:  "spans",
	size:  func(s *Span) int64 { return int64(estimateSpanBytes(s)) },
	codec: spanCodec{},
	push: func(ctx context.Context, exp Exporter, b *batchOf[Span]) error {
		return exp.Export(ctx, Batch{Resource: b.resource, Scope: b.scope, Spans: b.items})
	},
}

// Sizes of the structs a queued span occupies, charged on top of its data.
const (
	spanStructBytes      = int(unsafe.Sizeof(Span{})) + 8 // + the queue entry's size field
	attributeStructBytes = int(unsafe.Sizeof(Attribute{}))
	eventStructBytes     = int(unsafe.Sizeof(Event{}))
	stringHeaderBytes    = int(unsafe.Sizeof(""))
)

// estimateSpanBytes is what a queued span costs in memory: its structs plus
// its string bytes. It is cheap (no UTF-8 checks) and, for valid UTF-8, at
// least the span's protobuf size, since every struct is larger than the
// tags and lengths that encode it; so batches cut by this estimate never
// exceed the OTLP request size limit in protobuf. A span's own resource is
// shared by the request's spans and not charged.
func estimateSpanBytes(s *Span) int {
	n := spanStructBytes + len(s.TraceState) + len(s.Name) + len(s.StatusMessage) +
		estimateAttributesBytes(s.Attributes)
	for i := range s.Events {
		ev := &s.Events[i]
		n += eventStructBytes + len(ev.Name) + estimateAttributesBytes(ev.Attributes)
	}
	return n
}

func estimateAttributesBytes(attrs []Attribute) int {
	n := len(attrs) * attributeStructBytes
	for i := range attrs {
		a := &attrs[i]
		n += len(a.Key) + len(a.Value.AsString())
		for _, s := range a.Value.AsStringSlice() {
			n += stringHeaderBytes + len(s) + 4 // +4: the AnyValue wrapping each element
		}
	}
	return n
}

// spanCodec is how spans are written in spool records: trace id, span id,
// parent id, trace state, flags, name, kind, start, end, attributes,
// events, status, status message, dropped attributes, and the span's own
// resource (attributes and schema URL; none when it has the batch's).
// The format is ours, not OTLP, so a record decodes straight back into the
// model.
type spanCodec struct{}

func (spanCodec) Append(b []byte, s *Span) []byte {
	b = append(b, s.TraceID[:]...)
	b = append(b, s.SpanID[:]...)
	b = append(b, s.ParentSpanID[:]...)
	b = spool.AppendString(b, s.TraceState)
	b = binary.AppendUvarint(b, uint64(s.Flags))
	b = spool.AppendString(b, s.Name)
	b = binary.AppendVarint(b, int64(s.Kind))
	b = binary.AppendUvarint(b, s.StartUnixNano)
	b = binary.AppendUvarint(b, s.EndUnixNano)
	b = appendSpoolAttributes(b, s.Attributes)
	b = binary.AppendUvarint(b, uint64(len(s.Events)))
	for i := range s.Events {
		ev := &s.Events[i]
		b = spool.AppendString(b, ev.Name)
		b = binary.AppendUvarint(b, ev.TimeUnixNano)
		b = appendSpoolAttributes(b, ev.Attributes)
	}
	b = binary.AppendVarint(b, int64(s.Status))
	b = spool.AppendString(b, s.StatusMessage)
	b = binary.AppendUvarint(b, uint64(s.DroppedAttributes))
	return appendSpoolResource(b, s.Resource)
}

func (spanCodec) Decode(d *spool.Decoder) Span {
	var s Span
	d.Bytes(s.TraceID[:])
	d.Bytes(s.SpanID[:])
	d.Bytes(s.ParentSpanID[:])
	s.TraceState = d.String()
	s.Flags = uint32(d.UvarintMax(math.MaxUint32))
	s.Name = d.String()
	s.Kind = SpanKind(d.Varint())
	s.StartUnixNano = d.Uvarint()
	s.EndUnixNano = d.Uvarint()
	s.Attributes = decodeSpoolAttributes(d)
	if n := d.Count(); n > 0 {
		s.Events = make([]Event, n)
		for i := range s.Events {
			ev := &s.Events[i]
			ev.Name = d.String()
			ev.TimeUnixNano = d.Uvarint()
			ev.Attributes = decodeSpoolAttributes(d)
		}
	}
	s.Status = StatusCode(d.Varint())
	s.StatusMessage = d.String()
	s.DroppedAttributes = uint32(d.UvarintMax(math.MaxUint32))
	if d.Version() < 2 {
		return s // written before spans could carry a resource
	}
	s.Resource = decodeSpoolResource(d)
	return s
}

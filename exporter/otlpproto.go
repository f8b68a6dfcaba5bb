package exporter

import (
	"slices"

	"google.golang.org/protobuf/encoding/protowire"
)

// OTLP ExportTraceServiceRequest, encoded straight from our span model with
// protowire: no generated structs are built, each string is copied once into
// a reusable buffer. Lengths of nested messages are computed before they are
// written (protobuf prefixes every message with its length); a span's size is
// computed once per batch and kept in a reusable slice.
//
// proto3 rules followed so the official decoder yields exactly our spans:
// scalar fields equal to their zero value are omitted, but AnyValue's oneof
// members are always written (presence is what tells the value's type), and
// message fields are written whenever the message is present.

// Field numbers from opentelemetry-proto (collector/trace/v1, trace/v1,
// common/v1, resource/v1).
const (
	fieldRequestResourceSpans protowire.Number = 1

	fieldResourceSpansResource   protowire.Number = 1
	fieldResourceSpansScopeSpans protowire.Number = 2

	fieldResourceAttributes protowire.Number = 1

	fieldScopeSpansScope protowire.Number = 1
	fieldScopeSpansSpans protowire.Number = 2

	fieldScopeName    protowire.Number = 1
	fieldScopeVersion protowire.Number = 2

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

	fieldKeyValueKey   protowire.Number = 1
	fieldKeyValueValue protowire.Number = 2

	fieldAnyString protowire.Number = 1
	fieldAnyBool   protowire.Number = 2
	fieldAnyInt    protowire.Number = 3
	fieldAnyDouble protowire.Number = 4
	fieldAnyArray  protowire.Number = 5

	fieldArrayValues protowire.Number = 1
)

// protoEncoder holds scratch space reused across batches; not safe for
// concurrent use (exporters keep them in a sync.Pool).
type protoEncoder struct {
	spanSizes []int
}

// appendTracesRequest appends the ExportTraceServiceRequest for b to dst:
// one ResourceSpans with one ScopeSpans holding every span.
func (e *protoEncoder) appendTracesRequest(dst []byte, b *Batch) []byte {
	e.spanSizes = slices.Grow(e.spanSizes[:0], len(b.Spans))
	scopeSpans := sizeMessage(fieldScopeSpansScope, sizeScope(b.Scope))
	for i := range b.Spans {
		n := sizeSpan(&b.Spans[i])
		e.spanSizes = append(e.spanSizes, n)
		scopeSpans += sizeMessage(fieldScopeSpansSpans, n)
	}
	resourceSpans := sizeMessage(fieldResourceSpansScopeSpans, scopeSpans)
	resource := 0
	if b.Resource != nil {
		resource = sizeAttributes(fieldResourceAttributes, b.Resource.Attributes)
		resourceSpans += sizeMessage(fieldResourceSpansResource, resource)
	}
	dst = slices.Grow(dst, sizeMessage(fieldRequestResourceSpans, resourceSpans))

	dst = appendMessageHeader(dst, fieldRequestResourceSpans, resourceSpans)
	if b.Resource != nil {
		dst = appendMessageHeader(dst, fieldResourceSpansResource, resource)
		dst = appendAttributes(dst, fieldResourceAttributes, b.Resource.Attributes)
	}
	dst = appendMessageHeader(dst, fieldResourceSpansScopeSpans, scopeSpans)
	dst = appendMessageHeader(dst, fieldScopeSpansScope, sizeScope(b.Scope))
	dst = appendString(dst, fieldScopeName, b.Scope.Name)
	dst = appendString(dst, fieldScopeVersion, b.Scope.Version)
	for i := range b.Spans {
		dst = appendMessageHeader(dst, fieldScopeSpansSpans, e.spanSizes[i])
		dst = appendSpan(dst, &b.Spans[i])
	}
	return dst
}

func sizeScope(s Scope) int {
	return sizeString(fieldScopeName, s.Name) + sizeString(fieldScopeVersion, s.Version)
}

func sizeSpan(s *Span) int {
	n := sizeBytesField(fieldSpanTraceID, len(s.TraceID)) +
		sizeBytesField(fieldSpanSpanID, len(s.SpanID)) +
		sizeString(fieldSpanTraceState, s.TraceState) +
		sizeString(fieldSpanName, s.Name) +
		sizeAttributes(fieldSpanAttributes, s.Attributes)
	if s.ParentSpanID.IsValid() {
		n += sizeBytesField(fieldSpanParentSpanID, len(s.ParentSpanID))
	}
	if s.Kind != 0 {
		n += protowire.SizeTag(fieldSpanKind) + protowire.SizeVarint(uint64(s.Kind))
	}
	if s.StartUnixNano != 0 {
		n += protowire.SizeTag(fieldSpanStartTime) + protowire.SizeFixed64()
	}
	if s.EndUnixNano != 0 {
		n += protowire.SizeTag(fieldSpanEndTime) + protowire.SizeFixed64()
	}
	if s.DroppedAttributes != 0 {
		n += protowire.SizeTag(fieldSpanDroppedAttributes) + protowire.SizeVarint(uint64(s.DroppedAttributes))
	}
	for i := range s.Events {
		n += sizeMessage(fieldSpanEvents, sizeEvent(&s.Events[i]))
	}
	if s.Status != 0 || s.StatusMessage != "" {
		n += sizeMessage(fieldSpanStatus, sizeStatus(s))
	}
	if s.Flags != 0 {
		n += protowire.SizeTag(fieldSpanFlags) + protowire.SizeFixed32()
	}
	return n
}

// appendSpan writes the fields of a Span message in field-number order.
func appendSpan(b []byte, s *Span) []byte {
	b = protowire.AppendTag(b, fieldSpanTraceID, protowire.BytesType)
	b = protowire.AppendBytes(b, s.TraceID[:])
	b = protowire.AppendTag(b, fieldSpanSpanID, protowire.BytesType)
	b = protowire.AppendBytes(b, s.SpanID[:])
	b = appendString(b, fieldSpanTraceState, s.TraceState)
	if s.ParentSpanID.IsValid() {
		b = protowire.AppendTag(b, fieldSpanParentSpanID, protowire.BytesType)
		b = protowire.AppendBytes(b, s.ParentSpanID[:])
	}
	b = appendString(b, fieldSpanName, s.Name)
	if s.Kind != 0 {
		b = protowire.AppendTag(b, fieldSpanKind, protowire.VarintType)
		b = protowire.AppendVarint(b, uint64(s.Kind))
	}
	if s.StartUnixNano != 0 {
		b = protowire.AppendTag(b, fieldSpanStartTime, protowire.Fixed64Type)
		b = protowire.AppendFixed64(b, s.StartUnixNano)
	}
	if s.EndUnixNano != 0 {
		b = protowire.AppendTag(b, fieldSpanEndTime, protowire.Fixed64Type)
		b = protowire.AppendFixed64(b, s.EndUnixNano)
	}
	b = appendAttributes(b, fieldSpanAttributes, s.Attributes)
	if s.DroppedAttributes != 0 {
		b = protowire.AppendTag(b, fieldSpanDroppedAttributes, protowire.VarintType)
		b = protowire.AppendVarint(b, uint64(s.DroppedAttributes))
	}
	for i := range s.Events {
		ev := &s.Events[i]
		b = appendMessageHeader(b, fieldSpanEvents, sizeEvent(ev))
		if ev.TimeUnixNano != 0 {
			b = protowire.AppendTag(b, fieldEventTime, protowire.Fixed64Type)
			b = protowire.AppendFixed64(b, ev.TimeUnixNano)
		}
		b = appendString(b, fieldEventName, ev.Name)
		b = appendAttributes(b, fieldEventAttributes, ev.Attributes)
	}
	if s.Status != 0 || s.StatusMessage != "" {
		b = appendMessageHeader(b, fieldSpanStatus, sizeStatus(s))
		b = appendString(b, fieldStatusMessage, s.StatusMessage)
		if s.Status != 0 {
			b = protowire.AppendTag(b, fieldStatusCode, protowire.VarintType)
			b = protowire.AppendVarint(b, uint64(s.Status))
		}
	}
	if s.Flags != 0 {
		b = protowire.AppendTag(b, fieldSpanFlags, protowire.Fixed32Type)
		b = protowire.AppendFixed32(b, s.Flags)
	}
	return b
}

func sizeEvent(ev *Event) int {
	n := sizeString(fieldEventName, ev.Name) + sizeAttributes(fieldEventAttributes, ev.Attributes)
	if ev.TimeUnixNano != 0 {
		n += protowire.SizeTag(fieldEventTime) + protowire.SizeFixed64()
	}
	return n
}

func sizeStatus(s *Span) int {
	n := sizeString(fieldStatusMessage, s.StatusMessage)
	if s.Status != 0 {
		n += protowire.SizeTag(fieldStatusCode) + protowire.SizeVarint(uint64(s.Status))
	}
	return n
}

// sizeAttributes is the size of a repeated KeyValue field.
func sizeAttributes(field protowire.Number, attrs []Attribute) int {
	n := 0
	for i := range attrs {
		n += sizeMessage(field, sizeKeyValue(&attrs[i]))
	}
	return n
}

func appendAttributes(b []byte, field protowire.Number, attrs []Attribute) []byte {
	for i := range attrs {
		a := &attrs[i]
		b = appendMessageHeader(b, field, sizeKeyValue(a))
		b = appendString(b, fieldKeyValueKey, a.Key)
		b = appendMessageHeader(b, fieldKeyValueValue, sizeAnyValue(&a.Value))
		b = appendAnyValue(b, &a.Value)
	}
	return b
}

func sizeKeyValue(a *Attribute) int {
	return sizeString(fieldKeyValueKey, a.Key) + sizeMessage(fieldKeyValueValue, sizeAnyValue(&a.Value))
}

// sizeAnyValue: oneof members are written even when zero.
func sizeAnyValue(v *Value) int {
	switch v.Type {
	case TypeString:
		return protowire.SizeTag(fieldAnyString) + protowire.SizeBytes(validUTF8Len(v.str))
	case TypeBool:
		return protowire.SizeTag(fieldAnyBool) + 1
	case TypeInt:
		return protowire.SizeTag(fieldAnyInt) + protowire.SizeVarint(v.num)
	case TypeFloat:
		return protowire.SizeTag(fieldAnyDouble) + protowire.SizeFixed64()
	case TypeStringSlice:
		return sizeMessage(fieldAnyArray, sizeStringArray(v.strs))
	}
	return 0
}

func sizeStringArray(strs []string) int {
	n := 0
	for _, s := range strs {
		n += sizeMessage(fieldArrayValues, protowire.SizeTag(fieldAnyString)+protowire.SizeBytes(validUTF8Len(s)))
	}
	return n
}

func appendAnyValue(b []byte, v *Value) []byte {
	switch v.Type {
	case TypeString:
		b = protowire.AppendTag(b, fieldAnyString, protowire.BytesType)
		b = protowire.AppendVarint(b, uint64(validUTF8Len(v.str)))
		b = appendValidUTF8(b, v.str)
	case TypeBool:
		b = protowire.AppendTag(b, fieldAnyBool, protowire.VarintType)
		b = protowire.AppendVarint(b, v.num&1)
	case TypeInt:
		b = protowire.AppendTag(b, fieldAnyInt, protowire.VarintType)
		b = protowire.AppendVarint(b, v.num)
	case TypeFloat:
		b = protowire.AppendTag(b, fieldAnyDouble, protowire.Fixed64Type)
		b = protowire.AppendFixed64(b, v.num)
	case TypeStringSlice:
		b = appendMessageHeader(b, fieldAnyArray, sizeStringArray(v.strs))
		for _, s := range v.strs {
			n := validUTF8Len(s)
			b = appendMessageHeader(b, fieldArrayValues, protowire.SizeTag(fieldAnyString)+protowire.SizeBytes(n))
			b = protowire.AppendTag(b, fieldAnyString, protowire.BytesType)
			b = protowire.AppendVarint(b, uint64(n))
			b = appendValidUTF8(b, s)
		}
	}
	return b
}

// sizeMessage is the size of a length-delimited field holding n bytes.
func sizeMessage(field protowire.Number, n int) int {
	return protowire.SizeTag(field) + protowire.SizeBytes(n)
}

func sizeBytesField(field protowire.Number, n int) int { return sizeMessage(field, n) }

func appendMessageHeader(b []byte, field protowire.Number, n int) []byte {
	b = protowire.AppendTag(b, field, protowire.BytesType)
	return protowire.AppendVarint(b, uint64(n))
}

// sizeString: proto3 omits empty strings outside a oneof.
func sizeString(field protowire.Number, s string) int {
	if s == "" {
		return 0
	}
	return sizeMessage(field, validUTF8Len(s))
}

func appendString(b []byte, field protowire.Number, s string) []byte {
	if s == "" {
		return b
	}
	b = appendMessageHeader(b, field, validUTF8Len(s))
	return appendValidUTF8(b, s)
}

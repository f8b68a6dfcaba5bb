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
//
// Strings are checked for valid UTF-8 once, in the sizing pass over the
// whole batch. When all are valid (the usual case), the writing pass takes
// their lengths and bytes as they are; otherwise every string is repaired.
type protoEncoder struct {
	spanSizes []int
	sizing    bool // in the sizing pass: check every string
	invalid   bool // some string of the batch is not valid UTF-8
}

// strLen is the encoded length of s (see protoEncoder).
func (e *protoEncoder) strLen(s string) int {
	if !e.sizing && !e.invalid {
		return len(s)
	}
	if ValidUTF8(s) {
		return len(s)
	}
	e.invalid = true
	return validUTF8Len(s)
}

// appendStr appends s, repaired if the batch has invalid strings.
func (e *protoEncoder) appendStr(b []byte, s string) []byte {
	if !e.invalid {
		return append(b, s...)
	}
	return appendValidUTF8(b, s)
}

// appendTracesRequest appends the ExportTraceServiceRequest for b to dst:
// one ResourceSpans with one ScopeSpans holding every span.
func (e *protoEncoder) appendTracesRequest(dst []byte, b *Batch) []byte {
	e.spanSizes = slices.Grow(e.spanSizes[:0], len(b.Spans))
	e.sizing, e.invalid = true, false
	scope := e.sizeScope(b.Scope)
	scopeSpans := sizeField(scope)
	for i := range b.Spans {
		n := e.sizeSpan(&b.Spans[i])
		e.spanSizes = append(e.spanSizes, n)
		scopeSpans += sizeField(n)
	}
	resourceSpans := sizeField(scopeSpans)
	resource := 0
	if b.Resource != nil {
		resource = e.sizeAttributes(b.Resource.Attributes)
		resourceSpans += sizeField(resource)
	}
	e.sizing = false
	dst = slices.Grow(dst, sizeField(resourceSpans))

	dst = appendLenPrefix(dst, tagOf(fieldRequestResourceSpans, protowire.BytesType), resourceSpans)
	if b.Resource != nil {
		dst = appendLenPrefix(dst, tagOf(fieldResourceSpansResource, protowire.BytesType), resource)
		dst = e.appendAttributes(dst, tagOf(fieldResourceAttributes, protowire.BytesType), b.Resource.Attributes)
	}
	dst = appendLenPrefix(dst, tagOf(fieldResourceSpansScopeSpans, protowire.BytesType), scopeSpans)
	dst = appendLenPrefix(dst, tagOf(fieldScopeSpansScope, protowire.BytesType), scope)
	dst = e.appendString(dst, tagOf(fieldScopeName, protowire.BytesType), b.Scope.Name)
	dst = e.appendString(dst, tagOf(fieldScopeVersion, protowire.BytesType), b.Scope.Version)
	for i := range b.Spans {
		dst = appendLenPrefix(dst, tagOf(fieldScopeSpansSpans, protowire.BytesType), e.spanSizes[i])
		dst = e.appendSpan(dst, &b.Spans[i])
	}
	return dst
}

func (e *protoEncoder) sizeScope(s Scope) int {
	return e.sizeString(s.Name) + e.sizeString(s.Version)
}

func (e *protoEncoder) sizeSpan(s *Span) int {
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
func (e *protoEncoder) appendSpan(b []byte, s *Span) []byte {
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

func (e *protoEncoder) sizeEvent(ev *Event) int {
	n := e.sizeString(ev.Name) + e.sizeAttributes(ev.Attributes)
	if ev.TimeUnixNano != 0 {
		n += 1 + 8
	}
	return n
}

func (e *protoEncoder) sizeStatus(s *Span) int {
	n := e.sizeString(s.StatusMessage)
	if s.Status != 0 {
		n += 1 + protowire.SizeVarint(uint64(s.Status))
	}
	return n
}

// sizeAttributes is the size of a repeated KeyValue field.
func (e *protoEncoder) sizeAttributes(attrs []Attribute) int {
	n := 0
	for i := range attrs {
		n += sizeField(e.sizeKeyValue(&attrs[i]))
	}
	return n
}

func (e *protoEncoder) appendAttributes(b []byte, tag byte, attrs []Attribute) []byte {
	for i := range attrs {
		a := &attrs[i]
		value := e.sizeAnyValue(&a.Value)
		b = appendLenPrefix(b, tag, e.sizeString(a.Key)+sizeField(value))
		b = e.appendString(b, tagOf(fieldKeyValueKey, protowire.BytesType), a.Key)
		b = appendLenPrefix(b, tagOf(fieldKeyValueValue, protowire.BytesType), value)
		b = e.appendAnyValue(b, &a.Value)
	}
	return b
}

func (e *protoEncoder) sizeKeyValue(a *Attribute) int {
	return e.sizeString(a.Key) + sizeField(e.sizeAnyValue(&a.Value))
}

// sizeAnyValue: oneof members are written even when zero.
func (e *protoEncoder) sizeAnyValue(v *Value) int {
	switch v.Type {
	case TypeString:
		return sizeField(e.strLen(v.AsString()))
	case TypeBool:
		return 1 + 1
	case TypeInt:
		return 1 + protowire.SizeVarint(v.num)
	case TypeFloat:
		return 1 + 8
	case TypeStringSlice:
		return sizeField(e.sizeStringArray(v.AsStringSlice()))
	}
	return 0
}

func (e *protoEncoder) sizeStringArray(strs []string) int {
	n := 0
	for _, s := range strs {
		n += sizeField(sizeField(e.strLen(s)))
	}
	return n
}

func (e *protoEncoder) appendAnyValue(b []byte, v *Value) []byte {
	switch v.Type {
	case TypeString:
		b = appendLenPrefix(b, tagOf(fieldAnyString, protowire.BytesType), e.strLen(v.AsString()))
		b = e.appendStr(b, v.AsString())
	case TypeBool:
		b = append(b, tagOf(fieldAnyBool, protowire.VarintType), byte(v.num&1))
	case TypeInt:
		b = append(b, tagOf(fieldAnyInt, protowire.VarintType))
		b = protowire.AppendVarint(b, v.num)
	case TypeFloat:
		b = append(b, tagOf(fieldAnyDouble, protowire.Fixed64Type))
		b = protowire.AppendFixed64(b, v.num)
	case TypeStringSlice:
		b = appendLenPrefix(b, tagOf(fieldAnyArray, protowire.BytesType), e.sizeStringArray(v.AsStringSlice()))
		for _, s := range v.AsStringSlice() {
			n := e.strLen(s)
			b = appendLenPrefix(b, tagOf(fieldArrayValues, protowire.BytesType), sizeField(n))
			b = appendLenPrefix(b, tagOf(fieldAnyString, protowire.BytesType), n)
			b = e.appendStr(b, s)
		}
	}
	return b
}

// tagOf is the one-byte tag of fields 1 to 15 (every field here but
// Span.flags); with constant arguments it folds to a constant.
func tagOf(field protowire.Number, typ protowire.Type) byte {
	return byte(field)<<3 | byte(typ)
}

// sizeField is the size of a length-delimited field of n bytes with a
// one-byte tag.
func sizeField(n int) int {
	if n < 0x80 {
		return 2 + n
	}
	return 1 + protowire.SizeVarint(uint64(n)) + n
}

// appendLenPrefix writes a one-byte tag and the length n.
func appendLenPrefix(b []byte, tag byte, n int) []byte {
	if n < 0x80 {
		return append(b, tag, byte(n))
	}
	return protowire.AppendVarint(append(b, tag), uint64(n))
}

// sizeString: proto3 omits empty strings outside a oneof.
func (e *protoEncoder) sizeString(s string) int {
	if s == "" {
		return 0
	}
	return sizeField(e.strLen(s))
}

func (e *protoEncoder) appendString(b []byte, tag byte, s string) []byte {
	if s == "" {
		return b
	}
	b = appendLenPrefix(b, tag, e.strLen(s))
	return e.appendStr(b, s)
}

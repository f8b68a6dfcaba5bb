package exporter

import (
	"encoding/hex"
	"math"
	"slices"
	"unsafe"

	"github.com/trace-exporter/trace-exporter/exporter/internal/wire"
)

// TraceID is a W3C / OTLP 16-byte trace id. The zero value is invalid.
type TraceID [16]byte

// SpanID is a W3C / OTLP 8-byte span id. The zero value means "none".
type SpanID [8]byte

// IsValid reports whether the id is not all zeros.
func (t TraceID) IsValid() bool { return t != TraceID{} }

// IsValid reports whether the id is not all zeros.
func (s SpanID) IsValid() bool { return s != SpanID{} }

// String returns the lowercase hex form used by W3C and OTLP/JSON.
func (t TraceID) String() string { return hex.EncodeToString(t[:]) }

// String returns the lowercase hex form used by W3C and OTLP/JSON.
func (s SpanID) String() string { return hex.EncodeToString(s[:]) }

// SpanKind uses OTLP's numbering.
type SpanKind int32

// Span kinds (OTLP values).
const (
	KindUnspecified SpanKind = 0
	KindInternal    SpanKind = 1
	KindServer      SpanKind = 2
	KindClient      SpanKind = 3
	KindProducer    SpanKind = 4
	KindConsumer    SpanKind = 5
)

var kindNames = [...]string{"unspecified", "internal", "server", "client", "producer", "consumer"}

// String returns the kind's lowercase name ("server", "client" ...),
// "unspecified" for unknown values.
func (k SpanKind) String() string {
	if k >= 0 && int(k) < len(kindNames) {
		return kindNames[k]
	}
	return kindNames[KindUnspecified]
}

// StatusCode uses OTLP's numbering.
type StatusCode int32

// Status codes (OTLP values).
const (
	StatusUnset StatusCode = 0
	StatusOK    StatusCode = 1
	StatusError StatusCode = 2
)

var statusNames = [...]string{"unset", "ok", "error"}

// String returns "unset", "ok" or "error" ("unset" for unknown values).
func (c StatusCode) String() string {
	if c >= 0 && int(c) < len(statusNames) {
		return statusNames[c]
	}
	return statusNames[StatusUnset]
}

// Span is one finished span as plugin/ hands it over. The exporter owns it
// once enqueued; nothing may change it after that.
type Span struct {
	TraceID       TraceID
	SpanID        SpanID
	ParentSpanID  SpanID // zero for a root span
	TraceState    string // W3C tracestate of the parent, passed through
	Flags         uint32 // W3C trace flags in the low 8 bits (OTLP Span.flags)
	Name          string
	Kind          SpanKind
	StartUnixNano uint64
	EndUnixNano   uint64
	Attributes    []Attribute
	Events        []Event
	Status        StatusCode
	StatusMessage string
	// DroppedAttributes counts attributes refused by the attribute limit.
	DroppedAttributes uint32
	// Resource, when set, is the resource this span is exported with
	// instead of its batch's (attributes rendered per request). Encoders
	// put spans of different resources into different ResourceSpans of one
	// request, telling resources apart by pointer: share one *Resource for
	// equal resources.
	Resource *Resource
}

// Event is a timestamped annotation on a span.
type Event struct {
	Name         string
	TimeUnixNano uint64
	Attributes   []Attribute
}

// ValueType tells which field of Value holds the value.
type ValueType uint8

// Attribute value types (a subset of OTLP AnyValue: what spans here need).
const (
	TypeString ValueType = iota + 1
	TypeInt
	TypeFloat
	TypeBool
	TypeStringSlice
)

// Value is a compact attribute value: 24 bytes with one pointer, because a
// request makes 40–60 of them and their size and pointer count are what the
// log path's allocation and garbage collection cost (BenchmarkLogPayload).
// A string is its data pointer and length; a string slice is a pointer to
// the slice; numbers and booleans are bits in num.
type Value struct {
	ptr  unsafe.Pointer // string data (TypeString) or *[]string (TypeStringSlice)
	num  uint64         // string length, or the number's bits
	Type ValueType
}

// Attribute is a key and its value.
type Attribute struct {
	Key   string
	Value Value
}

// String makes a string attribute.
func String(k, v string) Attribute {
	return Attribute{k, Value{ptr: unsafe.Pointer(unsafe.StringData(v)), num: uint64(len(v)), Type: TypeString}}
}

// Int makes an integer attribute.
func Int(k string, v int64) Attribute { return Attribute{k, Value{Type: TypeInt, num: uint64(v)}} }

// Float makes a double attribute.
func Float(k string, v float64) Attribute {
	return Attribute{k, Value{Type: TypeFloat, num: math.Float64bits(v)}}
}

// Bool makes a boolean attribute.
func Bool(k string, v bool) Attribute {
	var n uint64
	if v {
		n = 1
	}
	return Attribute{k, Value{Type: TypeBool, num: n}}
}

// StringSlice makes a string array attribute.
func StringSlice(k string, v []string) Attribute {
	return Attribute{k, Value{Type: TypeStringSlice, ptr: unsafe.Pointer(&v)}}
}

// AsString returns a TypeString value ("" for other types).
func (v Value) AsString() string {
	if v.Type != TypeString || v.num == 0 {
		return ""
	}
	return unsafe.String((*byte)(v.ptr), int(v.num))
}

// AsInt returns a TypeInt value.
func (v Value) AsInt() int64 { return int64(v.num) }

// AsFloat returns a TypeFloat value.
func (v Value) AsFloat() float64 { return math.Float64frombits(v.num) }

// AsBool returns a TypeBool value.
func (v Value) AsBool() bool { return v.num != 0 }

// AsStringSlice returns a TypeStringSlice value (nil for other types).
func (v Value) AsStringSlice() []string {
	if v.Type != TypeStringSlice || v.ptr == nil {
		return nil
	}
	return *(*[]string)(v.ptr)
}

// Equal reports whether two values are the same (type and content; Values
// hold pointers, so == compares storage, not content).
func (v Value) Equal(o Value) bool {
	if v.Type != o.Type {
		return false
	}
	switch v.Type {
	case TypeString:
		return v.AsString() == o.AsString()
	case TypeStringSlice:
		return slices.Equal(v.AsStringSlice(), o.AsStringSlice())
	}
	return v.num == o.num
}

// Resource describes the entity producing spans.
type Resource struct {
	Attributes []Attribute
	// SchemaURL names the semantic-conventions version the attributes
	// follow (OTLP ResourceX.schema_url); empty when unknown.
	SchemaURL string
}

// equal reports whether two resources have the same content.
func (r *Resource) equal(o *Resource) bool {
	if r.SchemaURL != o.SchemaURL || len(r.Attributes) != len(o.Attributes) {
		return false
	}
	for i := range r.Attributes {
		if r.Attributes[i].Key != o.Attributes[i].Key || !r.Attributes[i].Value.Equal(o.Attributes[i].Value) {
			return false
		}
	}
	return true
}

// Scope is the instrumentation scope reported with every span.
type Scope struct {
	Name    string
	Version string
	// SchemaURL names the semantic-conventions version the spans follow
	// (OTLP ScopeX.schema_url).
	SchemaURL string
}

// Batch is what an Exporter receives: spans of one scope, with the
// resource of every span that does not carry its own.
type Batch struct {
	Resource *Resource
	Scope    Scope
	Spans    []Span
}

// ResourceOf returns the resource span i of the batch is exported with.
func (b *Batch) ResourceOf(i int) *Resource {
	if r := b.Spans[i].Resource; r != nil {
		return r
	}
	return b.Resource
}

// FindAttribute returns the value of the first attribute named key.
func FindAttribute(attrs []Attribute, key string) (Value, bool) {
	for i := range attrs {
		if attrs[i].Key == key {
			return attrs[i].Value, true
		}
	}
	return Value{}, false
}

// ValidUTF8 is utf8.ValidString, faster on the short ASCII strings
// attributes mostly are. Encoders repair invalid strings; the plugin uses it
// to cut attribute values at a character boundary.
func ValidUTF8(s string) bool { return wire.ValidUTF8(s) }

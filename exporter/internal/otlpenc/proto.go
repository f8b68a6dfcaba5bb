package otlpenc

import (
	"math"
	"slices"
	"sync"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/trace-exporter/trace-exporter/exporter"
	"github.com/trace-exporter/trace-exporter/exporter/internal/wire"
)

// OTLP messages are encoded straight from the exporter's model with
// protowire: no generated structs are built, each string is copied once
// into a reusable buffer. Lengths of nested messages are computed before
// they are written (protobuf prefixes every message with its length); an
// item's size is computed once per batch and kept in a reusable slice.
//
// proto3 rules followed so the official decoder yields exactly our data:
// scalar fields equal to their zero value are omitted, but AnyValue's oneof
// members are always written (presence is what tells the value's type), and
// message fields are written whenever the message is present.

// Field numbers shared by every signal (opentelemetry-proto common/v1,
// resource/v1, and the ResourceX/ScopeX wrappers, which number alike).
const (
	fieldRequestResources protowire.Number = 1 // ExportXServiceRequest.resource_{spans,logs,metrics}

	fieldResourceXResource  protowire.Number = 1
	fieldResourceXScopeX    protowire.Number = 2
	fieldResourceXSchemaURL protowire.Number = 3

	fieldResourceAttributes protowire.Number = 1

	fieldScopeXScope     protowire.Number = 1
	fieldScopeXItems     protowire.Number = 2 // spans, log_records, metrics
	fieldScopeXSchemaURL protowire.Number = 3

	fieldScopeName    protowire.Number = 1
	fieldScopeVersion protowire.Number = 2

	fieldKeyValueKey   protowire.Number = 1
	fieldKeyValueValue protowire.Number = 2

	fieldAnyString protowire.Number = 1
	fieldAnyBool   protowire.Number = 2
	fieldAnyInt    protowire.Number = 3
	fieldAnyDouble protowire.Number = 4
	fieldAnyArray  protowire.Number = 5

	fieldArrayValues protowire.Number = 1
)

// Encoder holds scratch space reused across batches; not safe for
// concurrent use (use the package functions, which pool encoders).
//
// Strings are checked for valid UTF-8 once, in the sizing pass over the
// whole batch: a collector refuses a whole request with one invalid string.
// When all are valid (the usual case), the writing pass takes their lengths
// and bytes as they are; otherwise every string is repaired (each run of
// invalid bytes becomes U+FFFD).
type Encoder struct {
	itemSizes []int
	groups    []group
	sizing    bool // in the sizing pass: check every string
	invalid   bool // some string of the batch is not valid UTF-8
}

// group is the items of one resource in a batch, with their encoded sizes.
type group struct {
	resource *exporter.Resource
	items    int // items of this group
	scoped   int // size of the ScopeX message
	wrapper  int // size of the ResourceX message
	resSize  int // size of the Resource message
}

var encoderPool = sync.Pool{New: func() any { return new(Encoder) }}

func getEncoder() *Encoder  { return encoderPool.Get().(*Encoder) }
func putEncoder(e *Encoder) { encoderPool.Put(e) }

// appendRequest appends an ExportXServiceRequest of n items: one ResourceX
// per distinct resource (resourceOf; batchRes when there are no items), in
// order of first use, each with one ScopeX of scope holding its items.
func (e *Encoder) appendRequest(dst []byte, n int, batchRes *exporter.Resource, scope exporter.Scope,
	resourceOf func(i int) *exporter.Resource, size func(i int) int, write func(dst []byte, i int) []byte) []byte {
	e.startSizing(n)
	single := true // every item has the first one's resource: one group
	for i := range n {
		sz := size(i)
		e.itemSizes = append(e.itemSizes, sz)
		g := e.groupOf(resourceOf(i))
		e.groups[g].items++
		e.groups[g].scoped += sizeField(sz)
		single = single && g == 0
	}
	if n == 0 {
		e.groupOf(batchRes)
	}
	dst = growBy(dst, e.finishSizing(scope))
	for gi := range e.groups {
		g := &e.groups[gi]
		dst = e.appendGroupHeader(dst, g, scope)
		for i := range n {
			if single || resourceOf(i) == g.resource {
				dst = appendLenPrefix(dst, tagOf(fieldScopeXItems, protowire.BytesType), e.itemSizes[i])
				dst = write(dst, i)
			}
		}
		dst = e.appendGroupTrailer(dst, g, scope)
	}
	return dst
}

// startSizing resets the scratch for a batch of n items.
func (e *Encoder) startSizing(n int) {
	e.itemSizes = slices.Grow(e.itemSizes[:0], n)
	e.groups = e.groups[:0]
	e.sizing, e.invalid = true, false
}

// groupOf returns the index of r's group, adding it in order of first use.
// Batches hold one resource, or a handful: a linear scan beats a map.
func (e *Encoder) groupOf(r *exporter.Resource) int {
	for i := range e.groups {
		if e.groups[i].resource == r {
			return i
		}
	}
	e.groups = append(e.groups, group{resource: r})
	return len(e.groups) - 1
}

// finishSizing computes the wrapper sizes of every group once the items'
// sizes were added to group.scoped, and returns the request's size.
func (e *Encoder) finishSizing(scope exporter.Scope) int {
	scopeMsg := e.sizeScope(scope)
	total := 0
	for i := range e.groups {
		g := &e.groups[i]
		g.scoped += sizeField(scopeMsg) + e.sizeString(scope.SchemaURL)
		g.wrapper = sizeField(g.scoped)
		if g.resource != nil {
			g.resSize = e.sizeAttributes(g.resource.Attributes)
			g.wrapper += sizeField(g.resSize) + e.sizeString(g.resource.SchemaURL)
		}
		total += sizeField(g.wrapper)
	}
	e.sizing = false
	return total
}

// appendGroupHeader writes a ResourceX message's resource and the start of
// its one ScopeX (scope included); the items follow.
func (e *Encoder) appendGroupHeader(b []byte, g *group, scope exporter.Scope) []byte {
	b = appendLenPrefix(b, tagOf(fieldRequestResources, protowire.BytesType), g.wrapper)
	if g.resource != nil {
		b = appendLenPrefix(b, tagOf(fieldResourceXResource, protowire.BytesType), g.resSize)
		b = e.appendAttributes(b, tagOf(fieldResourceAttributes, protowire.BytesType), g.resource.Attributes)
	}
	b = appendLenPrefix(b, tagOf(fieldResourceXScopeX, protowire.BytesType), g.scoped)
	b = appendLenPrefix(b, tagOf(fieldScopeXScope, protowire.BytesType), e.sizeScope(scope))
	b = e.appendString(b, tagOf(fieldScopeName, protowire.BytesType), scope.Name)
	return e.appendString(b, tagOf(fieldScopeVersion, protowire.BytesType), scope.Version)
}

// appendGroupTrailer writes what follows the items: the schema URLs, which
// come after the repeated fields in field-number order.
func (e *Encoder) appendGroupTrailer(b []byte, g *group, scope exporter.Scope) []byte {
	b = e.appendString(b, tagOf(fieldScopeXSchemaURL, protowire.BytesType), scope.SchemaURL)
	if g.resource != nil {
		b = e.appendString(b, tagOf(fieldResourceXSchemaURL, protowire.BytesType), g.resource.SchemaURL)
	}
	return b
}

// strLen is the encoded length of s (see Encoder).
func (e *Encoder) strLen(s string) int {
	if !e.sizing && !e.invalid {
		return len(s)
	}
	if wire.ValidUTF8(s) {
		return len(s)
	}
	e.invalid = true
	return wire.ValidUTF8Len(s)
}

// appendStr appends s, repaired if the batch has invalid strings.
func (e *Encoder) appendStr(b []byte, s string) []byte {
	if !e.invalid {
		return append(b, s...)
	}
	return wire.AppendValidUTF8(b, s)
}

func (e *Encoder) sizeScope(s exporter.Scope) int {
	return e.sizeString(s.Name) + e.sizeString(s.Version)
}

// sizeAttributes is the size of a repeated KeyValue field.
func (e *Encoder) sizeAttributes(attrs []exporter.Attribute) int {
	n := 0
	for i := range attrs {
		n += sizeField(e.sizeKeyValue(&attrs[i]))
	}
	return n
}

func (e *Encoder) appendAttributes(b []byte, tag byte, attrs []exporter.Attribute) []byte {
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

func (e *Encoder) sizeKeyValue(a *exporter.Attribute) int {
	return e.sizeString(a.Key) + sizeField(e.sizeAnyValue(&a.Value))
}

// sizeAnyValue: oneof members are written even when zero.
func (e *Encoder) sizeAnyValue(v *exporter.Value) int {
	switch v.Type {
	case exporter.TypeString:
		return sizeField(e.strLen(v.AsString()))
	case exporter.TypeBool:
		return 1 + 1
	case exporter.TypeInt:
		return 1 + protowire.SizeVarint(uint64(v.AsInt()))
	case exporter.TypeFloat:
		return 1 + 8
	case exporter.TypeStringSlice:
		return sizeField(e.sizeStringArray(v.AsStringSlice()))
	}
	return 0
}

func (e *Encoder) sizeStringArray(strs []string) int {
	n := 0
	for _, s := range strs {
		n += sizeField(sizeField(e.strLen(s)))
	}
	return n
}

func (e *Encoder) appendAnyValue(b []byte, v *exporter.Value) []byte {
	switch v.Type {
	case exporter.TypeString:
		b = appendLenPrefix(b, tagOf(fieldAnyString, protowire.BytesType), e.strLen(v.AsString()))
		b = e.appendStr(b, v.AsString())
	case exporter.TypeBool:
		var bit byte
		if v.AsBool() {
			bit = 1
		}
		b = append(b, tagOf(fieldAnyBool, protowire.VarintType), bit)
	case exporter.TypeInt:
		b = append(b, tagOf(fieldAnyInt, protowire.VarintType))
		b = protowire.AppendVarint(b, uint64(v.AsInt()))
	case exporter.TypeFloat:
		b = append(b, tagOf(fieldAnyDouble, protowire.Fixed64Type))
		b = protowire.AppendFixed64(b, math.Float64bits(v.AsFloat()))
	case exporter.TypeStringSlice:
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

// tagOf is the one-byte tag of fields 1 to 15; with constant arguments it
// folds to a constant.
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
func (e *Encoder) sizeString(s string) int {
	if s == "" {
		return 0
	}
	return sizeField(e.strLen(s))
}

func (e *Encoder) appendString(b []byte, tag byte, s string) []byte {
	if s == "" {
		return b
	}
	b = appendLenPrefix(b, tag, e.strLen(s))
	return e.appendStr(b, s)
}

// growBy makes room for n more bytes in one allocation.
func growBy(b []byte, n int) []byte { return slices.Grow(b, n) }

package exporter

import (
	"encoding/binary"
	"errors"
	"hash/crc32"
	"math"
)

// Spool record format: the spans of one spool record, as written to disk.
//
//	byte     version (spoolRecordVersion)
//	uvarint  span count (readable without the checksum: eviction counts it)
//	[4]byte  CRC-32C of everything after it, big endian
//	spans    each: trace id, span id, parent id, trace state, flags, name,
//	         kind, start, end, attributes, events, status, status message,
//	         dropped attributes
//
// bbolt keeps its own pages consistent but has no checksum over values, so
// the CRC is what tells a damaged record from a good one. The format is
// ours (not OTLP protobuf) so a record decodes straight back into the Span
// model without a protobuf dependency or an intermediate copy.
const spoolRecordVersion = 1

var crcTable = crc32.MakeTable(crc32.Castagnoli)

// errCorruptRecord is returned for any record that fails to decode.
var errCorruptRecord = errors.New("spool: corrupt record")

// Decoding bounds: a record claiming more than these is corrupt, not huge.
const (
	maxRecordSpans = 1 << 20
	maxRecordItems = 1 << 20
)

// encodeRecord appends the record for spans to dst.
func encodeRecord(dst []byte, spans []Span) []byte {
	dst = append(dst, spoolRecordVersion)
	dst = binary.AppendUvarint(dst, uint64(len(spans)))
	crcAt := len(dst)
	dst = append(dst, 0, 0, 0, 0)
	for i := range spans {
		dst = appendSpan(dst, &spans[i])
	}
	binary.BigEndian.PutUint32(dst[crcAt:], crc32.Checksum(dst[crcAt+4:], crcTable))
	return dst
}

func appendSpan(b []byte, s *Span) []byte {
	b = append(b, s.TraceID[:]...)
	b = append(b, s.SpanID[:]...)
	b = append(b, s.ParentSpanID[:]...)
	b = appendString(b, s.TraceState)
	b = binary.AppendUvarint(b, uint64(s.Flags))
	b = appendString(b, s.Name)
	b = binary.AppendVarint(b, int64(s.Kind))
	b = binary.AppendUvarint(b, s.StartUnixNano)
	b = binary.AppendUvarint(b, s.EndUnixNano)
	b = appendAttributes(b, s.Attributes)
	b = binary.AppendUvarint(b, uint64(len(s.Events)))
	for i := range s.Events {
		ev := &s.Events[i]
		b = appendString(b, ev.Name)
		b = binary.AppendUvarint(b, ev.TimeUnixNano)
		b = appendAttributes(b, ev.Attributes)
	}
	b = binary.AppendVarint(b, int64(s.Status))
	b = appendString(b, s.StatusMessage)
	return binary.AppendUvarint(b, uint64(s.DroppedAttributes))
}

func appendAttributes(b []byte, attrs []Attribute) []byte {
	b = binary.AppendUvarint(b, uint64(len(attrs)))
	for i := range attrs {
		a := &attrs[i]
		b = appendString(b, a.Key)
		b = append(b, byte(a.Value.Type))
		switch a.Value.Type {
		case TypeString:
			b = appendString(b, a.Value.AsString())
		case TypeStringSlice:
			b = binary.AppendUvarint(b, uint64(len(a.Value.AsStringSlice())))
			for _, s := range a.Value.AsStringSlice() {
				b = appendString(b, s)
			}
		default:
			b = binary.AppendUvarint(b, a.Value.num)
		}
	}
	return b
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// recordSpanCount reads a record's span count without checking the rest.
func recordSpanCount(rec []byte) (int, bool) {
	if len(rec) < 2 || rec[0] != spoolRecordVersion {
		return 0, false
	}
	n, k := binary.Uvarint(rec[1:])
	if k <= 0 || n > maxRecordSpans {
		return 0, false
	}
	return int(n), true
}

// decodeRecord appends the record's spans to dst. rec may be memory owned
// by bbolt: every string is copied out of it.
func decodeRecord(dst []Span, rec []byte) ([]Span, error) {
	n, ok := recordSpanCount(rec)
	if !ok {
		return dst, errCorruptRecord
	}
	_, k := binary.Uvarint(rec[1:])
	body := rec[1+k:]
	if len(body) < 4 || binary.BigEndian.Uint32(body) != crc32.Checksum(body[4:], crcTable) {
		return dst, errCorruptRecord
	}
	d := decoder{b: body[4:]}
	start := len(dst)
	for range n {
		var s Span
		d.span(&s)
		if d.err {
			return dst[:start], errCorruptRecord
		}
		dst = append(dst, s)
	}
	if len(d.b) != 0 {
		return dst[:start], errCorruptRecord
	}
	return dst, nil
}

// decoder reads the format above; any short or absurd read sets err and
// every later read returns zero values.
type decoder struct {
	b   []byte
	err bool
}

func (d *decoder) span(s *Span) {
	d.bytes(s.TraceID[:])
	d.bytes(s.SpanID[:])
	d.bytes(s.ParentSpanID[:])
	s.TraceState = d.string()
	s.Flags = uint32(d.uvarintMax(math.MaxUint32))
	s.Name = d.string()
	s.Kind = SpanKind(d.varint())
	s.StartUnixNano = d.uvarint()
	s.EndUnixNano = d.uvarint()
	s.Attributes = d.attributes()
	if n := d.count(); n > 0 {
		s.Events = make([]Event, n)
		for i := range s.Events {
			ev := &s.Events[i]
			ev.Name = d.string()
			ev.TimeUnixNano = d.uvarint()
			ev.Attributes = d.attributes()
		}
	}
	s.Status = StatusCode(d.varint())
	s.StatusMessage = d.string()
	s.DroppedAttributes = uint32(d.uvarintMax(math.MaxUint32))
}

func (d *decoder) attributes() []Attribute {
	n := d.count()
	if n == 0 {
		return nil
	}
	attrs := make([]Attribute, n)
	for i := range attrs {
		a := &attrs[i]
		key := d.string()
		switch typ := ValueType(d.byte()); typ {
		case TypeString:
			*a = String(key, d.string())
		case TypeStringSlice:
			var vals []string
			if m := d.count(); m > 0 {
				vals = make([]string, m)
				for j := range vals {
					vals[j] = d.string()
				}
			}
			*a = StringSlice(key, vals)
		case TypeInt, TypeFloat, TypeBool:
			*a = Attribute{Key: key, Value: Value{Type: typ, num: d.uvarint()}}
		default:
			d.err = true
		}
		if d.err {
			return nil
		}
	}
	return attrs
}

func (d *decoder) bytes(dst []byte) {
	if d.err || len(d.b) < len(dst) {
		d.err = true
		return
	}
	copy(dst, d.b)
	d.b = d.b[len(dst):]
}

func (d *decoder) byte() byte {
	if d.err || len(d.b) == 0 {
		d.err = true
		return 0
	}
	c := d.b[0]
	d.b = d.b[1:]
	return c
}

func (d *decoder) uvarint() uint64 {
	if d.err {
		return 0
	}
	v, k := binary.Uvarint(d.b)
	if k <= 0 {
		d.err = true
		return 0
	}
	d.b = d.b[k:]
	return v
}

func (d *decoder) uvarintMax(max uint64) uint64 {
	v := d.uvarint()
	if v > max {
		d.err = true
		return 0
	}
	return v
}

func (d *decoder) varint() int64 {
	if d.err {
		return 0
	}
	v, k := binary.Varint(d.b)
	if k <= 0 || v > math.MaxInt32 || v < math.MinInt32 {
		d.err = true
		return 0
	}
	d.b = d.b[k:]
	return v
}

// count reads a length that must be plausible for the bytes left: each
// item takes at least one byte, so a larger count is corruption (and must
// not drive an allocation).
func (d *decoder) count() int {
	v := d.uvarint()
	if v > maxRecordItems || v > uint64(len(d.b)) {
		d.err = true
		return 0
	}
	return int(v)
}

func (d *decoder) string() string {
	n := d.count()
	if d.err {
		return ""
	}
	s := string(d.b[:n])
	d.b = d.b[n:]
	return s
}

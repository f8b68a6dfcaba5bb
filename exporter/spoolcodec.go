package exporter

import (
	"encoding/binary"

	"github.com/trace-exporter/trace-exporter/exporter/internal/spool"
)

// The parts of spool records every signal's codec shares.

func appendSpoolAttributes(b []byte, attrs []Attribute) []byte {
	b = binary.AppendUvarint(b, uint64(len(attrs)))
	for i := range attrs {
		a := &attrs[i]
		b = spool.AppendString(b, a.Key)
		b = append(b, byte(a.Value.Type))
		switch a.Value.Type {
		case TypeString:
			b = spool.AppendString(b, a.Value.AsString())
		case TypeStringSlice:
			b = binary.AppendUvarint(b, uint64(len(a.Value.AsStringSlice())))
			for _, s := range a.Value.AsStringSlice() {
				b = spool.AppendString(b, s)
			}
		default:
			b = binary.AppendUvarint(b, a.Value.num)
		}
	}
	return b
}

func decodeSpoolAttributes(d *spool.Decoder) []Attribute {
	n := d.Count()
	if n == 0 {
		return nil
	}
	attrs := make([]Attribute, n)
	for i := range attrs {
		a := &attrs[i]
		key := d.String()
		switch typ := ValueType(d.Byte()); typ {
		case TypeString:
			*a = String(key, d.String())
		case TypeStringSlice:
			var vals []string
			if m := d.Count(); m > 0 {
				vals = make([]string, m)
				for j := range vals {
					vals[j] = d.String()
				}
			}
			*a = StringSlice(key, vals)
		case TypeInt, TypeFloat, TypeBool:
			*a = Attribute{Key: key, Value: Value{Type: typ, num: d.Uvarint()}}
		default:
			d.Fail()
		}
		if d.Failed() {
			return nil
		}
	}
	return attrs
}

// appendSpoolResource writes an item's own resource (none: the batch's).
func appendSpoolResource(b []byte, r *Resource) []byte {
	if r == nil {
		return append(b, 0)
	}
	b = append(b, 1)
	b = appendSpoolAttributes(b, r.Attributes)
	return spool.AppendString(b, r.SchemaURL)
}

// decodeSpoolResource reads what appendSpoolResource wrote. Items of one
// request are stored one after the other: they share one resource again,
// so the encoders group them.
func decodeSpoolResource(d *spool.Decoder) *Resource {
	switch d.Byte() {
	case 0:
		return nil
	case 1:
		r := &Resource{Attributes: decodeSpoolAttributes(d), SchemaURL: d.String()}
		if prev, ok := d.Previous.(*Resource); ok && prev.equal(r) {
			r = prev
		}
		d.Previous = r
		return r
	}
	d.Fail()
	return nil
}

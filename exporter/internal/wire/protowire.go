package wire

import "google.golang.org/protobuf/encoding/protowire"

// WalkProtoFields calls fn for each top-level field of a protobuf message
// (v for bytes fields, n for varints); it stops quietly at malformed input.
// Responses are read with it into small structs: once per batch, never per
// span, and without generated types.
func WalkProtoFields(b []byte, fn func(num protowire.Number, typ protowire.Type, v []byte, n uint64)) {
	for len(b) > 0 {
		num, typ, l := protowire.ConsumeTag(b)
		if l < 0 {
			return
		}
		b = b[l:]
		switch typ {
		case protowire.BytesType:
			v, l := protowire.ConsumeBytes(b)
			if l < 0 {
				return
			}
			fn(num, typ, v, 0)
			b = b[l:]
		case protowire.VarintType:
			n, l := protowire.ConsumeVarint(b)
			if l < 0 {
				return
			}
			fn(num, typ, nil, n)
			b = b[l:]
		default:
			l := protowire.ConsumeFieldValue(num, typ, b)
			if l < 0 {
				return
			}
			b = b[l:]
		}
	}
}

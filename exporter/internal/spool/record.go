package spool

import (
	"encoding/binary"
	"errors"
	"hash/crc32"
	"math"
)

// Record format: the items of one spool record, as written to disk.
//
//	byte     version (recordVersion; 1 is still read: the codec learns it
//	         from Decoder.Version)
//	uvarint  item count (readable without the checksum: eviction counts it)
//	[4]byte  CRC-32C of everything after it, big endian
//	items    each as the Codec appends it
//
// bbolt keeps its own pages consistent but has no checksum over values, so
// the CRC is what tells a damaged record from a good one. The item format
// is the caller's (not OTLP protobuf) so a record decodes straight back into
// its model without an intermediate copy.
const recordVersion = 2

var crcTable = crc32.MakeTable(crc32.Castagnoli)

// errCorruptRecord is returned for any record that fails to decode.
var errCorruptRecord = errors.New("spool: corrupt record")

// Decoding bounds: a record claiming more than these is corrupt, not huge.
const (
	maxRecordItems = 1 << 20
	maxCount       = 1 << 20
)

// Codec writes items into a record's body and reads them back.
type Codec[T any] interface {
	// Append appends item to dst.
	Append(dst []byte, item *T) []byte
	// Decode reads one item as Append wrote it; a failure is recorded in d.
	Decode(d *Decoder) T
}

// EncodeRecord appends the record for items to dst.
func EncodeRecord[T any](dst []byte, items []T, c Codec[T]) []byte {
	dst = append(dst, recordVersion)
	dst = binary.AppendUvarint(dst, uint64(len(items)))
	crcAt := len(dst)
	dst = append(dst, 0, 0, 0, 0)
	for i := range items {
		dst = c.Append(dst, &items[i])
	}
	binary.BigEndian.PutUint32(dst[crcAt:], crc32.Checksum(dst[crcAt+4:], crcTable))
	return dst
}

// recordItemCount reads a record's item count without checking the rest.
func recordItemCount(rec []byte) (int, bool) {
	if len(rec) < 2 || rec[0] < 1 || rec[0] > recordVersion {
		return 0, false
	}
	n, k := binary.Uvarint(rec[1:])
	if k <= 0 || n > maxRecordItems {
		return 0, false
	}
	return int(n), true
}

// DecodeRecord appends the record's items to dst; a damaged record (any
// byte changed, truncated, extended) is an error. rec may be memory owned by
// bbolt: the codec copies what it keeps.
func DecodeRecord[T any](dst []T, rec []byte, c Codec[T]) ([]T, error) {
	n, ok := recordItemCount(rec)
	if !ok {
		return dst, errCorruptRecord
	}
	_, k := binary.Uvarint(rec[1:])
	body := rec[1+k:]
	if len(body) < 4 || binary.BigEndian.Uint32(body) != crc32.Checksum(body[4:], crcTable) {
		return dst, errCorruptRecord
	}
	d := Decoder{b: body[4:], version: rec[0]}
	start := len(dst)
	for range n {
		item := c.Decode(&d)
		if d.err {
			return dst[:start], errCorruptRecord
		}
		dst = append(dst, item)
	}
	if len(d.b) != 0 {
		return dst[:start], errCorruptRecord
	}
	return dst, nil
}

// AppendString appends s with its length, as Decoder.String reads it.
func AppendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// Decoder reads a record body; any short or absurd read fails it and every
// later read returns zero values.
type Decoder struct {
	b       []byte
	err     bool
	version byte
	// Previous is the codec's own: what it decoded last in this record
	// (e.g. to share a value repeated from one item to the next).
	Previous any
}

// Version is the record's format version.
func (d *Decoder) Version() byte { return d.version }

// Fail marks the record corrupt.
func (d *Decoder) Fail() { d.err = true }

// Failed reports whether a read failed.
func (d *Decoder) Failed() bool { return d.err }

// Bytes fills dst.
func (d *Decoder) Bytes(dst []byte) {
	if d.err || len(d.b) < len(dst) {
		d.err = true
		return
	}
	copy(dst, d.b)
	d.b = d.b[len(dst):]
}

// Byte reads one byte.
func (d *Decoder) Byte() byte {
	if d.err || len(d.b) == 0 {
		d.err = true
		return 0
	}
	c := d.b[0]
	d.b = d.b[1:]
	return c
}

// Uvarint reads an unsigned varint.
func (d *Decoder) Uvarint() uint64 {
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

// UvarintMax reads an unsigned varint no larger than limit.
func (d *Decoder) UvarintMax(limit uint64) uint64 {
	v := d.Uvarint()
	if v > limit {
		d.err = true
		return 0
	}
	return v
}

// Varint reads a signed varint within int32.
func (d *Decoder) Varint() int64 {
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

// Count reads a length that must be plausible for the bytes left: each
// item takes at least one byte, so a larger count is corruption (and must
// not drive an allocation).
func (d *Decoder) Count() int {
	v := d.Uvarint()
	if v > maxCount || v > uint64(len(d.b)) {
		d.err = true
		return 0
	}
	return int(v)
}

// String reads a string written by AppendString, copied out of the record.
func (d *Decoder) String() string {
	n := d.Count()
	if d.err {
		return ""
	}
	s := string(d.b[:n])
	d.b = d.b[n:]
	return s
}

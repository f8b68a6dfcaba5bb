package spool

import (
	"bytes"
	"encoding/binary"
	"reflect"
	"testing"
)

// blob is a test item: an id and a payload.
type blob struct {
	id      uint64
	payload string
}

type blobCodec struct{}

func (blobCodec) Append(b []byte, x *blob) []byte {
	b = binary.AppendUvarint(b, x.id)
	return AppendString(b, x.payload)
}

func (blobCodec) Decode(d *Decoder) blob {
	return blob{id: d.Uvarint(), payload: d.String()}
}

func blobs(n, size int) []blob {
	out := make([]blob, n)
	for i := range out {
		out[i] = blob{uint64(i), string(bytes.Repeat([]byte{byte('a' + i%26)}, size))}
	}
	return out
}

func TestRecordRoundTrip(t *testing.T) {
	for _, items := range [][]blob{blobs(1, 0), blobs(7, 300), nil} {
		rec := EncodeRecord(nil, items, blobCodec{})
		if n, ok := recordItemCount(rec); !ok || n != len(items) {
			t.Fatalf("item count %d %v, want %d", n, ok, len(items))
		}
		got, err := DecodeRecord(nil, rec, blobCodec{})
		if err != nil {
			t.Fatal(err)
		}
		if len(items) > 0 && !reflect.DeepEqual(got, items) {
			t.Fatalf("round trip: %+v", got)
		}
	}
}

// Every single-byte change, truncation and extension of a record is
// detected: a damaged record must never turn into wrong items.
func TestRecordDamageDetected(t *testing.T) {
	rec := EncodeRecord(nil, blobs(3, 20), blobCodec{})
	for i := range rec {
		for _, flip := range []byte{0x01, 0x80, 0xff} {
			bad := bytes.Clone(rec)
			bad[i] ^= flip
			if _, err := DecodeRecord(nil, bad, blobCodec{}); err == nil {
				t.Fatalf("byte %d ^ %#x not detected", i, flip)
			}
		}
	}
	for n := range len(rec) {
		if _, err := DecodeRecord(nil, rec[:n], blobCodec{}); err == nil {
			t.Fatalf("truncation to %d bytes not detected", n)
		}
	}
	if _, err := DecodeRecord(nil, append(bytes.Clone(rec), 0), blobCodec{}); err == nil {
		t.Fatal("trailing byte not detected")
	}
}

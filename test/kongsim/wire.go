package kongsim

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"net"
	"sort"
	"strconv"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/types/known/structpb"
)

// maxFrame bounds what the emulator reads from a plugin: a corrupt length
// must fail the connection, not allocate gigabytes.
const maxFrame = 64 << 20

// frameConn is one unix-socket connection speaking ProtoBuf:1 framing: a
// 4-byte little-endian length, then that many bytes.
type frameConn struct {
	conn       net.Conn
	r          *bufio.Reader
	wbuf       []byte
	generation int64 // the rpcClient's generation when it was dialed
}

func newFrameConn(c net.Conn) *frameConn {
	return &frameConn{conn: c, r: bufio.NewReaderSize(c, 16<<10)}
}

func (c *frameConn) readFrame() ([]byte, error) {
	var hdr [4]byte
	if _, err := io.ReadFull(c.r, hdr[:]); err != nil {
		return nil, err
	}
	n := binary.LittleEndian.Uint32(hdr[:])
	if n == 0 {
		return nil, nil
	}
	if n > maxFrame {
		return nil, fmt.Errorf("frame of %d bytes exceeds %d", n, maxFrame)
	}
	data := make([]byte, n)
	if _, err := io.ReadFull(c.r, data); err != nil {
		return nil, err
	}
	return data, nil
}

// writeFrame sends length and payload in one write, as Kong's cosocket does.
func (c *frameConn) writeFrame(data []byte) error {
	c.wbuf = binary.LittleEndian.AppendUint32(c.wbuf[:0], uint32(len(data)))
	c.wbuf = append(c.wbuf, data...)
	_, err := c.conn.Write(c.wbuf)
	return err
}

func (c *frameConn) Close() error { return c.conn.Close() }

// The encoders below write protobuf by hand instead of through protobuf-go:
// protobuf-go refuses to marshal strings that are not valid UTF-8, while Kong
// (lua-protobuf) sends whatever bytes it has. Writing raw bytes lets go-pdk's
// Unmarshal fail exactly where it fails against a real Kong.

// encodeWrapped encodes the {v = x} wrappers String, Int, Number, Bool and
// ByteString. Zero values are left out, as lua-protobuf does for proto3
// scalars; go-pdk decodes the empty message to the same zero value.
func encodeString(s string) []byte {
	if s == "" {
		return nil
	}
	return protowire.AppendString(protowire.AppendTag(nil, 1, protowire.BytesType), s)
}

func encodeInt(v int64) []byte {
	if v == 0 {
		return nil
	}
	// int32 field: negative values are sign-extended to 64 bits on the wire.
	return protowire.AppendVarint(protowire.AppendTag(nil, 1, protowire.VarintType), uint64(int64(int32(v))))
}

func encodeNumber(f float64) []byte {
	if f == 0 {
		return nil
	}
	return protowire.AppendFixed64(protowire.AppendTag(nil, 1, protowire.Fixed64Type), math.Float64bits(f))
}

func encodeBool(v bool) []byte {
	if !v {
		return nil
	}
	return protowire.AppendVarint(protowire.AppendTag(nil, 1, protowire.VarintType), 1)
}

func appendStringField(b []byte, num protowire.Number, s string) []byte {
	if s == "" {
		return b
	}
	return protowire.AppendString(protowire.AppendTag(b, num, protowire.BytesType), s)
}

func appendVarintField(b []byte, num protowire.Number, v int64) []byte {
	if v == 0 {
		return b
	}
	return protowire.AppendVarint(protowire.AppendTag(b, num, protowire.VarintType), uint64(v))
}

func appendBoolField(b []byte, num protowire.Number, v bool) []byte {
	if !v {
		return b
	}
	return protowire.AppendVarint(protowire.AppendTag(b, num, protowire.VarintType), 1)
}

func appendMessageField(b []byte, num protowire.Number, msg []byte) []byte {
	return protowire.AppendBytes(protowire.AppendTag(b, num, protowire.BytesType), msg)
}

// appendValue encodes a Lua value as google.protobuf.Value the way Kong's
// pb_wrap does: a table whose first array slot is set is a list, every other
// table (empty arrays included) a struct, nil is null_value=1.
func appendValue(b []byte, v any) []byte {
	switch x := v.(type) {
	case nil:
		return protowire.AppendVarint(protowire.AppendTag(b, 1, protowire.VarintType), 1)
	case bool:
		// oneof members are written even when false: their presence is the value.
		n := uint64(0)
		if x {
			n = 1
		}
		return protowire.AppendVarint(protowire.AppendTag(b, 4, protowire.VarintType), n)
	case string:
		return protowire.AppendString(protowire.AppendTag(b, 3, protowire.BytesType), x)
	case []byte:
		return protowire.AppendBytes(protowire.AppendTag(b, 3, protowire.BytesType), x)
	case []any:
		if len(x) == 0 {
			return appendMessageField(b, 5, nil)
		}
		return appendMessageField(b, 6, appendListValue(nil, x))
	case []string:
		l := make([]any, len(x))
		for i, s := range x {
			l[i] = s
		}
		return appendValue(b, l)
	case map[string]any, Object, map[string]string:
		return appendMessageField(b, 5, appendStruct(nil, x))
	}
	if f, ok := toFloat(v); ok {
		return protowire.AppendFixed64(protowire.AppendTag(b, 2, protowire.Fixed64Type), math.Float64bits(f))
	}
	// Functions, userdata and the like: Kong would fail to encode them; the
	// emulator never stores such values, so this is a programming error.
	return appendValue(b, fmt.Sprint(v))
}

func appendListValue(b []byte, l []any) []byte {
	for _, e := range l {
		b = appendMessageField(b, 1, appendValue(nil, e))
	}
	return b
}

// appendStruct encodes a table as google.protobuf.Struct. Map keys are sorted
// so replies are repeatable.
func appendStruct(b []byte, t any) []byte {
	entry := func(b []byte, k string, v any) []byte {
		e := protowire.AppendString(protowire.AppendTag(nil, 1, protowire.BytesType), k)
		e = appendMessageField(e, 2, appendValue(nil, v))
		return appendMessageField(b, 1, e)
	}
	switch x := t.(type) {
	case Object:
		for _, m := range x {
			if m.Value != nil {
				b = entry(b, m.Key, m.Value)
			}
		}
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			if x[k] != nil {
				b = entry(b, k, x[k])
			}
		}
	case map[string]string:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			b = entry(b, k, x[k])
		}
	}
	return b
}

func toFloat(v any) (float64, bool) {
	switch n := v.(type) {
	case float64:
		return n, true
	case float32:
		return float64(n), true
	case int:
		return float64(n), true
	case int32:
		return float64(n), true
	case int64:
		return float64(n), true
	case uint32:
		return float64(n), true
	case uint64:
		return float64(n), true
	}
	return 0, false
}

// luaValue turns a decoded google.protobuf.Value into the Lua value Kong's
// pb_unwrap hands to the PDK function, quirks included: false arrives as nil
// (`v.bool_value or …`) and null as the enum name "NULL_VALUE".
func luaValue(v *structpb.Value) any {
	if v == nil {
		return nil
	}
	switch k := v.Kind.(type) {
	case *structpb.Value_NullValue:
		return "NULL_VALUE"
	case *structpb.Value_NumberValue:
		return k.NumberValue
	case *structpb.Value_StringValue:
		return k.StringValue
	case *structpb.Value_BoolValue:
		if !k.BoolValue {
			return nil
		}
		return true
	case *structpb.Value_StructValue:
		return luaStruct(k.StructValue)
	case *structpb.Value_ListValue:
		return luaList(k.ListValue)
	}
	return nil
}

func luaStruct(s *structpb.Struct) map[string]any {
	m := make(map[string]any, len(s.GetFields()))
	for k, v := range s.GetFields() {
		if lv := luaValue(v); lv != nil {
			m[k] = lv
		}
	}
	return m
}

func luaList(l *structpb.ListValue) []any {
	out := make([]any, 0, len(l.GetValues()))
	for _, v := range l.GetValues() {
		// A nil inside a Lua array ends it.
		lv := luaValue(v)
		if lv == nil {
			break
		}
		out = append(out, lv)
	}
	return out
}

// luaToString is Lua's tostring for the values kong.log.* concatenates.
func luaToString(v any) string {
	switch x := v.(type) {
	case nil:
		return "nil"
	case string:
		return x
	case bool:
		return strconv.FormatBool(x)
	case float64:
		if x == math.Trunc(x) && math.Abs(x) < 1e15 {
			return strconv.FormatInt(int64(x), 10)
		}
		return strconv.FormatFloat(x, 'g', 14, 64)
	case map[string]any, []any:
		return fmt.Sprintf("table: %p", x)
	}
	return fmt.Sprint(v)
}

package kongsim

import (
	"fmt"
	"math"
	"sort"
	"strconv"
)

// Object is a JSON object whose members keep their order. Lua tables have no
// order, so any order is faithful; a fixed one makes the emulator's output
// readable and repeatable.
type Object []Member

// Member is one key/value pair of an Object.
type Member struct {
	Key   string
	Value any
}

// Get returns the value of key and whether it is present.
func (o Object) Get(key string) (any, bool) {
	for _, m := range o {
		if m.Key == key {
			return m.Value, true
		}
	}
	return nil, false
}

// EncodeLuaJSON encodes v the way lua-cjson does in Kong: '/' escaped as
// "\/", numbers printed with "%.<precision>g" (14 before Kong 3.6, 16 from
// 3.6), strings copied byte for byte without any UTF-8 check, empty tables as
// {} except arrays ([]any, which stand for tables with cjson's array_mt).
// Accepted values: nil, bool, string, []byte, Go numbers, []any, []string,
// map[string]any, map[string]string and Object. Maps are written with sorted
// keys.
func EncodeLuaJSON(v any, precision int) ([]byte, error) {
	return appendLuaJSON(make([]byte, 0, 256), v, precision)
}

func appendLuaJSON(b []byte, v any, prec int) ([]byte, error) {
	var err error
	switch x := v.(type) {
	case nil:
		return append(b, "null"...), nil
	case bool:
		return strconv.AppendBool(b, x), nil
	case string:
		return appendLuaString(b, x), nil
	case []byte:
		return appendLuaString(b, string(x)), nil
	case float64:
		return appendLuaNumber(b, x, prec)
	case float32:
		return appendLuaNumber(b, float64(x), prec)
	case int:
		return appendLuaNumber(b, float64(x), prec)
	case int32:
		return appendLuaNumber(b, float64(x), prec)
	case int64:
		return appendLuaNumber(b, float64(x), prec)
	case uint32:
		return appendLuaNumber(b, float64(x), prec)
	case uint64:
		return appendLuaNumber(b, float64(x), prec)
	case Object:
		b = append(b, '{')
		for i, m := range x {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendLuaString(b, m.Key)
			b = append(b, ':')
			if b, err = appendLuaJSON(b, m.Value, prec); err != nil {
				return nil, err
			}
		}
		return append(b, '}'), nil
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		b = append(b, '{')
		for i, k := range keys {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendLuaString(b, k)
			b = append(b, ':')
			if b, err = appendLuaJSON(b, x[k], prec); err != nil {
				return nil, err
			}
		}
		return append(b, '}'), nil
	case map[string]string:
		m := make(map[string]any, len(x))
		for k, s := range x {
			m[k] = s
		}
		return appendLuaJSON(b, m, prec)
	case []any:
		b = append(b, '[')
		for i, e := range x {
			if i > 0 {
				b = append(b, ',')
			}
			if b, err = appendLuaJSON(b, e, prec); err != nil {
				return nil, err
			}
		}
		return append(b, ']'), nil
	case []string:
		b = append(b, '[')
		for i, e := range x {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendLuaString(b, e)
		}
		return append(b, ']'), nil
	}
	return nil, fmt.Errorf("cannot serialise %T", v)
}

func appendLuaNumber(b []byte, f float64, prec int) ([]byte, error) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		// cjson.safe refuses them (encode_invalid_numbers is off in Kong).
		return nil, fmt.Errorf("cannot serialise number: must not be NaN or Infinity")
	}
	return strconv.AppendFloat(b, f, 'g', prec, 64), nil
}

const hexDigits = "0123456789abcdef"

// appendLuaString follows lua-cjson's escape table: the JSON specials, '/',
// control characters and DEL; every other byte, valid UTF-8 or not, is
// copied as is.
func appendLuaString(b []byte, s string) []byte {
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch c {
		case '"':
			b = append(b, '\\', '"')
		case '\\':
			b = append(b, '\\', '\\')
		case '/':
			b = append(b, '\\', '/')
		case '\b':
			b = append(b, '\\', 'b')
		case '\f':
			b = append(b, '\\', 'f')
		case '\n':
			b = append(b, '\\', 'n')
		case '\r':
			b = append(b, '\\', 'r')
		case '\t':
			b = append(b, '\\', 't')
		default:
			if c < 0x20 || c == 0x7f {
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			} else {
				b = append(b, c)
			}
		}
	}
	return append(b, '"')
}

// Package spanjson writes attributes of the exporter's model as plain JSON
// objects ({"key": value}, values as JSON strings, numbers, booleans or
// arrays of strings), the form the http_json webhook documents and Zipkin
// annotations carry.
package spanjson

import (
	"strconv"

	"github.com/trace-exporter/trace-exporter/exporter"
	"github.com/trace-exporter/trace-exporter/exporter/internal/wire"
)

// AppendAttributes writes attrs as one JSON object of plain values.
func AppendAttributes(b []byte, attrs []exporter.Attribute) []byte {
	b = append(b, '{')
	for i := range attrs {
		if i > 0 {
			b = append(b, ',')
		}
		b = wire.AppendJSONString(b, attrs[i].Key)
		b = append(b, ':')
		b = AppendValue(b, attrs[i].Value)
	}
	return append(b, '}')
}

// AppendValue writes one value as plain JSON (non-finite numbers are the
// strings "NaN", "Infinity", "-Infinity"; an unknown type is null).
func AppendValue(b []byte, v exporter.Value) []byte {
	switch v.Type {
	case exporter.TypeString:
		return wire.AppendJSONString(b, v.AsString())
	case exporter.TypeInt:
		return strconv.AppendInt(b, v.AsInt(), 10)
	case exporter.TypeFloat:
		return wire.AppendJSONFloat(b, v.AsFloat())
	case exporter.TypeBool:
		return strconv.AppendBool(b, v.AsBool())
	case exporter.TypeStringSlice:
		return wire.AppendJSONStringArray(b, v.AsStringSlice())
	}
	return append(b, "null"...)
}

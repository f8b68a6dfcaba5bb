package exporter

import (
	"math"
	"strconv"
	"unicode/utf8"
)

// OTLP/JSON (the protobuf JSON mapping with OTLP's exceptions): trace and
// span ids are lowercase hex, not base64; enums are integers; keys are
// lowerCamelCase; 64-bit integers (times, intValue) are decimal strings.
// Fields equal to their proto3 zero value are left out, as protojson does;
// receivers treat the two the same.

// appendTracesJSON appends the ExportTraceServiceRequest for b as OTLP/JSON.
func appendTracesJSON(b []byte, batch *Batch) []byte {
	b = append(b, `{"resourceSpans":[{`...)
	if batch.Resource != nil {
		b = append(b, `"resource":{`...)
		b = appendJSONAttributes(b, "attributes", batch.Resource.Attributes, false)
		b = append(b, `},`...)
	}
	b = append(b, `"scopeSpans":[{"scope":{`...)
	comma := false
	b, comma = appendJSONStringField(b, "name", batch.Scope.Name, comma)
	b, _ = appendJSONStringField(b, "version", batch.Scope.Version, comma)
	b = append(b, `},"spans":[`...)
	for i := range batch.Spans {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONSpan(b, &batch.Spans[i])
	}
	return append(b, `]}]}]}`...)
}

func appendJSONSpan(b []byte, s *Span) []byte {
	b = append(b, `{"traceId":"`...)
	b = appendHex(b, s.TraceID[:])
	b = append(b, `","spanId":"`...)
	b = appendHex(b, s.SpanID[:])
	b = append(b, '"')
	b, _ = appendJSONStringField(b, "traceState", s.TraceState, true)
	if s.ParentSpanID.IsValid() {
		b = append(b, `,"parentSpanId":"`...)
		b = appendHex(b, s.ParentSpanID[:])
		b = append(b, '"')
	}
	if s.Flags != 0 {
		b = append(b, `,"flags":`...)
		b = strconv.AppendUint(b, uint64(s.Flags), 10)
	}
	b, _ = appendJSONStringField(b, "name", s.Name, true)
	if s.Kind != 0 {
		b = append(b, `,"kind":`...)
		b = strconv.AppendInt(b, int64(s.Kind), 10)
	}
	b, _ = appendJSONTime(b, "startTimeUnixNano", s.StartUnixNano, true)
	b, _ = appendJSONTime(b, "endTimeUnixNano", s.EndUnixNano, true)
	b = appendJSONAttributes(b, "attributes", s.Attributes, true)
	if s.DroppedAttributes != 0 {
		b = append(b, `,"droppedAttributesCount":`...)
		b = strconv.AppendUint(b, uint64(s.DroppedAttributes), 10)
	}
	if len(s.Events) > 0 {
		b = append(b, `,"events":[`...)
		for i := range s.Events {
			ev := &s.Events[i]
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, '{')
			var comma bool
			b, comma = appendJSONTime(b, "timeUnixNano", ev.TimeUnixNano, false)
			b, comma = appendJSONStringField(b, "name", ev.Name, comma)
			b = appendJSONAttributes(b, "attributes", ev.Attributes, comma)
			b = append(b, '}')
		}
		b = append(b, ']')
	}
	if s.Status != 0 || s.StatusMessage != "" {
		b = append(b, `,"status":{`...)
		comma := false
		b, comma = appendJSONStringField(b, "message", s.StatusMessage, comma)
		if s.Status != 0 {
			if comma {
				b = append(b, ',')
			}
			b = append(b, `"code":`...)
			b = strconv.AppendInt(b, int64(s.Status), 10)
		}
		b = append(b, '}')
	}
	return append(b, '}')
}

// appendJSONTime writes "name":"123" (a fixed64 is a string in JSON),
// like appendJSONStringField.
func appendJSONTime(b []byte, name string, ns uint64, comma bool) ([]byte, bool) {
	if ns == 0 {
		return b, comma
	}
	if comma {
		b = append(b, ',')
	}
	b = append(b, '"')
	b = append(b, name...)
	b = append(b, `":"`...)
	b = strconv.AppendUint(b, ns, 10)
	return append(b, '"'), true
}

func appendJSONAttributes(b []byte, name string, attrs []Attribute, comma bool) []byte {
	if len(attrs) == 0 {
		return b
	}
	if comma {
		b = append(b, ',')
	}
	b = append(b, '"')
	b = append(b, name...)
	b = append(b, `":[`...)
	for i := range attrs {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"key":`...)
		b = appendJSONString(b, attrs[i].Key)
		b = append(b, `,"value":`...)
		b = appendJSONAnyValue(b, &attrs[i].Value)
		b = append(b, '}')
	}
	return append(b, ']')
}

func appendJSONAnyValue(b []byte, v *Value) []byte {
	switch v.Type {
	case TypeString:
		b = append(b, `{"stringValue":`...)
		b = appendJSONString(b, v.AsString())
	case TypeBool:
		if v.num != 0 {
			return append(b, `{"boolValue":true}`...)
		}
		return append(b, `{"boolValue":false}`...)
	case TypeInt:
		b = append(b, `{"intValue":"`...)
		b = strconv.AppendInt(b, int64(v.num), 10)
		b = append(b, '"')
	case TypeFloat:
		b = append(b, `{"doubleValue":`...)
		b = appendJSONFloat(b, math.Float64frombits(v.num))
	case TypeStringSlice:
		b = append(b, `{"arrayValue":{`...)
		if len(v.AsStringSlice()) > 0 {
			b = append(b, `"values":[`...)
			for i, s := range v.AsStringSlice() {
				if i > 0 {
					b = append(b, ',')
				}
				b = append(b, `{"stringValue":`...)
				b = appendJSONString(b, s)
				b = append(b, '}')
			}
			b = append(b, ']')
		}
		b = append(b, '}')
	default:
		return append(b, `{}`...)
	}
	return append(b, '}')
}

// appendJSONFloat follows protojson: NaN and infinities are strings.
func appendJSONFloat(b []byte, f float64) []byte {
	switch {
	case math.IsNaN(f):
		return append(b, `"NaN"`...)
	case math.IsInf(f, 1):
		return append(b, `"Infinity"`...)
	case math.IsInf(f, -1):
		return append(b, `"-Infinity"`...)
	}
	return strconv.AppendFloat(b, f, 'g', -1, 64)
}

// appendJSONStringField writes "name":"value", preceded by a comma when one
// is due, and reports whether the next field needs a comma. Empty values are
// left out.
func appendJSONStringField(b []byte, name, value string, comma bool) ([]byte, bool) {
	if value == "" {
		return b, comma
	}
	if comma {
		b = append(b, ',')
	}
	b = append(b, '"')
	b = append(b, name...)
	b = append(b, '"', ':')
	return appendJSONString(b, value), true
}

const hexDigits = "0123456789abcdef"

func appendHex(b []byte, id []byte) []byte {
	for _, c := range id {
		b = append(b, hexDigits[c>>4], hexDigits[c&0xf])
	}
	return b
}

// appendJSONString quotes s per RFC 8259: quote, backslash and control
// characters escaped, each run of invalid UTF-8 bytes replaced by U+FFFD.
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, w := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && w == 1 {
			// One replacement per run of invalid bytes, as in the protobuf
			// encoding (strings.ToValidUTF8).
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			for i++; i < len(s); i++ {
				if r, w = utf8.DecodeRuneInString(s[i:]); r != utf8.RuneError || w != 1 {
					break
				}
			}
			start = i
			continue
		}
		i += w
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

package otlpenc

import (
	"strconv"

	"github.com/trace-exporter/trace-exporter/exporter"
	"github.com/trace-exporter/trace-exporter/exporter/internal/wire"
)

// appendJSONRequest appends an OTLP/JSON ExportXServiceRequest of n items,
// grouped by resource in order of first use (as appendRequest does), the
// arrays named resources, scoped and items.
func appendJSONRequest(b []byte, resources, scoped, items string, n int, batchRes *exporter.Resource, scope exporter.Scope,
	resourceOf func(i int) *exporter.Resource, write func(b []byte, i int) []byte) []byte {
	e := getEncoder()
	defer putEncoder(e)
	e.groups = e.groups[:0]
	for i := range n {
		e.groupOf(resourceOf(i))
	}
	if n == 0 {
		e.groupOf(batchRes)
	}
	b = append(b, `{"`...)
	b = append(b, resources...)
	b = append(b, `":[`...)
	for gi := range e.groups {
		g := &e.groups[gi]
		if gi > 0 {
			b = append(b, ',')
		}
		b = appendJSONGroupHeader(b, g.resource, scope, scoped, items)
		first := true
		for i := range n {
			if len(e.groups) > 1 && resourceOf(i) != g.resource {
				continue
			}
			if !first {
				b = append(b, ',')
			}
			first = false
			b = write(b, i)
		}
		b = appendJSONGroupTrailer(b, g.resource, scope)
	}
	return append(b, `]}`...)
}

// appendJSONGroupHeader opens a ResourceX object and its one ScopeX (named
// scoped), up to the items array (named items).
func appendJSONGroupHeader(b []byte, r *exporter.Resource, scope exporter.Scope, scoped, items string) []byte {
	b = append(b, '{')
	if r != nil {
		b = append(b, `"resource":{`...)
		b = appendJSONAttributes(b, "attributes", r.Attributes, false)
		b = append(b, `},`...)
	}
	b = append(b, '"')
	b = append(b, scoped...) // scopeSpans, scopeLogs, scopeMetrics
	b = append(b, `":[{"scope":{`...)
	comma := false
	b, comma = appendJSONStringField(b, "name", scope.Name, comma)
	b, _ = appendJSONStringField(b, "version", scope.Version, comma)
	b = append(b, `},"`...)
	b = append(b, items...)
	return append(b, `":[`...)
}

// appendJSONGroupTrailer closes what appendJSONGroupHeader opened.
func appendJSONGroupTrailer(b []byte, r *exporter.Resource, scope exporter.Scope) []byte {
	b = append(b, ']')
	b, _ = appendJSONStringField(b, "schemaUrl", scope.SchemaURL, true)
	b = append(b, `}]`...)
	if r != nil {
		b, _ = appendJSONStringField(b, "schemaUrl", r.SchemaURL, true)
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

func appendJSONAttributes(b []byte, name string, attrs []exporter.Attribute, comma bool) []byte {
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
		b = wire.AppendJSONString(b, attrs[i].Key)
		b = append(b, `,"value":`...)
		b = appendJSONAnyValue(b, &attrs[i].Value)
		b = append(b, '}')
	}
	return append(b, ']')
}

func appendJSONAnyValue(b []byte, v *exporter.Value) []byte {
	switch v.Type {
	case exporter.TypeString:
		b = append(b, `{"stringValue":`...)
		b = wire.AppendJSONString(b, v.AsString())
	case exporter.TypeBool:
		if v.AsBool() {
			return append(b, `{"boolValue":true}`...)
		}
		return append(b, `{"boolValue":false}`...)
	case exporter.TypeInt:
		b = append(b, `{"intValue":"`...)
		b = strconv.AppendInt(b, v.AsInt(), 10)
		b = append(b, '"')
	case exporter.TypeFloat:
		b = append(b, `{"doubleValue":`...)
		b = wire.AppendJSONFloat(b, v.AsFloat())
	case exporter.TypeStringSlice:
		b = append(b, `{"arrayValue":{`...)
		if len(v.AsStringSlice()) > 0 {
			b = append(b, `"values":[`...)
			for i, s := range v.AsStringSlice() {
				if i > 0 {
					b = append(b, ',')
				}
				b = append(b, `{"stringValue":`...)
				b = wire.AppendJSONString(b, s)
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
	return wire.AppendJSONString(b, value), true
}

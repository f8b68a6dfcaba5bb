package exporter

import (
	"context"
	"strconv"
	"time"

	"github.com/trace-exporter/trace-exporter/schema"
)

func init() { Register(string(schema.ExporterHTTPJSON), newHTTPJSONExporter) }

// httpJSONExporter POSTs each batch to a webhook as a JSON array of plain
// span objects (Content-Type: application/json), with the config's headers,
// compression and TLS, and the shared HTTP retry rules (HTTPSender).
//
// The span object is a stable, documented format (README, "Backends"):
// every key is always present, in this order:
//
//	trace_id, span_id, parent_span_id ("" for none): lowercase hex
//	trace_state: W3C tracestate ("" for none)
//	name
//	kind: "unspecified", "internal", "server", "client", "producer", "consumer"
//	start_time, end_time: RFC 3339 UTC with nanoseconds
//	start_time_unix_nano, end_time_unix_nano: decimal strings (exact; too
//	  large for a JSON number read as a double)
//	duration_ms: number
//	status: "unset", "ok", "error"; status_message
//	attributes: object; values are strings, numbers, booleans or arrays of
//	  strings; non-finite numbers are the strings "NaN", "Infinity",
//	  "-Infinity"
//	dropped_attributes_count: number
//	events: array of {name, time, time_unix_nano, attributes}
//	resource: object of the resource attributes (service.name ...)
//	scope: {name, version}
//
// Strings are valid UTF-8 (invalid bytes become U+FFFD). New keys may be
// added in later versions; existing ones keep their meaning.
type httpJSONExporter struct {
	sender *HTTPSender
}

func newHTTPJSONExporter(cfg *schema.Config, set Settings) (Exporter, error) {
	s, err := NewHTTPSender(cfg, contentTypeJSON, set)
	if err != nil {
		return nil, err
	}
	return &httpJSONExporter{sender: s}, nil
}

func (e *httpJSONExporter) Export(ctx context.Context, batch Batch) error {
	body := getBuffer()
	*body = appendPlainSpans(*body, &batch)
	_, err := e.sender.sendPooled(ctx, body)
	return err
}

func (e *httpJSONExporter) Shutdown(context.Context) error {
	e.sender.Close()
	return nil
}

var kindNames = [...]string{"unspecified", "internal", "server", "client", "producer", "consumer"}

var statusNames = [...]string{"unset", "ok", "error"}

// appendPlainSpans appends the batch as the http_json array.
func appendPlainSpans(b []byte, batch *Batch) []byte {
	// The resource and scope are the same for every span: encoded once.
	tail := getBuffer()
	*tail = append(*tail, `,"resource":`...)
	if batch.Resource != nil {
		*tail = appendPlainAttributes(*tail, batch.Resource.Attributes)
	} else {
		*tail = append(*tail, `{}`...)
	}
	*tail = append(*tail, `,"scope":{"name":`...)
	*tail = appendJSONString(*tail, batch.Scope.Name)
	*tail = append(*tail, `,"version":`...)
	*tail = appendJSONString(*tail, batch.Scope.Version)
	*tail = append(*tail, `}}`...)

	b = append(b, '[')
	for i := range batch.Spans {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendPlainSpan(b, &batch.Spans[i])
		b = append(b, *tail...)
	}
	putBuffer(tail)
	return append(b, ']')
}

// appendPlainSpan writes one span object without its closing brace (the
// shared resource and scope follow).
func appendPlainSpan(b []byte, s *Span) []byte {
	b = append(b, `{"trace_id":"`...)
	b = appendHex(b, s.TraceID[:])
	b = append(b, `","span_id":"`...)
	b = appendHex(b, s.SpanID[:])
	b = append(b, `","parent_span_id":"`...)
	if s.ParentSpanID.IsValid() {
		b = appendHex(b, s.ParentSpanID[:])
	}
	b = append(b, `","trace_state":`...)
	b = appendJSONString(b, s.TraceState)
	b = append(b, `,"name":`...)
	b = appendJSONString(b, s.Name)
	b = append(b, `,"kind":"`...)
	kind := "unspecified"
	if int(s.Kind) >= 0 && int(s.Kind) < len(kindNames) {
		kind = kindNames[s.Kind]
	}
	b = append(b, kind...)
	b = append(b, `","start_time":`...)
	b = appendRFC3339(b, s.StartUnixNano)
	b = append(b, `,"end_time":`...)
	b = appendRFC3339(b, s.EndUnixNano)
	b = append(b, `,"start_time_unix_nano":"`...)
	b = strconv.AppendUint(b, s.StartUnixNano, 10)
	b = append(b, `","end_time_unix_nano":"`...)
	b = strconv.AppendUint(b, s.EndUnixNano, 10)
	b = append(b, `","duration_ms":`...)
	var durationNs uint64
	if s.EndUnixNano > s.StartUnixNano {
		durationNs = s.EndUnixNano - s.StartUnixNano
	}
	b = strconv.AppendFloat(b, float64(durationNs)/1e6, 'f', -1, 64)
	b = append(b, `,"status":"`...)
	status := "unset"
	if int(s.Status) >= 0 && int(s.Status) < len(statusNames) {
		status = statusNames[s.Status]
	}
	b = append(b, status...)
	b = append(b, `","status_message":`...)
	b = appendJSONString(b, s.StatusMessage)
	b = append(b, `,"attributes":`...)
	b = appendPlainAttributes(b, s.Attributes)
	b = append(b, `,"dropped_attributes_count":`...)
	b = strconv.AppendUint(b, uint64(s.DroppedAttributes), 10)
	b = append(b, `,"events":[`...)
	for i := range s.Events {
		ev := &s.Events[i]
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"name":`...)
		b = appendJSONString(b, ev.Name)
		b = append(b, `,"time":`...)
		b = appendRFC3339(b, ev.TimeUnixNano)
		b = append(b, `,"time_unix_nano":"`...)
		b = strconv.AppendUint(b, ev.TimeUnixNano, 10)
		b = append(b, `","attributes":`...)
		b = appendPlainAttributes(b, ev.Attributes)
		b = append(b, '}')
	}
	return append(b, ']')
}

// appendPlainAttributes writes attributes as a JSON object of plain values.
func appendPlainAttributes(b []byte, attrs []Attribute) []byte {
	b = append(b, '{')
	for i := range attrs {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, attrs[i].Key)
		b = append(b, ':')
		v := &attrs[i].Value
		switch v.Type {
		case TypeString:
			b = appendJSONString(b, v.AsString())
		case TypeInt:
			b = strconv.AppendInt(b, v.AsInt(), 10)
		case TypeFloat:
			b = appendJSONFloat(b, v.AsFloat())
		case TypeBool:
			b = strconv.AppendBool(b, v.AsBool())
		case TypeStringSlice:
			b = appendJSONStringArray(b, v.AsStringSlice())
		default:
			b = append(b, "null"...)
		}
	}
	return append(b, '}')
}

// appendRFC3339 writes a quoted RFC 3339 UTC time with nanoseconds.
func appendRFC3339(b []byte, ns uint64) []byte {
	b = append(b, '"')
	b = time.Unix(0, int64(ns)).UTC().AppendFormat(b, time.RFC3339Nano)
	return append(b, '"')
}

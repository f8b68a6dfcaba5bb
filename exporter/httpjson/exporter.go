// Package httpjson is the webhook backend (exporter: http_json): each batch
// is one POST of a JSON array of plain span objects to traces_endpoint.
package httpjson

import (
	"context"
	"strconv"

	"github.com/trace-exporter/trace-exporter/exporter"
	"github.com/trace-exporter/trace-exporter/exporter/internal/spanjson"
	"github.com/trace-exporter/trace-exporter/exporter/internal/wire"
	"github.com/trace-exporter/trace-exporter/schema"
)

func init() { exporter.Register(string(schema.ExporterHTTPJSON), newExporter) }

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
	sender *exporter.HTTPSender
}

func newExporter(cfg *schema.Config, set exporter.Settings) (exporter.Exporter, error) {
	s, err := exporter.NewHTTPSender(cfg, "application/json", set)
	if err != nil {
		return nil, err
	}
	return &httpJSONExporter{sender: s}, nil
}

func (e *httpJSONExporter) Export(ctx context.Context, batch exporter.Batch) error {
	body := exporter.GetBuffer()
	*body = appendPlainSpans(*body, &batch)
	_, err := e.sender.SendPooled(ctx, body)
	return err
}

func (e *httpJSONExporter) Shutdown(context.Context) error {
	e.sender.Close()
	return nil
}

// appendPlainSpans appends the batch as the http_json array.
func appendPlainSpans(b []byte, batch *exporter.Batch) []byte {
	// The resource and scope end every span object: encoded once per
	// resource (a batch has one, or a few rendered per request).
	tail := wire.GetBuffer()
	var res *exporter.Resource
	b = append(b, '[')
	for i := range batch.Spans {
		if i > 0 {
			b = append(b, ',')
		}
		if r := batch.ResourceOf(i); i == 0 || r != res {
			res = r
			*tail = appendResourceAndScope((*tail)[:0], r, &batch.Scope)
		}
		b = appendPlainSpan(b, &batch.Spans[i])
		b = append(b, *tail...)
	}
	wire.PutBuffer(tail)
	return append(b, ']')
}

// appendResourceAndScope writes the end of a span object: its resource and
// scope, and the closing brace.
func appendResourceAndScope(b []byte, r *exporter.Resource, scope *exporter.Scope) []byte {
	b = append(b, `,"resource":`...)
	if r != nil {
		b = spanjson.AppendAttributes(b, r.Attributes)
	} else {
		b = append(b, `{}`...)
	}
	b = append(b, `,"scope":{"name":`...)
	b = wire.AppendJSONString(b, scope.Name)
	b = append(b, `,"version":`...)
	b = wire.AppendJSONString(b, scope.Version)
	return append(b, `}}`...)
}

// appendPlainSpan writes one span object without its closing brace (the
// shared resource and scope follow).
func appendPlainSpan(b []byte, s *exporter.Span) []byte {
	b = append(b, `{"trace_id":"`...)
	b = wire.AppendHex(b, s.TraceID[:])
	b = append(b, `","span_id":"`...)
	b = wire.AppendHex(b, s.SpanID[:])
	b = append(b, `","parent_span_id":"`...)
	if s.ParentSpanID.IsValid() {
		b = wire.AppendHex(b, s.ParentSpanID[:])
	}
	b = append(b, `","trace_state":`...)
	b = wire.AppendJSONString(b, s.TraceState)
	b = append(b, `,"name":`...)
	b = wire.AppendJSONString(b, s.Name)
	b = append(b, `,"kind":"`...)
	b = append(b, s.Kind.String()...)
	b = append(b, `","start_time":`...)
	b = wire.AppendRFC3339(b, s.StartUnixNano)
	b = append(b, `,"end_time":`...)
	b = wire.AppendRFC3339(b, s.EndUnixNano)
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
	b = append(b, s.Status.String()...)
	b = append(b, `","status_message":`...)
	b = wire.AppendJSONString(b, s.StatusMessage)
	b = append(b, `,"attributes":`...)
	b = spanjson.AppendAttributes(b, s.Attributes)
	b = append(b, `,"dropped_attributes_count":`...)
	b = strconv.AppendUint(b, uint64(s.DroppedAttributes), 10)
	b = append(b, `,"events":[`...)
	for i := range s.Events {
		ev := &s.Events[i]
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"name":`...)
		b = wire.AppendJSONString(b, ev.Name)
		b = append(b, `,"time":`...)
		b = wire.AppendRFC3339(b, ev.TimeUnixNano)
		b = append(b, `,"time_unix_nano":"`...)
		b = strconv.AppendUint(b, ev.TimeUnixNano, 10)
		b = append(b, `","attributes":`...)
		b = spanjson.AppendAttributes(b, ev.Attributes)
		b = append(b, '}')
	}
	return append(b, ']')
}

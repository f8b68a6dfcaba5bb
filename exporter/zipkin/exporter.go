// Package zipkin is the Zipkin backend (exporter: zipkin): each batch is
// one POST of a Zipkin v2 JSON array to traces_endpoint (…/api/v2/spans).
package zipkin

import (
	"context"
	"net/netip"
	"strconv"

	"github.com/trace-exporter/trace-exporter/exporter"
	"github.com/trace-exporter/trace-exporter/exporter/internal/spanjson"
	"github.com/trace-exporter/trace-exporter/exporter/internal/wire"
	"github.com/trace-exporter/trace-exporter/schema"
)

func init() { exporter.Register(string(schema.ExporterZipkin), newExporter) }

// zipkinExporter POSTs batches as a Zipkin v2 JSON array to
// traces_endpoint (…/api/v2/spans); any 2xx is success, as for Kong's
// zipkin plugin, and failures follow the shared HTTP rules (HTTPSender).
//
// Mapping, after Kong's zipkin plugin and OpenTelemetry's Zipkin exporter
// specification:
//   - traceId (32 hex), id, parentId; kind SERVER/CLIENT/PRODUCER/CONSUMER
//     (internal spans have none); timestamp and duration in µs (a span
//     shorter than 1 µs lasts 1 µs: Zipkin reads 0 as "unknown");
//   - localEndpoint.serviceName = the resource's service.name ("kong");
//   - remoteEndpoint: for the SERVER span the client (client.address,
//     client.port), as Kong does; for CLIENT spans the balancer try's peer
//     (network.peer.address/port) and serviceName = peer.service, else
//     server.address;
//   - tags: every span attribute as a string (arrays as JSON arrays), empty
//     values left out (Zipkin wants none); other resource attributes and
//     otel.scope.name/version; for an error status otel.status_code=ERROR,
//     error=true and otel.status_description (the message); and
//     otel.dropped_attributes_count;
//   - events become annotations: the name, followed by its attributes as a
//     JSON object when it has any.
type zipkinExporter struct {
	sender *exporter.HTTPSender
}

func newExporter(cfg *schema.Config, set exporter.Settings) (exporter.Exporter, error) {
	s, err := exporter.NewHTTPSender(cfg, "application/json", set)
	if err != nil {
		return nil, err
	}
	return &zipkinExporter{sender: s}, nil
}

func (e *zipkinExporter) Export(ctx context.Context, batch exporter.Batch) error {
	body := exporter.GetBuffer()
	*body = appendZipkinSpans(*body, &batch)
	_, err := e.sender.SendPooled(ctx, body)
	return err
}

func (e *zipkinExporter) Shutdown(context.Context) error {
	e.sender.Close()
	return nil
}

// appendZipkinSpans appends the batch as a Zipkin v2 JSON array.
func appendZipkinSpans(b []byte, batch *exporter.Batch) []byte {
	var (
		res          *exporter.Resource
		service      string
		resourceTags []exporter.Attribute
	)
	b = append(b, '[')
	for i := range batch.Spans {
		if i > 0 {
			b = append(b, ',')
		}
		// Spans of a batch share a resource, or a few (rendered per
		// request): read one only when it changes.
		if r := batch.ResourceOf(i); i == 0 || r != res {
			res = r
			service, resourceTags = zipkinService(r, resourceTags[:0])
		}
		b = appendZipkinSpan(b, &batch.Spans[i], service, resourceTags, &batch.Scope)
	}
	return append(b, ']')
}

// zipkinService splits a resource into Zipkin's service name and the tags
// its other attributes become.
func zipkinService(r *exporter.Resource, tags []exporter.Attribute) (string, []exporter.Attribute) {
	service := exporter.DefaultServiceName
	if r == nil {
		return service, tags
	}
	for _, a := range r.Attributes {
		if a.Key == "service.name" {
			service = a.Value.AsString()
			continue
		}
		tags = append(tags, a)
	}
	return service, tags
}

func appendZipkinSpan(b []byte, s *exporter.Span, service string, resourceTags []exporter.Attribute, scope *exporter.Scope) []byte {
	b = append(b, `{"traceId":"`...)
	b = wire.AppendHex(b, s.TraceID[:])
	b = append(b, `","id":"`...)
	b = wire.AppendHex(b, s.SpanID[:])
	b = append(b, '"')
	if s.ParentSpanID.IsValid() {
		b = append(b, `,"parentId":"`...)
		b = wire.AppendHex(b, s.ParentSpanID[:])
		b = append(b, '"')
	}
	b = append(b, `,"name":`...)
	b = wire.AppendJSONString(b, s.Name)
	if kind := zipkinKind(s.Kind); kind != "" {
		b = append(b, `,"kind":"`...)
		b = append(b, kind...)
		b = append(b, '"')
	}
	if s.StartUnixNano > 0 {
		b = append(b, `,"timestamp":`...)
		b = strconv.AppendUint(b, s.StartUnixNano/1000, 10)
	}
	if s.EndUnixNano > s.StartUnixNano {
		b = append(b, `,"duration":`...)
		b = strconv.AppendUint(b, max((s.EndUnixNano-s.StartUnixNano)/1000, 1), 10)
	}
	b = append(b, `,"localEndpoint":{"serviceName":`...)
	b = wire.AppendJSONString(b, service)
	b = append(b, '}')
	b = appendZipkinRemoteEndpoint(b, s)
	if len(s.Events) > 0 {
		b = append(b, `,"annotations":[`...)
		for i := range s.Events {
			ev := &s.Events[i]
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, `{"timestamp":`...)
			b = strconv.AppendUint(b, ev.TimeUnixNano/1000, 10)
			b = append(b, `,"value":`...)
			value := ev.Name
			if len(ev.Attributes) > 0 {
				value += " " + string(spanjson.AppendAttributes(nil, ev.Attributes))
			}
			b = wire.AppendJSONString(b, value)
			b = append(b, '}')
		}
		b = append(b, ']')
	}
	b = append(b, `,"tags":{`...)
	comma := false
	tag := func(k string, v exporter.Value) {
		if v.Type == exporter.TypeString && v.AsString() == "" {
			return
		}
		if comma {
			b = append(b, ',')
		}
		comma = true
		b = wire.AppendJSONString(b, k)
		b = append(b, ':')
		b = appendZipkinTagValue(b, v)
	}
	for _, a := range s.Attributes {
		tag(a.Key, a.Value)
	}
	for _, a := range resourceTags {
		if _, own := exporter.FindAttribute(s.Attributes, a.Key); !own {
			tag(a.Key, a.Value)
		}
	}
	tag("otel.scope.name", exporter.String("", scope.Name).Value)
	tag("otel.scope.version", exporter.String("", scope.Version).Value)
	switch s.Status {
	case exporter.StatusError:
		// error is "true", as Kong's zipkin plugin sends it, and the message
		// goes in otel.status_description: the Collector's Zipkin receiver
		// (Jaeger's too) turns that pair into an OTLP error status, while a
		// message in error would survive as a stray "error" attribute.
		tag("otel.status_code", exporter.String("", "ERROR").Value)
		tag("error", exporter.String("", "true").Value)
		tag("otel.status_description", exporter.String("", s.StatusMessage).Value)
	case exporter.StatusOK:
		tag("otel.status_code", exporter.String("", "OK").Value)
	}
	if s.DroppedAttributes > 0 {
		tag("otel.dropped_attributes_count", exporter.Int("", int64(s.DroppedAttributes)).Value)
	}
	return append(b, `}}`...)
}

func zipkinKind(k exporter.SpanKind) string {
	switch k {
	case exporter.KindServer:
		return "SERVER"
	case exporter.KindClient:
		return "CLIENT"
	case exporter.KindProducer:
		return "PRODUCER"
	case exporter.KindConsumer:
		return "CONSUMER"
	}
	return ""
}

// appendZipkinRemoteEndpoint writes the peer of the span: the client for a
// SERVER span, the balancer try's target for a CLIENT span.
func appendZipkinRemoteEndpoint(b []byte, s *exporter.Span) []byte {
	var service, addr string
	var port int64
	switch s.Kind {
	case exporter.KindServer:
		addr = stringAttribute(s.Attributes, "client.address")
		port = intAttribute(s.Attributes, "client.port")
	case exporter.KindClient, exporter.KindProducer:
		service = stringAttribute(s.Attributes, "peer.service")
		if service == "" {
			service = stringAttribute(s.Attributes, "server.address")
		}
		addr = stringAttribute(s.Attributes, "network.peer.address")
		port = intAttribute(s.Attributes, "network.peer.port")
	default:
		return b
	}
	ip, err := netip.ParseAddr(addr)
	hasIP := err == nil
	hasPort := port > 0 && port < 65536
	if service == "" && !hasIP && !hasPort {
		return b
	}
	b = append(b, `,"remoteEndpoint":{`...)
	comma := false
	if service != "" {
		b = append(b, `"serviceName":`...)
		b = wire.AppendJSONString(b, service)
		comma = true
	}
	if hasIP {
		if comma {
			b = append(b, ',')
		}
		if ip.Is4() || ip.Is4In6() {
			b = append(b, `"ipv4":"`...)
			b = ip.Unmap().AppendTo(b)
		} else {
			b = append(b, `"ipv6":"`...)
			b = ip.WithZone("").AppendTo(b)
		}
		b = append(b, '"')
		comma = true
	}
	if hasPort {
		if comma {
			b = append(b, ',')
		}
		b = append(b, `"port":`...)
		b = strconv.AppendInt(b, port, 10)
	}
	return append(b, '}')
}

// appendZipkinTagValue writes a value as the JSON string Zipkin tags need.
func appendZipkinTagValue(b []byte, v exporter.Value) []byte {
	switch v.Type {
	case exporter.TypeString:
		return wire.AppendJSONString(b, v.AsString())
	case exporter.TypeInt:
		b = append(b, '"')
		b = strconv.AppendInt(b, v.AsInt(), 10)
		return append(b, '"')
	case exporter.TypeFloat:
		b = append(b, '"')
		b = strconv.AppendFloat(b, v.AsFloat(), 'g', -1, 64)
		return append(b, '"')
	case exporter.TypeBool:
		return strconv.AppendQuote(b, strconv.FormatBool(v.AsBool()))
	case exporter.TypeStringSlice:
		return wire.AppendJSONString(b, string(wire.AppendJSONStringArray(nil, v.AsStringSlice())))
	}
	return append(b, `""`...)
}

// stringAttribute returns a string attribute's value ("" when absent).
func stringAttribute(attrs []exporter.Attribute, key string) string {
	if v, ok := exporter.FindAttribute(attrs, key); ok {
		return v.AsString()
	}
	return ""
}

// intAttribute returns an integer attribute's value (0 when absent).
func intAttribute(attrs []exporter.Attribute, key string) int64 {
	if v, ok := exporter.FindAttribute(attrs, key); ok && v.Type == exporter.TypeInt {
		return v.AsInt()
	}
	return 0
}

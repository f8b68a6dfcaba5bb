package exporter

import (
	"context"
	"net/netip"
	"strconv"

	"github.com/trace-exporter/trace-exporter/schema"
)

func init() { Register(string(schema.ExporterZipkin), newZipkinExporter) }

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
	sender *HTTPSender
}

func newZipkinExporter(cfg *schema.Config, set Settings) (Exporter, error) {
	s, err := NewHTTPSender(cfg, contentTypeJSON, set)
	if err != nil {
		return nil, err
	}
	return &zipkinExporter{sender: s}, nil
}

func (e *zipkinExporter) Export(ctx context.Context, batch Batch) error {
	body := getBuffer()
	*body = appendZipkinSpans(*body, &batch)
	_, err := e.sender.sendPooled(ctx, body)
	return err
}

func (e *zipkinExporter) Shutdown(context.Context) error {
	e.sender.Close()
	return nil
}

// appendZipkinSpans appends the batch as a Zipkin v2 JSON array.
func appendZipkinSpans(b []byte, batch *Batch) []byte {
	service := DefaultServiceName
	var resourceTags []Attribute
	if batch.Resource != nil {
		for _, a := range batch.Resource.Attributes {
			if a.Key == "service.name" {
				service = a.Value.AsString()
				continue
			}
			resourceTags = append(resourceTags, a)
		}
	}
	b = append(b, '[')
	for i := range batch.Spans {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendZipkinSpan(b, &batch.Spans[i], service, resourceTags, &batch.Scope)
	}
	return append(b, ']')
}

func appendZipkinSpan(b []byte, s *Span, service string, resourceTags []Attribute, scope *Scope) []byte {
	b = append(b, `{"traceId":"`...)
	b = appendHex(b, s.TraceID[:])
	b = append(b, `","id":"`...)
	b = appendHex(b, s.SpanID[:])
	b = append(b, '"')
	if s.ParentSpanID.IsValid() {
		b = append(b, `,"parentId":"`...)
		b = appendHex(b, s.ParentSpanID[:])
		b = append(b, '"')
	}
	b = append(b, `,"name":`...)
	b = appendJSONString(b, s.Name)
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
	b = appendJSONString(b, service)
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
				value += " " + string(appendPlainAttributes(nil, ev.Attributes))
			}
			b = appendJSONString(b, value)
			b = append(b, '}')
		}
		b = append(b, ']')
	}
	b = append(b, `,"tags":{`...)
	comma := false
	tag := func(k string, v Value) {
		if v.Type == TypeString && v.AsString() == "" {
			return
		}
		if comma {
			b = append(b, ',')
		}
		comma = true
		b = appendJSONString(b, k)
		b = append(b, ':')
		b = appendZipkinTagValue(b, v)
	}
	for _, a := range s.Attributes {
		tag(a.Key, a.Value)
	}
	for _, a := range resourceTags {
		if !hasAttribute(s.Attributes, a.Key) {
			tag(a.Key, a.Value)
		}
	}
	tag("otel.scope.name", String("", scope.Name).Value)
	tag("otel.scope.version", String("", scope.Version).Value)
	switch s.Status {
	case StatusError:
		// error is "true", as Kong's zipkin plugin sends it, and the message
		// goes in otel.status_description: the Collector's Zipkin receiver
		// (Jaeger's too) turns that pair into an OTLP error status, while a
		// message in error would survive as a stray "error" attribute.
		tag("otel.status_code", String("", "ERROR").Value)
		tag("error", String("", "true").Value)
		tag("otel.status_description", String("", s.StatusMessage).Value)
	case StatusOK:
		tag("otel.status_code", String("", "OK").Value)
	}
	if s.DroppedAttributes > 0 {
		tag("otel.dropped_attributes_count", Int("", int64(s.DroppedAttributes)).Value)
	}
	return append(b, `}}`...)
}

func zipkinKind(k SpanKind) string {
	switch k {
	case KindServer:
		return "SERVER"
	case KindClient:
		return "CLIENT"
	case KindProducer:
		return "PRODUCER"
	case KindConsumer:
		return "CONSUMER"
	}
	return ""
}

// appendZipkinRemoteEndpoint writes the peer of the span: the client for a
// SERVER span, the balancer try's target for a CLIENT span.
func appendZipkinRemoteEndpoint(b []byte, s *Span) []byte {
	var service, addr string
	var port int64
	switch s.Kind {
	case KindServer:
		addr = stringAttribute(s.Attributes, "client.address")
		port = intAttribute(s.Attributes, "client.port")
	case KindClient, KindProducer:
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
		b = appendJSONString(b, service)
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
func appendZipkinTagValue(b []byte, v Value) []byte {
	switch v.Type {
	case TypeString:
		return appendJSONString(b, v.AsString())
	case TypeInt:
		b = append(b, '"')
		b = strconv.AppendInt(b, v.AsInt(), 10)
		return append(b, '"')
	case TypeFloat:
		b = append(b, '"')
		b = strconv.AppendFloat(b, v.AsFloat(), 'g', -1, 64)
		return append(b, '"')
	case TypeBool:
		return strconv.AppendQuote(b, strconv.FormatBool(v.AsBool()))
	case TypeStringSlice:
		return appendJSONString(b, string(appendJSONStringArray(nil, v.AsStringSlice())))
	}
	return append(b, `""`...)
}

func appendJSONStringArray(b []byte, vs []string) []byte {
	b = append(b, '[')
	for i, s := range vs {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, s)
	}
	return append(b, ']')
}

func hasAttribute(attrs []Attribute, key string) bool {
	for i := range attrs {
		if attrs[i].Key == key {
			return true
		}
	}
	return false
}

func stringAttribute(attrs []Attribute, key string) string {
	for i := range attrs {
		if attrs[i].Key == key && attrs[i].Value.Type == TypeString {
			return attrs[i].Value.AsString()
		}
	}
	return ""
}

func intAttribute(attrs []Attribute, key string) int64 {
	for i := range attrs {
		if attrs[i].Key == key && attrs[i].Value.Type == TypeInt {
			return attrs[i].Value.AsInt()
		}
	}
	return 0
}

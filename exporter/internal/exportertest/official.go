package exportertest

import (
	"strings"

	"github.com/trace-exporter/trace-exporter/exporter"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
)

// ToOTLP builds the official generated structs for a batch: the expected
// value of round-trip tests and the "proto-marshal" benchmark peer. Spans
// are grouped by resource (a span's own, else the batch's) in order of
// first use, as the encoders group them. Invalid UTF-8 is replaced as the
// encoders replace it.
func ToOTLP(b *exporter.Batch) *coltracepb.ExportTraceServiceRequest {
	var order []*exporter.Resource
	groups := map[*exporter.Resource]*tracepb.ScopeSpans{}
	scope := func() *tracepb.ScopeSpans {
		return &tracepb.ScopeSpans{
			Scope:     &commonpb.InstrumentationScope{Name: valid(b.Scope.Name), Version: valid(b.Scope.Version)},
			SchemaUrl: valid(b.Scope.SchemaURL),
		}
	}
	add := func(r *exporter.Resource) *tracepb.ScopeSpans {
		ss, ok := groups[r]
		if !ok {
			ss = scope()
			groups[r] = ss
			order = append(order, r)
		}
		return ss
	}
	for i := range b.Spans {
		ss := add(b.ResourceOf(i))
		ss.Spans = append(ss.Spans, toOTLPSpan(&b.Spans[i]))
	}
	if len(b.Spans) == 0 {
		add(b.Resource)
	}
	req := &coltracepb.ExportTraceServiceRequest{}
	for _, r := range order {
		rs := &tracepb.ResourceSpans{ScopeSpans: []*tracepb.ScopeSpans{groups[r]}}
		if r != nil {
			rs.Resource = &resourcepb.Resource{Attributes: toOTLPAttributes(r.Attributes)}
			rs.SchemaUrl = valid(r.SchemaURL)
		}
		req.ResourceSpans = append(req.ResourceSpans, rs)
	}
	return req
}

func toOTLPSpan(s *exporter.Span) *tracepb.Span {
	out := &tracepb.Span{
		TraceId:                s.TraceID[:],
		SpanId:                 s.SpanID[:],
		TraceState:             valid(s.TraceState),
		Flags:                  s.Flags,
		Name:                   valid(s.Name),
		Kind:                   tracepb.Span_SpanKind(s.Kind),
		StartTimeUnixNano:      s.StartUnixNano,
		EndTimeUnixNano:        s.EndUnixNano,
		Attributes:             toOTLPAttributes(s.Attributes),
		DroppedAttributesCount: s.DroppedAttributes,
	}
	if s.ParentSpanID.IsValid() {
		out.ParentSpanId = s.ParentSpanID[:]
	}
	for _, ev := range s.Events {
		out.Events = append(out.Events, &tracepb.Span_Event{
			TimeUnixNano: ev.TimeUnixNano,
			Name:         valid(ev.Name),
			Attributes:   toOTLPAttributes(ev.Attributes),
		})
	}
	if s.Status != 0 || s.StatusMessage != "" {
		out.Status = &tracepb.Status{Code: tracepb.Status_StatusCode(s.Status), Message: valid(s.StatusMessage)}
	}
	return out
}

func toOTLPAttributes(attrs []exporter.Attribute) []*commonpb.KeyValue {
	if len(attrs) == 0 {
		return nil
	}
	out := make([]*commonpb.KeyValue, len(attrs))
	for i, a := range attrs {
		out[i] = &commonpb.KeyValue{Key: valid(a.Key), Value: toOTLPValue(a.Value)}
	}
	return out
}

func toOTLPValue(v exporter.Value) *commonpb.AnyValue {
	switch v.Type {
	case exporter.TypeString:
		return &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: valid(v.AsString())}}
	case exporter.TypeInt:
		return &commonpb.AnyValue{Value: &commonpb.AnyValue_IntValue{IntValue: v.AsInt()}}
	case exporter.TypeFloat:
		return &commonpb.AnyValue{Value: &commonpb.AnyValue_DoubleValue{DoubleValue: v.AsFloat()}}
	case exporter.TypeBool:
		return &commonpb.AnyValue{Value: &commonpb.AnyValue_BoolValue{BoolValue: v.AsBool()}}
	case exporter.TypeStringSlice:
		arr := &commonpb.ArrayValue{}
		for _, s := range v.AsStringSlice() {
			arr.Values = append(arr.Values, &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: valid(s)}})
		}
		return &commonpb.AnyValue{Value: &commonpb.AnyValue_ArrayValue{ArrayValue: arr}}
	}
	return &commonpb.AnyValue{}
}

func valid(s string) string { return strings.ToValidUTF8(s, "\uFFFD") }

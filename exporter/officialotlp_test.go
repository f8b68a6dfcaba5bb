package exporter

import (
	"strings"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
)

// toOTLP builds the official generated structs for a batch: the expected
// value of round-trip tests and the "proto-marshal" benchmark peer. Invalid
// UTF-8 is replaced as our encoders replace it.
func toOTLP(b *Batch) *coltracepb.ExportTraceServiceRequest {
	rs := &tracepb.ResourceSpans{}
	if b.Resource != nil {
		rs.Resource = &resourcepb.Resource{Attributes: toOTLPAttributes(b.Resource.Attributes)}
	}
	ss := &tracepb.ScopeSpans{Scope: &commonpb.InstrumentationScope{Name: valid(b.Scope.Name), Version: valid(b.Scope.Version)}}
	for i := range b.Spans {
		ss.Spans = append(ss.Spans, toOTLPSpan(&b.Spans[i]))
	}
	rs.ScopeSpans = []*tracepb.ScopeSpans{ss}
	return &coltracepb.ExportTraceServiceRequest{ResourceSpans: []*tracepb.ResourceSpans{rs}}
}

func toOTLPSpan(s *Span) *tracepb.Span {
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

func toOTLPAttributes(attrs []Attribute) []*commonpb.KeyValue {
	if len(attrs) == 0 {
		return nil
	}
	out := make([]*commonpb.KeyValue, len(attrs))
	for i, a := range attrs {
		out[i] = &commonpb.KeyValue{Key: valid(a.Key), Value: toOTLPValue(a.Value)}
	}
	return out
}

func toOTLPValue(v Value) *commonpb.AnyValue {
	switch v.Type {
	case TypeString:
		return &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: valid(v.AsString())}}
	case TypeInt:
		return &commonpb.AnyValue{Value: &commonpb.AnyValue_IntValue{IntValue: v.AsInt()}}
	case TypeFloat:
		return &commonpb.AnyValue{Value: &commonpb.AnyValue_DoubleValue{DoubleValue: v.AsFloat()}}
	case TypeBool:
		return &commonpb.AnyValue{Value: &commonpb.AnyValue_BoolValue{BoolValue: v.AsBool()}}
	case TypeStringSlice:
		arr := &commonpb.ArrayValue{}
		for _, s := range v.AsStringSlice() {
			arr.Values = append(arr.Values, &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: valid(s)}})
		}
		return &commonpb.AnyValue{Value: &commonpb.AnyValue_ArrayValue{ArrayValue: arr}}
	}
	return &commonpb.AnyValue{}
}

func valid(s string) string { return strings.ToValidUTF8(s, "\uFFFD") }

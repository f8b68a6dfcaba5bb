package waterfall

import (
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"time"

	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
)

// Span is the little the waterfall needs to know about a span. Converters
// from OTLP types are below; other sources (Jaeger's query API) fill it in
// themselves.
type Span struct {
	TraceID  string // hex
	SpanID   string // hex
	ParentID string // hex; "" for a root
	Name     string
	Kind     string // lowercase: server, client, internal, producer, consumer ("" unknown)
	Service  string
	Start    time.Time
	End      time.Time
	// Error marks a failed span (OTLP status ERROR); StatusMessage says why.
	Error         bool
	StatusMessage string
	// Attributes as display strings; only the keys in Options.Attributes
	// (or the defaults) are printed.
	Attributes map[string]string
}

// Trace is the spans of one trace id.
type Trace struct {
	TraceID string
	Spans   []Span
}

// FromOTLP converts the spans of an OTLP export (or of several) into
// traces, grouped by trace id in order of first appearance. service is
// each resource's service.name.
func FromOTLP(resourceSpans []*tracepb.ResourceSpans) []Trace {
	var order []string
	byID := map[string][]Span{}
	for _, rs := range resourceSpans {
		service := ""
		for _, kv := range rs.GetResource().GetAttributes() {
			if kv.GetKey() == "service.name" {
				service = kv.GetValue().GetStringValue()
			}
		}
		for _, ss := range rs.GetScopeSpans() {
			for _, sp := range ss.GetSpans() {
				s := FromOTLPSpan(sp)
				s.Service = service
				if _, ok := byID[s.TraceID]; !ok {
					order = append(order, s.TraceID)
				}
				byID[s.TraceID] = append(byID[s.TraceID], s)
			}
		}
	}
	out := make([]Trace, len(order))
	for i, id := range order {
		out[i] = Trace{TraceID: id, Spans: byID[id]}
	}
	return out
}

// FromOTLPSpan converts one OTLP span (Service is left empty: it lives on
// the resource).
func FromOTLPSpan(sp *tracepb.Span) Span {
	s := Span{
		TraceID:       hex.EncodeToString(sp.GetTraceId()),
		SpanID:        hex.EncodeToString(sp.GetSpanId()),
		ParentID:      hex.EncodeToString(sp.GetParentSpanId()),
		Name:          sp.GetName(),
		Kind:          kindName(sp.GetKind()),
		Start:         time.Unix(0, int64(sp.GetStartTimeUnixNano())).UTC(),
		End:           time.Unix(0, int64(sp.GetEndTimeUnixNano())).UTC(),
		Error:         sp.GetStatus().GetCode() == tracepb.Status_STATUS_CODE_ERROR,
		StatusMessage: sp.GetStatus().GetMessage(),
		Attributes:    make(map[string]string, len(sp.GetAttributes())),
	}
	for _, kv := range sp.GetAttributes() {
		s.Attributes[kv.GetKey()] = AnyValueString(kv.GetValue())
	}
	return s
}

func kindName(k tracepb.Span_SpanKind) string {
	switch k {
	case tracepb.Span_SPAN_KIND_SERVER:
		return "server"
	case tracepb.Span_SPAN_KIND_CLIENT:
		return "client"
	case tracepb.Span_SPAN_KIND_INTERNAL:
		return "internal"
	case tracepb.Span_SPAN_KIND_PRODUCER:
		return "producer"
	case tracepb.Span_SPAN_KIND_CONSUMER:
		return "consumer"
	}
	return ""
}

// AnyValueString renders an OTLP attribute value for display.
func AnyValueString(v *commonpb.AnyValue) string {
	switch x := v.GetValue().(type) {
	case *commonpb.AnyValue_StringValue:
		return x.StringValue
	case *commonpb.AnyValue_IntValue:
		return strconv.FormatInt(x.IntValue, 10)
	case *commonpb.AnyValue_DoubleValue:
		return strconv.FormatFloat(x.DoubleValue, 'g', -1, 64)
	case *commonpb.AnyValue_BoolValue:
		return strconv.FormatBool(x.BoolValue)
	case *commonpb.AnyValue_BytesValue:
		return hex.EncodeToString(x.BytesValue)
	case *commonpb.AnyValue_ArrayValue:
		parts := make([]string, len(x.ArrayValue.GetValues()))
		for i, e := range x.ArrayValue.GetValues() {
			parts[i] = AnyValueString(e)
		}
		return "[" + strings.Join(parts, ",") + "]"
	case *commonpb.AnyValue_KvlistValue:
		parts := make([]string, len(x.KvlistValue.GetValues()))
		for i, kv := range x.KvlistValue.GetValues() {
			parts[i] = fmt.Sprintf("%s=%s", kv.GetKey(), AnyValueString(kv.GetValue()))
		}
		return "{" + strings.Join(parts, ",") + "}"
	}
	return ""
}

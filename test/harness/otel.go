package harness

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	sdkresource "go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"
)

// OTLPExporter is an OpenTelemetry SDK span exporter that posts each batch
// to an OTLP/HTTP endpoint as protobuf, synchronously: with
// sdktrace.WithSyncer a span is stored in the backend when End returns.
// (The project's module does not carry the SDK's otlptracehttp exporter,
// and the conversion is small.)
type OTLPExporter struct {
	URL    string
	Client *http.Client
}

var _ sdktrace.SpanExporter = (*OTLPExporter)(nil)

// ExportSpans converts and posts the spans; an error if the backend does
// not answer 2xx.
func (e *OTLPExporter) ExportSpans(ctx context.Context, spans []sdktrace.ReadOnlySpan) error {
	if len(spans) == 0 {
		return nil
	}
	body, err := proto.Marshal(ToOTLP(spans))
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, e.URL, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/x-protobuf")
	hc := e.Client
	if hc == nil {
		hc = &http.Client{Timeout: 10 * time.Second}
	}
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("OTLP export to %s: HTTP %d: %s", e.URL, resp.StatusCode, msg)
	}
	return nil
}

// Shutdown has nothing to release.
func (e *OTLPExporter) Shutdown(context.Context) error { return nil }

// ToOTLP converts SDK spans to an OTLP export request, one resource per span
// (the backend groups them again).
func ToOTLP(spans []sdktrace.ReadOnlySpan) *coltracepb.ExportTraceServiceRequest {
	req := &coltracepb.ExportTraceServiceRequest{}
	for _, s := range spans {
		sc := s.SpanContext()
		tid, sid := sc.TraceID(), sc.SpanID()
		ps := &tracepb.Span{
			TraceId:           tid[:],
			SpanId:            sid[:],
			TraceState:        sc.TraceState().String(),
			Name:              s.Name(),
			Kind:              tracepb.Span_SpanKind(s.SpanKind()), // same numbering as OTLP
			StartTimeUnixNano: uint64(s.StartTime().UnixNano()),
			EndTimeUnixNano:   uint64(s.EndTime().UnixNano()),
			Attributes:        otlpAttributes(s.Attributes()),
		}
		if p := s.Parent(); p.SpanID().IsValid() {
			pid := p.SpanID()
			ps.ParentSpanId = pid[:]
		}
		if s.Status().Code == codes.Error {
			ps.Status = &tracepb.Status{Code: tracepb.Status_STATUS_CODE_ERROR, Message: s.Status().Description}
		}
		var resAttrs []attribute.KeyValue
		if r := s.Resource(); r != nil {
			resAttrs = r.Attributes()
		}
		req.ResourceSpans = append(req.ResourceSpans, &tracepb.ResourceSpans{
			Resource: &resourcepb.Resource{Attributes: otlpAttributes(resAttrs)},
			ScopeSpans: []*tracepb.ScopeSpans{{
				Scope: &commonpb.InstrumentationScope{Name: s.InstrumentationScope().Name},
				Spans: []*tracepb.Span{ps},
			}},
		})
	}
	return req
}

func otlpAttributes(kvs []attribute.KeyValue) []*commonpb.KeyValue {
	out := make([]*commonpb.KeyValue, 0, len(kvs))
	for _, kv := range kvs {
		var v *commonpb.AnyValue
		switch kv.Value.Type() {
		case attribute.BOOL:
			v = &commonpb.AnyValue{Value: &commonpb.AnyValue_BoolValue{BoolValue: kv.Value.AsBool()}}
		case attribute.INT64:
			v = &commonpb.AnyValue{Value: &commonpb.AnyValue_IntValue{IntValue: kv.Value.AsInt64()}}
		case attribute.FLOAT64:
			v = &commonpb.AnyValue{Value: &commonpb.AnyValue_DoubleValue{DoubleValue: kv.Value.AsFloat64()}}
		default:
			v = &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: kv.Value.Emit()}}
		}
		out = append(out, &commonpb.KeyValue{Key: string(kv.Key), Value: v})
	}
	return out
}

// NewTracerProvider is an SDK tracer provider for service exporting
// synchronously to an OTLP/HTTP endpoint, with the given sampler (nil:
// parent-based, always on for roots — the SDK default).
func NewTracerProvider(service, otlpURL string, sampler sdktrace.Sampler) *sdktrace.TracerProvider {
	if sampler == nil {
		sampler = sdktrace.ParentBased(sdktrace.AlwaysSample())
	}
	res := sdkresource.NewSchemaless(attribute.String("service.name", service))
	return sdktrace.NewTracerProvider(
		sdktrace.WithResource(res),
		sdktrace.WithSampler(sampler),
		sdktrace.WithSyncer(&OTLPExporter{URL: otlpURL}),
	)
}

// UpstreamSpan records what an instrumented upstream extracted and made.
type UpstreamSpan struct {
	TestID   string
	Incoming trace.SpanContext // extracted from the request headers
	Span     trace.SpanContext // the server span it started (not recorded when unsampled)
}

// TracingUpstream is an UpstreamOptions.Wrap that makes a SERVER span for
// every request from the propagation headers it received, with the given
// propagator and tracer provider (the way an instrumented service would),
// and reports it to seen.
func TracingUpstream(tp trace.TracerProvider, prop propagation.TextMapPropagator, seen func(UpstreamSpan)) func(http.Handler) http.Handler {
	tracer := tp.Tracer("e2e-upstream")
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			ctx := prop.Extract(r.Context(), propagation.HeaderCarrier(r.Header))
			ctx, span := tracer.Start(ctx, r.Method+" "+r.URL.Path,
				trace.WithSpanKind(trace.SpanKindServer),
				trace.WithAttributes(attribute.String("http.request.method", r.Method),
					attribute.String("url.path", r.URL.Path)))
			rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
			next.ServeHTTP(rec, r.WithContext(ctx))
			span.SetAttributes(attribute.Int("http.response.status_code", rec.status))
			if rec.status >= 500 {
				span.SetStatus(codes.Error, http.StatusText(rec.status))
			}
			span.End()
			if seen != nil {
				seen(UpstreamSpan{TestID: r.Header.Get(TestIDHeader),
					Incoming: trace.SpanContextFromContext(prop.Extract(context.Background(), propagation.HeaderCarrier(r.Header))),
					Span:     span.SpanContext()})
			}
		})
	}
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(code int) {
	r.status = code
	r.ResponseWriter.WriteHeader(code)
}

package bench

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/sdk/instrumentation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/trace-exporter/trace-exporter/exporter"
	"github.com/trace-exporter/trace-exporter/schema"
	"github.com/trace-exporter/trace-exporter/test/kafkatest"
	"github.com/trace-exporter/trace-exporter/test/otlpsink"
)

// exportBatch is the batch size of BenchmarkExport (the OTel SDK's default
// MaxExportBatchSize).
const exportBatch = 512

// BenchmarkExport measures one 512-span batch from the processor to a local
// sink that reads and discards it, per op:
//   - trace-exporter: Enqueue (request by request) into a pipeline with
//     max_batch_size 512, whose batcher cuts the batch, encodes it with the
//     protowire encoder and POSTs it (OTLP/HTTP protobuf, keep-alive, no
//     gzip);
//   - trace-exporter-kafka: the same pipeline with exporter kafka
//     (defaults: a message per trace keyed by its id, otlp_proto, acks
//     -1, no compression) into an in-process Kafka broker (kfake, 8
//     partitions, records acknowledged and discarded), until the pipeline
//     counts the batch exported;
//   - otel-sdk: the same spans as SDK ReadOnlySpans into a
//     BatchSpanProcessor (512 per batch), exported by otlptracehttp to the
//     same sink;
//   - proto-marshal: the naive encoder, no HTTP: the official
//     go.opentelemetry.io/proto/otlp structs built from our spans, then
//     proto.Marshal.
//
// The spans are the plugin's own, for the benchmark payloads (a third each
// of small-get, many-headers and retried requests), read back from an OTLP
// receiver.
func BenchmarkExport(b *testing.B) {
	groups := pluginSpans(b)
	report := func(b *testing.B) {
		b.ReportMetric(float64(b.N*exportBatch)/b.Elapsed().Seconds(), "spans/s")
	}
	b.Run("trace-exporter", func(b *testing.B) {
		sink := newDiscardSink(b)
		cfg := schema.Defaults()
		cfg.TracesEndpoint = sink.tracesURL()
		benchPipeline(b, &cfg, groups, func(*exporter.Handle, uint64) { sink.await(b) })
		report(b)
	})
	b.Run("trace-exporter-kafka", func(b *testing.B) {
		broker := kafkatest.Start(b, kfake.SeedTopics(8, "otlp_spans"), kfake.BlackholeProduce())
		cfg := schema.Defaults()
		cfg.Exporter = schema.ExporterKafka
		cfg.Kafka.Brokers = []string{broker.Addr()}
		benchPipeline(b, &cfg, groups, func(h *exporter.Handle, enqueued uint64) { awaitExported(b, h, enqueued) })
		report(b)
	})
	b.Run("otel-sdk", func(b *testing.B) {
		sink := newDiscardSink(b)
		p := newOTelPeer(b, sink.tracesURL(), sdktrace.WithMaxExportBatchSize(exportBatch))
		var spans []sdktrace.ReadOnlySpan
		for _, g := range groups {
			for i := range g {
				spans = append(spans, toSDKSpan(&g[i]))
			}
		}
		bsp := sdktrace.NewBatchSpanProcessor(p.exported, sdktrace.WithMaxExportBatchSize(exportBatch))
		b.Cleanup(func() { _ = bsp.Shutdown(context.Background()) })
		b.ReportAllocs()
		for b.Loop() {
			for _, s := range spans {
				bsp.OnEnd(s)
			}
			sink.await(b)
		}
		report(b)
	})
	b.Run("proto-marshal", func(b *testing.B) {
		var spans []exporter.Span
		for _, g := range groups {
			spans = append(spans, g...)
		}
		batch := exporter.Batch{Resource: exporter.NewResource(&schema.Config{}), Scope: exporter.NewScope(), Spans: spans}
		b.ReportAllocs()
		for b.Loop() {
			if _, err := proto.Marshal(toOTLP(&batch)); err != nil {
				b.Fatal(err)
			}
		}
		report(b)
	})
}

// benchPipeline runs the benchmark loop of a pipeline for cfg: each op
// enqueues one exportBatch-span batch, request by request, then waits with
// await (given the spans enqueued so far) until it is exported.
func benchPipeline(b *testing.B, cfg *schema.Config, groups [][]exporter.Span, await func(h *exporter.Handle, enqueued uint64)) {
	cfg.Queue.MaxBatchSize = exportBatch
	cfg.Queue.MaxCoalescingDelay = 60 // a batch leaves when it is full
	reg := exporter.NewRegistry(exporter.RegistryOptions{})
	b.Cleanup(func() { _ = reg.ShutdownAll(context.Background()) })
	h, err := reg.Acquire(cfg)
	if err != nil {
		b.Fatal(err)
	}
	var enqueued uint64
	b.ReportAllocs()
	for b.Loop() {
		for _, g := range groups {
			if !h.Enqueue(g) {
				b.Fatal("queue refused spans")
			}
		}
		enqueued += exportBatch
		await(h, enqueued)
	}
}

// awaitExported waits until the pipeline counts n spans exported: the
// brokers acknowledged them.
func awaitExported(tb testing.TB, h *exporter.Handle, n uint64) {
	deadline := time.Now().Add(10 * time.Second)
	for h.Stats().Exported < n {
		if s := h.Stats(); s.DroppedTotal() > 0 || time.Now().After(deadline) {
			tb.Fatalf("%d of %d spans exported: %+v", s.Exported, n, s)
		}
		time.Sleep(20 * time.Microsecond)
	}
}

// await waits for the next request at the sink.
func (s *discardSink) await(tb testing.TB) {
	select {
	case <-s.arrived:
	case <-time.After(10 * time.Second):
		tb.Fatal("no export request within 10 s")
	}
}

// pluginSpans runs the benchmark payloads through a plugin instance into
// an OTLP receiver and returns 512 of the spans it exported, grouped by
// request as the log handler enqueues them, each request with its own ids.
func pluginSpans(tb testing.TB) [][]exporter.Span {
	tb.Helper()
	sink := otlpsink.Start(tb)
	cfg, _ := json.Marshal(map[string]any{"traces_endpoint": sink.TracesURL(),
		"queue": map[string]any{"max_coalescing_delay": 0.01}})
	p, _ := newPluginInstance(tb, string(cfg))
	var perRequest []int
	total := 0
	for _, pl := range payloads(tb) {
		p.LogPayload(pl.text)
		var s kongSerialize
		if err := json.Unmarshal([]byte(pl.text), &s); err != nil {
			tb.Fatal(err)
		}
		perRequest = append(perRequest, 1+len(s.Tries))
		total += 1 + len(s.Tries)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	received, err := sink.WaitSpans(ctx, total)
	if err != nil {
		tb.Fatal(err)
	}
	// The payloads share a trace id: split the received spans back into
	// requests by parent (a root and the tries under it).
	var templates [][]exporter.Span
	for _, root := range received {
		if root.Kind != tracepb.Span_SPAN_KIND_SERVER {
			continue
		}
		g := []exporter.Span{fromOTLP(root.Span)}
		for _, s := range received {
			if string(s.ParentSpanId) == string(root.SpanId) && s.Kind == tracepb.Span_SPAN_KIND_CLIENT {
				g = append(g, fromOTLP(s.Span))
			}
		}
		templates = append(templates, g)
	}
	if len(templates) != len(perRequest) {
		tb.Fatalf("got %d requests back, sent %d", len(templates), len(perRequest))
	}
	var groups [][]exporter.Span
	n := 0
	for i := 0; n < exportBatch; i++ {
		t := templates[i%len(templates)]
		if n+len(t) > exportBatch {
			t = templates[0][:exportBatch-n] // fill up with a root (and try)
		}
		g := make([]exporter.Span, len(t))
		copy(g, t)
		for j := range g {
			g[j].TraceID[0], g[j].TraceID[1] = byte(i), byte(i>>8)
			g[j].SpanID[7] ^= byte(i)
			g[j].ParentSpanID[7] ^= byte(i)
		}
		groups = append(groups, g)
		n += len(g)
	}
	return groups
}

// fromOTLP converts a received span to the exporter's span model.
func fromOTLP(s *tracepb.Span) exporter.Span {
	sp := exporter.Span{
		TraceState:        s.TraceState,
		Flags:             s.Flags,
		Name:              s.Name,
		Kind:              exporter.SpanKind(s.Kind),
		StartUnixNano:     s.StartTimeUnixNano,
		EndUnixNano:       s.EndTimeUnixNano,
		DroppedAttributes: s.DroppedAttributesCount,
	}
	copy(sp.TraceID[:], s.TraceId)
	copy(sp.SpanID[:], s.SpanId)
	copy(sp.ParentSpanID[:], s.ParentSpanId)
	for _, kv := range s.Attributes {
		switch v := kv.Value.Value.(type) {
		case *commonpb.AnyValue_StringValue:
			sp.Attributes = append(sp.Attributes, exporter.String(kv.Key, v.StringValue))
		case *commonpb.AnyValue_IntValue:
			sp.Attributes = append(sp.Attributes, exporter.Int(kv.Key, v.IntValue))
		case *commonpb.AnyValue_DoubleValue:
			sp.Attributes = append(sp.Attributes, exporter.Float(kv.Key, v.DoubleValue))
		case *commonpb.AnyValue_BoolValue:
			sp.Attributes = append(sp.Attributes, exporter.Bool(kv.Key, v.BoolValue))
		case *commonpb.AnyValue_ArrayValue:
			var strs []string
			for _, e := range v.ArrayValue.Values {
				strs = append(strs, e.GetStringValue())
			}
			sp.Attributes = append(sp.Attributes, exporter.StringSlice(kv.Key, strs))
		}
	}
	if s.Status != nil {
		sp.Status, sp.StatusMessage = exporter.StatusCode(s.Status.Code), s.Status.Message
	}
	return sp
}

// toOTLP builds the official request for a batch: what an exporter that
// converts to the generated types does before proto.Marshal.
func toOTLP(b *exporter.Batch) *coltracepb.ExportTraceServiceRequest {
	spans := make([]*tracepb.Span, len(b.Spans))
	for i := range b.Spans {
		s := &b.Spans[i]
		ps := &tracepb.Span{
			TraceId:                s.TraceID[:],
			SpanId:                 s.SpanID[:],
			TraceState:             s.TraceState,
			Flags:                  s.Flags,
			Name:                   s.Name,
			Kind:                   tracepb.Span_SpanKind(s.Kind),
			StartTimeUnixNano:      s.StartUnixNano,
			EndTimeUnixNano:        s.EndUnixNano,
			Attributes:             toKeyValues(s.Attributes),
			DroppedAttributesCount: s.DroppedAttributes,
		}
		if s.ParentSpanID.IsValid() {
			ps.ParentSpanId = s.ParentSpanID[:]
		}
		if s.Status != 0 || s.StatusMessage != "" {
			ps.Status = &tracepb.Status{Code: tracepb.Status_StatusCode(s.Status), Message: s.StatusMessage}
		}
		spans[i] = ps
	}
	return &coltracepb.ExportTraceServiceRequest{ResourceSpans: []*tracepb.ResourceSpans{{
		Resource: &resourcepb.Resource{Attributes: toKeyValues(b.Resource.Attributes)},
		ScopeSpans: []*tracepb.ScopeSpans{{
			Scope: &commonpb.InstrumentationScope{Name: b.Scope.Name, Version: b.Scope.Version},
			Spans: spans,
		}},
	}}}
}

func toKeyValues(attrs []exporter.Attribute) []*commonpb.KeyValue {
	kvs := make([]*commonpb.KeyValue, len(attrs))
	for i, a := range attrs {
		v := &commonpb.AnyValue{}
		switch a.Value.Type {
		case exporter.TypeString:
			v.Value = &commonpb.AnyValue_StringValue{StringValue: a.Value.AsString()}
		case exporter.TypeInt:
			v.Value = &commonpb.AnyValue_IntValue{IntValue: a.Value.AsInt()}
		case exporter.TypeFloat:
			v.Value = &commonpb.AnyValue_DoubleValue{DoubleValue: a.Value.AsFloat()}
		case exporter.TypeBool:
			v.Value = &commonpb.AnyValue_BoolValue{BoolValue: a.Value.AsBool()}
		case exporter.TypeStringSlice:
			vals := make([]*commonpb.AnyValue, 0, len(a.Value.AsStringSlice()))
			for _, s := range a.Value.AsStringSlice() {
				vals = append(vals, &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: s}})
			}
			v.Value = &commonpb.AnyValue_ArrayValue{ArrayValue: &commonpb.ArrayValue{Values: vals}}
		}
		kvs[i] = &commonpb.KeyValue{Key: a.Key, Value: v}
	}
	return kvs
}

var (
	sdkResource = resource.NewSchemaless(attribute.String("service.name", "kong"))
	sdkScope    = instrumentation.Scope{Name: exporter.ScopeName, Version: exporter.Version}
)

// toSDKSpan is the same span as the SDK's exporters receive it.
func toSDKSpan(s *exporter.Span) sdktrace.ReadOnlySpan {
	stub := tracetest.SpanStub{
		Name: s.Name,
		SpanContext: trace.NewSpanContext(trace.SpanContextConfig{TraceID: trace.TraceID(s.TraceID), SpanID: trace.SpanID(s.SpanID),
			TraceFlags: trace.TraceFlags(s.Flags & 0xff)}),
		SpanKind:             trace.SpanKind(s.Kind),
		StartTime:            time.Unix(0, int64(s.StartUnixNano)),
		EndTime:              time.Unix(0, int64(s.EndUnixNano)),
		DroppedAttributes:    int(s.DroppedAttributes),
		Resource:             sdkResource,
		InstrumentationScope: sdkScope,
	}
	if s.ParentSpanID.IsValid() {
		stub.Parent = trace.NewSpanContext(trace.SpanContextConfig{TraceID: trace.TraceID(s.TraceID), SpanID: trace.SpanID(s.ParentSpanID),
			Remote: s.Flags&0x200 != 0})
	}
	for _, a := range s.Attributes {
		switch a.Value.Type {
		case exporter.TypeString:
			stub.Attributes = append(stub.Attributes, attribute.String(a.Key, a.Value.AsString()))
		case exporter.TypeInt:
			stub.Attributes = append(stub.Attributes, attribute.Int64(a.Key, a.Value.AsInt()))
		case exporter.TypeFloat:
			stub.Attributes = append(stub.Attributes, attribute.Float64(a.Key, a.Value.AsFloat()))
		case exporter.TypeBool:
			stub.Attributes = append(stub.Attributes, attribute.Bool(a.Key, a.Value.AsBool()))
		case exporter.TypeStringSlice:
			stub.Attributes = append(stub.Attributes, attribute.StringSlice(a.Key, a.Value.AsStringSlice()))
		}
	}
	if s.Status == exporter.StatusError {
		stub.Status = sdktrace.Status{Code: codes.Error, Description: s.StatusMessage}
	}
	return stub.Snapshot()
}

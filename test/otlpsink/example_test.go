package otlpsink_test

import (
	"bytes"
	"fmt"
	"net/http"
	"strings"

	"github.com/trace-exporter/trace-exporter/test/otlpsink"
	"github.com/trace-exporter/trace-exporter/test/waterfall"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"
)

// The demo's default backend: a sink that prints every trace it receives
// as a waterfall.
func Example_printTraces() {
	printed := make(chan struct{})
	sink, err := otlpsink.Listen("127.0.0.1:0", otlpsink.Options{
		Discard: true, // the demo runs until Ctrl-C: keep nothing
		OnRequest: func(r *otlpsink.Request) {
			defer close(printed)
			if !r.Accepted {
				fmt.Println("refused:", r.Err)
				return
			}
			for _, tr := range waterfall.FromOTLP(r.Export.GetResourceSpans()) {
				fmt.Print(waterfall.String(tr, waterfall.Options{ASCII: true, BarWidth: 20}))
			}
		},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer sink.Close()

	// What the plugin would send for a request with one upstream try.
	tid, root, try := bytes.Repeat([]byte{0x4b}, 16), bytes.Repeat([]byte{1}, 8), bytes.Repeat([]byte{2}, 8)
	const t0 = 1_767_225_600_000_000_000
	status := func(code int64) *commonpb.KeyValue {
		return &commonpb.KeyValue{Key: "http.response.status_code", Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_IntValue{IntValue: code}}}
	}
	body, _ := proto.Marshal(&coltracepb.ExportTraceServiceRequest{ResourceSpans: []*tracepb.ResourceSpans{{
		Resource: &resourcepb.Resource{Attributes: []*commonpb.KeyValue{{Key: "service.name",
			Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: "kong"}}}}},
		ScopeSpans: []*tracepb.ScopeSpans{{Spans: []*tracepb.Span{
			{TraceId: tid, SpanId: root, Name: "GET /echo", Kind: tracepb.Span_SPAN_KIND_SERVER,
				StartTimeUnixNano: t0, EndTimeUnixNano: t0 + 4_000_000, Attributes: []*commonpb.KeyValue{status(200)}},
			{TraceId: tid, SpanId: try, ParentSpanId: root, Name: "GET echo", Kind: tracepb.Span_SPAN_KIND_CLIENT,
				StartTimeUnixNano: t0 + 1_000_000, EndTimeUnixNano: t0 + 3_000_000, Attributes: []*commonpb.KeyValue{status(200)}},
		}}},
	}}})
	resp, err := http.Post(sink.TracesURL(), "application/x-protobuf", bytes.NewReader(body))
	if err != nil {
		fmt.Println(err)
		return
	}
	resp.Body.Close()
	<-printed
	fmt.Println(strings.Repeat("-", 10), resp.StatusCode, sink.Stats().Spans, "spans")
	// Output:
	// trace 4b4b4b4b4b4b4b4b4b4b4b4b4b4b4b4b  service=kong  spans=2  duration=4.00ms
	// server GET /echo      4.00ms |####################| status=200
	// `- client GET echo    2.00ms |     ##########     | status=200
	// ---------- 200 2 spans
}

package otlpenc

import (
	"testing"

	"github.com/trace-exporter/trace-exporter/exporter"
	"github.com/trace-exporter/trace-exporter/exporter/internal/exportertest"
	"google.golang.org/protobuf/proto"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
)

func TestProtoEncodingDecodesToTheSameSpans(t *testing.T) {
	for name, batch := range map[string]*exporter.Batch{
		"rich":          exportertest.RichBatch(),
		"kong-like":     exportertest.KongLikeBatch(101),
		"no resource":   {Scope: exporter.Scope{Name: "x"}, Spans: exportertest.RichBatch().Spans[:1]},
		"empty scope":   {Resource: &exporter.Resource{}, Spans: exportertest.RichBatch().Spans[1:2]},
		"two resources": exportertest.TwoResourceBatch(),
		"no spans":      {Resource: &exporter.Resource{SchemaURL: "s"}, Scope: exporter.NewScope()},
	} {
		t.Run(name, func(t *testing.T) {
			var enc Encoder
			got := enc.AppendTraces(nil, batch)
			var decoded coltracepb.ExportTraceServiceRequest
			if err := proto.Unmarshal(got, &decoded); err != nil {
				t.Fatalf("official decoder refuses our bytes: %v", err)
			}
			want := exportertest.ToOTLP(batch)
			if !proto.Equal(&decoded, want) {
				t.Fatalf("decoded request differs:\n got  %v\n want %v", &decoded, want)
			}
			// Same size as the official encoder: nothing extra (no zero
			// fields written) and nothing missing.
			if n := proto.Size(want); n != len(got) {
				t.Fatalf("encoded %d bytes, official encoding is %d", len(got), n)
			}
		})
	}
}

func TestProtoEncoderReusesScratchAndAppends(t *testing.T) {
	var enc Encoder
	batch := exportertest.RichBatch()
	first := enc.AppendTraces(nil, batch)
	prefix := []byte("prefix")
	second := enc.AppendTraces(append([]byte(nil), prefix...), batch)
	if string(second[:len(prefix)]) != "prefix" || string(second[len(prefix):]) != string(first) {
		t.Fatal("encoding must append to dst and be deterministic across reuse")
	}
}

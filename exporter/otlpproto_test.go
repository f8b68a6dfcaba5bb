package exporter

import (
	"testing"

	"google.golang.org/protobuf/proto"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
)

func TestProtoEncodingDecodesToTheSameSpans(t *testing.T) {
	for name, batch := range map[string]*Batch{
		"rich":        richBatch(),
		"kong-like":   kongLikeBatch(101),
		"no resource": {Scope: Scope{Name: "x"}, Spans: richBatch().Spans[:1]},
		"empty scope": {Resource: &Resource{}, Spans: richBatch().Spans[1:2]},
	} {
		t.Run(name, func(t *testing.T) {
			var enc protoEncoder
			got := enc.appendTracesRequest(nil, batch)
			var decoded coltracepb.ExportTraceServiceRequest
			if err := proto.Unmarshal(got, &decoded); err != nil {
				t.Fatalf("official decoder refuses our bytes: %v", err)
			}
			want := toOTLP(batch)
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
	var enc protoEncoder
	batch := richBatch()
	first := enc.appendTracesRequest(nil, batch)
	prefix := []byte("prefix")
	second := enc.appendTracesRequest(append([]byte(nil), prefix...), batch)
	if string(second[:len(prefix)]) != "prefix" || string(second[len(prefix):]) != string(first) {
		t.Fatal("encoding must append to dst and be deterministic across reuse")
	}
}

package otlpenc

import (
	"testing"

	collogspb "go.opentelemetry.io/proto/otlp/collector/logs/v1"
	"google.golang.org/protobuf/proto"

	"github.com/trace-exporter/trace-exporter/exporter"
	"github.com/trace-exporter/trace-exporter/exporter/internal/exportertest"
	"github.com/trace-exporter/trace-exporter/test/otlpsink"
)

func logBatches() map[string]*exporter.LogBatch {
	rich := exportertest.RichLogBatch()
	return map[string]*exporter.LogBatch{
		"rich":        rich,
		"no resource": {Scope: exporter.Scope{Name: "x"}, Records: rich.Records[:1]},
		"no records":  {Resource: &exporter.Resource{SchemaURL: "s"}, Scope: exporter.NewScope()},
	}
}

// The official decoder reads back exactly our records, and our bytes are
// as many as the official encoder's (no zero field written, none missing).
func TestLogsProtoDecodesToTheSameRecords(t *testing.T) {
	for name, batch := range logBatches() {
		t.Run(name, func(t *testing.T) {
			got := AppendLogs(nil, batch)
			var decoded collogspb.ExportLogsServiceRequest
			if err := proto.Unmarshal(got, &decoded); err != nil {
				t.Fatalf("official decoder refuses our bytes: %v", err)
			}
			want := exportertest.LogsToOTLP(batch)
			if !proto.Equal(&decoded, want) {
				t.Fatalf("decoded request differs:\n got  %v\n want %v", &decoded, want)
			}
			if n := proto.Size(want); n != len(got) {
				t.Fatalf("encoded %d bytes, official encoding is %d", len(got), n)
			}
		})
	}
}

func TestLogsJSONDecodesToTheSameRecords(t *testing.T) {
	for name, batch := range logBatches() {
		t.Run(name, func(t *testing.T) {
			got := AppendLogsJSON(nil, batch)
			var decoded collogspb.ExportLogsServiceRequest
			if err := otlpsink.UnmarshalJSON(got, &decoded); err != nil {
				t.Fatalf("not OTLP/JSON: %v\n%s", err, got)
			}
			if want := exportertest.LogsToOTLP(batch); !proto.Equal(&decoded, want) {
				t.Fatalf("decoded request differs:\n got  %v\n want %v\n json %s", &decoded, want, got)
			}
		})
	}
}

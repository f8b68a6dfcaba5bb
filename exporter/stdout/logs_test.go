package stdout

import (
	"context"
	"strings"
	"testing"

	collogspb "go.opentelemetry.io/proto/otlp/collector/logs/v1"
	"google.golang.org/protobuf/proto"

	"github.com/trace-exporter/trace-exporter/exporter"
	"github.com/trace-exporter/trace-exporter/exporter/internal/exportertest"
	"github.com/trace-exporter/trace-exporter/schema"
	"github.com/trace-exporter/trace-exporter/test/otlpsink"
)

// Log records: one readable line per record (time, service, severity,
// ids, body, attributes), or one OTLP/JSON ExportLogsServiceRequest per
// batch and line.
func TestStdoutLogs(t *testing.T) {
	batch := exportertest.RichLogBatch()
	t.Run("text", func(t *testing.T) {
		out := captureStdout(t)
		exp := exportertest.NewExporter(t, stdoutConfig(schema.StdoutText)).(exporter.LogExporter)
		if err := exp.ExportLogs(context.Background(), *batch); err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
		if len(lines) != len(batch.Records) {
			t.Fatalf("%d lines for %d records:\n%s", len(lines), len(batch.Records), out)
		}
		first := lines[0]
		for _, want := range []string{"2023-11-14T22:13:20.123Z", " ERROR ", "trace=" + batch.Records[0].TraceID.String(),
			"span=" + batch.Records[0].SpanID.String(), `"GET /users/42 503 12ms"`} {
			if !strings.Contains(first, want) {
				t.Errorf("line %q lacks %q", first, want)
			}
		}
		if !strings.Contains(lines[1], " tenant-a ") || !strings.Contains(lines[2], "trace=- span=-") {
			t.Errorf("lines %q", lines[1:])
		}
	})
	t.Run("otlp_json", func(t *testing.T) {
		out := captureStdout(t)
		exp := exportertest.NewExporter(t, stdoutConfig(schema.StdoutOTLPJSON)).(exporter.LogExporter)
		if err := exp.ExportLogs(context.Background(), *batch); err != nil {
			t.Fatal(err)
		}
		var got collogspb.ExportLogsServiceRequest
		if err := otlpsink.UnmarshalJSON([]byte(strings.TrimSuffix(out.String(), "\n")), &got); err != nil {
			t.Fatalf("%v: %s", err, out)
		}
		if want := exportertest.LogsToOTLP(batch); !proto.Equal(&got, want) {
			t.Fatalf("printed\n %v\nwant\n %v", &got, want)
		}
	})
}

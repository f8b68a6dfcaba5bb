package otlpenc

import (
	"testing"

	colmetricspb "go.opentelemetry.io/proto/otlp/collector/metrics/v1"
	"google.golang.org/protobuf/proto"

	"github.com/trace-exporter/trace-exporter/exporter"
	"github.com/trace-exporter/trace-exporter/exporter/internal/exportertest"
	"github.com/trace-exporter/trace-exporter/test/otlpsink"
)

func metricBatches() map[string]*exporter.MetricsBatch {
	return map[string]*exporter.MetricsBatch{
		"rich":       exportertest.RichMetricsBatch(),
		"no metrics": {Resource: &exporter.Resource{}, Scope: exporter.NewScope()},
	}
}

func TestMetricsProtoDecodesToTheSameMetrics(t *testing.T) {
	for name, batch := range metricBatches() {
		t.Run(name, func(t *testing.T) {
			got := AppendMetrics(nil, batch)
			var decoded colmetricspb.ExportMetricsServiceRequest
			if err := proto.Unmarshal(got, &decoded); err != nil {
				t.Fatalf("official decoder refuses our bytes: %v", err)
			}
			want := exportertest.MetricsToOTLP(batch)
			if !proto.Equal(&decoded, want) {
				t.Fatalf("decoded request differs:\n got  %v\n want %v", &decoded, want)
			}
			if n := proto.Size(want); n != len(got) {
				t.Fatalf("encoded %d bytes, official encoding is %d", len(got), n)
			}
		})
	}
}

func TestMetricsJSONDecodesToTheSameMetrics(t *testing.T) {
	for name, batch := range metricBatches() {
		t.Run(name, func(t *testing.T) {
			got := AppendMetricsJSON(nil, batch)
			var decoded colmetricspb.ExportMetricsServiceRequest
			if err := otlpsink.UnmarshalJSON(got, &decoded); err != nil {
				t.Fatalf("not OTLP/JSON: %v\n%s", err, got)
			}
			if want := exportertest.MetricsToOTLP(batch); !proto.Equal(&decoded, want) {
				t.Fatalf("decoded request differs:\n got  %v\n want %v\n json %s", &decoded, want, got)
			}
		})
	}
}

package exporter_test

import (
	"strings"
	"testing"
	"time"

	collogspb "go.opentelemetry.io/proto/otlp/collector/logs/v1"
	"google.golang.org/protobuf/proto"

	"github.com/trace-exporter/trace-exporter/exporter"
	"github.com/trace-exporter/trace-exporter/exporter/internal/exportertest"
	"github.com/trace-exporter/trace-exporter/schema"
	"github.com/trace-exporter/trace-exporter/test/otlpsink"
)

// A logs pipeline sends OTLP logs through the same machinery as spans: the
// backend receives exactly the records, grouped by resource.
func TestLogsPipelineOverHTTP(t *testing.T) {
	for _, protocol := range []schema.Protocol{schema.ProtocolHTTPProtobuf, schema.ProtocolHTTPJSON} {
		t.Run(string(protocol), func(t *testing.T) {
			rc := exportertest.NewRecorder(t, nil, nil)
			cfg := exportertest.Config(rc.Srv.URL + "/v1/logs")
			cfg.Protocol = protocol
			reg := exportertest.NewRegistry(t, exporter.RegistryOptions{})
			h, err := reg.AcquireLogs(cfg)
			if err != nil {
				t.Fatal(err)
			}
			batch := exportertest.RichLogBatch()
			h.Enqueue(batch.Records)
			got := rc.WaitRequests(1, 5*time.Second)[0]
			if got.Path != "/v1/logs" {
				t.Fatalf("posted to %s", got.Path)
			}
			var req collogspb.ExportLogsServiceRequest
			if protocol == schema.ProtocolHTTPJSON {
				req = *decodeLogsJSON(t, got.Body)
			} else if err := proto.Unmarshal(got.Body, &req); err != nil {
				t.Fatal(err)
			}
			// The pipeline gives the batch its own resource and scope.
			batch.Resource, batch.Scope = exporter.NewResource(cfg), exporter.NewScope()
			if want := exportertest.LogsToOTLP(batch); !proto.Equal(&req, want) {
				t.Fatalf("received\n %v\nwant\n %v", &req, want)
			}
			exportertest.WaitFor(t, 5*time.Second, "exported", func() bool { return h.Stats().Exported == 3 })
			if h.Stats().QueueSpans != 0 {
				t.Fatalf("stats %+v", h.Stats())
			}
			if ps := reg.Stats(); len(ps) != 1 || ps[0].Signal != "logs" {
				t.Fatalf("pipeline stats %+v", ps)
			}
		})
	}
}

func decodeLogsJSON(t *testing.T, body []byte) *collogspb.ExportLogsServiceRequest {
	t.Helper()
	var req collogspb.ExportLogsServiceRequest
	if err := otlpsink.UnmarshalJSON(body, &req); err != nil {
		t.Fatalf("not OTLP/JSON logs: %v", err)
	}
	return &req
}

// Logs and metrics go over OTLP/gRPC to their services.
func TestLogsAndMetricsOverGRPC(t *testing.T) {
	rc := exportertest.NewGRPCReceiver(t, nil, nil)
	cfg := exportertest.Config("http://" + rc.Addr)
	cfg.Protocol = schema.ProtocolGRPC
	reg := exportertest.NewRegistry(t, exporter.RegistryOptions{})
	logs, err := reg.AcquireLogs(cfg)
	if err != nil {
		t.Fatal(err)
	}
	metrics, err := reg.AcquireMetrics(cfg)
	if err != nil {
		t.Fatal(err)
	}
	logs.Enqueue(exportertest.RichLogBatch().Records)
	metrics.Enqueue(exportertest.RichMetricsBatch().Metrics)
	exportertest.WaitFor(t, 5*time.Second, "both delivered", func() bool { return len(rc.Logs()) == 1 && len(rc.Metrics()) == 1 })
	want := exportertest.RichMetricsBatch()
	want.Resource, want.Scope = exporter.NewResource(cfg), exporter.NewScope()
	if got := rc.Metrics()[0]; !proto.Equal(got, exportertest.MetricsToOTLP(want)) {
		t.Fatalf("metrics received\n %v", got)
	}
	if n := len(rc.Logs()[0].ResourceLogs); n != 2 {
		t.Fatalf("%d resource groups, want 2 (one record has its own resource)", n)
	}
	if len(reg.Stats()) != 2 {
		t.Fatalf("logs and metrics are separate pipelines: %+v", reg.Stats())
	}
}

// A backend that cannot carry a signal is refused when the pipeline is
// acquired, naming the field.
func TestSignalRefusedByABackendWithoutIt(t *testing.T) {
	cfg := exportertest.Config("http://127.0.0.1:1/api/v2/spans")
	cfg.Exporter = schema.ExporterZipkin
	reg := exportertest.NewRegistry(t, exporter.RegistryOptions{})
	if _, err := reg.AcquireLogs(cfg); err == nil || !strings.Contains(err.Error(), `"zipkin" does not take logs`) {
		t.Fatalf("zipkin for logs: %v", err)
	}
	if _, err := reg.AcquireMetrics(cfg); err == nil || !strings.Contains(err.Error(), "config.exporter") {
		t.Fatalf("zipkin for metrics: %v", err)
	}
	if len(reg.Stats()) != 0 {
		t.Fatal("a refused pipeline must not stay")
	}
}

// Log records spool like spans; metrics never spool (a push is carried
// again by the next cumulative one).
func TestLogsSpoolMetricsDoNot(t *testing.T) {
	rc := newSwitchableReceiver(t)
	rc.down.Store(true)
	dir := t.TempDir()
	cfg := spoolConfig(t, rc.Srv.URL+"/v1/logs", dir)
	reg := exportertest.NewRegistry(t, exporter.RegistryOptions{})
	h, err := reg.AcquireLogs(cfg)
	if err != nil {
		t.Fatal(err)
	}
	exportertest.WaitFor(t, 10*time.Second, "spool open", func() bool { return h.Stats().SpoolOpen })
	h.Enqueue(exportertest.RichLogBatch().Records)
	exportertest.WaitFor(t, 5*time.Second, "on disk", func() bool { return h.Stats().SpoolSpans == 3 })
	rc.down.Store(false)
	exportertest.WaitFor(t, 10*time.Second, "delivered from disk", func() bool { return h.Stats().Exported == 3 })

	m, err := reg.AcquireMetrics(cfg)
	if err != nil {
		t.Fatal(err)
	}
	m.Enqueue(exportertest.RichMetricsBatch().Metrics)
	exportertest.WaitFor(t, 5*time.Second, "metrics delivered", func() bool { return m.Stats().Exported == 4 })
	if s := m.Stats(); s.SpoolOpen || s.Spooled != 0 {
		t.Fatalf("a metrics pipeline spooled: %+v", s)
	}
}

package kafka

import (
	"encoding/hex"
	"encoding/json"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	collogspb "go.opentelemetry.io/proto/otlp/collector/logs/v1"
	"google.golang.org/protobuf/proto"

	"github.com/trace-exporter/trace-exporter/exporter"
	"github.com/trace-exporter/trace-exporter/exporter/internal/exportertest"
	"github.com/trace-exporter/trace-exporter/schema"
	"github.com/trace-exporter/trace-exporter/test/kafkatest"
	"github.com/trace-exporter/trace-exporter/test/otlpsink"
)

// Access log records go to kafka.logs_topic with the spans' layout: one
// message per trace id keyed by it (records of one trace together, in
// batch order), an OTLP ExportLogsServiceRequest in either encoding, with
// the pipeline's resource and scope; the logs pipeline is the one the
// plugin config's access log destination names.
func TestLogRecordsOneMessagePerTraceOnTheLogsTopic(t *testing.T) {
	b := startBroker(t, 4, kfake.SeedTopics(4, "kong_access", "kong_access_json"))
	reg := exportertest.NewRegistry(t, exporter.RegistryOptions{})
	for _, enc := range []schema.KafkaEncoding{schema.KafkaEncodingOTLPProto, schema.KafkaEncodingOTLPJSON} {
		t.Run(string(enc), func(t *testing.T) {
			logsTopic := "kong_access"
			if enc == schema.KafkaEncodingOTLPJSON {
				logsTopic = "kong_access_json"
			}
			var cfg schema.Config
			raw, _ := json.Marshal(map[string]any{"exporter": "kafka", "access_logs": map[string]any{"enabled": true},
				"connect_timeout": 500, "send_timeout": 1000, "read_timeout": 1000, "queue": map[string]any{"max_coalescing_delay": 0.01},
				"kafka": map[string]any{"brokers": []string{b.Addr()}, "encoding": enc, "logs_topic": logsTopic}})
			if err := json.Unmarshal(raw, &cfg); err != nil {
				t.Fatal(err)
			}
			dest := cfg.AccessLogsDestination()
			if dest == nil || dest.Kafka.Topic != logsTopic {
				t.Fatalf("destination %+v", dest)
			}
			c := kafkatest.NewConsumer(t, b.Addr(), logsTopic)
			h, err := reg.AcquireLogs(dest)
			if err != nil {
				t.Fatal(err)
			}
			rich := exportertest.RichLogBatch()
			traced := rich.Records[0]
			a, bb := traced, traced
			bb.TraceID[15] ^= 0xff // another trace
			second := a
			second.Body = "second record of the first trace"
			records := []exporter.LogRecord{a, bb, second, rich.Records[2]} // the last has no trace id
			h.Enqueue(records)
			recs := consumeExactly(t, c, 3)
			byKey := map[string]*collogspb.ExportLogsServiceRequest{}
			for _, r := range recs {
				var req collogspb.ExportLogsServiceRequest
				var err error
				if enc == schema.KafkaEncodingOTLPJSON {
					err = otlpsink.UnmarshalJSON(r.Value, &req)
				} else {
					err = proto.Unmarshal(r.Value, &req)
				}
				if err != nil {
					t.Fatalf("message %q: %v", r.Key, err)
				}
				byKey[string(r.Key)] = &req
			}
			want := func(rs ...exporter.LogRecord) *collogspb.ExportLogsServiceRequest {
				return exportertest.LogsToOTLP(&exporter.LogBatch{Resource: exporter.NewResource(dest), Scope: exporter.NewScope(), Records: rs})
			}
			for key, w := range map[string]*collogspb.ExportLogsServiceRequest{
				hex.EncodeToString(a.TraceID[:]):   want(a, second),
				hex.EncodeToString(bb.TraceID[:]):  want(bb),
				"00000000000000000000000000000000": want(rich.Records[2]),
			} {
				if got := byKey[key]; !proto.Equal(got, w) {
					t.Errorf("message %s:\n %v\nwant\n %v", key, got, w)
				}
			}
			exportertest.WaitFor(t, 5*time.Second, "export counted", func() bool { return h.Stats().Exported == 4 })
			if h.Name() != "kafka kafka://"+b.Addr()+"/"+logsTopic {
				t.Errorf("pipeline name %q", h.Name())
			}
		})
	}
}

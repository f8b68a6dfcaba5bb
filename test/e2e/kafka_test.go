package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/trace-exporter/trace-exporter/test/jaegertest"
	"github.com/trace-exporter/trace-exporter/test/kafkatest"
)

const (
	kafkaTopicProto = "otlp_spans"
	kafkaTopicJSON  = "otlp_spans_json"
)

// Kong → Kafka → Jaeger: the plugin binary under the emulator produces to
// an in-process Kafka broker (kfake, the real wire protocol), and a real
// Jaeger v2 consumes the topic with its kafka receiver into its storage.
// The traces read back from Jaeger's query API pass the same checks as
// those exported over OTLP/HTTP (TestTracesInJaeger): names, kinds,
// parents, every attribute, the upstream's trace context, no secret.
func TestTracesThroughKafkaInJaeger(t *testing.T) {
	b := kafkatest.Start(t, kfake.SeedTopics(4, kafkaTopicProto, kafkaTopicJSON))
	j := startKafkaJaeger(t, b.Addr())
	for _, enc := range []struct{ encoding, topic string }{{"otlp_proto", kafkaTopicProto}, {"otlp_json", kafkaTopicJSON}} {
		t.Run(enc.encoding, func(t *testing.T) {
			e := startTraceEnvTo(t, "3.9", j, map[string]any{
				"exporter": "kafka",
				"kafka":    map[string]any{"brokers": []string{b.Addr()}, "topic": enc.topic, "encoding": enc.encoding},
			})
			t.Run("success", e.testSuccess)
			t.Run("upstream-500", e.testUpstream500)
			t.Run("retried-upstream", e.testRetried)
			t.Run("no-route", e.testNoRoute)
			if err := e.gw.WaitIdle(bounded(t, 10*time.Second)); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// startKafkaJaeger runs a Jaeger whose pipeline also takes traces from the
// Kafka broker at addr: a kafka receiver per encoding, in consumer group
// "jaeger", reading each topic from its start.
func startKafkaJaeger(t *testing.T, addr string) *jaegertest.Jaeger {
	t.Helper()
	base, cfg := baseJaegerConfig(t)
	const receivers = "receivers: [otlp, zipkin]"
	if !strings.Contains(cfg, receivers) || !strings.Contains(cfg, "\nreceivers:\n") {
		t.Fatalf("%s changed shape: cannot add the kafka receivers", base)
	}
	cfg = strings.Replace(cfg, receivers, "receivers: [otlp, zipkin, kafka, kafka/json]", 1)
	cfg = strings.Replace(cfg, "\nreceivers:\n", "\nreceivers:\n"+kafkaReceivers(addr), 1)
	path := filepath.Join(t.TempDir(), "jaeger-kafka.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	return jaegertest.StartOptions(t, jaegertest.Options{Config: path})
}

// kafkaReceivers configures Jaeger's (the Collector's) kafka receiver as
// docker/fleet/jaeger.yml does, once per encoding, pointed at addr.
func kafkaReceivers(addr string) string {
	var b strings.Builder
	for _, r := range []struct{ name, topic, encoding string }{
		{"kafka", kafkaTopicProto, "otlp_proto"},
		{"kafka/json", kafkaTopicJSON, "otlp_json"},
	} {
		fmt.Fprintf(&b, `  %s:
    brokers: [%q]
    client_id: jaeger
    group_id: jaeger
    initial_offset: earliest
    traces: {topic: %s, encoding: %s}
`, r.name, addr, r.topic, r.encoding)
	}
	return b.String()
}

package schema

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/trace-exporter/trace-exporter/test/kongsim"
)

func TestKafkaDefaultsFollowTheCollectorWhereTheyFit(t *testing.T) {
	resetEnvForTest(noEnv)
	c, err := decode(t, `{"exporter":"kafka","kafka":{"brokers":["k1:9092","[::1]:9093"]}}`)
	if err != nil {
		t.Fatal(err)
	}
	k := c.Kafka
	if k.Topic != "otlp_spans" || k.LogsTopic != "otlp_logs" || k.Encoding != KafkaEncodingOTLPProto ||
		k.MaxMessageBytes != 1000000 || k.Compression != KafkaCompressionNone || !k.AllowAutoTopicCreation {
		t.Errorf("Collector defaults not kept: %+v", k)
	}
	// Ours differ on purpose (see the field docs).
	if !k.PartitionTracesByID || k.RequiredAcks != -1 || k.ClientID != "trace-exporter" || k.TLS || k.SASL.Mechanism != SASLNone {
		t.Errorf("plugin defaults: %+v", k)
	}
}

func TestKafkaConfigErrorsNameTheField(t *testing.T) {
	resetEnvForTest(noEnv)
	for _, tc := range []struct{ js, field, reason string }{
		{`{"exporter":"kafka"}`, "kafka.brokers", "required"},
		{`{"exporter":"kafka","kafka":{"brokers":[]}}`, "kafka.brokers", "required"},
		{`{"exporter":"kafka","kafka":{"brokers":["kafka://k1:9092"]}}`, "kafka.brokers[0]", "scheme"},
		{`{"exporter":"kafka","kafka":{"brokers":["k1:9092","k2"]}}`, "kafka.brokers[1]", "host:port"},
		{`{"exporter":"kafka","kafka":{"brokers":[":9092"]}}`, "kafka.brokers[0]", "no host"},
		{`{"exporter":"kafka","kafka":{"brokers":["k1:70000"]}}`, "kafka.brokers[0]", "port"},
		{`{"exporter":"kafka","kafka":{"brokers":["k1:9092"],"topic":"spans/v1"}}`, "kafka.topic", "letters"},
		{`{"exporter":"kafka","kafka":{"brokers":["k1:9092"],"topic":".."}}`, "kafka.topic", "legal"},
		{`{"exporter":"kafka","kafka":{"brokers":["k1:9092"],"topic":"` + strings.Repeat("t", 250) + `"}}`, "kafka.topic", "249"},
		{`{"exporter":"kafka","kafka":{"brokers":["k1:9092"],"logs_topic":""}}`, "kafka.logs_topic", "empty"},
		{`{"exporter":"kafka","kafka":{"brokers":["k1:9092"],"encoding":"jaeger_proto"}}`, "kafka.encoding", "one of"},
		{`{"exporter":"kafka","kafka":{"brokers":["k1:9092"],"required_acks":2}}`, "kafka.required_acks", "between"},
		{`{"exporter":"kafka","kafka":{"brokers":["k1:9092"],"compression":"brotli"}}`, "kafka.compression", "one of"},
		{`{"exporter":"kafka","kafka":{"brokers":["k1:9092"],"max_message_bytes":100}}`, "kafka.max_message_bytes", "between"},
		{`{"exporter":"kafka","kafka":{"brokers":["k1:9092"],"sasl":{"mechanism":"GSSAPI"}}}`, "kafka.sasl.mechanism", "one of"},
		{`{"exporter":"kafka","kafka":{"brokers":["k1:9092"],"sasl":{"mechanism":"PLAIN","password":"p"}}}`, "kafka.sasl.username", "required"},
		{`{"exporter":"kafka","kafka":{"brokers":["k1:9092"],"sasl":{"mechanism":"SCRAM-SHA-512","username":"u"}}}`, "kafka.sasl.password", "required"},
		{`{"exporter":"kafka","kafka":{"brokers":["k1:9092"],"sasl":{"username":"u","password":"p"}}}`, "kafka.sasl.mechanism", "none"},
		{`{"exporter":"kafka","tls_ca_file":"/ca.pem","kafka":{"brokers":["k1:9092"]}}`, "kafka.tls", "tls_ca_file"},
	} {
		_, err := decode(t, tc.js)
		if err == nil {
			t.Errorf("%s: accepted", tc.js)
			continue
		}
		if !strings.Contains(err.Error(), "config."+tc.field+":") || !strings.Contains(err.Error(), tc.reason) {
			t.Errorf("%s: error %q does not name %s (%s)", tc.js, err, tc.field, tc.reason)
		}
	}
}

func TestKafkaPasswordNotInErrors(t *testing.T) {
	resetEnvForTest(noEnv)
	_, err := decode(t, `{"exporter":"kafka","kafka":{"sasl":{"mechanism":"PLAIN","username":"u","password":"s3cr3t-pw"}}}`)
	if err == nil || strings.Contains(err.Error(), "s3cr3t-pw") {
		t.Fatalf("error %v", err)
	}
}

// Other exporters ignore the kafka record's cross-field rules (no brokers
// needed), but not the shapes Kong's schema checks.
func TestKafkaRecordOnlyBindsExporterKafka(t *testing.T) {
	resetEnvForTest(noEnv)
	if _, err := decode(t, `{"traces_endpoint":"http://c:4318/v1/traces","kafka":{"sasl":{"username":"u"}}}`); err != nil {
		t.Errorf("otlp config refused for a kafka field: %v", err)
	}
	if _, err := decode(t, `{"traces_endpoint":"http://c:4318/v1/traces","kafka":{"topic":"a b"}}`); err == nil {
		t.Error("a topic Kong refuses was accepted")
	}
}

func TestKafkaCompressionFollowsTheTopLevelOne(t *testing.T) {
	for _, tc := range []struct {
		top  Compression
		own  KafkaCompression
		want KafkaCompression
	}{
		{CompressionNone, KafkaCompressionNone, KafkaCompressionNone},
		{CompressionGzip, KafkaCompressionNone, KafkaCompressionGzip},
		{CompressionGzip, KafkaCompressionZstd, KafkaCompressionZstd},
		{CompressionNone, KafkaCompressionLZ4, KafkaCompressionLZ4},
	} {
		c := Defaults()
		c.Compression, c.Kafka.Compression = tc.top, tc.own
		if got := c.EffectiveCompression(); got != tc.want {
			t.Errorf("compression %s, kafka.compression %s: %s, want %s", tc.top, tc.own, got, tc.want)
		}
	}
}

// Kong (through the emulator's schema validator) and the plugin accept and
// refuse the same kafka records.
func TestKafkaKongAndPluginAgree(t *testing.T) {
	resetEnvForTest(noEnv)
	raw, _ := json.Marshal(KongSchema("trace-exporter", nil))
	var m map[string]any
	_ = json.Unmarshal(raw, &m)
	ks, err := kongsim.ParseSchema(m)
	if err != nil {
		t.Fatal(err)
	}
	for _, kafka := range []map[string]any{
		{"brokers": []any{"k1:9092", "10.0.0.7:9093", "[fd00::7]:9094"}},
		{"brokers": []any{"k1"}},
		{"brokers": []any{"kafka://k1:9092"}},
		{"brokers": []any{"k1:9092/x"}},
		{"brokers": []any{"k1:9092"}, "topic": "otlp.spans-v1_eu"},
		{"brokers": []any{"k1:9092"}, "topic": "spans v1"},
		{"brokers": []any{"k1:9092"}, "logs_topic": "logs:x"},
		{"brokers": []any{"k1:9092"}, "encoding": "otlp_json"},
		{"brokers": []any{"k1:9092"}, "encoding": "zipkin_json"},
		{"brokers": []any{"k1:9092"}, "required_acks": 0},
		{"brokers": []any{"k1:9092"}, "required_acks": -2},
		{"brokers": []any{"k1:9092"}, "compression": "zstd"},
		{"brokers": []any{"k1:9092"}, "compression": "ZSTD"},
		{"brokers": []any{"k1:9092"}, "max_message_bytes": 512},
		{"brokers": []any{"k1:9092"}, "sasl": map[string]any{"mechanism": "SCRAM-SHA-256", "username": "u", "password": "p"}},
		{"brokers": []any{"k1:9092"}, "sasl": map[string]any{"mechanism": "scram-sha-256"}},
	} {
		cfg := map[string]any{"exporter": "kafka", "kafka": kafka}
		_, kongErr := ks.Validate(cfg)
		js, _ := json.Marshal(cfg)
		var c Config
		pluginErr := json.Unmarshal(js, &c)
		if (kongErr == nil) != (pluginErr == nil) {
			t.Errorf("kafka=%v: Kong says %v, plugin says %v", kafka, kongErr, pluginErr)
		}
		if pluginErr != nil && !strings.Contains(pluginErr.Error(), "config.kafka.") {
			t.Errorf("kafka=%v: plugin error %q does not name the field", kafka, pluginErr)
		}
	}
}

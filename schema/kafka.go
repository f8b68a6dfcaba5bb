package schema

import (
	"net"
	"strconv"
	"strings"
)

// Kafka configures exporter: kafka. Field names follow the OpenTelemetry
// Collector's kafkaexporter (brokers, topic, encoding,
// partition_traces_by_id, client_id, and its producer and auth.sasl
// settings) so the two read alike; README "Running a fleet" maps them.
type Kafka struct {
	Brokers []string `json:"brokers"`
	Topic   string   `json:"topic"`
	// LogsTopic is where access log records go (access_logs.enabled).
	LogsTopic           string        `json:"logs_topic"`
	Encoding            KafkaEncoding `json:"encoding"`
	PartitionTracesByID bool          `json:"partition_traces_by_id"`
	ClientID            string        `json:"client_id"`
	// RequiredAcks is Kafka's acks: -1 (all in-sync replicas), 0, 1.
	RequiredAcks int `json:"required_acks"`
	// Compression is the record-batch codec; none follows the top-level
	// compression (none or gzip), any other value wins (see
	// EffectiveCompression).
	Compression            KafkaCompression `json:"compression"`
	MaxMessageBytes        int              `json:"max_message_bytes"`
	AllowAutoTopicCreation bool             `json:"allow_auto_topic_creation"`
	// TLS turns on TLS to the brokers, set up by the tls_* fields.
	TLS  bool      `json:"tls"`
	SASL KafkaSASL `json:"sasl"`
}

// KafkaSASL is the SASL authentication to the brokers.
type KafkaSASL struct {
	Mechanism SASLMechanism `json:"mechanism"`
	Username  string        `json:"username"`
	Password  string        `json:"password"` // never logged
}

// ExporterKafka selects the Kafka producer.
const ExporterKafka ExporterName = "kafka"

// KafkaEncoding is the encoding of a Kafka message's value.
type KafkaEncoding string

// Kafka message encodings, named as the Collector's kafka receiver and
// exporter name them.
const (
	KafkaEncodingOTLPProto KafkaEncoding = "otlp_proto"
	KafkaEncodingOTLPJSON  KafkaEncoding = "otlp_json"
)

// KafkaCompression is a Kafka record-batch codec.
type KafkaCompression string

// Kafka codecs.
const (
	KafkaCompressionNone   KafkaCompression = "none"
	KafkaCompressionGzip   KafkaCompression = "gzip"
	KafkaCompressionSnappy KafkaCompression = "snappy"
	KafkaCompressionLZ4    KafkaCompression = "lz4"
	KafkaCompressionZstd   KafkaCompression = "zstd"
)

// SASLMechanism names a SASL mechanism as Kafka does.
type SASLMechanism string

// SASL mechanisms.
const (
	SASLNone        SASLMechanism = "none"
	SASLPlain       SASLMechanism = "PLAIN"
	SASLScramSHA256 SASLMechanism = "SCRAM-SHA-256"
	SASLScramSHA512 SASLMechanism = "SCRAM-SHA-512"
)

// EffectiveCompression is the codec the producer uses: kafka.compression,
// unless it is none and the top-level compression asks for gzip.
func (c *Config) EffectiveCompression() KafkaCompression {
	if c.Kafka.Compression == KafkaCompressionNone && c.Compression == CompressionGzip {
		return KafkaCompressionGzip
	}
	return c.Kafka.Compression
}

// luaBroker is host:port as a Lua pattern: no scheme, no path, a port
// of at most five digits. IPv6 hosts are written in brackets.
const luaBroker = "^[^%s/]+:%d%d?%d?%d?%d?$"

// luaTopic is Kafka's legal topic-name alphabet.
const luaTopic = "^[%w%._%-]+$"

// maxTopicLength is Kafka's limit on topic names.
const maxTopicLength = 249

func defaultKafka() Kafka {
	return Kafka{
		Topic:                  "otlp_spans",
		LogsTopic:              "otlp_logs",
		Encoding:               KafkaEncodingOTLPProto,
		PartitionTracesByID:    true,
		ClientID:               "trace-exporter",
		RequiredAcks:           -1,
		Compression:            KafkaCompressionNone,
		MaxMessageBytes:        1000000,
		AllowAutoTopicCreation: true,
		SASL:                   KafkaSASL{Mechanism: SASLNone},
	}
}

var kafkaField = Field{Name: "kafka", Type: "record", Required: true,
	Doc: "exporter kafka: the Kafka producer. Names follow the OpenTelemetry Collector's kafkaexporter. Timeouts come from connect_timeout, send_timeout and read_timeout; TLS from kafka.tls and the tls_* fields; compression: gzip carries over (see kafka.compression); traces_endpoint and headers do not apply.",
	Fields: []Field{
		{Name: "brokers", Type: "array", Elements: &Field{Type: "string", Match: luaBroker},
			Doc: "Bootstrap brokers as host:port (no scheme); required with exporter kafka. The client finds the rest of the cluster from them."},
		{Name: "topic", Type: "string", Match: luaTopic, Doc: "Topic spans are produced to (the Collector's default)."},
		{Name: "logs_topic", Type: "string", Match: luaTopic, Doc: "Topic access log records are produced to with access_logs.enabled (the Collector's default for logs): OTLP ExportLogsServiceRequest messages in kafka.encoding, one per trace keyed by its trace id with partition_traces_by_id, as spans."},
		{Name: "encoding", Type: "string", OneOf: oneOf(KafkaEncodingOTLPProto, KafkaEncodingOTLPJSON),
			Doc: "Message value: an OTLP ExportTraceServiceRequest, protobuf (otlp_proto) or JSON (otlp_json), as the Collector's kafka receiver reads them."},
		{Name: "partition_traces_by_id", Type: "boolean",
			Doc: "One message per trace, keyed by the trace id (hex), so every span of a trace lands on one partition and one consumer of a group sees the whole trace (tail sampling downstream needs that). The Collector's default is false. false: one message per batch, no key."},
		{Name: "client_id", Type: "string", Doc: "Client id the brokers see (quotas, ACLs, logs)."},
		{Name: "required_acks", Type: "integer", Between: between(-1, 1),
			Doc: "Kafka acks: -1 waits for every in-sync replica (Kafka's own default since 3.0, and idempotent writes), 1 for the partition leader only (the Collector's default), 0 for nothing (spans can be lost unseen)."},
		{Name: "compression", Type: "string", OneOf: oneOf(KafkaCompressionNone, KafkaCompressionGzip, KafkaCompressionSnappy, KafkaCompressionLZ4, KafkaCompressionZstd),
			Doc: "Record-batch codec. none follows the top-level compression (gzip there means gzip here); any other value wins. Every consumer must decode it (zstd needs Kafka 2.1+)."},
		{Name: "max_message_bytes", Type: "integer", Between: between(1024, 1<<30),
			Doc: "Largest message produced, key and value before compression (the Collector's producer.max_message_bytes; keep it at most the topic's max.message.bytes). A larger batch or trace is split into several messages; a single span larger than this is dropped and counted."},
		{Name: "allow_auto_topic_creation", Type: "boolean",
			Doc: "Ask the broker to create a missing topic (it does if auto.create.topics.enable is on there). Create the topic beforehand with enough partitions: an auto-created one gets the broker's default count."},
		{Name: "tls", Type: "boolean",
			Doc: "TLS to the brokers, set up by tls_verify, tls_ca_file, tls_client_cert_file, tls_client_key_file and tls_server_name. Off: plaintext, and those fields must be left unset."},
		{Name: "sasl", Type: "record", Required: true, Doc: "SASL authentication to the brokers.", Fields: []Field{
			{Name: "mechanism", Type: "string", OneOf: oneOf(SASLNone, SASLPlain, SASLScramSHA256, SASLScramSHA512),
				Doc: "none, PLAIN (send it over TLS only) or SCRAM-SHA-256/512."},
			{Name: "username", Type: "string", Doc: "SASL username; required with a mechanism."},
			{Name: "password", Type: "string", Doc: "SASL password; required with a mechanism. Never logged."},
		}},
	}}

// checkKafka checks what the dumped schema cannot express: broker
// addresses and topic names as Kafka reads them (always, as Kong's match
// does), and, with exporter kafka, the rules between fields.
func checkKafka(c *Config, add func(string, string, ...any)) {
	k := &c.Kafka
	for i, b := range k.Brokers {
		if err := checkBroker(b); err != "" {
			add("kafka.brokers["+strconv.Itoa(i)+"]", "%q %s", b, err)
		}
	}
	checkTopic("kafka.topic", k.Topic, add)
	checkTopic("kafka.logs_topic", k.LogsTopic, add)
	if c.Exporter != ExporterKafka {
		return
	}
	if len(k.Brokers) == 0 {
		add("kafka.brokers", "required when exporter is \"kafka\" (host:port of at least one broker)")
	}
	if k.SASL.Mechanism != SASLNone {
		if k.SASL.Username == "" {
			add("kafka.sasl.username", "required with kafka.sasl.mechanism %s", k.SASL.Mechanism)
		}
		if k.SASL.Password == "" {
			add("kafka.sasl.password", "required with kafka.sasl.mechanism %s", k.SASL.Mechanism)
		}
	} else if k.SASL.Username != "" || k.SASL.Password != "" {
		add("kafka.sasl.mechanism", "is none but a username or password is set: name the mechanism (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512)")
	}
	if !k.TLS {
		for _, f := range []struct{ name, value string }{
			{"tls_ca_file", c.TLSCAFile}, {"tls_client_cert_file", c.TLSClientCertFile}, {"tls_server_name", c.TLSServerName},
		} {
			if f.value != "" {
				add("kafka.tls", "is false but %s is set: set kafka.tls to true to reach the brokers over TLS", f.name)
				break
			}
		}
	}
}

// checkBroker returns why addr is not a usable host:port, or "".
func checkBroker(addr string) string {
	if strings.Contains(addr, "://") {
		return "must be host:port, without a scheme"
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "must be host:port"
	}
	if host == "" {
		return "has no host"
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return "has no valid port (1-65535)"
	}
	return ""
}

func checkTopic(field, topic string, add func(string, string, ...any)) {
	switch {
	case topic == "":
		add(field, "must not be empty")
	case topic == "." || topic == "..":
		add(field, "%q is not a legal Kafka topic name", topic)
	case len(topic) > maxTopicLength:
		add(field, "is %d characters long; Kafka allows %d", len(topic), maxTopicLength)
	default:
		for i := 0; i < len(topic); i++ {
			ch := topic[i]
			if !(ch >= 'a' && ch <= 'z' || ch >= 'A' && ch <= 'Z' || ch >= '0' && ch <= '9' || ch == '.' || ch == '_' || ch == '-') {
				add(field, "%q: Kafka topic names use only letters, digits, '.', '_' and '-'", topic)
				return
			}
		}
	}
}

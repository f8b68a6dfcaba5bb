package kafka

import (
	"log/slog"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/trace-exporter/trace-exporter/exporter"
	"github.com/trace-exporter/trace-exporter/schema"
)

// Name is the value of the config field `exporter` that selects Kafka.
const Name = string(schema.ExporterKafka)

func init() {
	exporter.Register(Name, newExporter, exporter.DescribeEndpoint(describeEndpoint))
}

// describeEndpoint names the destination as kafka://broker1:9092,broker2:9092/topic
// (the schema holds no credentials in brokers: they are host:port).
func describeEndpoint(cfg *schema.Config) string {
	return "kafka://" + strings.Join(cfg.Kafka.Brokers, ",") + "/" + cfg.Kafka.Topic
}

// newExporter checks what only this backend understands (TLS files, the
// client options franz-go accepts) and builds the pipeline's producer. It
// does not connect: the first Export does, so a broker that is down when
// Kong starts delays spans instead of refusing the plugin instance.
func newExporter(cfg *schema.Config, set exporter.Settings) (exporter.Exporter, error) {
	logger := set.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	k := &cfg.Kafka
	if len(k.Brokers) == 0 {
		return nil, &schema.FieldError{Field: "kafka.brokers", Reason: "required when exporter is \"kafka\""}
	}
	opts, err := clientOptions(cfg, logger)
	if err != nil {
		return nil, err
	}
	client, err := kgo.NewClient(opts...)
	if err != nil {
		return nil, &schema.FieldError{Field: "kafka", Reason: err.Error()}
	}
	if len(cfg.Headers) > 0 {
		logger.Warn("headers are not sent to Kafka: authenticate with kafka.sasl")
	}
	if k.SASL.Mechanism == schema.SASLPlain && !k.TLS {
		logger.Warn("SASL PLAIN without kafka.tls sends the password to the brokers in clear text")
	}
	limit, json, byTrace := messageLimit(k.MaxMessageBytes), k.Encoding == schema.KafkaEncodingOTLPJSON, k.PartitionTracesByID
	return &kafkaExporter{
		client:     client,
		topic:      k.Topic,
		timeout:    attemptTimeout(cfg),
		newBuilder: func() *builder { return newBuilder(limit, json, byTrace) },
		ledger:     newLedger(ledgerEntries, ledgerTTL),
	}, nil
}

// attemptTimeout bounds one Export: connect, send and read budgets added up
// (exporter.AttemptTimeout), at least the second franz-go needs as a
// record delivery timeout.
func attemptTimeout(cfg *schema.Config) time.Duration {
	return max(exporter.AttemptTimeout(cfg), time.Second)
}

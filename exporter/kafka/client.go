package kafka

import (
	"context"
	"log/slog"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"github.com/trace-exporter/trace-exporter/exporter"
	"github.com/trace-exporter/trace-exporter/schema"
)

// The producer is set up so the pipeline stays in charge: it batches
// (queue.max_batch_size) and retries with backoff, so franz-go's own retries
// stay within one attempt (attemptTimeout) and an Export never outlives its
// deadline.
const (
	// recordRetries bounds franz-go's retries of one record within an
	// attempt (its default is unbounded).
	recordRetries = 5
	// requestRetries bounds retries of metadata and other requests.
	requestRetries = 5
	// metadataMinAge is the least time between metadata refreshes. A
	// failing partition, a broker that came back or a topic just created
	// is noticed through a refresh; franz-go's 5 s default would outlast
	// short attempts.
	metadataMinAge = 250 * time.Millisecond
	// linger only groups one batch's records into one produce request:
	// ProduceSync flushes them once they are all buffered.
	linger = 5 * time.Millisecond
)

// retryBackoff is franz-go's pause between tries inside an attempt: short,
// as the attempt is (franz-go's default grows to 5 s).
func retryBackoff(tries int) time.Duration {
	return min(50*time.Millisecond<<min(tries, 5), time.Second)
}

// recordTimeout makes franz-go give up on a record a little before the
// attempt's context ends, so the error names the last failure (an
// authentication refusal, a broker error) rather than the deadline.
func recordTimeout(attempt time.Duration) time.Duration {
	return max(attempt-min(attempt/10, time.Second), time.Second)
}

// clientOptions translates the config into franz-go options.
//
// Timeouts follow the other backends' meaning: connect_timeout bounds a
// dial (and TLS handshake), send_timeout a write to a broker and the
// slack on top of read_timeout, which is how long a broker may take to
// answer a produce request (Kafka's request.timeout.ms for produce).
func clientOptions(cfg *schema.Config, logger *slog.Logger) ([]kgo.Opt, error) {
	k := &cfg.Kafka
	attempt := attemptTimeout(cfg)
	opts := []kgo.Opt{
		kgo.SeedBrokers(k.Brokers...),
		kgo.ClientID(k.ClientID),
		kgo.SoftwareNameAndVersion("trace-exporter", exporter.Version),
		kgo.DefaultProduceTopic(k.Topic),
		kgo.DialTimeout(cfg.ConnectTimeoutDuration()),
		kgo.RequestTimeoutOverhead(cfg.SendTimeoutDuration()),
		kgo.ProduceRequestTimeout(cfg.ReadTimeoutDuration()),
		kgo.RecordDeliveryTimeout(recordTimeout(attempt)),
		kgo.RetryTimeout(attempt),
		kgo.RecordRetries(recordRetries),
		kgo.RequestRetries(requestRetries),
		kgo.RetryBackoffFn(retryBackoff),
		kgo.MetadataMinAge(metadataMinAge),
		kgo.ProducerLinger(linger),
		kgo.ProducerBatchMaxBytes(int32(k.MaxMessageBytes)),
		kgo.ProducerBatchCompression(codec(cfg.EffectiveCompression())),
		// Keyed records go where the Collector's kafkaexporter puts them
		// (Sarama's FNV-1a hash), so Kong nodes and collectors producing
		// to one topic keep a trace on one partition; unkeyed records
		// stick to a partition per batch.
		kgo.RecordPartitioner(kgo.StickyKeyPartitioner(kgo.SaramaCompatHasher(fnv32a))),
		kgo.WithLogger(newLogger(logger)),
	}
	switch k.RequiredAcks {
	case -1:
		// Idempotent writes let franz-go retry inside an attempt without
		// duplicates. Cancelling an in-flight record when the attempt's
		// deadline passes is allowed: the pipeline's retry may then
		// duplicate it, which at-least-once delivery accepts.
		opts = append(opts, kgo.RequiredAcks(kgo.AllISRAcks()), kgo.AllowIdempotentProduceCancellation())
	case 0:
		opts = append(opts, kgo.RequiredAcks(kgo.NoAck()), kgo.DisableIdempotentWrite())
	default:
		opts = append(opts, kgo.RequiredAcks(kgo.LeaderAck()), kgo.DisableIdempotentWrite())
	}
	if k.AllowAutoTopicCreation {
		opts = append(opts, kgo.AllowAutoTopicCreation())
	}
	if k.TLS {
		tlsConfig, err := exporter.NewTLSConfig(cfg, logger)
		if err != nil {
			return nil, err
		}
		opts = append(opts, kgo.DialTLSConfig(tlsConfig))
	}
	if m := saslMechanism(&k.SASL); m != nil {
		opts = append(opts, kgo.SASL(m))
	}
	return opts, nil
}

func saslMechanism(s *schema.KafkaSASL) sasl.Mechanism {
	switch s.Mechanism {
	case schema.SASLPlain:
		return plain.Auth{User: s.Username, Pass: s.Password}.AsMechanism()
	case schema.SASLScramSHA256:
		return scram.Auth{User: s.Username, Pass: s.Password}.AsSha256Mechanism()
	case schema.SASLScramSHA512:
		return scram.Auth{User: s.Username, Pass: s.Password}.AsSha512Mechanism()
	}
	return nil
}

func codec(c schema.KafkaCompression) kgo.CompressionCodec {
	switch c {
	case schema.KafkaCompressionGzip:
		return kgo.GzipCompression()
	case schema.KafkaCompressionSnappy:
		return kgo.SnappyCompression()
	case schema.KafkaCompressionLZ4:
		return kgo.Lz4Compression()
	case schema.KafkaCompressionZstd:
		return kgo.ZstdCompression()
	}
	return kgo.NoCompression()
}

// fnv32a is FNV-1a, 32 bits (hash/fnv's, without its allocation per key).
func fnv32a(b []byte) uint32 {
	h := uint32(2166136261)
	for _, c := range b {
		h ^= uint32(c)
		h *= 16777619
	}
	return h
}

// logger passes franz-go's messages to the pipeline's logger at debug
// level: during a broker outage it reports every failed dial, which the
// pipeline's throttled "export failed" line already covers. Without debug
// logging franz-go is asked for nothing.
type logger struct{ l *slog.Logger }

func newLogger(l *slog.Logger) logger { return logger{l} }

func (g logger) Level() kgo.LogLevel {
	if g.l.Enabled(context.Background(), slog.LevelDebug) {
		return kgo.LogLevelInfo
	}
	return kgo.LogLevelNone
}

func (g logger) Log(level kgo.LogLevel, msg string, keyvals ...any) {
	g.l.Debug("kafka client: "+msg, append(keyvals, "kafka_level", level.String())...)
}

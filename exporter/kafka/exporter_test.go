package kafka

import (
	"fmt"
	"hash/fnv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"google.golang.org/protobuf/proto"

	"github.com/trace-exporter/trace-exporter/exporter"
	"github.com/trace-exporter/trace-exporter/exporter/internal/exportertest"
	"github.com/trace-exporter/trace-exporter/schema"
	"github.com/trace-exporter/trace-exporter/test/kafkatest"
)

// Through a real pipeline, every encoding and codec: a consumer reads
// exactly the OTLP request the OTLP/HTTP backend would send (the pipeline's
// resource and scope, every field), in a record batch compressed with the
// configured codec.
func TestSpansArriveIntactInEveryEncodingAndCodec(t *testing.T) {
	var topics []string
	for i := range 10 {
		topics = append(topics, fmt.Sprintf("spans-%d", i))
	}
	b := startBroker(t, 4, kfake.SeedTopics(2, topics...))
	codecs := map[schema.KafkaCompression]uint8{ // Kafka's attribute bits
		schema.KafkaCompressionNone: 0, schema.KafkaCompressionGzip: 1, schema.KafkaCompressionSnappy: 2,
		schema.KafkaCompressionLZ4: 3, schema.KafkaCompressionZstd: 4,
	}
	reg := exportertest.NewRegistry(t, exporter.RegistryOptions{})
	n := 0
	for _, enc := range []schema.KafkaEncoding{schema.KafkaEncodingOTLPProto, schema.KafkaEncodingOTLPJSON} {
		for _, comp := range []schema.KafkaCompression{"none", "gzip", "snappy", "lz4", "zstd"} {
			t.Run(string(enc)+"/"+string(comp), func(t *testing.T) {
				cfg := kafkaConfig(b.Addr())
				cfg.Kafka.Encoding, cfg.Kafka.Compression = enc, comp
				cfg.Kafka.Topic = topics[n]
				n++
				cfg.ResourceAttributes = map[string]string{"deployment.environment": "test"}
				c := kafkatest.NewConsumer(t, b.Addr(), cfg.Kafka.Topic)
				h, err := reg.Acquire(cfg)
				if err != nil {
					t.Fatal(err)
				}
				batch := exportertest.RichBatch() // one trace: one message
				batch.Spans = append(batch.Spans, batch.Spans[0], batch.Spans[0], batch.Spans[0])
				for i := 1; i < len(batch.Spans); i++ {
					batch.Spans[i].SpanID[7] = byte(i) // compressible, distinct
				}
				h.Enqueue(batch.Spans)
				recs := consumeExactly(t, c, 1)
				got := kafkatest.Decode(t, recs[0], enc == schema.KafkaEncodingOTLPJSON)
				want := exportertest.ToOTLP(&exporter.Batch{Resource: exporter.NewResource(cfg), Scope: exporter.NewScope(), Spans: batch.Spans})
				if !proto.Equal(got, want) {
					t.Fatalf("consumed\n %v\nwant\n %v", got, want)
				}
				if ct := recs[0].Attrs.CompressionType(); ct != codecs[comp] {
					t.Errorf("record batch codec %d, want %d (%s)", ct, codecs[comp], comp)
				}
				exportertest.WaitFor(t, 5*time.Second, "export counted", func() bool { return h.Stats().Exported == uint64(len(batch.Spans)) })
			})
		}
	}
}

// The top-level compression carries over when kafka.compression is none.
func TestTopLevelGzipCompressesRecords(t *testing.T) {
	b := startBroker(t, 1)
	cfg := kafkaConfig(b.Addr())
	cfg.Compression = schema.CompressionGzip
	c := kafkatest.NewConsumer(t, b.Addr(), topic)
	if err := export(t, newTestExporter(t, cfg), uniqueTraces(2, 1)); err != nil {
		t.Fatal(err)
	}
	if ct := consumeExactly(t, c, 1)[0].Attrs.CompressionType(); ct != 1 {
		t.Errorf("codec %d, want gzip (1)", ct)
	}
}

// partition_traces_by_id (default): one message per trace, keyed by the
// trace id in hex, every span of a trace in it, on the partition the
// Collector's kafkaexporter would pick (Sarama's FNV-1a hash of the key).
func TestOneMessagePerTraceKeyedByTraceID(t *testing.T) {
	const partitions = 8
	b := startBroker(t, partitions)
	c := kafkatest.NewConsumer(t, b.Addr(), topic)
	e := newTestExporter(t, kafkaConfig(b.Addr()))
	batch := uniqueTraces(200, 2) // 100 traces of a root and a try
	// A trace whose spans are not adjacent in the batch still makes one
	// message.
	batch.Spans = append(batch.Spans, batch.Spans[0])
	batch.Spans[len(batch.Spans)-1].SpanID = exporter.SpanID{0xee, 1}
	if err := export(t, e, batch); err != nil {
		t.Fatal(err)
	}
	recs := consumeExactly(t, c, 100)
	got := received(t, recs, false)
	exportertest.AssertSameSpans(t, "kafka", exportertest.ViewOfBatch(batch), got, false)
	used := map[int32]bool{}
	for _, r := range recs {
		ids := traceIDs(kafkatest.Decode(t, r, false))
		if len(ids) != 1 {
			t.Fatalf("a message holds %d traces", len(ids))
		}
		for id, spans := range ids {
			if string(r.Key) != id {
				t.Errorf("key %q, trace %s", r.Key, id)
			}
			want := 2
			if id == batch.Spans[0].TraceID.String() {
				want = 3
			}
			if spans != want {
				t.Errorf("trace %s: %d spans in its message, want %d", id, spans, want)
			}
		}
		h := fnv.New32a()
		h.Write(r.Key)
		p := int32(h.Sum32()) % partitions
		if p < 0 {
			p = -p
		}
		if r.Partition != p {
			t.Errorf("key %s on partition %d, the Collector's partitioner says %d", r.Key, r.Partition, p)
		}
		used[r.Partition] = true
	}
	if len(used) < partitions/2 {
		t.Errorf("100 traces used %d of %d partitions", len(used), partitions)
	}
}

// partition_traces_by_id false: one message per batch, without a key.
func TestBatchModeOneUnkeyedMessage(t *testing.T) {
	b := startBroker(t, 4)
	cfg := kafkaConfig(b.Addr())
	cfg.Kafka.PartitionTracesByID = false
	c := kafkatest.NewConsumer(t, b.Addr(), topic)
	batch := uniqueTraces(50, 3)
	if err := export(t, newTestExporter(t, cfg), batch); err != nil {
		t.Fatal(err)
	}
	recs := consumeExactly(t, c, 1)
	if recs[0].Key != nil {
		t.Errorf("key %q, want none", recs[0].Key)
	}
	exportertest.AssertSameSpans(t, "kafka", exportertest.ViewOfBatch(batch), received(t, recs, false), false)
}

// Spans carrying their own resource keep it, in their trace's message.
func TestSpanResourcesKept(t *testing.T) {
	b := startBroker(t, 1)
	c := kafkatest.NewConsumer(t, b.Addr(), topic)
	batch := exportertest.TwoResourceBatch()
	if err := export(t, newTestExporter(t, kafkaConfig(b.Addr())), batch); err != nil {
		t.Fatal(err)
	}
	got := kafkatest.Decode(t, consumeExactly(t, c, 1)[0], false)
	if !proto.Equal(got, exportertest.ToOTLP(batch)) {
		t.Fatalf("consumed\n %v\nwant\n %v", got, exportertest.ToOTLP(batch))
	}
}

// Two pipelines differing only in the kafka record are two pipelines, each
// producing to its own topic.
func TestKafkaRecordSeparatesPipelines(t *testing.T) {
	b := startBroker(t, 1, kfake.SeedTopics(1, "tenant-a", "tenant-b"))
	reg := exportertest.NewRegistry(t, exporter.RegistryOptions{})
	for i, tp := range []string{"tenant-a", "tenant-b"} {
		cfg := kafkaConfig(b.Addr())
		cfg.Kafka.Topic = tp
		c := kafkatest.NewConsumer(t, b.Addr(), tp)
		h, err := reg.Acquire(cfg)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasSuffix(h.Name(), "/"+tp) {
			t.Errorf("pipeline %q does not name topic %s", h.Name(), tp)
		}
		h.Enqueue(uniqueTraces(2, byte(10+i)).Spans)
		recs := consumeExactly(t, c, 1)
		if got := traceIDs(kafkatest.Decode(t, recs[0], false)); got[uniqueTraces(2, byte(10+i)).Spans[0].TraceID.String()] != 2 {
			t.Errorf("topic %s got %v", tp, got)
		}
	}
	if n := len(reg.Stats()); n != 2 {
		t.Errorf("%d pipelines, want 2", n)
	}
}

func TestDescribeEndpointNamesBrokersAndTopic(t *testing.T) {
	cfg := kafkaConfig("k1:9092", "k2:9093")
	cfg.Kafka.SASL = schema.KafkaSASL{Mechanism: schema.SASLPlain, Username: "kong", Password: "pw-should-not-show"}
	reg := exportertest.NewRegistry(t, exporter.RegistryOptions{})
	h, err := reg.Acquire(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := h.Name(), "kafka kafka://k1:9092,k2:9093/otlp_spans"; got != want {
		t.Errorf("pipeline name %q, want %q", got, want)
	}
}

func TestFactoryRefusesWhatCannotWork(t *testing.T) {
	for _, tc := range []struct {
		name  string
		edit  func(*schema.Config)
		field string
	}{
		{"no brokers", func(c *schema.Config) { c.Kafka.Brokers = nil }, "kafka.brokers"},
		{"unreadable CA", func(c *schema.Config) { c.Kafka.TLS, c.TLSCAFile = true, "/nonexistent/ca.pem" }, "tls_ca_file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := kafkaConfig("127.0.0.1:9")
			tc.edit(cfg)
			_, err := exporter.New(cfg, exporter.Settings{Logger: exportertest.DiscardLogger()})
			if err == nil || !strings.Contains(err.Error(), "config."+tc.field) {
				t.Fatalf("error %v, want one naming %s", err, tc.field)
			}
		})
	}
}

func TestFNV32aMatchesHashFNV(t *testing.T) {
	for _, key := range []string{"", "a", "4bf92f3577b34da6a3ce929d0e0e4736", strings.Repeat("\xff", 100)} {
		h := fnv.New32a()
		h.Write([]byte(key))
		if got := fnv32a([]byte(key)); got != h.Sum32() {
			t.Errorf("fnv32a(%q) = %d, want %d", key, got, h.Sum32())
		}
	}
}

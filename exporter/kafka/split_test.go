package kafka

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/trace-exporter/trace-exporter/exporter"
	"github.com/trace-exporter/trace-exporter/exporter/internal/exportertest"
	"github.com/trace-exporter/trace-exporter/test/kafkatest"
)

// oneTrace is n spans of one trace, each with a padding attribute of pad
// bytes.
func oneTrace(n, pad int, tag byte) *exporter.Batch {
	b := exportertest.KongLikeBatch(2 * n)
	spans := b.Spans[:0]
	for i, s := range b.Spans[:n] {
		s.TraceID = exporter.TraceID{0xab, tag, 1}
		s.SpanID = exporter.SpanID{0xab, tag, byte(i >> 8), byte(i)}
		s.Attributes = append(s.Attributes[:len(s.Attributes):len(s.Attributes)], exporter.String("padding", strings.Repeat("x", pad)))
		spans = append(spans, s)
	}
	b.Spans = spans
	return b
}

// A batch larger than max_message_bytes is split into several messages,
// each within the limit; a trace too large for one message is split by
// spans, every part keyed by the trace (so on its partition); nothing is
// lost or doubled.
func TestLargeBatchesAndTracesSplitAtTheLimit(t *testing.T) {
	const limit = 16 << 10
	for _, byTrace := range []bool{false, true} {
		name := map[bool]string{false: "batch", true: "by-trace"}[byTrace]
		t.Run(name, func(t *testing.T) {
			b := startBroker(t, 4)
			cfg := kafkaConfig(b.Addr())
			cfg.Kafka.MaxMessageBytes = limit
			cfg.Kafka.PartitionTracesByID = byTrace
			c := kafkatest.NewConsumer(t, b.Addr(), topic)
			e := newTestExporter(t, cfg)
			// One trace of ~300 KiB, then 100 small traces of ~2 KiB each.
			batch := oneTrace(300, 1000, 1)
			small := uniqueTraces(200, 4)
			batch.Spans = append(batch.Spans, small.Spans...)
			if err := export(t, e, batch); err != nil {
				t.Fatal(err)
			}
			all := exportertest.ViewOfBatch(batch)
			var recs []*kafkaRecordView
			exportertest.WaitFor(t, 10*time.Second, "every span consumed", func() bool {
				recs = views(t, c)
				n := 0
				for _, r := range recs {
					n += r.spans
				}
				return n >= len(all)
			})
			exportertest.AssertSameSpans(t, "kafka", all, received(t, c.Records(), false), false)
			bigTrace := batch.Spans[0].TraceID.String()
			parts, partitions := 0, map[int32]bool{}
			for _, r := range recs {
				if r.size > limit-recordOverhead {
					t.Errorf("message of %d bytes (key and value) over the %d limit", r.size, limit-recordOverhead)
				}
				if byTrace && r.key == bigTrace {
					parts++
					partitions[r.partition] = true
				}
			}
			if byTrace && (parts < 300*1000/limit || len(partitions) != 1) {
				t.Errorf("the big trace went out in %d messages on %d partitions; want about %d on one", parts, len(partitions), 300*1000/limit+1)
			}
			if !byTrace && len(recs) < 400*1000/limit {
				t.Errorf("%d messages for ~400 KiB at a %d limit", len(recs), limit)
			}
		})
	}
}

// A message filled close to the limit is accepted by franz-go: the
// overhead the builder reserves covers Kafka's record framing.
func TestMessageAtTheLimitIsAccepted(t *testing.T) {
	b := startBroker(t, 1)
	cfg := kafkaConfig(b.Addr())
	cfg.Kafka.MaxMessageBytes = 4096
	e := newTestExporter(t, cfg)
	c := kafkatest.NewConsumer(t, b.Addr(), topic)
	// Grow the padding until the encoded message is exactly at the limit.
	sizeOf := func(pad int) int {
		bt := oneTrace(1, pad, 2)
		bl := newBuilder(messageLimit(cfg.Kafka.MaxMessageBytes), false, true)
		bl.build(bt)
		if len(bl.msgs) == 0 {
			return 1 << 30
		}
		m := bl.msgs[0]
		return (m.keyEnd - m.keyStart) + (m.valEnd - m.valStart)
	}
	pad := 0
	for sizeOf(pad+1) <= messageLimit(cfg.Kafka.MaxMessageBytes) {
		pad++
	}
	if got := sizeOf(pad); got != messageLimit(cfg.Kafka.MaxMessageBytes) && got != messageLimit(cfg.Kafka.MaxMessageBytes)-1 {
		t.Fatalf("could not fill a message to the limit: %d", got)
	}
	if err := export(t, e, oneTrace(1, pad, 2)); err != nil {
		t.Fatalf("a message at the limit failed: %v", err)
	}
	consumeExactly(t, c, 1)
}

// A span that alone exceeds the limit cannot be produced: it is dropped
// and counted (the other spans of its batch are delivered, a partial
// success); a batch of nothing else fails permanently.
func TestSpanLargerThanTheLimitIsDroppedAndCounted(t *testing.T) {
	b := startBroker(t, 2)
	cfg := kafkaConfig(b.Addr())
	cfg.Kafka.MaxMessageBytes = 4096
	c := kafkatest.NewConsumer(t, b.Addr(), topic)
	reg := exportertest.NewRegistry(t, exporter.RegistryOptions{})
	h, err := reg.Acquire(cfg)
	if err != nil {
		t.Fatal(err)
	}
	huge := oneTrace(1, 8000, 3).Spans[0]
	small := uniqueTraces(4, 5).Spans
	h.Enqueue(append([]exporter.Span{huge}, small...))
	consumeExactly(t, c, 2)
	exportertest.WaitFor(t, 5*time.Second, "batch accounted", func() bool { return h.Stats().Exported+h.Stats().DroppedTotal() == 5 })
	if s := h.Stats(); s.Exported != 4 || s.DroppedBy(exporter.DropRejected) != 1 || s.Retries != 0 {
		t.Fatalf("stats %+v: want 4 exported, 1 rejected, no retry", s)
	}

	e := newTestExporter(t, cfg)
	err = export(t, e, &exporter.Batch{Resource: &exporter.Resource{}, Spans: []exporter.Span{huge}})
	if !exporter.IsPermanent(err) || !errors.Is(err, errSpanTooLarge) {
		t.Fatalf("a batch of one oversized span: %v, want a permanent error", err)
	}
}

// kafkaRecordView is what the split tests look at in a record.
type kafkaRecordView struct {
	key       string
	partition int32
	size      int
	spans     int
}

func views(t *testing.T, c *kafkatest.Consumer) []*kafkaRecordView {
	var out []*kafkaRecordView
	for _, r := range c.Records() {
		out = append(out, &kafkaRecordView{key: string(r.Key), partition: r.Partition, size: len(r.Key) + len(r.Value),
			spans: kafkatest.SpanCount(kafkatest.Decode(t, r, false))})
	}
	return out
}

package kafka

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/trace-exporter/trace-exporter/exporter"
	"github.com/trace-exporter/trace-exporter/exporter/internal/exportertest"
	"github.com/trace-exporter/trace-exporter/test/kafkatest"
)

// attempt is kafkaConfig's attempt timeout; slack covers a busy machine.
const (
	attempt = 2500 * time.Millisecond
	slack   = 2 * time.Second
)

func timedExport(t *testing.T, e *kafkaExporter, b *exporter.Batch) (error, time.Duration) {
	t.Helper()
	start := time.Now()
	err := export(t, e, b)
	return err, time.Since(start)
}

// A broker that is down is a transient failure, reported within the
// attempt's deadline; once it is back the same batch goes through.
func TestBrokerDownIsRetryableWithinTheAttempt(t *testing.T) {
	b := startBroker(t, 2, kfake.DataDir(t.TempDir())) // a restart keeps the log, as Kafka does
	e := newTestExporter(t, kafkaConfig(b.Addr()))
	batch := uniqueTraces(10, 20)
	if err := export(t, e, batch); err != nil { // connected once
		t.Fatal(err)
	}
	b.Stop()
	err, took := timedExport(t, e, batch)
	if err == nil || exporter.IsPermanent(err) {
		t.Fatalf("broker down: %v, want a retryable error", err)
	}
	if took > attempt+slack {
		t.Fatalf("Export took %s with the broker down; the attempt is bounded by %s", took, attempt)
	}
	if err := b.Restart(); err != nil {
		t.Fatal(err)
	}
	c := kafkatest.NewConsumer(t, b.Addr(), topic)
	if err := export(t, e, batch); err != nil {
		t.Fatalf("after the broker came back: %v", err)
	}
	consumeExactly(t, c, 10) // the first copy, then the second
}

// slowProduce delays every produce request by the current delay.
func slowProduce(c *kfake.Cluster, delay *atomic.Int64) {
	c.ControlKey(int16(kmsg.Produce), func(kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		if d := time.Duration(delay.Load()); d > 0 {
			c.SleepControl(func() { time.Sleep(d) })
		}
		return nil, nil, false // then handled as usual
	})
}

// A slow broker delays an Export but never beyond the attempt's deadline:
// answers within it deliver once; slower ones fail the attempt (retryable),
// and the retry delivers (at least once: the slow write may also land).
func TestSlowBrokerBoundedByTheAttempt(t *testing.T) {
	b := startBroker(t, 1)
	var delay atomic.Int64
	slowProduce(b.Cluster(), &delay)
	e := newTestExporter(t, kafkaConfig(b.Addr()))
	c := kafkatest.NewConsumer(t, b.Addr(), topic)

	delay.Store(int64(700 * time.Millisecond))
	err, took := timedExport(t, e, uniqueTraces(4, 21))
	if err != nil || took < 700*time.Millisecond {
		t.Fatalf("slow but in time: %v after %s", err, took)
	}
	consumeExactly(t, c, 2)

	delay.Store(int64(attempt + time.Second))
	batch := uniqueTraces(4, 22)
	err, took = timedExport(t, e, batch)
	if err == nil || exporter.IsPermanent(err) || took > attempt+slack {
		t.Fatalf("too slow: %v after %s, want a retryable error within %s", err, took, attempt)
	}
	delay.Store(0)
	if err := export(t, e, batch); err != nil {
		t.Fatalf("retry after the broker sped up: %v", err)
	}
	recs := c.WaitRecords(t, 4, 10*time.Second)
	seen := map[string]int{}
	for _, r := range recs[2:] {
		seen[string(r.Key)]++
	}
	for _, s := range batch.Spans {
		if n := seen[s.TraceID.String()]; n < 1 || n > 2 {
			t.Errorf("trace %s delivered %d times, want 1 (or 2: the timed-out write landed too)", s.TraceID, n)
		}
	}
}

// When only some partitions fail (transiently), the batch is retried, and
// the retry produces only the messages that failed: the consumer sees every
// trace exactly once.
func TestPartialFailureRetriesOnlyTheFailedMessages(t *testing.T) {
	b := startBroker(t, 4)
	fault := b.Cluster().Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.Produce}, Topic: topic, Partitions: []int32{1},
		Err: kerr.NotEnoughReplicas, Count: -1})
	e := newTestExporter(t, kafkaConfig(b.Addr()))
	c := kafkatest.NewConsumer(t, b.Addr(), topic)
	batch := uniqueTraces(200, 23) // 100 traces over 4 partitions

	err, took := timedExport(t, e, batch)
	if err == nil || exporter.IsPermanent(err) || !errors.Is(err, kerr.NotEnoughReplicas) && !errors.Is(err, kgo.ErrRecordRetries) && !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("first attempt: %v, want a retryable failure", err)
	}
	if took > attempt+slack {
		t.Fatalf("first attempt took %s", took)
	}
	first := c.WaitRecords(t, 1, 10*time.Second)
	time.Sleep(200 * time.Millisecond)
	first = c.Records()
	for _, r := range first {
		if r.Partition == 1 {
			t.Fatal("the failing partition took a record")
		}
	}
	if len(first) >= 100 {
		t.Fatalf("%d records after a partial failure", len(first))
	}
	if e.ledger.empty() {
		t.Fatal("the delivered messages were not remembered")
	}

	fault.Remove()
	if err := export(t, e, batch); err != nil {
		t.Fatalf("retry: %v", err)
	}
	recs := consumeExactly(t, c, 100)
	exportertest.AssertSameSpans(t, "kafka", exportertest.ViewOfBatch(batch), received(t, recs, false), false)
	if !e.ledger.empty() {
		t.Error("the ledger still remembers a batch that is done")
	}
}

// The same through a pipeline: its retry delivers the rest, nothing is
// doubled or dropped.
func TestPipelineRetryAfterPartialFailureDeliversEachTraceOnce(t *testing.T) {
	b := startBroker(t, 4)
	fault := b.Cluster().Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.Produce}, Topic: topic, Partitions: []int32{2},
		Err: kerr.NotEnoughReplicas, Count: -1})
	cfg := kafkaConfig(b.Addr())
	cfg.Queue.MaxBatchSize = 200
	cfg.Queue.InitialRetryDelay, cfg.Queue.MaxRetryDelay = 0.2, 0.2
	reg := exportertest.NewRegistry(t, exporter.RegistryOptions{})
	h, err := reg.Acquire(cfg)
	if err != nil {
		t.Fatal(err)
	}
	c := kafkatest.NewConsumer(t, b.Addr(), topic)
	batch := uniqueTraces(200, 24)
	h.Enqueue(batch.Spans)
	exportertest.WaitFor(t, 10*time.Second, "a failed attempt", func() bool { return h.Stats().Retries > 0 })
	fault.Remove()
	recs := consumeExactly(t, c, 100)
	exportertest.AssertSameSpans(t, "kafka", exportertest.ViewOfBatch(batch), received(t, recs, false), false)
	exportertest.WaitFor(t, 5*time.Second, "export counted", func() bool { return h.Stats().Exported == 200 })
	if s := h.Stats(); s.DroppedTotal() != 0 {
		t.Fatalf("stats %+v", s)
	}
}

// A partition that refuses for good (here: not authorized) loses only its
// messages, counted once as rejected; the rest is delivered.
func TestPermanentRefusalOfSomeMessagesIsAPartialSuccess(t *testing.T) {
	b := startBroker(t, 4)
	b.Cluster().Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.Produce}, Topic: topic, Partitions: []int32{3},
		Err: kerr.TopicAuthorizationFailed, Count: -1})
	e := newTestExporter(t, kafkaConfig(b.Addr()))
	c := kafkatest.NewConsumer(t, b.Addr(), topic)
	batch := uniqueTraces(200, 25)
	err := export(t, e, batch)
	var partial *exporter.PartialError
	if !errors.As(err, &partial) {
		t.Fatalf("error %v, want a partial success", err)
	}
	recs := c.WaitRecords(t, 100-int(partial.Rejected)/2, 10*time.Second)
	if int(partial.Rejected)+2*len(recs) != 200 || partial.Rejected == 0 {
		t.Fatalf("rejected %d spans, delivered %d messages of 2 spans: they must add up to 200", partial.Rejected, len(recs))
	}
	for _, r := range recs {
		if r.Partition == 3 {
			t.Fatal("the refusing partition took a record")
		}
	}
}

// A failure both transient (one partition) and permanent (another): the
// retry sends only the transient ones, and the refused spans are counted
// once, when the batch is done.
func TestMixedFailuresSettleOnRetry(t *testing.T) {
	b := startBroker(t, 4)
	refusing := b.Cluster().Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.Produce}, Topic: topic, Partitions: []int32{0},
		Err: kerr.TopicAuthorizationFailed, Count: -1})
	failing := b.Cluster().Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.Produce}, Topic: topic, Partitions: []int32{1},
		Err: kerr.NotEnoughReplicas, Count: -1})
	e := newTestExporter(t, kafkaConfig(b.Addr()))
	c := kafkatest.NewConsumer(t, b.Addr(), topic)
	batch := uniqueTraces(200, 26)
	if err := export(t, e, batch); err == nil || exporter.IsPermanent(err) {
		t.Fatalf("first attempt: %v, want retryable", err)
	}
	refusedHits := refusing.Hits()
	failing.Remove()
	err := export(t, e, batch)
	var partial *exporter.PartialError
	if !errors.As(err, &partial) {
		t.Fatalf("retry: %v, want a partial success", err)
	}
	if refusing.Hits() != refusedHits {
		t.Errorf("the retry produced the refused messages again (%d more refusals)", refusing.Hits()-refusedHits)
	}
	recs := consumeExactly(t, c, 100-int(partial.Rejected)/2)
	received(t, recs, false) // no duplicates
	for _, r := range recs {
		if r.Partition == 0 {
			t.Fatal("the refusing partition took a record")
		}
	}
}

// A topic that does not exist (and is not auto-created) is retryable: the
// spans wait (in memory, or in the spool) until someone creates it.
func TestUnknownTopicIsRetryableUntilItExists(t *testing.T) {
	b := kafkatest.Start(t) // no topic
	cfg := kafkaConfig(b.Addr())
	cfg.Kafka.AllowAutoTopicCreation = false
	e := newTestExporter(t, cfg)
	batch := uniqueTraces(4, 27)
	err, took := timedExport(t, e, batch)
	if err == nil || exporter.IsPermanent(err) || took > attempt+slack {
		t.Fatalf("unknown topic: %v after %s, want a retryable error", err, took)
	}
	if !errors.Is(err, kerr.UnknownTopicOrPartition) {
		t.Errorf("error %v does not say the topic is unknown", err)
	}
	createTopic(t, b.Addr(), topic, 2)
	c := kafkatest.NewConsumer(t, b.Addr(), topic)
	if err := export(t, e, batch); err != nil {
		t.Fatalf("after the topic was created: %v", err)
	}
	consumeExactly(t, c, 2)
}

// With allow_auto_topic_creation (the default), a broker that allows it
// creates the topic on first use.
func TestTopicAutoCreated(t *testing.T) {
	b := kafkatest.Start(t, kfake.AllowAutoTopicCreation())
	if err := export(t, newTestExporter(t, kafkaConfig(b.Addr())), uniqueTraces(4, 28)); err != nil {
		t.Fatal(err)
	}
	consumeExactly(t, kafkatest.NewConsumer(t, b.Addr(), topic), 2)
}

func createTopic(t *testing.T, addr, name string, partitions int32) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	req := kmsg.NewPtrCreateTopicsRequest()
	rt := kmsg.NewCreateTopicsRequestTopic()
	rt.Topic, rt.NumPartitions, rt.ReplicationFactor = name, partitions, 1
	req.Topics = append(req.Topics, rt)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	resp, err := req.RequestWith(ctx, cl)
	if err == nil {
		err = kerr.ErrorForCode(resp.Topics[0].ErrorCode)
	}
	if err != nil {
		t.Fatalf("create topic %s: %v", name, err)
	}
}

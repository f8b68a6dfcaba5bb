// Package kafkatest runs an in-process Kafka for tests — franz-go's kfake,
// which speaks the real wire protocol (produce, fetch, consumer groups,
// SASL, TLS) on loopback ports — and reads back what was produced with a
// real franz-go consumer, decoding values with the official OTLP types.
//
//	b := kafkatest.Start(t, kfake.SeedTopics(8, "otlp_spans"))  // closed at cleanup
//	... produce to b.Addr() ...
//	c := kafkatest.NewConsumer(t, b.Addr(), "otlp_spans")
//	recs := c.WaitRecords(t, 10, 10*time.Second)
//	req := kafkatest.Decode(t, recs[0], false)
package kafkatest

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/trace-exporter/trace-exporter/test/otlpsink"
)

// Broker is a one-broker kfake cluster on a loopback port.
type Broker struct {
	mu      sync.Mutex
	cluster *kfake.Cluster
	addr    string
	opts    []kfake.Opt
}

// Start runs a broker with opts (topics, SASL users, TLS...) and closes it
// when the test ends.
func Start(t testing.TB, opts ...kfake.Opt) *Broker {
	t.Helper()
	b, err := StartBroker(opts...)
	if err != nil {
		t.Fatalf("kfake: %v", err)
	}
	t.Cleanup(b.Close)
	return b
}

// StartBroker runs a broker outside a test; the caller closes it.
func StartBroker(opts ...kfake.Opt) (*Broker, error) {
	b := &Broker{opts: opts}
	if err := b.start(0); err != nil {
		return nil, err
	}
	return b, nil
}

func (b *Broker) start(port int) error {
	opts := append([]kfake.Opt{kfake.NumBrokers(1)}, b.opts...) // kfake listens on 127.0.0.1
	if port > 0 {
		opts = append(opts, kfake.Ports(port))
	}
	var c *kfake.Cluster
	var err error
	for range 50 { // the port may linger briefly after a close
		if c, err = kfake.NewCluster(opts...); err == nil {
			break
		}
		if port == 0 {
			return err
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err != nil {
		return err
	}
	b.mu.Lock()
	b.cluster, b.addr = c, c.ListenAddrs()[0]
	b.mu.Unlock()
	return nil
}

// Addr is the broker's host:port.
func (b *Broker) Addr() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.addr
}

// Port is the broker's port.
func (b *Broker) Port() int {
	_, p, _ := net.SplitHostPort(b.Addr())
	n, _ := strconv.Atoi(p)
	return n
}

// Cluster is the running kfake cluster (control functions, faults); nil
// while stopped.
func (b *Broker) Cluster() *kfake.Cluster {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.cluster
}

// Stop closes the broker: connections are cut and refused until Restart.
// Without kfake.DataDir among the options, what it held is gone.
func (b *Broker) Stop() {
	b.mu.Lock()
	c := b.cluster
	b.cluster = nil
	b.mu.Unlock()
	if c != nil {
		c.Close()
	}
}

// Restart starts the broker again on the same port with the same options.
func (b *Broker) Restart() error {
	_, p, _ := net.SplitHostPort(b.Addr())
	port, _ := strconv.Atoi(p)
	return b.start(port)
}

// Close stops the broker for good.
func (b *Broker) Close() { b.Stop() }

// Consumer reads a topic from its start in the background, as a consumer
// of its own (no group), and keeps every record.
type Consumer struct {
	cl     *kgo.Client
	cancel context.CancelFunc
	done   chan struct{}

	mu      sync.Mutex
	records []*kgo.Record
	changed chan struct{}
}

// NewConsumer starts reading topic at addr; it stops at test cleanup.
// opts add client options (SASL, TLS).
func NewConsumer(t testing.TB, addr, topic string, opts ...kgo.Opt) *Consumer {
	t.Helper()
	c, err := StartConsumer(addr, topic, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

// StartConsumer is NewConsumer outside a test; the caller closes it.
func StartConsumer(addr, topic string, opts ...kgo.Opt) (*Consumer, error) {
	opts = append([]kgo.Opt{
		kgo.SeedBrokers(addr),
		kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchMaxWait(50 * time.Millisecond),
		kgo.RetryBackoffFn(func(int) time.Duration { return 50 * time.Millisecond }),
	}, opts...)
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return nil, fmt.Errorf("kafka consumer: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	c := &Consumer{cl: cl, cancel: cancel, done: make(chan struct{}), changed: make(chan struct{})}
	go c.run(ctx)
	return c, nil
}

func (c *Consumer) run(ctx context.Context) {
	defer close(c.done)
	for ctx.Err() == nil {
		fetches := c.cl.PollFetches(ctx)
		var got []*kgo.Record
		fetches.EachRecord(func(r *kgo.Record) { got = append(got, r) })
		if len(got) == 0 {
			continue
		}
		c.mu.Lock()
		c.records = append(c.records, got...)
		close(c.changed)
		c.changed = make(chan struct{})
		c.mu.Unlock()
	}
}

// Records returns what was read so far.
func (c *Consumer) Records() []*kgo.Record {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]*kgo.Record(nil), c.records...)
}

// WaitRecords waits until at least n records were read and returns them
// all; it fails the test after timeout.
func (c *Consumer) WaitRecords(t testing.TB, n int, timeout time.Duration) []*kgo.Record {
	t.Helper()
	recs, err := c.Wait(n, timeout)
	if err != nil {
		t.Fatal(err)
	}
	return recs
}

// Wait is WaitRecords returning an error.
func (c *Consumer) Wait(n int, timeout time.Duration) ([]*kgo.Record, error) {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		c.mu.Lock()
		have, changed := len(c.records), c.changed
		c.mu.Unlock()
		if have >= n {
			return c.Records(), nil
		}
		select {
		case <-changed:
		case <-deadline.C:
			return c.Records(), fmt.Errorf("kafka consumer: %d records after %s, want %d", have, timeout, n)
		}
	}
}

// Close stops reading.
func (c *Consumer) Close() {
	c.cancel()
	<-c.done
	c.cl.Close()
}

// Decode reads a record's value as an OTLP ExportTraceServiceRequest,
// protobuf or (isJSON) OTLP/JSON (hex ids), with the official types.
func Decode(t testing.TB, r *kgo.Record, isJSON bool) *coltracepb.ExportTraceServiceRequest {
	t.Helper()
	req, err := DecodeValue(r.Value, isJSON)
	if err != nil {
		t.Fatalf("record at %s/%d offset %d: %v", r.Topic, r.Partition, r.Offset, err)
	}
	return req
}

// DecodeValue is Decode for a value, returning an error.
func DecodeValue(value []byte, isJSON bool) (*coltracepb.ExportTraceServiceRequest, error) {
	req := &coltracepb.ExportTraceServiceRequest{}
	var err error
	if isJSON {
		err = otlpsink.UnmarshalJSON(value, req)
	} else {
		err = proto.Unmarshal(value, req)
	}
	if err != nil {
		return nil, fmt.Errorf("decode OTLP: %w", err)
	}
	return req, nil
}

// SpanCount is the number of spans in req.
func SpanCount(req *coltracepb.ExportTraceServiceRequest) int {
	n := 0
	for _, rs := range req.ResourceSpans {
		for _, ss := range rs.ScopeSpans {
			n += len(ss.Spans)
		}
	}
	return n
}

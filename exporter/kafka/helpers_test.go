package kafka

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"

	"github.com/trace-exporter/trace-exporter/exporter"
	"github.com/trace-exporter/trace-exporter/exporter/internal/exportertest"
	"github.com/trace-exporter/trace-exporter/schema"
	"github.com/trace-exporter/trace-exporter/test/kafkatest"
)

const topic = "otlp_spans"

// startBroker is a one-broker kfake with topic on partitions partitions.
func startBroker(t *testing.T, partitions int32, opts ...kfake.Opt) *kafkatest.Broker {
	t.Helper()
	return kafkatest.Start(t, append([]kfake.Opt{kfake.SeedTopics(partitions, topic)}, opts...)...)
}

// kafkaConfig is a valid kafka config for the brokers with fast test
// timings: an attempt lasts at most 2.5 s.
func kafkaConfig(brokers ...string) *schema.Config {
	c := exportertest.Config("")
	c.Exporter = schema.ExporterKafka
	c.Kafka.Brokers = brokers
	c.ConnectTimeout, c.SendTimeout, c.ReadTimeout = 500, 1000, 1000
	return c
}

// newExporter builds the kafka exporter of cfg outside a pipeline.
func newTestExporter(t *testing.T, cfg *schema.Config) *kafkaExporter {
	t.Helper()
	return exportertest.NewExporter(t, cfg).(*kafkaExporter)
}

// export calls Export once with a bound well above the attempt's.
func export(t *testing.T, e *kafkaExporter, b *exporter.Batch) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	return e.Export(ctx, *b)
}

// received decodes every record into its request and the spans' view,
// failing on a span seen twice.
func received(t *testing.T, recs []*kgo.Record, isJSON bool) map[string]exportertest.ViewSpan {
	t.Helper()
	out := map[string]exportertest.ViewSpan{}
	for _, r := range recs {
		for id, v := range exportertest.ViewOfOTLP(t, kafkatest.Decode(t, r, isJSON)) {
			if _, dup := out[id]; dup {
				t.Errorf("span %s produced twice", id)
			}
			out[id] = v
		}
	}
	return out
}

// traceIDs returns the trace ids of the spans in a request.
func traceIDs(req *coltracepb.ExportTraceServiceRequest) map[string]int {
	out := map[string]int{}
	for _, rs := range req.ResourceSpans {
		for _, ss := range rs.ScopeSpans {
			for _, s := range ss.Spans {
				out[fmt.Sprintf("%x", s.TraceId)]++
			}
		}
	}
	return out
}

// consumeExactly waits for n records, then checks for a little longer that
// no more arrive.
func consumeExactly(t *testing.T, c *kafkatest.Consumer, n int) []*kgo.Record {
	t.Helper()
	recs := c.WaitRecords(t, n, 10*time.Second)
	time.Sleep(200 * time.Millisecond)
	if got := len(c.Records()); got != n {
		t.Fatalf("%d records, want %d", got, n)
	}
	return recs
}

// uniqueTraces is KongLikeBatch(n) with trace ids unique to this test run
// (tag), so two tests never share a trace.
func uniqueTraces(n int, tag byte) *exporter.Batch {
	b := exportertest.KongLikeBatch(n)
	for i := range b.Spans {
		b.Spans[i].TraceID[2] = tag
	}
	return b
}

// Package kafka is the Kafka backend (exporter: kafka): each batch is
// produced to kafka.topic as OTLP ExportTraceServiceRequest messages
// (protobuf or JSON), one per trace keyed by its trace id by default, with
// franz-go; access log records go to kafka.logs_topic as
// ExportLogsServiceRequest messages laid out alike. The Collector's kafka
// receiver (and Jaeger's) reads them as its otlp_proto / otlp_json
// encodings.
package kafka

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/trace-exporter/trace-exporter/exporter"
)

// kafkaExporter produces batches through one franz-go client per pipeline.
//
// A batch is produced as a whole, its messages in one ProduceSync bounded
// by the attempt's deadline. Its outcome:
//   - every message taken: nil;
//   - some refused for good (see isPermanent), or spans too large for any
//     message, the rest taken: *exporter.PartialError counting the spans
//     lost; all of them: exporter.Permanent;
//   - any message failed transiently: exporter.Retryable. The messages
//     already taken (and those refused for good) are remembered in the
//     ledger, so the pipeline's retry of the batch produces only the
//     failed ones: at-least-once without duplicating the delivered part.
type kafkaExporter struct {
	client  *kgo.Client
	topic   string
	timeout time.Duration

	newBuilder func() *builder
	builders   sync.Pool // *builder: concurrency_limit Exports at once

	ledger *ledger
}

func (e *kafkaExporter) Export(ctx context.Context, batch exporter.Batch) error {
	b := e.builder()
	defer e.release(b)
	b.build(&batch)
	return e.produce(ctx, b, len(batch.Spans))
}

// ExportLogs produces a batch of log records (access logs) to the
// pipeline's topic — kafka.logs_topic: a logs pipeline is given the config
// with kafka.topic set to it — with the same message layout (a message per
// trace id, keyed by it, by default), limits and outcomes as spans.
func (e *kafkaExporter) ExportLogs(ctx context.Context, batch exporter.LogBatch) error {
	b := e.builder()
	defer e.release(b)
	b.buildLogs(&batch)
	return e.produce(ctx, b, len(batch.Records))
}

func (e *kafkaExporter) builder() *builder {
	if b, _ := e.builders.Get().(*builder); b != nil {
		return b
	}
	return e.newBuilder()
}

func (e *kafkaExporter) release(b *builder) {
	b.release()
	e.builders.Put(b)
}

// produce sends the messages b was built with, total items in all, and
// tells the outcome as Export does.
func (e *kafkaExporter) produce(ctx context.Context, b *builder, total int) error {
	ctx, cancel := context.WithTimeout(ctx, e.timeout)
	defer cancel()
	// Messages an earlier attempt of this batch settled are not sent again.
	now := time.Now()
	outcomes := b.resetOutcomes()
	var digests []digest
	if !e.ledger.empty() {
		digests = b.digests(e.ledger)
		for i, d := range digests {
			if ent, ok := e.ledger.lookup(d, now); ok {
				outcomes[i] = settledDelivered
				if ent.refused {
					outcomes[i] = settledRefused
				}
			}
		}
	}
	records := b.recordsFor(func(i int) bool { return outcomes[i] == delivered })
	results := e.client.ProduceSync(ctx, records...)

	var firstRefusal, firstFailure error
	failures := 0
	for _, r := range results {
		if r.Err == nil {
			continue
		}
		i := b.messageOf(r.Record)
		if isPermanent(r.Err) {
			outcomes[i] = refused
			firstRefusal = cmp.Or(firstRefusal, r.Err)
			continue
		}
		outcomes[i] = failed
		failures++
		firstFailure = cmp.Or(firstFailure, r.Err)
	}

	if failures > 0 {
		// Remember what this attempt settled, for the retry.
		if digests == nil {
			digests = b.digests(e.ledger)
		}
		for i, o := range outcomes {
			switch o {
			case delivered:
				e.ledger.remember(digests[i], entry{at: now})
			case refused:
				e.ledger.remember(digests[i], entry{at: now, refused: true})
			}
		}
		return exporter.Retryable(fmt.Errorf("kafka topic %s: %d of %d messages failed: %w", e.topic, failures, len(outcomes), firstFailure), 0)
	}

	lost := b.oversize
	for i, o := range outcomes {
		if o == refused || o == settledRefused {
			lost += b.msgs[i].items
		}
	}
	for _, d := range digests {
		e.ledger.forget(d)
	}
	switch {
	case lost == 0:
		return nil
	case lost >= total:
		return exporter.Permanent(fmt.Errorf("kafka topic %s: %w", e.topic, cmp.Or(firstRefusal, errSpanTooLarge)))
	}
	return &exporter.PartialError{Rejected: int64(lost), Message: cmp.Or(firstRefusal, errSpanTooLarge).Error()}
}

// errSpanTooLarge: a span whose message alone exceeds max_message_bytes.
var errSpanTooLarge = errors.New("span larger than kafka.max_message_bytes")

// Shutdown closes the client: its connections and goroutines end. No
// Export runs any more, so nothing is buffered.
func (e *kafkaExporter) Shutdown(context.Context) error {
	e.client.Close()
	return nil
}

package kafka

import (
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/trace-exporter/trace-exporter/exporter"
	"github.com/trace-exporter/trace-exporter/exporter/internal/otlpenc"
	"github.com/trace-exporter/trace-exporter/exporter/internal/wire"
)

// recordOverhead is what a message costs in a Kafka record batch besides
// its key and value: the batch header (61 bytes) and the record's own
// varint-framed fields, rounded up. franz-go refuses a record whose batch
// would exceed max_message_bytes, so messages are cut below the limit by
// this much.
const recordOverhead = 128

// messageLimit is the largest key + value a message may hold.
func messageLimit(maxMessageBytes int) int { return max(maxMessageBytes-recordOverhead, 1) }

// message is one Kafka record of a batch: offsets of its key and value in
// the builder's arena, and the spans it carries.
type message struct {
	keyStart, keyEnd int
	valStart, valEnd int
	spans            int
}

// builder turns a batch into messages, each an OTLP ExportTraceServiceRequest:
//   - by trace (partition_traces_by_id): one message per trace id, keyed by
//     the trace id in lowercase hex (as the Collector keys them), its spans
//     in batch order;
//   - otherwise one message for the batch, without a key;
//
// and a message larger than the limit is cut into several, by spans (the
// parts of a trace keep its key, so they land on its partition). A span
// that alone exceeds the limit is left out and counted in oversize.
//
// One builder serves one Export at a time; it keeps its buffers between
// batches (the encoded messages live in one arena).
type builder struct {
	limit   int
	json    bool
	byTrace bool

	arena    []byte
	msgs     []message
	oversize int

	grouped []exporter.Span
	groupOf []int32
	starts  []int32
	firsts  map[exporter.TraceID]int32

	outcomes []outcome
	digested []digest

	records  []kgo.Record
	ptrs     []*kgo.Record
	sent     []int // message index of each record
	byRecord map[*kgo.Record]int
}

func newBuilder(limit int, json, byTrace bool) *builder {
	return &builder{limit: limit, json: json, byTrace: byTrace,
		firsts: map[exporter.TraceID]int32{}, byRecord: map[*kgo.Record]int{}}
}

// build fills msgs (and oversize) from batch.
func (b *builder) build(batch *exporter.Batch) {
	b.arena, b.msgs, b.oversize = b.arena[:0], b.msgs[:0], 0
	if !b.byTrace {
		b.add(batch, -1, -1)
		return
	}
	spans := b.groupByTrace(batch.Spans)
	sub := exporter.Batch{Resource: batch.Resource, Scope: batch.Scope}
	for start := 0; start < len(spans); {
		end := start + 1
		for end < len(spans) && spans[end].TraceID == spans[start].TraceID {
			end++
		}
		keyStart := len(b.arena)
		b.arena = wire.AppendHex(b.arena, spans[start].TraceID[:])
		sub.Spans = spans[start:end]
		b.add(&sub, keyStart, len(b.arena))
		start = end
	}
	clear(b.grouped) // drop references to the batch's data
}

// add encodes sub as one message, or as several when it exceeds the limit:
// into k parts of about equal span count, k from the encoded size, each
// part checked again.
func (b *builder) add(sub *exporter.Batch, keyStart, keyEnd int) {
	keyLen := max(keyEnd-keyStart, 0)
	valStart := len(b.arena)
	if b.json {
		b.arena = otlpenc.AppendTracesJSON(b.arena, sub)
	} else {
		b.arena = otlpenc.AppendTraces(b.arena, sub)
	}
	size := len(b.arena) - valStart + keyLen
	if size <= b.limit {
		b.msgs = append(b.msgs, message{keyStart: keyStart, keyEnd: keyEnd, valStart: valStart, valEnd: len(b.arena), spans: len(sub.Spans)})
		return
	}
	b.arena = b.arena[:valStart]
	n := len(sub.Spans)
	if n == 1 {
		b.oversize++
		return
	}
	parts := min(max((size+b.limit-1)/b.limit, 2), n)
	spans := sub.Spans
	part := *sub
	for i := range parts {
		part.Spans = spans[i*n/parts : (i+1)*n/parts]
		b.add(&part, keyStart, keyEnd)
	}
}

// groupByTrace returns the spans with each trace's spans together, traces
// in order of first appearance, spans in batch order: the batch itself
// when that already holds (a request's spans are enqueued together), else
// a copy.
func (b *builder) groupByTrace(spans []exporter.Span) []exporter.Span {
	clear(b.firsts)
	contiguous := true
	for i := range spans {
		if i > 0 && spans[i].TraceID == spans[i-1].TraceID {
			continue
		}
		if _, seen := b.firsts[spans[i].TraceID]; seen {
			contiguous = false
			break
		}
		b.firsts[spans[i].TraceID] = int32(i)
	}
	if contiguous {
		return spans
	}
	// Stable counting sort by the trace's rank of first appearance.
	clear(b.firsts)
	b.groupOf = b.groupOf[:0]
	b.starts = b.starts[:0]
	for i := range spans {
		g, seen := b.firsts[spans[i].TraceID]
		if !seen {
			g = int32(len(b.starts))
			b.firsts[spans[i].TraceID] = g
			b.starts = append(b.starts, 0)
		}
		b.groupOf = append(b.groupOf, g)
		b.starts[g]++
	}
	next := int32(0)
	for g, count := range b.starts {
		b.starts[g] = next
		next += count
	}
	b.grouped = append(b.grouped[:0], spans...)
	for i := range spans {
		g := b.groupOf[i]
		b.grouped[b.starts[g]] = spans[i]
		b.starts[g]++
	}
	return b.grouped
}

// outcome is what became of a message in one Export.
type outcome uint8

const (
	delivered        outcome = iota // taken by the brokers (the state of a message about to be sent)
	failed                          // failed transiently: to be retried
	refused                         // refused for good
	settledDelivered                // taken in an earlier attempt: not sent
	settledRefused                  // refused in an earlier attempt: not sent
)

// resetOutcomes returns one outcome per message, all delivered.
func (b *builder) resetOutcomes() []outcome {
	b.outcomes = append(b.outcomes[:0], make([]outcome, len(b.msgs))...)
	return b.outcomes
}

// digests returns the ledger's digest of every message.
func (b *builder) digests(l *ledger) []digest {
	b.digested = b.digested[:0]
	for i := range b.msgs {
		b.digested = append(b.digested, l.digest(b.key(&b.msgs[i]), b.value(&b.msgs[i])))
	}
	return b.digested
}

// key and value of message m, valid until the next build.
func (b *builder) key(m *message) []byte {
	if m.keyStart < 0 {
		return nil
	}
	return b.arena[m.keyStart:m.keyEnd]
}

func (b *builder) value(m *message) []byte { return b.arena[m.valStart:m.valEnd] }

// recordsFor returns a record for every message i with send(i), valid
// until the next build; messageOf maps a record back to its message.
func (b *builder) recordsFor(send func(i int) bool) []*kgo.Record {
	b.records, b.sent, b.ptrs = b.records[:0], b.sent[:0], b.ptrs[:0]
	clear(b.byRecord)
	for i := range b.msgs {
		if send(i) {
			b.records = append(b.records, kgo.Record{Key: b.key(&b.msgs[i]), Value: b.value(&b.msgs[i])})
			b.sent = append(b.sent, i)
		}
	}
	for i := range b.records {
		b.ptrs = append(b.ptrs, &b.records[i])
	}
	return b.ptrs
}

// messageOf returns the index in msgs of the message r carries.
func (b *builder) messageOf(r *kgo.Record) int {
	if len(b.byRecord) == 0 {
		for i := range b.records {
			b.byRecord[&b.records[i]] = b.sent[i]
		}
	}
	return b.byRecord[r]
}

// release drops references to the batch's encoded messages held by the
// records, so a pooled builder pins nothing but its buffers.
func (b *builder) release() {
	clear(b.records)
	clear(b.ptrs)
	clear(b.byRecord)
}

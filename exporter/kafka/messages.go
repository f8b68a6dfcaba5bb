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
// the builder's arena, and the items (spans or log records) it carries.
type message struct {
	keyStart, keyEnd int
	valStart, valEnd int
	items            int
}

// builder turns a batch into messages, each an OTLP export request
// (ExportTraceServiceRequest, or ExportLogsServiceRequest for log records):
//   - by trace (partition_traces_by_id): one message per trace id, keyed by
//     the trace id in lowercase hex (as the Collector keys them), its items
//     in batch order;
//   - otherwise one message for the batch, without a key;
//
// and a message larger than the limit is cut into several, by items (the
// parts of a trace keep its key, so they land on its partition). An item
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

	grouped     []exporter.Span
	groupedLogs []exporter.LogRecord
	groupOf     []int32
	starts      []int32
	firsts      map[exporter.TraceID]int32

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

// build fills msgs (and oversize) from a batch of spans.
func (b *builder) build(batch *exporter.Batch) {
	sub := *batch
	buildMessages(b, batch.Spans, &b.grouped, func(s *exporter.Span) exporter.TraceID { return s.TraceID },
		func(dst []byte, spans []exporter.Span) []byte {
			sub.Spans = spans
			if b.json {
				return otlpenc.AppendTracesJSON(dst, &sub)
			}
			return otlpenc.AppendTraces(dst, &sub)
		})
}

// buildLogs fills msgs (and oversize) from a batch of log records, laid out
// as spans are: a record is keyed by its trace id.
func (b *builder) buildLogs(batch *exporter.LogBatch) {
	sub := *batch
	buildMessages(b, batch.Records, &b.groupedLogs, func(r *exporter.LogRecord) exporter.TraceID { return r.TraceID },
		func(dst []byte, records []exporter.LogRecord) []byte {
			sub.Records = records
			if b.json {
				return otlpenc.AppendLogsJSON(dst, &sub)
			}
			return otlpenc.AppendLogs(dst, &sub)
		})
}

// buildMessages lays items out into messages (see builder); encode writes
// some of them as one export request, scratch is the builder's buffer for
// regrouping items of this type.
func buildMessages[T any](b *builder, items []T, scratch *[]T, traceOf func(*T) exporter.TraceID, encode func([]byte, []T) []byte) {
	b.arena, b.msgs, b.oversize = b.arena[:0], b.msgs[:0], 0
	if !b.byTrace {
		addMessage(b, items, -1, -1, encode)
		return
	}
	items = groupByTrace(b, items, scratch, traceOf)
	for start := 0; start < len(items); {
		id := traceOf(&items[start])
		end := start + 1
		for end < len(items) && traceOf(&items[end]) == id {
			end++
		}
		keyStart := len(b.arena)
		b.arena = wire.AppendHex(b.arena, id[:])
		addMessage(b, items[start:end], keyStart, len(b.arena), encode)
		start = end
	}
	clear(*scratch) // drop references to the batch's data
}

// addMessage encodes items as one message, or as several when it exceeds
// the limit: into k parts of about equal item count, k from the encoded
// size, each part checked again.
func addMessage[T any](b *builder, items []T, keyStart, keyEnd int, encode func([]byte, []T) []byte) {
	keyLen := max(keyEnd-keyStart, 0)
	valStart := len(b.arena)
	b.arena = encode(b.arena, items)
	size := len(b.arena) - valStart + keyLen
	if size <= b.limit {
		b.msgs = append(b.msgs, message{keyStart: keyStart, keyEnd: keyEnd, valStart: valStart, valEnd: len(b.arena), items: len(items)})
		return
	}
	b.arena = b.arena[:valStart]
	n := len(items)
	if n == 1 {
		b.oversize++
		return
	}
	parts := min(max((size+b.limit-1)/b.limit, 2), n)
	for i := range parts {
		addMessage(b, items[i*n/parts:(i+1)*n/parts], keyStart, keyEnd, encode)
	}
}

// groupByTrace returns the items with each trace's items together, traces
// in order of first appearance, items in batch order: the batch itself
// when that already holds (a request's items are enqueued together), else
// a copy in scratch.
func groupByTrace[T any](b *builder, items []T, scratch *[]T, traceOf func(*T) exporter.TraceID) []T {
	clear(b.firsts)
	contiguous := true
	for i := range items {
		id := traceOf(&items[i])
		if i > 0 && id == traceOf(&items[i-1]) {
			continue
		}
		if _, seen := b.firsts[id]; seen {
			contiguous = false
			break
		}
		b.firsts[id] = int32(i)
	}
	if contiguous {
		return items
	}
	// Stable counting sort by the trace's rank of first appearance.
	clear(b.firsts)
	b.groupOf = b.groupOf[:0]
	b.starts = b.starts[:0]
	for i := range items {
		id := traceOf(&items[i])
		g, seen := b.firsts[id]
		if !seen {
			g = int32(len(b.starts))
			b.firsts[id] = g
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
	*scratch = append((*scratch)[:0], items...)
	grouped := *scratch
	for i := range items {
		g := b.groupOf[i]
		grouped[b.starts[g]] = items[i]
		b.starts[g]++
	}
	return grouped
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

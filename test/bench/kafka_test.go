package bench

import (
	"encoding/json"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/trace-exporter/trace-exporter/test/kafkatest"
	"github.com/trace-exporter/trace-exporter/test/kongsim"
)

// producedSpans is an in-process Kafka broker that acknowledges and
// discards what it is sent, counting the spans in the OTLP messages of
// every produce request.
type producedSpans struct {
	addr  string
	spans atomic.Int64
}

func countProducedSpans(tb testing.TB) *producedSpans {
	tb.Helper()
	b := kafkatest.Start(tb, kfake.SeedTopics(8, "otlp_spans"), kfake.BlackholeProduce())
	ps := &producedSpans{addr: b.Addr()}
	c := b.Cluster()
	c.ControlKey(int16(kmsg.Produce), func(req kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		for _, t := range req.(*kmsg.ProduceRequest).Topics {
			for _, p := range t.Partitions {
				ps.spans.Add(int64(spansInRecordBatches(p.Records)))
			}
		}
		return nil, nil, false // then handled (acknowledged) as usual
	})
	return ps
}

// await waits until n spans were produced.
func (ps *producedSpans) await(tb testing.TB, n int64) {
	deadline := time.Now().Add(60 * time.Second)
	for ps.spans.Load() < n {
		if time.Now().After(deadline) {
			tb.Fatalf("the broker got %d of %d spans", ps.spans.Load(), n)
		}
		time.Sleep(100 * time.Microsecond)
	}
}

// spansInRecordBatches counts the spans of the uncompressed record batches
// in b: each record's value is an ExportTraceServiceRequest.
func spansInRecordBatches(b []byte) int {
	n := 0
	for len(b) > 0 {
		var rb kmsg.RecordBatch
		if err := rb.ReadFrom(b); err != nil {
			return n
		}
		b = b[12+int(rb.Length):]
		recs := rb.Records
		for range rb.NumRecords {
			var r kmsg.Record
			length, used := protowire.ConsumeVarint(recs) // zig-zag varint length
			if used < 0 {
				return n
			}
			size := int(protowire.DecodeZigZag(length))
			if err := r.ReadFrom(recs[:used+size]); err != nil {
				return n
			}
			recs = recs[used+size:]
			n += countSpans(r.Value)
		}
	}
	return n
}

// countSpans walks ExportTraceServiceRequest.resource_spans (1) →
// ResourceSpans.scope_spans (2) → ScopeSpans.spans (2).
func countSpans(req []byte) int {
	n := 0
	eachField(req, 1, func(rs []byte) {
		eachField(rs, 2, func(ss []byte) {
			eachField(ss, 2, func([]byte) { n++ })
		})
	})
	return n
}

func eachField(b []byte, want protowire.Number, fn func([]byte)) {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return
		}
		b = b[n:]
		if typ == protowire.BytesType {
			v, m := protowire.ConsumeBytes(b)
			if m < 0 {
				return
			}
			if num == want {
				fn(v)
			}
			b = b[m:]
			continue
		}
		m := protowire.ConsumeFieldValue(num, typ, b)
		if m < 0 {
			return
		}
		b = b[m:]
	}
}

// kafkaPayload is the small-get payload without the access phase's
// hand-off: the plugin then starts a trace of its own for each request, as
// for requests that arrive without a trace context.
func kafkaPayload(tb testing.TB) string {
	tb.Helper()
	t := smallGet().Serialize(kongsim.DefaultVersion)
	b, err := kongsim.EncodeLuaJSON(t, 16)
	if err != nil {
		tb.Fatal(err)
	}
	return string(b)
}

// spansPerEvent is how many spans the plugin makes of the payload: the
// request's and one per balancer try.
func spansPerEvent(tb testing.TB, payload []byte) int {
	var s kongSerialize
	if err := json.Unmarshal(payload, &s); err != nil {
		tb.Fatal(err)
	}
	return 1 + len(s.Tries)
}

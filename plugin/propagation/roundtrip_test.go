package propagation

import (
	"math/rand/v2"
	"testing"
)

// TestRoundTripAllFormats: for every format, a context the gateway injects
// is extracted back to the same ids, decision and debug flag, including
// 64-bit trace ids (upper half zero) and ids with leading zero bytes.
func TestRoundTripAllFormats(t *testing.T) {
	all := []Format{W3C, B3, B3Single, Jaeger, OT, AWS, GCP, Datadog, Instana}
	r := rand.New(rand.NewPCG(21, 22))
	for _, f := range all {
		for i := 0; i < 500; i++ {
			traceID, spanID := randomIDs(r, i%3 == 1)
			if i%5 == 2 {
				clear(traceID[8:12]) // leading zeros in the low half
				clear(spanID[:3])
			}
			sc := SpanContext{TraceID: traceID, SpanID: spanID, Sampling: NotSampled}
			if i%2 == 0 {
				sc.Sampling = Sampled
				sc.Debug = i%4 == 0
			}
			back, ok := Extract(headerMapOf(Inject(nil, sc, []Format{f}, W3C)), []Format{f})
			wantDebug := sc.Debug && (f == B3 || f == B3Single || f == Jaeger)
			if !ok || back.TraceID != sc.TraceID || back.SpanID != sc.SpanID || back.Sampling != sc.Sampling ||
				back.Debug != wantDebug || back.Format != f {
				t.Fatalf("%v: injected %+v, extracted %+v (%v)", f, sc, back, ok)
			}
		}
	}
}

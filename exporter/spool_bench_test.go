package exporter

import (
	"context"
	"testing"
)

// BenchmarkSpoolAppend is the spool's write cost per record (one bbolt
// transaction, fsync'd unless NoSync), for a request's 2 spans and a
// 200-span batch: the batcher pays it once per take, so under load many
// requests share one transaction.
func BenchmarkSpoolAppend(b *testing.B) {
	for _, c := range []struct {
		name   string
		spans  int
		noSync bool
	}{{"2spans", 2, false}, {"200spans", 200, false}, {"2spans-nosync", 2, true}, {"200spans-nosync", 200, true}} {
		b.Run(c.name, func(b *testing.B) {
			s := newSpool(b.TempDir(), "bench", "bench", 1<<40, discardLogger())
			s.noSync = c.noSync
			ctx, cancel := context.WithCancel(context.Background())
			go s.openLoop(ctx, func(spoolOpened) {})
			<-s.ready()
			defer func() { cancel(); _ = s.close() }()
			spans := kongLikeBatch(c.spans).Spans
			var buf []byte
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				if _, err := s.append(spans, buf); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*c.spans), "ns/span")
		})
	}
}

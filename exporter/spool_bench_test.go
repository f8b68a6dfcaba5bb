package exporter_test

import (
	"testing"

	"github.com/trace-exporter/trace-exporter/exporter"
	"github.com/trace-exporter/trace-exporter/exporter/internal/exportertest"
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
			appendRecord, closeSpool := exporter.OpenSpoolForBench(b.TempDir(), c.noSync)
			defer closeSpool()
			spans := exportertest.KongLikeBatch(c.spans).Spans
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				if err := appendRecord(spans); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*c.spans), "ns/span")
		})
	}
}

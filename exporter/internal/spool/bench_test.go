package spool

import (
	"context"
	"log/slog"
	"testing"
)

// BenchmarkAppend is the spool's write cost per record (one bbolt
// transaction, fsync'd unless noSync) for a request's 2 items and a
// 200-item batch of span-sized (400-byte) items: the writer pays it once
// per take, so under load many requests share one transaction.
func BenchmarkAppend(b *testing.B) {
	for _, c := range []struct {
		name   string
		items  int
		noSync bool
	}{{"2spans", 2, false}, {"200spans", 200, false}, {"2spans-nosync", 2, true}, {"200spans-nosync", 200, true}} {
		b.Run(c.name, func(b *testing.B) {
			s := newStore(b.TempDir(), "bench", "bench", 1<<40, slog.New(slog.DiscardHandler))
			s.noSync = c.noSync
			ctx, cancel := context.WithCancel(context.Background())
			go s.openLoop(ctx, func(opened) {})
			<-s.ready()
			defer func() { cancel(); _ = s.close() }()
			items := blobs(c.items, 400)
			var buf []byte
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				buf = EncodeRecord(buf[:0], items, blobCodec{})
				if _, err := s.append(buf, len(items)); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*c.items), "ns/span")
		})
	}
}

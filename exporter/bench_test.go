package exporter_test

import (
	"context"
	"testing"

	"github.com/trace-exporter/trace-exporter/exporter"
	"github.com/trace-exporter/trace-exporter/exporter/internal/exportertest"
	"github.com/trace-exporter/trace-exporter/schema"
)

// discardExporter accepts every batch: the pipeline's own costs, no I/O.
type discardExporter struct{}

func (discardExporter) Export(context.Context, exporter.Batch) error { return nil }
func (discardExporter) Shutdown(context.Context) error               { return nil }

func init() {
	exporter.Register("test-discard", func(*schema.Config, exporter.Settings) (exporter.Exporter, error) { return discardExporter{}, nil })
}

// BenchmarkEnqueue is the Log handler's share of the exporter: handing a
// request's two spans to a pipeline, from every core at once. "accept":
// the batcher keeps up (its work runs on the same cores); "full": the queue
// is full, every offer is refused and counted.
func BenchmarkEnqueue(b *testing.B) {
	spans := exportertest.KongLikeBatch(2).Spans
	for _, full := range []bool{false, true} {
		b.Run(map[bool]string{false: "accept", true: "full"}[full], func(b *testing.B) {
			cfg := exportertest.Config("http://127.0.0.1:1/unused")
			cfg.Exporter = "test-discard"
			cfg.Queue.MaxBatchSize = 512
			if full {
				cfg.Queue.MaxEntries = 2
				cfg.Queue.MaxCoalescingDelay = 3600
			}
			reg := exporter.NewRegistry(exporter.RegistryOptions{})
			defer func() { _ = reg.ShutdownAll(context.Background()) }()
			h, err := reg.Acquire(cfg)
			if err != nil {
				b.Fatal(err)
			}
			if full {
				h.Enqueue(spans)
			}
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					h.Enqueue(spans)
				}
			})
			b.StopTimer()
			if s := h.Stats(); full && s.DroppedBy(exporter.DropQueueFullEntries) == 0 {
				b.Fatal("nothing dropped")
			}
		})
	}
}

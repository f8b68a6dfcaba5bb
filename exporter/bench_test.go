package exporter

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/klauspost/compress/gzip"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/trace-exporter/trace-exporter/schema"
)

// BenchmarkEncode compares our encoders with the generated OTLP structs
// built from the same spans and marshalled by the official libraries (the
// naive way: what an exporter that converts to the generated types does).
// Reported per 512-span batch; spans/s is also reported.
func BenchmarkEncode(b *testing.B) {
	batch := kongLikeBatch(512)
	report := func(b *testing.B) {
		b.ReportMetric(float64(b.N*len(batch.Spans))/b.Elapsed().Seconds(), "spans/s")
	}
	b.Run("trace-exporter-protobuf", func(b *testing.B) {
		var enc protoEncoder
		buf := enc.appendTracesRequest(nil, batch)
		b.SetBytes(int64(len(buf)))
		b.ReportAllocs()
		for b.Loop() {
			buf = enc.appendTracesRequest(buf[:0], batch)
		}
		report(b)
	})
	b.Run("proto-marshal", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := proto.Marshal(toOTLP(batch)); err != nil {
				b.Fatal(err)
			}
		}
		report(b)
	})
	b.Run("trace-exporter-json", func(b *testing.B) {
		buf := appendTracesJSON(nil, batch)
		b.SetBytes(int64(len(buf)))
		b.ReportAllocs()
		for b.Loop() {
			buf = appendTracesJSON(buf[:0], batch)
		}
		report(b)
	})
	b.Run("protojson-marshal", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := protojson.Marshal(toOTLP(batch)); err != nil {
				b.Fatal(err)
			}
		}
		report(b)
	})
}

// discardExporter accepts every batch: the pipeline's own costs, no I/O.
type discardExporter struct{}

func (discardExporter) Export(context.Context, Batch) error { return nil }
func (discardExporter) Shutdown(context.Context) error      { return nil }

func init() {
	Register("test-discard", func(*schema.Config, Settings) (Exporter, error) { return discardExporter{}, nil })
}

// BenchmarkEnqueue is the Log handler's share of the exporter: handing a
// request's two spans to a pipeline, from every core at once. "accept":
// the batcher keeps up (its work runs on the same cores); "full": the queue
// is full, every offer is refused and counted.
func BenchmarkEnqueue(b *testing.B) {
	spans := kongLikeBatch(2).Spans
	for _, full := range []bool{false, true} {
		b.Run(map[bool]string{false: "accept", true: "full"}[full], func(b *testing.B) {
			cfg := testConfig("http://127.0.0.1:1/unused")
			cfg.Exporter = "test-discard"
			cfg.Queue.MaxBatchSize = 512
			if full {
				cfg.Queue.MaxEntries = 2
				cfg.Queue.MaxCoalescingDelay = 3600
			}
			reg := NewRegistry(RegistryOptions{})
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
			if s := h.Stats(); full && s.DroppedBy(DropQueueFullEntries) == 0 {
				b.Fatal("nothing dropped")
			}
		})
	}
}

// BenchmarkExport: 512-span batches encoded and POSTed to a local sink that
// discards them (keep-alive, no compression), next to proto-marshal, which
// only builds and marshals the generated structs without any HTTP.
func BenchmarkExport(b *testing.B) {
	batch := kongLikeBatch(512)
	report := func(b *testing.B) {
		b.ReportMetric(float64(b.N*len(batch.Spans))/b.Elapsed().Seconds(), "spans/s")
	}
	for _, gz := range []bool{false, true} {
		name := "trace-exporter"
		if gz {
			name += "-gzip"
		}
		b.Run(name, func(b *testing.B) {
			sink := discardSink(b)
			cfg := testConfig(sink.URL)
			if gz {
				cfg.Compression = "gzip"
			}
			exp, err := newOTLPHTTPExporter(cfg, Settings{Logger: discardLogger()})
			if err != nil {
				b.Fatal(err)
			}
			defer exp.Shutdown(context.Background())
			b.ReportAllocs()
			for b.Loop() {
				if err := exp.Export(context.Background(), *batch); err != nil {
					b.Fatal(err)
				}
			}
			report(b)
		})
	}
	b.Run("proto-marshal", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := proto.Marshal(toOTLP(batch)); err != nil {
				b.Fatal(err)
			}
		}
		report(b)
	})
}

// BenchmarkGzipLevels backs the choice of gzipLevel: ratio and speed on a
// Kong-like batch.
func BenchmarkGzipLevels(b *testing.B) {
	var enc protoEncoder
	plain := enc.appendTracesRequest(nil, kongLikeBatch(512))
	for _, level := range []int{gzip.BestSpeed, 3, gzip.DefaultCompression, gzip.BestCompression} {
		b.Run(gzipLevelName(level), func(b *testing.B) {
			var out bytes.Buffer
			zw, _ := gzip.NewWriterLevel(&out, level)
			b.SetBytes(int64(len(plain)))
			for b.Loop() {
				out.Reset()
				zw.Reset(&out)
				_, _ = zw.Write(plain)
				_ = zw.Close()
			}
			b.ReportMetric(float64(len(plain))/float64(out.Len()), "ratio")
		})
	}
}

func gzipLevelName(l int) string {
	switch l {
	case gzip.BestSpeed:
		return "level-1"
	case 3:
		return "level-3"
	case gzip.DefaultCompression:
		return "default"
	}
	return "level-9"
}

func discardSink(b *testing.B) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.WriteHeader(http.StatusOK)
	}))
	b.Cleanup(srv.Close)
	return srv
}

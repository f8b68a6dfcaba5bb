package otlpenc

import (
	"bytes"
	"compress/gzip"
	"testing"

	"github.com/trace-exporter/trace-exporter/exporter/internal/exportertest"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
)

// BenchmarkEncode compares our encoders with the generated OTLP structs
// built from the same spans and marshalled by the official libraries (the
// naive way: what an exporter that converts to the generated types does).
// Reported per 512-span batch; spans/s is also reported.
func BenchmarkEncode(b *testing.B) {
	batch := exportertest.KongLikeBatch(512)
	report := func(b *testing.B) {
		b.ReportMetric(float64(b.N*len(batch.Spans))/b.Elapsed().Seconds(), "spans/s")
	}
	b.Run("trace-exporter-protobuf", func(b *testing.B) {
		var enc Encoder
		buf := enc.AppendTraces(nil, batch)
		b.SetBytes(int64(len(buf)))
		b.ReportAllocs()
		for b.Loop() {
			buf = enc.AppendTraces(buf[:0], batch)
		}
		report(b)
	})
	b.Run("proto-marshal", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := proto.Marshal(exportertest.ToOTLP(batch)); err != nil {
				b.Fatal(err)
			}
		}
		report(b)
	})
	b.Run("trace-exporter-json", func(b *testing.B) {
		buf := AppendTracesJSON(nil, batch)
		b.SetBytes(int64(len(buf)))
		b.ReportAllocs()
		for b.Loop() {
			buf = AppendTracesJSON(buf[:0], batch)
		}
		report(b)
	})
	b.Run("protojson-marshal", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := protojson.Marshal(exportertest.ToOTLP(batch)); err != nil {
				b.Fatal(err)
			}
		}
		report(b)
	})
}

// BenchmarkGzipLevels backs the choice of wire.GzipLevel: ratio and speed
// on a Kong-like batch.
func BenchmarkGzipLevels(b *testing.B) {
	plain := AppendTraces(nil, exportertest.KongLikeBatch(512))
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

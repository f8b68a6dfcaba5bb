package otlphttp

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/trace-exporter/trace-exporter/exporter"
	"github.com/trace-exporter/trace-exporter/exporter/internal/exportertest"
	"google.golang.org/protobuf/proto"
)

// BenchmarkExport: 512-span batches encoded and POSTed to a local sink that
// discards them (keep-alive, no compression), next to proto-marshal, which
// only builds and marshals the generated structs without any HTTP.
func BenchmarkExport(b *testing.B) {
	batch := exportertest.KongLikeBatch(512)
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
			cfg := exportertest.Config(sink.URL)
			if gz {
				cfg.Compression = "gzip"
			}
			exp, err := newExporter(cfg, exporter.Settings{Logger: exportertest.DiscardLogger()})
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
			if _, err := proto.Marshal(exportertest.ToOTLP(batch)); err != nil {
				b.Fatal(err)
			}
		}
		report(b)
	})
}

func discardSink(b *testing.B) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.WriteHeader(http.StatusOK)
	}))
	b.Cleanup(srv.Close)
	return srv
}

package bench

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/trace-exporter/trace-exporter/exporter"
	"github.com/trace-exporter/trace-exporter/plugin"
)

// BenchmarkLogPath measures the log handler's work from the serialize text
// to spans handed to the export queue, per request, next to the OTel Go SDK
// doing the same (otel-sdk) and json.Valid on the same bytes (json-valid:
// the floor of any parse that looks at every byte).
func BenchmarkLogPath(b *testing.B) {
	sink := newDiscardSink(b)
	for _, p := range payloads(b) {
		b.Run(p.name, func(b *testing.B) {
			b.Run("trace-exporter", func(b *testing.B) { benchTraceExporterLog(b, sink, p.text) })
			b.Run("otel-sdk", func(b *testing.B) { benchOTelLog(b, sink, []byte(p.text)) })
			b.Run("json-valid", func(b *testing.B) {
				data := []byte(p.text)
				b.SetBytes(int64(len(data)))
				b.ReportAllocs()
				for b.Loop() {
					if !json.Valid(data) {
						b.Fatal("invalid payload")
					}
				}
			})
		})
	}
}

func benchTraceExporterLog(b *testing.B, sink *discardSink, text string) {
	p, env := newPluginInstance(b, `{"traces_endpoint":"`+sink.tracesURL()+`"}`)
	stats := env.Stats
	built, rejected := stats.SpansBuilt.Load(), stats.QueueRejected.Load()
	invalid := stats.PayloadInvalid.Load()
	b.SetBytes(int64(len(text)))
	b.ReportAllocs()
	for b.Loop() {
		p.LogPayload(text)
	}
	b.StopTimer()
	if stats.PayloadInvalid.Load() != invalid || stats.SpansBuilt.Load() == built {
		b.Fatal("the payload did not become spans")
	}
	b.ReportMetric(float64(stats.QueueRejected.Load()-rejected)/float64(b.N), "rejected/op")
}

// newPluginInstance starts a plugin instance as go-pdk does at
// StartInstance, in an environment of its own (pipelines and counters),
// shut down at cleanup.
func newPluginInstance(tb testing.TB, config string) (*plugin.Plugin, *plugin.Env) {
	tb.Helper()
	env := plugin.NewEnv(exporter.NewRegistry(exporter.RegistryOptions{}))
	tb.Cleanup(func() {
		// What a backend that is down still holds is dropped after 2 s.
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = env.Pipelines.ShutdownAll(ctx)
	})
	p := plugin.NewWithEnv(env)
	if err := json.Unmarshal([]byte(config), p); err != nil {
		tb.Fatalf("config refused: %v", err)
	}
	return p, env
}

// discardSink is an OTLP/HTTP endpoint that reads and discards every
// request, answering 200 with an empty body; it counts requests so export
// benchmarks can wait for a batch to arrive.
type discardSink struct {
	srv      *httptest.Server
	requests atomic.Int64
	arrived  chan struct{}
}

func newDiscardSink(tb testing.TB) *discardSink {
	s := &discardSink{arrived: make(chan struct{}, 1<<16)}
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/x-protobuf")
		w.WriteHeader(http.StatusOK)
		s.requests.Add(1)
		select {
		case s.arrived <- struct{}{}:
		default:
		}
	}))
	tb.Cleanup(s.srv.Close)
	return s
}

func (s *discardSink) tracesURL() string { return s.srv.URL + "/v1/traces" }

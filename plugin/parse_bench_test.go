package plugin

import (
	"context"
	stdjson "encoding/json"
	"testing"

	gojson "github.com/goccy/go-json"
	"github.com/tidwall/gjson"
	"github.com/valyala/fastjson"

	"github.com/trace-exporter/trace-exporter/exporter"
	"github.com/trace-exporter/trace-exporter/schema"
)

// BenchmarkParse chose the serialize parser: every peer reads the fields
// spans are built from (no span building), from the log-path benchmark
// payloads (test/bench writes them from the Kong emulator).
//   - single-pass: parseSerialized, the parser in use;
//   - fastjson: the tree parser it replaced (parseSerializedTree);
//   - encoding-json, go-json: decoding into a struct of the same fields;
//   - gjson: one GetMany lookup of the same paths (no tree, one scan per
//     path);
//   - json-valid: json.Valid, the cost of looking at every byte once.
func BenchmarkParse(b *testing.B) {
	w := &parseWants{handoffKey: handoffKey}
	for _, name := range []string{"small-get", "many-headers", "retried"} {
		payload := fixture(b, "bench-"+name+".json")
		data := []byte(payload)
		b.Run(name, func(b *testing.B) {
			b.Run("single-pass", func(b *testing.B) {
				b.SetBytes(int64(len(payload)))
				b.ReportAllocs()
				for b.Loop() {
					a := newArena(len(payload) / 4)
					if _, err := parseSerialized(payload, w, &a); err != nil {
						b.Fatal(err)
					}
				}
			})
			b.Run("fastjson", func(b *testing.B) {
				var p fastjson.Parser
				b.SetBytes(int64(len(payload)))
				b.ReportAllocs()
				for b.Loop() {
					a := newArena(len(payload) / 4)
					if _, err := parseSerializedTree(&p, payload, w, &a); err != nil {
						b.Fatal(err)
					}
				}
			})
			b.Run("encoding-json", func(b *testing.B) {
				b.SetBytes(int64(len(payload)))
				b.ReportAllocs()
				for b.Loop() {
					var s serializeStruct
					if err := stdjson.Unmarshal(data, &s); err != nil {
						b.Fatal(err)
					}
				}
			})
			b.Run("go-json", func(b *testing.B) {
				b.SetBytes(int64(len(payload)))
				b.ReportAllocs()
				for b.Loop() {
					var s serializeStruct
					if err := gojson.Unmarshal(data, &s); err != nil {
						b.Fatal(err)
					}
				}
			})
			b.Run("gjson", func(b *testing.B) {
				b.SetBytes(int64(len(payload)))
				b.ReportAllocs()
				for b.Loop() {
					if r := gjson.GetMany(payload, gjsonPaths...); !r[0].Exists() {
						b.Fatal("no request.method")
					}
				}
			})
			b.Run("json-valid", func(b *testing.B) {
				b.SetBytes(int64(len(payload)))
				b.ReportAllocs()
				for b.Loop() {
					if !stdjson.Valid(data) {
						b.Fatal("invalid")
					}
				}
			})
		})
	}
}

// serializeStruct declares the fields parseSerialized reads; the decoders
// skip the rest. Headers are a map: values are strings or arrays.
type serializeStruct struct {
	Request struct {
		ID      string         `json:"id"`
		Method  string         `json:"method"`
		URI     string         `json:"uri"`
		URL     string         `json:"url"`
		Size    float64        `json:"size"`
		Headers map[string]any `json:"headers"`
		TLS     *struct {
			Version      string `json:"version"`
			Cipher       string `json:"cipher"`
			ClientVerify string `json:"client_verify"`
		} `json:"tls"`
	} `json:"request"`
	UpstreamURI    string `json:"upstream_uri"`
	UpstreamStatus any    `json:"upstream_status"`
	Response       struct {
		Status  float64        `json:"status"`
		Size    float64        `json:"size"`
		Headers map[string]any `json:"headers"`
	} `json:"response"`
	Latencies struct {
		Kong    float64  `json:"kong"`
		Proxy   float64  `json:"proxy"`
		Request float64  `json:"request"`
		Receive *float64 `json:"receive"`
	} `json:"latencies"`
	Tries []struct {
		BalancerStart     float64 `json:"balancer_start"`
		BalancerStartNs   float64 `json:"balancer_start_ns"`
		BalancerLatency   float64 `json:"balancer_latency"`
		BalancerLatencyNs float64 `json:"balancer_latency_ns"`
		IP                string  `json:"ip"`
		Port              float64 `json:"port"`
		State             string  `json:"state"`
		Code              float64 `json:"code"`
	} `json:"tries"`
	Route *struct {
		ID    string   `json:"id"`
		Name  string   `json:"name"`
		Paths []string `json:"paths"`
	} `json:"route"`
	Service *struct {
		ID       string  `json:"id"`
		Name     string  `json:"name"`
		Host     string  `json:"host"`
		Port     float64 `json:"port"`
		Protocol string  `json:"protocol"`
		Path     string  `json:"path"`
	} `json:"service"`
	Consumer *struct {
		ID       string `json:"id"`
		Username string `json:"username"`
		CustomID string `json:"custom_id"`
	} `json:"consumer"`
	AuthenticatedEntity *struct {
		ID string `json:"id"`
	} `json:"authenticated_entity"`
	ClientIP      string  `json:"client_ip"`
	StartedAt     float64 `json:"started_at"`
	Source        string  `json:"source"`
	Workspace     string  `json:"workspace"`
	WorkspaceName string  `json:"workspace_name"`
	TraceExporter string  `json:"trace_exporter"`
}

var gjsonPaths = []string{
	"request.method", "request.id", "request.uri", "request.url", "request.size", "request.tls",
	"request.headers.user-agent", "request.headers.host", "upstream_uri", "upstream_status",
	"response.status", "response.size", "latencies", "tries", "route.id", "route.name", "route.paths.0",
	"service.id", "service.name", "service.host", "service.port", "service.protocol", "service.path",
	"consumer", "authenticated_entity.id", "client_ip", "started_at", "source", "workspace",
	"workspace_name", "trace_exporter",
}

// discardExporter takes every batch and does nothing: BenchmarkLogPayload
// measures the log path without an export running beside it (which makes
// instruction counts with callgrind repeatable).
type discardExporter struct{}

func (discardExporter) Export(context.Context, exporter.Batch) error { return nil }
func (discardExporter) Shutdown(context.Context) error               { return nil }

func init() {
	exporter.Register("bench-discard", func(*schema.Config, exporter.Settings) (exporter.Exporter, error) {
		return discardExporter{}, nil
	})
}

// BenchmarkLogPayload is the log handler's work after the serialize call
// (parse, ids, spans, enqueue) into a pipeline whose exporter discards.
// test/bench's BenchmarkLogPath measures the same with the real exporter
// and compares it with its peers.
func BenchmarkLogPayload(b *testing.B) {
	cfg := benchDiscardConfig()
	rt, err := newTestRuntime(&cfg)
	if err != nil {
		b.Fatal(err)
	}
	for _, name := range []string{"small-get", "many-headers", "retried"} {
		payload := fixture(b, "bench-"+name+".json")
		b.Run(name, func(b *testing.B) {
			built := rt.stats.SpansBuilt.Load()
			b.ReportAllocs()
			for b.Loop() {
				rt.logPayload(payload, nil)
			}
			if rt.stats.SpansBuilt.Load() == built {
				b.Fatal("no spans built")
			}
		})
	}
}

// newTestRuntime compiles cfg for an instance with counters of its own,
// exporting through exporter.DefaultRegistry.
func newTestRuntime(cfg *schema.Config) (*runtime, error) {
	return newRuntime(cfg, NewEnv(exporter.DefaultRegistry))
}

// benchDiscardConfig is the default config with the discarding exporter.
func benchDiscardConfig() schema.Config {
	cfg := schema.Defaults()
	cfg.Exporter = "bench-discard"
	cfg.TracesEndpoint = "http://127.0.0.1:1/v1/traces"
	return cfg
}

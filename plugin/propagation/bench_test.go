package propagation

import (
	"context"
	"testing"

	"go.opentelemetry.io/otel/propagation"

	"google.golang.org/protobuf/types/known/structpb"
)

// formatSamples holds typical incoming headers per format: what the access
// handler sees on a request carrying that format.
var formatSamples = []struct {
	name   string
	format Format
	h      HeaderMap
}{
	{"w3c", W3C, hm("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", "tracestate", "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE")},
	{"b3", B3, hm("x-b3-traceid", "463ac35c9f6413ad48485a3953bb6124", "x-b3-spanid", "a2fb4a1d1a96d312", "x-b3-parentspanid", "0020000000000001", "x-b3-sampled", "1")},
	{"b3-single", B3Single, hm("b3", "80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-1-05e3ac9a4f6e3b90")},
	{"jaeger", Jaeger, hm("uber-trace-id", "4bf92f3577b34da6a3ce929d0e0e4736:00f067aa0ba902b7:0:1")},
	{"ot", OT, hm("ot-tracer-traceid", "4bf92f3577b34da6a3ce929d0e0e4736", "ot-tracer-spanid", "00f067aa0ba902b7", "ot-tracer-sampled", "true")},
	{"aws", AWS, hm("x-amzn-trace-id", "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1")},
	{"gcp", GCP, hm("x-cloud-trace-context", "105445aa7843bc8bf206b12000100000/123456789012345;o=1")},
	{"datadog", Datadog, hm("x-datadog-trace-id", "3007449093011484149", "x-datadog-parent-id", "1738392913620127217",
		"x-datadog-sampling-priority", "1", "x-datadog-tags", "_dd.p.dm=-0,_dd.p.tid=640cfd8d00000000")},
	{"instana", Instana, hm("x-instana-t", "80f198ee56343ba864fe8b2a57d3eff7", "x-instana-s", "e457b5a2e4d86bd1", "x-instana-l", "1")},
}

// withCommonHeaders adds the headers every request has, so map lookups
// run on a realistically sized map.
func withCommonHeaders(h HeaderMap) HeaderMap {
	m := hm("host", "api.example.com", "user-agent", "curl/8.5.0", "accept", "*/*", "content-type", "application/json",
		"x-forwarded-for", "10.0.0.1", "x-request-id", "7f0c1e2d-3b4a-5c6d-7e8f-9a0b1c2d3e4f", "authorization", "Bearer x")
	for k, v := range h {
		m[k] = v
	}
	return m
}

func BenchmarkExtract(b *testing.B) {
	for _, s := range formatSamples {
		h := withCommonHeaders(s.h)
		formats := []Format{s.format}
		b.Run(s.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, ok := Extract(h, formats); !ok {
					b.Fatal("not extracted")
				}
			}
		})
	}
	// The default configuration (header_type preserve) tries b3, w3c,
	// jaeger, ot, datadog, aws, gcp, instana in turn.
	b.Run("preserve-order/w3c", func(b *testing.B) {
		h := withCommonHeaders(formatSamples[0].h)
		b.ReportAllocs()
		for b.Loop() {
			Extract(h, legacyExtract)
		}
	})
	b.Run("preserve-order/none", func(b *testing.B) {
		h := withCommonHeaders(HeaderMap{})
		b.ReportAllocs()
		for b.Loop() {
			Extract(h, legacyExtract)
		}
	})
	b.Run("struct/w3c", func(b *testing.B) {
		st, _ := structpb.NewStruct(map[string]any{
			"traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", "host": "api.example.com", "accept": "*/*",
		})
		h := StructHeaders{st}
		b.ReportAllocs()
		for b.Loop() {
			Extract(h, []Format{W3C})
		}
	})
}

func BenchmarkInject(b *testing.B) {
	sc := SpanContext{
		TraceID:      tid(b, "4bf92f3577b34da6a3ce929d0e0e4736"),
		SpanID:       sid(b, "00f067aa0ba902b7"),
		ParentSpanID: sid(b, "05e3ac9a4f6e3b90"),
		Sampling:     Sampled,
	}
	buf := make([]Header, 0, 8)
	for _, s := range formatSamples {
		formats := []Format{s.format}
		b.Run(s.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				buf = Inject(buf[:0], sc, formats, W3C)
			}
		})
	}
}

// BenchmarkExtractOpenTelemetry runs the OpenTelemetry Go propagators on the
// same headers, as a peer for BenchmarkExtract (they also build a
// context.Context, which the gateway does not need).
func BenchmarkExtractOpenTelemetry(b *testing.B) {
	for _, ref := range references {
		var sample HeaderMap
		for _, s := range formatSamples {
			if s.format == ref.format {
				sample = withCommonHeaders(s.h)
			}
		}
		carrier := propagation.MapCarrier{}
		for k, v := range sample {
			carrier[k] = v[0]
		}
		carrier["X-Amzn-Trace-Id"] = carrier[headerAWS]
		b.Run(ref.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				ref.prop.Extract(context.Background(), carrier)
			}
		})
	}
}

// TestExtractAllocations: extraction of every format allocates nothing for
// headers sent once (the common case), through both getters.
func TestExtractAllocations(t *testing.T) {
	for _, s := range formatSamples {
		h := withCommonHeaders(s.h)
		formats := []Format{s.format}
		if n := testing.AllocsPerRun(100, func() { Extract(h, formats) }); n != 0 {
			t.Errorf("%s: %v allocations per extract", s.name, n)
		}
	}
	h := withCommonHeaders(HeaderMap{})
	if n := testing.AllocsPerRun(100, func() { Extract(h, legacyExtract) }); n != 0 {
		t.Errorf("no context, default order: %v allocations", n)
	}
	st, _ := structpb.NewStruct(map[string]any{"traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"})
	if n := testing.AllocsPerRun(100, func() { Extract(StructHeaders{st}, legacyExtract) }); n != 0 {
		t.Errorf("StructHeaders: %v allocations", n)
	}
}

// TestInjectAllocations: one allocation per header value built, none for
// constant values ("1", "true") or for dst when it has room.
func TestInjectAllocations(t *testing.T) {
	sc := SpanContext{TraceID: tid(t, "4bf92f3577b34da6a3ce929d0e0e4736"), SpanID: sid(t, "00f067aa0ba902b7"),
		ParentSpanID: sid(t, "05e3ac9a4f6e3b90"), Sampling: Sampled}
	want := map[Format]float64{W3C: 1, B3: 3, B3Single: 1, Jaeger: 1, OT: 2, AWS: 1, GCP: 1, Datadog: 3, Instana: 2}
	buf := make([]Header, 0, 8)
	for f, n := range want {
		formats := []Format{f}
		if got := testing.AllocsPerRun(100, func() { buf = Inject(buf[:0], sc, formats, W3C) }); got != n {
			t.Errorf("%v: %v allocations, want %v", f, got, n)
		}
	}
}

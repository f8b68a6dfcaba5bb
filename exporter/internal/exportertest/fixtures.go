package exportertest

import (
	"math"
	"strconv"
	"strings"

	"github.com/trace-exporter/trace-exporter/exporter"
)

// RichBatch covers every field and value type the encoders handle,
// including strings that need escaping or repair.
func RichBatch() *exporter.Batch {
	tid := exporter.TraceID{0x4b, 0xf9, 0x2f, 0x35, 0x77, 0xb3, 0x4d, 0xa6, 0xa3, 0xce, 0x92, 0x9d, 0x0e, 0x0e, 0x47, 0x36}
	root := exporter.Span{
		TraceID:       tid,
		SpanID:        exporter.SpanID{0, 0xf0, 0x67, 0xaa, 0x0b, 0xa9, 0x02, 0xb7},
		ParentSpanID:  exporter.SpanID{1, 2, 3, 4, 5, 6, 7, 8},
		TraceState:    "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE",
		Flags:         0x301, // sampled + remote parent known and remote
		Name:          "GET /users/{id}",
		Kind:          exporter.KindServer,
		StartUnixNano: 1_700_000_000_123_456_789,
		EndUnixNano:   1_700_000_000_223_456_789,
		Attributes: []exporter.Attribute{
			exporter.String("http.request.method", "GET"),
			exporter.String("url.path", "/caf\xc3\xa9/\xff\xfebad\x80"),
			exporter.String("empty", ""),
			exporter.String("escapes", "quote\" back\\ tab\t nl\n cr\r ctl\x01 \u2028 emoji 😀"),
			exporter.Int("http.response.status_code", 503),
			exporter.Int("negative", -42),
			exporter.Int("max", math.MaxInt64),
			exporter.Int("zero", 0),
			exporter.Float("latency", 12.5),
			exporter.Float("tiny", 1e-300),
			exporter.Float("inf", math.Inf(1)),
			exporter.Float("zerof", 0),
			exporter.Bool("t", true),
			exporter.Bool("f", false),
			exporter.StringSlice("list", []string{"a", "", "b\xffc"}),
			exporter.StringSlice("emptylist", nil),
		},
		DroppedAttributes: 7,
		Events: []exporter.Event{
			{Name: "exception", TimeUnixNano: 1_700_000_000_200_000_000, Attributes: []exporter.Attribute{exporter.String("exception.message", "boom")}},
			{Name: "bare"},
		},
		Status:        exporter.StatusError,
		StatusMessage: "upstream 503",
	}
	child := exporter.Span{
		TraceID:       tid,
		SpanID:        exporter.SpanID{9, 9, 9, 9, 9, 9, 9, 9},
		ParentSpanID:  root.SpanID,
		Name:          "kong.balancer",
		Kind:          exporter.KindClient,
		StartUnixNano: 1_700_000_000_130_000_000,
		EndUnixNano:   1_700_000_000_220_000_000,
		Attributes:    []exporter.Attribute{exporter.String("server.address", "10.0.0.1"), exporter.Int("server.port", 8080)},
	}
	statusOnlyMessage := exporter.Span{TraceID: tid, SpanID: exporter.SpanID{7}, Name: "", StatusMessage: "only a message"}
	return &exporter.Batch{
		Resource: &exporter.Resource{Attributes: []exporter.Attribute{exporter.String("service.name", "kong"), exporter.String("deployment.environment", "test")}},
		Scope:    exporter.Scope{Name: exporter.ScopeName, Version: "1.2.3"},
		Spans:    []exporter.Span{root, child, statusOnlyMessage},
	}
}

// KongLikeBatch is n spans shaped like the plugin's: a root SERVER span with
// ~25 attributes and a CLIENT span per try.
func KongLikeBatch(n int) *exporter.Batch {
	spans := make([]exporter.Span, 0, n)
	for i := 0; len(spans) < n; i++ {
		tid := exporter.TraceID{byte(i), byte(i >> 8), 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}
		rootID := exporter.SpanID{byte(i), byte(i >> 8), 1, 1, 1, 1, 1, 1}
		spans = append(spans, exporter.Span{
			TraceID: tid, SpanID: rootID, Flags: 1, Name: "GET /api/v1/users", Kind: exporter.KindServer,
			StartUnixNano: 1_700_000_000_000_000_000 + uint64(i)*1000, EndUnixNano: 1_700_000_000_012_000_000 + uint64(i)*1000,
			Attributes: []exporter.Attribute{
				exporter.String("http.request.method", "GET"), exporter.String("url.scheme", "https"),
				exporter.String("url.path", "/api/v1/users/"+strconv.Itoa(i)), exporter.String("url.query", "page=2&token=REDACTED"),
				exporter.String("server.address", "api.example.com"), exporter.Int("server.port", 443),
				exporter.String("client.address", "203.0.113.7"), exporter.String("user_agent.original", "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36"),
				exporter.String("http.route", "/api/v1/users"), exporter.Int("http.response.status_code", 200),
				exporter.Int("http.request.size", 512), exporter.Int("http.response.size", 2048),
				exporter.String("network.protocol.version", "1.1"),
				exporter.String("kong.request.id", "4b5f1a7c2e2f6a0b8d3e9c1f"), exporter.String("kong.route.id", "c5d1b1a6-2f61-4f0a-9a5e-0e6f7d7f1e2a"),
				exporter.String("kong.route.name", "users"), exporter.String("kong.service.id", "9b9d3a4c-3f5b-4f7e-8f7a-8b1c2d3e4f5a"),
				exporter.String("kong.service.name", "users-svc"), exporter.String("kong.consumer.id", "1f2e3d4c-5b6a-4798-8a7b-6c5d4e3f2a1b"),
				exporter.String("kong.consumer.username", "alice"), exporter.String("kong.workspace.id", "0e5c1a2b-3c4d-4e5f-8a9b-0c1d2e3f4a5b"),
				exporter.Float("kong.latency.kong_ms", 1.5), exporter.Float("kong.latency.upstream_ms", 10), exporter.Float("kong.latency.request_ms", 12),
				exporter.String("kong.response.source", "upstream"),
			},
		})
		if len(spans) < n {
			spans = append(spans, exporter.Span{
				TraceID: tid, SpanID: exporter.SpanID{byte(i), byte(i >> 8), 2, 2, 2, 2, 2, 2}, ParentSpanID: rootID, Flags: 1,
				Name: "kong.balancer", Kind: exporter.KindClient,
				StartUnixNano: 1_700_000_000_001_000_000 + uint64(i)*1000, EndUnixNano: 1_700_000_000_011_000_000 + uint64(i)*1000,
				Attributes: []exporter.Attribute{
					exporter.String("server.address", "10.1.2.3"), exporter.Int("server.port", 8080), exporter.Int("kong.balancer.try", 1),
					exporter.Int("http.response.status_code", 200),
				},
			})
		}
	}
	return &exporter.Batch{
		Resource: &exporter.Resource{Attributes: []exporter.Attribute{exporter.String("service.name", "kong"), exporter.String("telemetry.sdk.name", exporter.ScopeName)}},
		Scope:    exporter.Scope{Name: exporter.ScopeName, Version: "0.1.0"},
		Spans:    spans,
	}
}

// UniqueSpans is Spans(n) with span ids unique per writer and request i,
// and a 200-byte attribute, for tests that count every span once.
func UniqueSpans(writer byte, i int, n int) []exporter.Span {
	spans := Spans(n)
	for k := range spans {
		spans[k].SpanID = exporter.SpanID{writer, byte(i >> 8), byte(i), byte(k), 1, 1, 1, 1}
		spans[k].Attributes = append(spans[k].Attributes, exporter.String("padding", strings.Repeat("p", 200)))
	}
	return spans
}

// TwoResourceBatch is RichBatch with its second span on a resource of its
// own and its third on the first's: spans of one request may carry
// attributes rendered per request.
func TwoResourceBatch() *exporter.Batch {
	b := RichBatch()
	own := &exporter.Resource{Attributes: []exporter.Attribute{exporter.String("service.name", "tenant-a")}, SchemaURL: exporter.SchemaURL}
	b.Spans[1].Resource = own
	return b
}

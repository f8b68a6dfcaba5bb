package exporter

import (
	"math"
	"strconv"
)

// richBatch covers every field and value type the encoders handle,
// including strings that need escaping or repair.
func richBatch() *Batch {
	tid := TraceID{0x4b, 0xf9, 0x2f, 0x35, 0x77, 0xb3, 0x4d, 0xa6, 0xa3, 0xce, 0x92, 0x9d, 0x0e, 0x0e, 0x47, 0x36}
	root := Span{
		TraceID:       tid,
		SpanID:        SpanID{0, 0xf0, 0x67, 0xaa, 0x0b, 0xa9, 0x02, 0xb7},
		ParentSpanID:  SpanID{1, 2, 3, 4, 5, 6, 7, 8},
		TraceState:    "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE",
		Flags:         0x301, // sampled + remote parent known and remote
		Name:          "GET /users/{id}",
		Kind:          KindServer,
		StartUnixNano: 1_700_000_000_123_456_789,
		EndUnixNano:   1_700_000_000_223_456_789,
		Attributes: []Attribute{
			String("http.request.method", "GET"),
			String("url.path", "/caf\xc3\xa9/\xff\xfebad\x80"),
			String("empty", ""),
			String("escapes", "quote\" back\\ tab\t nl\n cr\r ctl\x01 \u2028 emoji 😀"),
			Int("http.response.status_code", 503),
			Int("negative", -42),
			Int("max", math.MaxInt64),
			Int("zero", 0),
			Float("latency", 12.5),
			Float("tiny", 1e-300),
			Float("inf", math.Inf(1)),
			Float("zerof", 0),
			Bool("t", true),
			Bool("f", false),
			StringSlice("list", []string{"a", "", "b\xffc"}),
			StringSlice("emptylist", nil),
		},
		DroppedAttributes: 7,
		Events: []Event{
			{Name: "exception", TimeUnixNano: 1_700_000_000_200_000_000, Attributes: []Attribute{String("exception.message", "boom")}},
			{Name: "bare"},
		},
		Status:        StatusError,
		StatusMessage: "upstream 503",
	}
	child := Span{
		TraceID:       tid,
		SpanID:        SpanID{9, 9, 9, 9, 9, 9, 9, 9},
		ParentSpanID:  root.SpanID,
		Name:          "kong.balancer",
		Kind:          KindClient,
		StartUnixNano: 1_700_000_000_130_000_000,
		EndUnixNano:   1_700_000_000_220_000_000,
		Attributes:    []Attribute{String("server.address", "10.0.0.1"), Int("server.port", 8080)},
	}
	statusOnlyMessage := Span{TraceID: tid, SpanID: SpanID{7}, Name: "", StatusMessage: "only a message"}
	return &Batch{
		Resource: &Resource{Attributes: []Attribute{String("service.name", "kong"), String("deployment.environment", "test")}},
		Scope:    Scope{Name: ScopeName, Version: "1.2.3"},
		Spans:    []Span{root, child, statusOnlyMessage},
	}
}

// kongLikeBatch is n spans shaped like the plugin's: a root SERVER span with
// ~25 attributes and a CLIENT span per try.
func kongLikeBatch(n int) *Batch {
	spans := make([]Span, 0, n)
	for i := 0; len(spans) < n; i++ {
		tid := TraceID{byte(i), byte(i >> 8), 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}
		rootID := SpanID{byte(i), byte(i >> 8), 1, 1, 1, 1, 1, 1}
		spans = append(spans, Span{
			TraceID: tid, SpanID: rootID, Flags: 1, Name: "GET /api/v1/users", Kind: KindServer,
			StartUnixNano: 1_700_000_000_000_000_000 + uint64(i)*1000, EndUnixNano: 1_700_000_000_012_000_000 + uint64(i)*1000,
			Attributes: []Attribute{
				String("http.request.method", "GET"), String("url.scheme", "https"),
				String("url.path", "/api/v1/users/"+strconv.Itoa(i)), String("url.query", "page=2&token=REDACTED"),
				String("server.address", "api.example.com"), Int("server.port", 443),
				String("client.address", "203.0.113.7"), String("user_agent.original", "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36"),
				String("http.route", "/api/v1/users"), Int("http.response.status_code", 200),
				Int("http.request.size", 512), Int("http.response.size", 2048),
				String("network.protocol.version", "1.1"),
				String("kong.request.id", "4b5f1a7c2e2f6a0b8d3e9c1f"), String("kong.route.id", "c5d1b1a6-2f61-4f0a-9a5e-0e6f7d7f1e2a"),
				String("kong.route.name", "users"), String("kong.service.id", "9b9d3a4c-3f5b-4f7e-8f7a-8b1c2d3e4f5a"),
				String("kong.service.name", "users-svc"), String("kong.consumer.id", "1f2e3d4c-5b6a-4798-8a7b-6c5d4e3f2a1b"),
				String("kong.consumer.username", "alice"), String("kong.workspace.id", "0e5c1a2b-3c4d-4e5f-8a9b-0c1d2e3f4a5b"),
				Float("kong.latency.kong_ms", 1.5), Float("kong.latency.upstream_ms", 10), Float("kong.latency.request_ms", 12),
				String("kong.response.source", "upstream"),
			},
		})
		if len(spans) < n {
			spans = append(spans, Span{
				TraceID: tid, SpanID: SpanID{byte(i), byte(i >> 8), 2, 2, 2, 2, 2, 2}, ParentSpanID: rootID, Flags: 1,
				Name: "kong.balancer", Kind: KindClient,
				StartUnixNano: 1_700_000_000_001_000_000 + uint64(i)*1000, EndUnixNano: 1_700_000_000_011_000_000 + uint64(i)*1000,
				Attributes: []Attribute{
					String("server.address", "10.1.2.3"), Int("server.port", 8080), Int("kong.balancer.try", 1),
					Int("http.response.status_code", 200),
				},
			})
		}
	}
	return &Batch{
		Resource: &Resource{Attributes: []Attribute{String("service.name", "kong"), String("telemetry.sdk.name", ScopeName)}},
		Scope:    Scope{Name: ScopeName, Version: "0.1.0"},
		Spans:    spans,
	}
}

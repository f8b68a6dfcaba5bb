package e2e

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"

	"github.com/trace-exporter/trace-exporter/test/harness"
	"github.com/trace-exporter/trace-exporter/test/otlpsink"
	"github.com/trace-exporter/trace-exporter/test/semconv"
)

// Every span the real plugin exports through the Kong emulator, for every
// emulated Kong version (3.3 to 3.9, each with its serialize shape), passes
// the HTTP semantic conventions' check: a success, a 4xx, a 5xx, an unknown
// method, a retried upstream, an upstream that refuses every try, a route
// without a service, a request no route matched, and a Host header without
// a port over the proxy.
func TestSpansConformAcrossKongVersions(t *testing.T) {
	for _, version := range []string{"3.3", "3.4", "3.5", "3.6", "3.7", "3.8", "3.9"} {
		t.Run("kong-"+version, func(t *testing.T) {
			sink := otlpsink.Start(t)
			up := harness.StartUpstream(t, harness.UpstreamOptions{})
			refused := harness.RefusedPort(t)
			cfg := pluginConfig(sink.TracesURL(), "e2e-semconv", nil)
			gw := harness.StartGateway(t, harness.GatewayOptions{KongVersion: version, Config: map[string]any{
				"services": []any{
					map[string]any{"name": "echo", "url": up.URL(), "routes": []any{
						map[string]any{"name": "echo-route", "paths": []string{"/other", "/echo"}}}},
					map[string]any{"name": "flaky", "host": "flaky-upstream", "port": 80, "protocol": "http", "retries": 2,
						"connect_timeout": 1000, "routes": []any{map[string]any{"name": "flaky-route", "paths": []string{"/flaky"}}}},
					map[string]any{"name": "dead", "host": "dead-upstream", "port": 80, "protocol": "http", "retries": 1,
						"connect_timeout": 1000, "routes": []any{map[string]any{"name": "dead-route", "paths": []string{"/dead"}}}},
				},
				"upstreams": []any{
					map[string]any{"name": "flaky-upstream", "targets": []any{
						map[string]any{"target": fmt.Sprintf("127.0.0.1:%d", refused)}, map[string]any{"target": up.Addr()}}},
					map[string]any{"name": "dead-upstream", "targets": []any{
						map[string]any{"target": fmt.Sprintf("127.0.0.1:%d", refused)}}},
				},
				"routes":  []any{map[string]any{"name": "serviceless", "paths": []string{"/serviceless"}}},
				"plugins": []any{plugin(cfg)},
			}})
			requests := []struct {
				method, path string
				header       http.Header
			}{
				{"GET", "/echo/ok?x=1", nil},
				{"GET", "/echo/missing?status=404", nil},
				{"POST", "/echo/boom?status=503", nil},
				{"PURGE", "/echo/cache", nil},
				{"GET", "/flaky/a", nil},
				{"GET", "/flaky/b", nil},
				{"GET", "/dead/x", nil},
				{"GET", "/serviceless", nil},
				{"GET", "/no-route", nil},
				{"GET", "/echo/host", http.Header{"X-Host": {"api.example.com"}}},
			}
			for _, r := range requests {
				req, err := http.NewRequest(r.method, gw.URL()+r.path, nil)
				if err != nil {
					t.Fatal(err)
				}
				if h := r.header.Get("X-Host"); h != "" {
					req.Host = h
				}
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatalf("%s %s: %v", r.method, r.path, err)
				}
				resp.Body.Close()
			}
			if err := gw.WaitIdle(bounded(t, 20*time.Second)); err != nil {
				t.Fatal(err)
			}
			// One root span per request, plus a try span for each proxied try.
			roots := len(requests)
			deadline := time.Now().Add(15 * time.Second)
			var spans []otlpsink.Span
			for {
				spans = sink.Spans()
				n := 0
				for _, s := range spans {
					if s.GetKind() == tracepb.Span_SPAN_KIND_SERVER {
						n++
					}
				}
				if n >= roots || time.Now().After(deadline) {
					break
				}
				time.Sleep(50 * time.Millisecond)
			}
			kinds := map[string]int{}
			sawHost := false
			for _, s := range spans {
				sc := otlpToSemconv(s)
				kinds[sc.Kind]++
				for _, p := range semconv.Check(sc, semconv.DefaultKnownMethods) {
					t.Errorf("%s", p)
				}
				if sc.Kind == "server" && sc.Attrs["url.path"] == "/echo/host" {
					sawHost = true
					if sc.Attrs["server.address"] != "api.example.com" || sc.Attrs["server.port"] != int64(80) {
						t.Errorf("Host: api.example.com over http: server.address %v, server.port %v", sc.Attrs["server.address"], sc.Attrs["server.port"])
					}
				}
			}
			if !sawHost {
				t.Error("no server span for /echo/host")
			}
			if kinds["server"] != roots || kinds["client"] < roots-3 {
				t.Errorf("exported %v, want %d server spans and a client span per proxied try", kinds, roots)
			}
		})
	}
}

// otlpToSemconv is an exported span as the conformance check reads it.
func otlpToSemconv(s otlpsink.Span) semconv.Span {
	out := semconv.Span{Name: s.GetName(), Error: s.GetStatus().GetCode() == tracepb.Status_STATUS_CODE_ERROR, Attrs: map[string]any{}}
	switch s.GetKind() {
	case tracepb.Span_SPAN_KIND_SERVER:
		out.Kind = "server"
	case tracepb.Span_SPAN_KIND_CLIENT:
		out.Kind = "client"
	}
	for _, kv := range s.GetAttributes() {
		switch v := kv.GetValue().GetValue().(type) {
		case *commonpb.AnyValue_StringValue:
			out.Attrs[kv.GetKey()] = v.StringValue
		case *commonpb.AnyValue_IntValue:
			out.Attrs[kv.GetKey()] = v.IntValue
		case *commonpb.AnyValue_DoubleValue:
			out.Attrs[kv.GetKey()] = v.DoubleValue
		case *commonpb.AnyValue_BoolValue:
			out.Attrs[kv.GetKey()] = v.BoolValue
		case *commonpb.AnyValue_ArrayValue:
			var vals []string
			for _, e := range v.ArrayValue.GetValues() {
				vals = append(vals, e.GetStringValue())
			}
			out.Attrs[kv.GetKey()] = vals
		}
	}
	return out
}

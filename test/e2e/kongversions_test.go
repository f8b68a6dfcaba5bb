package e2e

import (
	"os"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/trace-exporter/trace-exporter/test/harness"
	"github.com/trace-exporter/trace-exporter/test/kongsim"
	"github.com/trace-exporter/trace-exporter/test/otlpsink"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
)

// kongReleaseConfigs are opentelemetry plugin configurations as each Kong
// release's documentation writes them, using every field the release adds
// (schema/testdata/kong-opentelemetry-versions.json), with the plugin
// renamed to trace-exporter. endpoint is the backend, logsEndpoint the
// logs one; the rest is what the release's docs put there. Each must load through Kong's schema check and
// StartInstance unchanged, and export traces.
func kongReleaseConfigs(endpoint, logsEndpoint string) map[string]map[string]any {
	queue34 := map[string]any{"max_batch_size": 200, "max_coalescing_delay": 0.05, "max_entries": 10000,
		"max_bytes": 10 << 20, "initial_retry_delay": 0.01, "max_retry_time": 60, "max_retry_delay": 60}
	base34 := map[string]any{
		"endpoint":            endpoint,
		"headers":             map[string]any{"X-Auth-Token": "secret-token"},
		"resource_attributes": map[string]any{"service.name": "kong-dev"},
		"batch_span_count":    10, // replaces queue.max_batch_size, as in Kong
		"batch_flush_delay":   3,  // its old default: ignored, as in Kong
		"queue":               queue34,
		"connect_timeout":     1000, "send_timeout": 5000, "read_timeout": 5000,
		"http_response_header_for_traceid": "x-trace-id",
		"header_type":                      "preserve",
	}
	with := func(base map[string]any, extra map[string]any) map[string]any {
		out := map[string]any{}
		for k, v := range base {
			out[k] = v
		}
		for k, v := range extra {
			out[k] = v
		}
		return out
	}
	c35 := with(base34, map[string]any{"header_type": "gcp"})
	c36 := with(c35, map[string]any{"sampling_rate": 1})
	c37 := with(c36, map[string]any{"header_type": "preserve", "propagation": map[string]any{
		"extract": []any{"b3", "w3c"}, "inject": []any{"preserve"}, "clear": []any{"x-custom-trace"}, "default_format": "w3c"}})
	q38 := with(queue34, map[string]any{"concurrency_limit": 1})
	c38 := with(c37, map[string]any{"traces_endpoint": endpoint, "logs_endpoint": logsEndpoint, "queue": q38})
	delete(c38, "endpoint")
	c310 := with(c38, map[string]any{
		"resource_attributes": map[string]any{"service.name": "kong-dev", "host": "$(headers.host)", "tenant": "$(query_params.tenant)"},
		"propagation": map[string]any{"extract": []any{"instana", "w3c"}, "inject": []any{"preserve", "instana"},
			"default_format": "w3c"}})
	c311 := with(c310, map[string]any{"sampling_strategy": "parent_drop_probability_fallback"})
	c313 := with(c311, map[string]any{
		"access_logs_endpoint": logsEndpoint,
		"metrics": map[string]any{"endpoint": strings.Replace(endpoint, "traces", "metrics", 1), "push_interval": 30,
			"enable_request_metrics": true, "enable_latency_metrics": true, "enable_bandwidth_metrics": true,
			"enable_upstream_health_metrics": true, "enable_consumer_attribute": true},
	})
	c314 := with(c313, map[string]any{
		"access_logs": map[string]any{"endpoint": logsEndpoint,
			"custom_attributes_by_lua": map[string]any{"http.request.method": "return kong.request.get_method()"}},
		"metrics": with(c313["metrics"].(map[string]any), map[string]any{"enable_ai_metrics": true}),
	})
	delete(c314, "access_logs_endpoint") // deprecated for access_logs.endpoint
	c316 := with(c314, map[string]any{
		"queue":               with(q38, map[string]any{"failure_threshold": 5, "breaker_cooldown": 30}),
		"metrics":             with(c314["metrics"].(map[string]any), map[string]any{"enable_principal_attribute": true}),
		"resource_attributes": map[string]any{"service.name": "${kong.service.name}", "tenant": "${query_params.tenant}"},
	})
	return map[string]map[string]any{
		"3.4": base34, "3.5": c35, "3.6": c36, "3.7": c37, "3.8": c38, "3.9": with(c38, nil),
		"3.10": c310, "3.11": c311, "3.12": with(c311, nil), "3.13": c313, "3.14": c314,
		"3.15": with(c314, nil), "3.16": c316,
	}
}

func TestKongReleaseConfigsLoadAndExport(t *testing.T) {
	sink, logs := otlpsink.Start(t), otlpsink.StartLogs(t)
	up := harness.StartUpstream(t, harness.UpstreamOptions{})
	configs := kongReleaseConfigs(sink.TracesURL(), logs.LogsURL())
	for _, version := range []string{"3.4", "3.5", "3.6", "3.7", "3.8", "3.9", "3.10", "3.11", "3.12", "3.13", "3.14", "3.15", "3.16"} {
		t.Run("kong-"+version, func(t *testing.T) {
			cfg := configs[version]
			route := "kong-" + strings.ReplaceAll(version, ".", "-")
			gw := harness.StartGateway(t, harness.GatewayOptions{KongVersion: version, Config: map[string]any{
				"services": []any{map[string]any{"name": route + "-svc", "url": up.URL(), "routes": []any{
					map[string]any{"name": route, "paths": []string{"/" + route},
						"plugins": []any{plugin(cfg)}},
				}}},
			}})
			before := len(sink.Spans())
			resp := harness.Do(t, "GET", gw.URL()+"/"+route+"/x?tenant=acme", nil)
			if resp.Status != 200 || resp.Header.Get("X-Trace-Id") == "" {
				t.Fatalf("status %d, x-trace-id %q", resp.Status, resp.Header.Get("X-Trace-Id"))
			}
			traceID := resp.Header.Get("X-Trace-Id")
			spans, err := sink.WaitTrace(bounded(t, 15*time.Second), traceID, 2)
			if err != nil {
				t.Fatalf("no trace exported: %v (%d spans before)", err, before)
			}
			for _, s := range spans {
				for _, kv := range s.Resource.GetAttributes() {
					if v := kv.GetValue().GetStringValue(); strings.Contains(v, "$(") || strings.Contains(v, "${") {
						t.Errorf("resource attribute %s exported as the template %q", kv.GetKey(), v)
					}
				}
				if s.GetKind() == tracepb.Span_SPAN_KIND_CLIENT {
					if v, _ := s.Attr("peer.service"); v.GetStringValue() != route+"-svc" {
						t.Errorf("CLIENT span peer.service %q, want %q", v.GetStringValue(), route+"-svc")
					}
				}
			}
			rec := gw.Records()[0]
			if v := rec.Violations(); len(v) > 0 {
				t.Errorf("violations %v", v)
			}
			// From 3.8 the request's access log record goes to logs_endpoint,
			// then access_logs_endpoint (3.13), then access_logs.endpoint.
			if cfg["logs_endpoint"] != nil {
				for deadline := time.Now().Add(15 * time.Second); !slices.ContainsFunc(logs.Records(),
					func(r otlpsink.LogRecord) bool { return r.TraceID() == traceID }); time.Sleep(20 * time.Millisecond) {
					if time.Now().After(deadline) {
						t.Fatalf("no access log record of trace %s", traceID)
					}
				}
			}
			// Each field whose data is not exported (or not where Kong sends
			// it) is named once by the instance, in Kong's log.
			for field, set := range map[string]bool{
				"logs_endpoint": cfg["logs_endpoint"] != nil,
			} {
				if !set {
					continue
				}
				if !gw.Sim().WaitOutput("field="+field, 5*time.Second) {
					t.Errorf("no warning naming %s in the plugin's output", field)
				} else if n := countLines(gw.Sim().Output(), "field="+field); n != 1 {
					t.Errorf("%d warnings naming %s, want 1 per instance", n, field)
				}
			}
		})
	}
}

func countLines(lines []string, sub string) int {
	n := 0
	for _, l := range lines {
		if strings.Contains(l, sub) {
			n++
		}
	}
	return n
}

// A Kong vault reference ({vault://env/NAME}) in a referenceable field is
// resolved by Kong before StartInstance, as for Kong's own plugin: the
// plugin exports to the resolved endpoint with the resolved header.
func TestVaultReferencesEndToEnd(t *testing.T) {
	sink := otlpsink.Start(t)
	up := harness.StartUpstream(t, harness.UpstreamOptions{})
	t.Setenv("TRACE_EXPORTER_E2E_COLLECTOR", sink.TracesURL())
	t.Setenv("TRACE_EXPORTER_E2E_TOKEN", "Bearer "+randomHex(8))
	gw := harness.StartGateway(t, harness.GatewayOptions{Config: map[string]any{
		"services": []any{map[string]any{"name": "vault", "url": up.URL(), "routes": []any{
			map[string]any{"name": "vault", "paths": []string{"/vault"}, "plugins": []any{plugin(map[string]any{
				"traces_endpoint": "{vault://env/trace-exporter-e2e-collector}",
				"headers":         map[string]any{"authorization": "{vault://env/TRACE_EXPORTER_E2E_TOKEN}"},
				"queue":           map[string]any{"max_coalescing_delay": 0.05},
			})}},
		}}},
	}})
	if payload := string(gw.Plugins()[0].ConfigJSON()); !strings.Contains(payload, `"$refs"`) {
		t.Errorf("StartInstance payload without Kong's $refs: %s", payload)
	}
	resp := harness.Do(t, "GET", gw.URL()+"/vault/x", nil)
	if resp.Status != 200 {
		t.Fatalf("status %d", resp.Status)
	}
	reqs, err := sink.WaitRequests(bounded(t, 15*time.Second), 1)
	if err != nil {
		t.Fatal(err)
	}
	if got := reqs[0].Header.Get("Authorization"); got != os.Getenv("TRACE_EXPORTER_E2E_TOKEN") {
		t.Errorf("backend got Authorization %q, want the vault's secret", got)
	}
}

// The plugin server asks Kong for its node id once per process: once for
// every instance and request it serves, once more after a restart.
func TestNodeIDOncePerProcess(t *testing.T) {
	sink := otlpsink.Start(t)
	up := harness.StartUpstream(t, harness.UpstreamOptions{})
	cfg := func(name string) map[string]any {
		return pluginConfig(sink.TracesURL(), "e2e-node", map[string]any{"static_attributes": map[string]any{"instance": name}})
	}
	gw := harness.StartGateway(t, harness.GatewayOptions{Config: map[string]any{
		"services": []any{map[string]any{"name": "node", "url": up.URL(),
			"plugins": []any{plugin(cfg("service"))},
			"routes": []any{
				map[string]any{"name": "node-route", "paths": []string{"/node-route"}, "plugins": []any{plugin(cfg("route"))}},
				map[string]any{"name": "node-service", "paths": []string{"/node-service"}},
			}}},
		"plugins": []any{plugin(cfg("global"))},
	}})
	send := func(n int) {
		for i := range n {
			for _, p := range []string{"/node-route", "/node-service", "/unrouted"} {
				harness.Do(t, "GET", gw.URL()+p+"?i="+strconv.Itoa(i), nil)
			}
		}
		if err := gw.WaitIdle(bounded(t, 20*time.Second)); err != nil {
			t.Fatal(err)
		}
	}
	send(10)
	checkNodeIDOnce(t, gw.Records())

	spawns, respawned := gw.Sim().Spawns()
	if err := gw.Sim().Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	select {
	case <-respawned:
	case <-time.After(20 * time.Second):
		t.Fatalf("plugin server not respawned (%d spawns)", spawns)
	}
	if err := gw.Sim().WaitReady(bounded(t, 30*time.Second)); err != nil {
		t.Fatal(err)
	}
	seen := len(gw.Records())
	send(10)
	checkNodeIDOnce(t, gw.Records()[seen:])
}

// The dumped schema declares the protocols Kong's opentelemetry plugin
// runs on (grpc, grpcs, http, https, the default): Kong refuses the plugin
// on a route it cannot serve and with a stream protocol. The emulator
// proxies HTTP/1.1 only, so what a gRPC call produces is not run here (see
// docs/configuration.md).
func TestPluginProtocols(t *testing.T) {
	up := harness.StartUpstream(t, harness.UpstreamOptions{})
	load := func(routeProtocols []string, pluginProtocols []string) error {
		p := plugin(map[string]any{"exporter": "stdout"})
		if pluginProtocols != nil {
			p["protocols"] = pluginProtocols
		}
		decl := harness.Declarative(t, map[string]any{"services": []any{map[string]any{"name": "p", "url": up.URL(),
			"routes": []any{map[string]any{"name": "p", "paths": []string{"/p"}, "protocols": routeProtocols,
				"plugins": []any{p}}}}}})
		gw, err := kongsim.StartGateway(bounded(t, time.Minute), kongsim.GatewayOptions{
			Options: kongsim.Options{Binary: harness.PluginBinary(t), Logger: harness.TestLogger()}, Config: decl})
		if err == nil {
			if got := gw.Plugins()[0].Protocols; strings.Join(got, ",") != strings.Join(orDefault(pluginProtocols), ",") {
				t.Errorf("plugin protocols %v", got)
			}
			gw.Close()
		}
		return err
	}
	if err := load([]string{"grpc", "grpcs"}, nil); err != nil {
		t.Errorf("plugin on a gRPC route: %v", err)
	}
	if err := load([]string{"http", "https"}, []string{"https"}); err != nil {
		t.Errorf("plugin for https on an http/https route: %v", err)
	}
	if err := load([]string{"https"}, []string{"grpc"}); err == nil || !strings.Contains(err.Error(), "must match the associated route's protocols") {
		t.Errorf("plugin for grpc on an https route: %v", err)
	}
	if err := load([]string{"http"}, []string{"tcp"}); err == nil || !strings.Contains(err.Error(), "protocols") {
		t.Errorf("plugin for tcp: %v", err)
	}
}

func orDefault(p []string) []string {
	if p == nil {
		return []string{"grpc", "grpcs", "http", "https"}
	}
	return p
}

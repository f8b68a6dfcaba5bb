package e2e

import (
	"context"
	"encoding/json"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/trace-exporter/trace-exporter/test/harness"
	"github.com/trace-exporter/trace-exporter/test/kongsim"
	"github.com/trace-exporter/trace-exporter/test/otlpsink"
)

// A request that took less than a millisecond: Kong's started_at and
// latencies have millisecond resolution, the balancer try's start has
// nanoseconds. Naively the root span is [started_at, started_at + request]
// = [T, T] and the try starts 0.4 ms later, outside its parent (Jaeger draws
// it after the request ended). The spans must nest.
func TestRootSpanCoversItsTries(t *testing.T) {

	sink := otlpsink.Start(t)
	up := harness.StartUpstream(t, harness.UpstreamOptions{})
	gw := harness.StartGateway(t, harness.GatewayOptions{Config: map[string]any{
		"services": []any{map[string]any{"name": "svc", "url": up.URL(), "routes": []any{
			map[string]any{"name": "r", "paths": []string{"/r"}}}}},
		"plugins": []any{plugin(pluginConfig(sink.TracesURL(), "e2e-timing", nil))},
	}})
	harness.Do(t, "GET", gw.URL()+"/r", nil)
	if err := gw.WaitIdle(bounded(t, 10*time.Second)); err != nil {
		t.Fatal(err)
	}
	rec := gw.Records()[0]

	// Replay the request's saved log data with the timings of a 0.4 ms
	// request that did not cross a millisecond boundary.
	var payload map[string]any
	if err := json.Unmarshal(rec.Serialize, &payload); err != nil {
		t.Fatal(err)
	}
	startMs := math.Floor(payload["started_at"].(float64))
	payload["started_at"] = startMs
	payload["latencies"] = map[string]any{"kong": 0.0, "proxy": 0.0, "receive": 0.0, "request": 0.0}
	try := payload["tries"].([]any)[0].(map[string]any)
	try["balancer_start"] = startMs
	try["balancer_start_ns"] = startMs*1e6 + 400_000
	data, _ := json.Marshal(payload)
	sink.Clear()
	res := gw.Sim().RunLog(gw.Plugins()[0], &kongsim.LogData{Serialize: data, Status: 200, StartTime: startMs / 1000})
	if res.Err != nil || len(res.Violations) > 0 {
		t.Fatalf("replayed log event: %v %v", res.Err, res.Violations)
	}
	spans, err := sink.WaitSpans(bounded(t, 10*time.Second), 2)
	if err != nil {
		t.Fatal(err)
	}
	var root, child otlpsink.Span
	for _, s := range spans {
		if s.ParentSpanID() == "" {
			root = s
		} else {
			child = s
		}
	}
	if root.Span == nil || child.Span == nil {
		t.Fatalf("want a root and a try span, got %d spans", len(spans))
	}
	if child.GetStartTimeUnixNano() < root.GetStartTimeUnixNano() || child.GetEndTimeUnixNano() > root.GetEndTimeUnixNano() {
		t.Errorf("try span [%d, %d] lies outside its root span [%d, %d] (ns since epoch)",
			child.GetStartTimeUnixNano(), child.GetEndTimeUnixNano(), root.GetStartTimeUnixNano(), root.GetEndTimeUnixNano())
	}
}

// The plugin refuses capture_request_headers naming a credential header
// (authorization, cookie ...) when its instance starts, and the schema it
// dumps for Kong refuses it too, when the config is written: otherwise Kong
// would accept the config and every request on that route would fail at
// StartInstance (500 from Kong 3.8 on; the plugin silently skipped before).
func TestSchemaRefusesCredentialCapture(t *testing.T) {
	sink := otlpsink.Start(t)
	up := harness.StartUpstream(t, harness.UpstreamOptions{})
	decl := harness.Declarative(t, map[string]any{
		"services": []any{map[string]any{"name": "svc", "url": up.URL(), "routes": []any{
			map[string]any{"name": "r", "paths": []string{"/r"}}}}},
		"plugins": []any{plugin(pluginConfig(sink.TracesURL(), "e2e-schema", map[string]any{
			"capture_request_headers": []string{"Authorization"},
		}))},
	})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	gw, err := kongsim.StartGateway(ctx, kongsim.GatewayOptions{
		Options: kongsim.Options{Binary: harness.PluginBinary(t), Logger: harness.TestLogger()},
		Config:  decl,
	})
	if err != nil {
		if !strings.Contains(err.Error(), "authorization carries credentials") {
			t.Errorf("refused, but not for the credential header: %v", err)
		}
		return
	}
	defer gw.Close()
	resp := harness.Do(t, "GET", gw.URL()+"/r", nil)
	t.Errorf("Kong's schema check accepted capture_request_headers: [Authorization]; the plugin then refuses the instance and the request is answered %d: %s",
		resp.Status, resp.Body)
}

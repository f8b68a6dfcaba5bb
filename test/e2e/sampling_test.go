package e2e

import (
	"encoding/hex"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/trace-exporter/trace-exporter/exporter"
	"github.com/trace-exporter/trace-exporter/plugin/sampling"
	"github.com/trace-exporter/trace-exporter/test/binomial"
	"github.com/trace-exporter/trace-exporter/test/harness"
	"github.com/trace-exporter/trace-exporter/test/jaegertest"
)

// falseAlarm is the chance a correct sampler's count falls outside the
// exact binomial interval the tests allow.
const falseAlarm = 1e-6

func randomnessOf(t *testing.T, traceID string) sampling.Randomness {
	t.Helper()
	b, err := hex.DecodeString(traceID)
	if err != nil || len(b) != 16 {
		t.Fatalf("trace id %q from the gateway", traceID)
	}
	var id exporter.TraceID
	copy(id[:], b)
	return sampling.RandomnessOf(id)
}

// checkShare fails unless kept of n lies within the exact binomial interval
// for probability p (after the threshold's rounding).
func checkShare(t *testing.T, what string, kept, n int, p float64) {
	t.Helper()
	q := sampling.ThresholdOf(p).Probability()
	lo, hi := binomial.Interval(n, q, falseAlarm)
	t.Logf("%s: kept %d of %d at p=%v (allowed %d..%d)", what, kept, n, p, lo, hi)
	if kept < lo || kept > hi {
		t.Errorf("%s: kept %d of %d, outside [%d, %d] for p=%v", what, kept, n, lo, hi, p)
	}
}

// Jaeger's per-operation strategies, served by a real Jaeger v2's
// remote_sampling extension from a strategies file: the plugin applies
// each operation's probability (operation = the root span's name, "GET
// /orders") to the spans it exports, decided from the trace id exactly as
// the specification's threshold says; the upstream is told the decision at
// the strategy's default probability (the access phase does not know the
// route); the root span carries sampler.type and sampler.param.
func TestRemoteSamplingPerOperation(t *testing.T) {
	t.Parallel()
	const service = "e2e-remote-ops"
	sj := startSamplingJaeger(t, `{
	  "default_strategy": {"type": "probabilistic", "param": 1},
	  "service_strategies": [{"service": "e2e-remote-ops", "type": "probabilistic", "param": 0.2,
	    "operation_strategies": [
	      {"operation": "GET /orders", "type": "probabilistic", "param": 0.5},
	      {"operation": "GET /health", "type": "probabilistic", "param": 0}]}]}`)
	up := harness.StartUpstream(t, harness.UpstreamOptions{})
	cfg := pluginConfig(sj.OTLPHTTPURL(), service, map[string]any{
		"sampling_rate":                    1, // until the first strategy only
		"tail_sampling":                    map[string]any{"status_code_min": 0},
		"http_response_header_for_traceid": traceIDHeader,
		"remote_sampling":                  map[string]any{"endpoint": sj.SamplingURL, "poll_interval": 1},
	})
	var routes []any
	for _, r := range []string{"orders", "health", "other"} {
		// One plugin instance per route: they share one poller.
		routes = append(routes, map[string]any{"name": r, "paths": []string{"/" + r}, "plugins": []any{plugin(cfg)}})
	}
	gw := harness.StartGateway(t, harness.GatewayOptions{Config: map[string]any{
		"services": []any{map[string]any{"name": "shop", "url": up.URL(), "routes": routes}},
	}})
	startInstances(t, gw, "/orders", "/health", "/other")
	waitPluginOutput(t, gw, "remote sampling: strategy in force")

	probability := map[string]float64{"GET /orders": 0.5, "GET /health": 0, "GET /other": 0.2}
	const perOp = 1000
	var paths []string
	for i := range perOp {
		for _, r := range []string{"orders", "health", "other"} {
			paths = append(paths, "/"+r+"/"+strconv.Itoa(i))
		}
	}
	results := sendAll(t, gw, up, paths, nil, 8)

	wantKept := 0
	for _, r := range results {
		if sampling.ThresholdOf(probability[operationOf(r.path)]).Keeps(randomnessOf(t, r.traceID)) {
			wantKept++
		}
	}
	roots := exportedRoots(t, sj.Jaeger, service, wantKept)
	kept := map[string]int{}
	for _, r := range results {
		op := operationOf(r.path)
		p := probability[op]
		rnd := randomnessOf(t, r.traceID)
		root, exported := roots[r.traceID]
		if want := sampling.ThresholdOf(p).Keeps(rnd); exported != want {
			t.Errorf("%s trace %s: exported %v, want %v (randomness %014x, p=%v)", r.path, r.traceID, exported, want, uint64(rnd), p)
		}
		if want := sampling.ThresholdOf(0.2).Keeps(rnd); r.upstream != want {
			t.Errorf("%s trace %s: upstream told sampled=%v, want %v (the default probability)", r.path, r.traceID, r.upstream, want)
		}
		if !exported {
			continue
		}
		kept[op]++
		if root.OperationName != op {
			t.Errorf("trace %s: root %q, want %q", r.traceID, root.OperationName, op)
		}
		if typ := root.StringTag("sampler.type"); typ != "probabilistic" {
			t.Errorf("trace %s: sampler.type %q", r.traceID, typ)
		}
		if tag, _ := root.Tag("sampler.param"); tag.Float != p {
			t.Errorf("trace %s: sampler.param %v, want %v", r.traceID, tag, p)
		}
	}
	if len(roots) != wantKept {
		t.Errorf("%d traces in Jaeger, want %d", len(roots), wantKept)
	}
	for op, p := range probability {
		checkShare(t, op, kept[op], perOp, p)
	}
	if n := strings.Count(strings.Join(gw.Sim().Output(), "\n"), "remote sampling: strategy in force"); n != 1 {
		t.Errorf("%d strategies taken into force for three instances of one endpoint and service, want 1 (one poller)", n)
	}
}

func operationOf(path string) string {
	route, _, _ := strings.Cut(strings.TrimPrefix(path, "/"), "/")
	return "GET /" + route
}

// sampling_strategy through the emulator, with W3C callers: Kong's two
// values mean what Kong says, and leaving the field out is this plugin's
// parent-based default (a caller's sampled trace is never re-sampled).
func TestSamplingStrategy(t *testing.T) {
	t.Parallel()
	j := harness.Jaeger(t)
	service := uniqueService("e2e-strategy")
	up := harness.StartUpstream(t, harness.UpstreamOptions{})
	route := func(name string, extra map[string]any) any {
		extra["http_response_header_for_traceid"] = traceIDHeader
		extra["tail_sampling"] = map[string]any{"status_code_min": 0}
		return map[string]any{"name": name, "paths": []string{"/" + name},
			"plugins": []any{plugin(pluginConfig(j.OTLPHTTPURL(), service, extra))}}
	}
	gw := harness.StartGateway(t, harness.GatewayOptions{Config: map[string]any{
		"services": []any{map[string]any{"name": "strategy", "url": up.URL(), "routes": []any{
			route("default", map[string]any{"sampling_rate": 0}),
			route("parent-probability", map[string]any{"sampling_rate": 0, "sampling_strategy": "parent_probability_fallback"}),
			route("parent-drop", map[string]any{"sampling_rate": 0, "sampling_strategy": "parent_drop_probability_fallback"}),
			route("parent-drop-1", map[string]any{"sampling_rate": 1, "sampling_strategy": "parent_drop_probability_fallback"}),
		}}},
	}})
	type want struct{ sampled, unsampled, none bool } // decision per caller
	routes := map[string]want{
		"default":            {true, false, false},
		"parent-probability": {true, false, false},
		"parent-drop":        {false, false, false}, // the sampled caller is re-sampled at 0
		"parent-drop-1":      {true, false, true},
	}
	type request struct {
		what    string
		traceID string
		want    bool
	}
	var reqs []request
	for name, w := range routes {
		for caller, wantSampled := range map[string]bool{"01": w.sampled, "00": w.unsampled, "": w.none} {
			h := http.Header{harness.TestIDHeader: {randomHex(8)}}
			if caller != "" {
				h.Set("traceparent", "00-"+randomHex(16)+"-"+randomHex(8)+"-"+caller)
			}
			resp := harness.Do(t, "GET", gw.URL()+"/"+name, h)
			what := name + " caller=" + caller
			got := up.Find(h.Get(harness.TestIDHeader))
			if resp.Status != 200 || len(got) != 1 {
				t.Fatalf("%s: status %d, upstream saw %d", what, resp.Status, len(got))
			}
			tp, err := harness.ParseTraceparent(got[0].Header.Get("traceparent"))
			if err != nil || tp.Sampled() != wantSampled {
				t.Errorf("%s: upstream traceparent %q, want sampled=%v", what, got[0].Header.Get("traceparent"), wantSampled)
			}
			reqs = append(reqs, request{what, resp.Header.Get(traceIDHeader), wantSampled})
		}
	}
	for _, r := range reqs {
		if r.want {
			waitTrace(t, j, r.traceID, 2)
		}
	}
	for _, r := range reqs {
		if !r.want {
			assertTraceAbsent(t, j, r.traceID, r.what)
		}
	}
}

var _ = time.Second
var _ = jaegertest.Tag{}

package e2e

import (
	"encoding/hex"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/trace-exporter/trace-exporter/exporter"
	"github.com/trace-exporter/trace-exporter/plugin/sampling"
	"github.com/trace-exporter/trace-exporter/test/binomial"
	"github.com/trace-exporter/trace-exporter/test/harness"
	"github.com/trace-exporter/trace-exporter/test/kongsim"
	"github.com/trace-exporter/trace-exporter/test/otlpsink"
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

// Rate limits hold within 10 % over 10 s of traffic well above them: the
// plugin's max_traces_per_second (a token bucket per plugin entity in the
// plugin server) and a rate-limiting strategy from Jaeger's
// remote_sampling. Counted from what the upstream was told (the decision
// is taken in the access phase), and every trace the upstream was told
// about is in Jaeger.
func TestRateLimitsHold(t *testing.T) {
	t.Parallel()
	const service = "e2e-ratelimit"
	sj := startSamplingJaeger(t, `{"default_strategy": {"type": "probabilistic", "param": 1},
	  "service_strategies": [{"service": "e2e-ratelimit", "type": "ratelimiting", "param": 15}]}`)
	up := harness.StartUpstream(t, harness.UpstreamOptions{})
	base := map[string]any{"tail_sampling": map[string]any{"status_code_min": 0}, "http_response_header_for_traceid": traceIDHeader}
	with := func(kv ...any) map[string]any {
		m := map[string]any{}
		for k, v := range base {
			m[k] = v
		}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i].(string)] = kv[i+1]
		}
		return pluginConfig(sj.OTLPHTTPURL(), service, m)
	}
	gw := harness.StartGateway(t, harness.GatewayOptions{Config: map[string]any{
		"services": []any{map[string]any{"name": "limits", "url": up.URL(), "routes": []any{
			map[string]any{"name": "capped", "paths": []string{"/capped"},
				"plugins": []any{plugin(with("max_traces_per_second", 20))}},
			map[string]any{"name": "jaeger-rate", "paths": []string{"/jaeger-rate"},
				"plugins": []any{plugin(with("remote_sampling", map[string]any{"endpoint": sj.SamplingURL}))}},
		}}},
	}})
	startInstances(t, gw, "/capped", "/jaeger-rate")
	waitPluginOutput(t, gw, "kind=ratelimiting")

	// 11 s at about 100 requests per second per route; the first second
	// drains the buckets' initial tokens and is not counted.
	const warmup, window = time.Second, 10 * time.Second
	routes := []string{"/capped", "/jaeger-rate"}
	traffic := driveTraffic(t, gw, up, routes, 4, 40*time.Millisecond, warmup+window)
	flagged := 0
	for i, rate := range []float64{20, 15} {
		for _, r := range traffic.sent[i] {
			if r.upstream {
				flagged++
			}
		}
		n, kept := traffic.window(i, warmup, window, func(r sent) bool { return r.upstream })
		checkRate(t, routes[i]+" sampled upstream", n, kept, rate, window)
	}
	roots := exportedRoots(t, sj.Jaeger, service, flagged)
	if len(roots) != flagged {
		t.Errorf("%d traces in Jaeger, %d told sampled upstream", len(roots), flagged)
	}
}

// Rules are tried in order and the first that matches decides: header
// conditions in the access phase (the upstream is told), route and path
// conditions in the log phase (the gateway's spans); no extra PDK call
// either way, even with a single-header propagation format.
func TestSamplingRulesWinInOrder(t *testing.T) {
	t.Parallel()
	j := harness.Jaeger(t)
	service := uniqueService("e2e-rules")
	up := harness.StartUpstream(t, harness.UpstreamOptions{})
	cfg := pluginConfig(j.OTLPHTTPURL(), service, map[string]any{
		"sampling_rate":                    0,
		"tail_sampling":                    map[string]any{"status_code_min": 0},
		"http_response_header_for_traceid": traceIDHeader,
		"propagation":                      map[string]any{"extract": []string{"jaeger"}, "inject": []string{"w3c"}},
		"sampling_rules": []any{
			map[string]any{"header_name": "x-synthetic", "header_value": "true", "sampling_rate": 0},
			map[string]any{"path_prefix": "/orders/vip"},
			map[string]any{"header_name": "x-debug"},
			map[string]any{"route_name": "orders", "sampling_rate": 0},
			map[string]any{"method": "GET", "path_prefix": "/other"},
		},
	})
	gw := harness.StartGateway(t, harness.GatewayOptions{Config: map[string]any{
		"services": []any{map[string]any{"name": "rules", "url": up.URL(), "routes": []any{
			map[string]any{"name": "orders", "paths": []string{"/orders"}},
			map[string]any{"name": "other", "paths": []string{"/other"}},
		}, "plugins": []any{plugin(cfg)}}},
	}})
	absent := map[string]string{} // trace id → case
	for _, tc := range []struct {
		name               string
		path               string
		headers            map[string]string
		upstream, exported bool
	}{
		{"1 header drop beats everything", "/orders/vip/1", map[string]string{"x-synthetic": "true", "x-debug": "1"}, false, false},
		{"2 path before 3 header", "/orders/vip/2", map[string]string{"x-debug": "1"}, true, true},
		{"3 header keeps", "/orders/x", map[string]string{"x-debug": "1"}, true, true},
		{"4 route drops", "/orders/x", nil, false, false},
		{"2 path keeps in the log phase", "/orders/vip/3", nil, false, true},
		{"5 method and path keep in the log phase", "/other/x", nil, false, true},
		{"1 also on another route", "/other/x", map[string]string{"x-synthetic": "true"}, false, false},
	} {
		id := randomHex(8)
		h := http.Header{harness.TestIDHeader: {id}}
		for k, v := range tc.headers {
			h.Set(k, v)
		}
		resp := harness.Do(t, "GET", gw.URL()+tc.path, h)
		got := up.Find(id)
		if resp.Status != 200 || len(got) != 1 {
			t.Fatalf("%s: status %d, upstream saw %d", tc.name, resp.Status, len(got))
		}
		tp, _ := harness.ParseTraceparent(got[0].Header.Get("traceparent"))
		if tp.Sampled() != tc.upstream {
			t.Errorf("rule %s: upstream told sampled=%v, want %v", tc.name, tp.Sampled(), tc.upstream)
		}
		traceID := resp.Header.Get(traceIDHeader)
		if tc.exported {
			waitTrace(t, j, traceID, 2)
		} else {
			absent[traceID] = tc.name
		}
	}
	// A later exported trace has arrived: the others were never exported.
	sentinel := harness.Do(t, "GET", gw.URL()+"/orders/vip/sentinel", nil)
	waitTrace(t, j, sentinel.Header.Get(traceIDHeader), 2)
	for traceID, name := range absent {
		assertTraceAbsent(t, j, traceID, "rule "+name)
	}
	if err := gw.WaitIdle(bounded(t, 10*time.Second)); err != nil {
		t.Fatal(err)
	}
	for _, rec := range gw.Records() {
		checkBudget(t, rec, "rules", budgetRequest{name: rec.URI,
			access: []string{pdkGetHeaders, pdkSetUpstreamHeads, pdkSetSerializeValue, pdkSetResponseHeader},
			log:    []string{pdkSerialize}})
	}
}

// When the sampling endpoint goes away the last strategy stays in force
// (not sampling_rate); before the first answer sampling_rate applies.
func TestRemoteSamplingEndpointDown(t *testing.T) {
	t.Parallel()
	const service = "e2e-endpoint-down"
	sj := startSamplingJaeger(t, `{"default_strategy": {"type": "probabilistic", "param": 1},
	  "service_strategies": [{"service": "e2e-endpoint-down", "type": "probabilistic", "param": 0.25}]}`)
	sink := otlpsink.Start(t)
	up := harness.StartUpstream(t, harness.UpstreamOptions{})
	cfg := func(endpoint string) map[string]any {
		return pluginConfig(sink.TracesURL(), service, map[string]any{
			"sampling_rate":                    0.5,
			"tail_sampling":                    map[string]any{"status_code_min": 0},
			"http_response_header_for_traceid": traceIDHeader,
			"remote_sampling":                  map[string]any{"endpoint": endpoint, "poll_interval": 1},
		})
	}
	dead := "http://127.0.0.1:" + strconv.Itoa(freePort(t)) + "/sampling"
	gw := harness.StartGateway(t, harness.GatewayOptions{Config: map[string]any{
		"services": []any{map[string]any{"name": "down", "url": up.URL(), "routes": []any{
			map[string]any{"name": "jaeger", "paths": []string{"/jaeger"}, "plugins": []any{plugin(cfg(sj.SamplingURL))}},
			map[string]any{"name": "never", "paths": []string{"/never"}, "plugins": []any{plugin(cfg(dead))}},
		}}},
	}})
	startInstances(t, gw, "/jaeger", "/never")
	waitPluginOutput(t, gw, "remote sampling: strategy in force")
	waitPluginOutput(t, gw, "remote sampling: poll failed; sampling_rate applies until a strategy arrives")

	check := func(phase string, path string, p float64) {
		t.Helper()
		var paths []string
		for i := range 300 {
			paths = append(paths, path+"/"+strconv.Itoa(i))
		}
		kept := 0
		for _, r := range sendAll(t, gw, up, paths, nil, 4) {
			want := sampling.ThresholdOf(p).Keeps(randomnessOf(t, r.traceID))
			if r.upstream != want {
				t.Errorf("%s %s: sampled=%v, want %v (p=%v)", phase, r.path, r.upstream, want, p)
			}
			if r.upstream {
				kept++
			}
		}
		checkShare(t, phase+" "+path, kept, len(paths), p)
	}
	check("endpoint up", "/jaeger", 0.25)
	check("never answered", "/never", 0.5)

	if err := sj.Stop(); err != nil {
		t.Fatal(err)
	}
	waitPluginOutput(t, gw, "remote sampling: poll failed; the last strategy stays in force")
	check("endpoint down", "/jaeger", 0.25)
}

// Jaeger's adaptive sampling as far as Jaeger v2.13 serves it in one
// process with the memory store: its strategy provider holds the leader
// lock and so never reloads the probabilities its adaptive_sampling
// processor computes; it serves the per-operation default: the initial
// probability and min_samples_per_second as each operation's lower bound.
// The plugin keeps each operation's lower bound (about 2 traces per second
// per operation here, against a probability of 1e-5), tags those roots
// sampler.type=lowerbound, and sends Jaeger the throughput it counts.
func TestAdaptiveStrategyLowerBounds(t *testing.T) {
	t.Parallel()
	const service = "e2e-adaptive"
	sj := startSamplingJaeger(t, "")
	up := harness.StartUpstream(t, harness.UpstreamOptions{})
	cfg := pluginConfig(sj.OTLPHTTPURL(), service, map[string]any{
		"tail_sampling":                    map[string]any{"status_code_min": 0},
		"http_response_header_for_traceid": traceIDHeader,
		"remote_sampling":                  map[string]any{"endpoint": sj.SamplingURL, "poll_interval": 1},
	})
	gw := harness.StartGateway(t, harness.GatewayOptions{Config: map[string]any{
		"services": []any{map[string]any{"name": "adaptive", "url": up.URL(), "routes": []any{
			map[string]any{"name": "busy", "paths": []string{"/busy"}},
			map[string]any{"name": "quiet", "paths": []string{"/quiet"}},
		}, "plugins": []any{plugin(cfg)}}},
	}})
	startInstances(t, gw, "/busy")
	waitPluginOutput(t, gw, "kind=per-operation probability=1e-05")
	s := sj.strategy(t, service)
	if s.Kind != sampling.PerOperation || s.Probability != 1e-5 || s.LowerBound != 2 {
		t.Fatalf("Jaeger serves %+v", s)
	}

	const warmup, window = time.Second, 5 * time.Second
	routes := []string{"/busy", "/quiet"}
	traffic := driveTraffic(t, gw, up, routes, 2, 50*time.Millisecond, warmup+window)
	sentTo := traffic.sent
	roots := exportedRoots(t, sj.Jaeger, service, 2*len(routes))
	for i, path := range routes {
		for _, r := range sentTo[i] {
			root, ok := roots[r.traceID]
			if !ok {
				continue
			}
			if r.upstream {
				t.Errorf("%s: upstream told sampled for a trace the lower bound kept in the log phase", r.path)
			}
			if typ := root.StringTag("sampler.type"); typ != "lowerbound" && typ != "probabilistic" {
				t.Errorf("%s: sampler.type %q", r.path, typ)
			}
		}
		// Every kept trace takes a token of the operation's lower bound,
		// also one its probability (1e-5) kept: together they hold the rate.
		n, kept := traffic.window(i, warmup, window, func(r sent) bool { _, ok := roots[r.traceID]; return ok })
		checkRate(t, path+" kept (lower bound 2/s)", n, kept, 2, window)
	}
}

// traffic is what driveTraffic sent, per route.
type traffic struct {
	start time.Time
	sent  [][]sent
}

// driveTraffic sends perTick requests to each route every tick, the routes
// in parallel, for d.
func driveTraffic(t *testing.T, gw *kongsim.Gateway, up *harness.Upstream, routes []string, perTick int, tick, d time.Duration) traffic {
	t.Helper()
	tr := traffic{start: time.Now(), sent: make([][]sent, len(routes))}
	var wg sync.WaitGroup
	for i, route := range routes {
		wg.Go(func() {
			ticker := time.NewTicker(tick)
			defer ticker.Stop()
			for n := 0; time.Since(tr.start) < d; n++ {
				<-ticker.C
				paths := make([]string, perTick)
				for k := range paths {
					paths[k] = route + "/" + strconv.Itoa(n) + "-" + strconv.Itoa(k)
				}
				tr.sent[i] = append(tr.sent[i], sendAll(t, gw, up, paths, nil, perTick)...)
			}
		})
	}
	wg.Wait()
	return tr
}

// window counts route i's requests sent in [from, from+d) and those of them
// that match.
func (tr traffic) window(i int, from, d time.Duration, match func(sent) bool) (n, matched int) {
	for _, r := range tr.sent[i] {
		if at := r.at.Sub(tr.start); at >= from && at < from+d {
			n++
			if match(r) {
				matched++
			}
		}
	}
	return n, matched
}

// checkRate fails unless got of n requests in d is rate per second within
// 10 %, and the traffic was well above the rate.
func checkRate(t *testing.T, what string, n, got int, rate float64, d time.Duration) {
	t.Helper()
	want := rate * d.Seconds()
	t.Logf("%s: %d of %d requests in %v, limit %v/s", what, got, n, d, rate)
	if float64(n) < 3*want {
		t.Fatalf("%s: only %d requests in %v: the traffic did not exceed the limit", what, n, d)
	}
	if diff := float64(got) - want; diff > want/10 || diff < -want/10 {
		t.Errorf("%s: %d in %v, want %v ± 10 %%", what, got, d, want)
	}
}

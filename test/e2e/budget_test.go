package e2e

import (
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/trace-exporter/trace-exporter/test/harness"
	"github.com/trace-exporter/trace-exporter/test/kongsim"
	"github.com/trace-exporter/trace-exporter/test/otlpsink"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
)

// budgetRequest is one kind of request sent to a mode's route, with the PDK
// calls each phase must make for it (the README's PDK budget table). A nil
// access list means the access phase must not run at all (no route
// matched).
type budgetRequest struct {
	name     string
	query    string
	context  string // the caller's context: "" none, "w3c" or "jaeger" (sampled, fresh ids)
	access   []string
	log      []string
	exported bool // its spans must reach the backend
}

type budgetMode struct {
	name     string
	config   map[string]any
	requests []budgetRequest
}

var defaultAccess = []string{pdkGetHeaders, pdkSetUpstreamHeads, pdkSetSerializeValue}

// callerHeader is a sampled caller context in format, with fresh ids.
func callerHeader(format string) http.Header {
	switch format {
	case "w3c":
		return http.Header{"Traceparent": {"00-" + randomHex(16) + "-" + randomHex(8) + "-01"}}
	case "jaeger":
		return http.Header{"Uber-Trace-Id": {randomHex(16) + ":" + randomHex(8) + ":0:1"}}
	}
	return nil
}

// budgetStrategies are the remote strategies the budget modes poll: the
// root span "GET /remote-per-operation" kept by its operation's
// probability, everything of e2e-budget-drop dropped.
const budgetStrategies = `{"default_strategy": {"type": "probabilistic", "param": 0},
  "service_strategies": [
    {"service": "e2e-budget", "type": "probabilistic", "param": 0,
     "operation_strategies": [{"operation": "GET /remote-per-operation", "type": "probabilistic", "param": 1}]},
    {"service": "e2e-budget-drop", "type": "probabilistic", "param": 0}]}`

func budgetModes(samplingURL, metricsURL string) []budgetMode {
	return []budgetMode{
		{name: "default", config: nil, requests: []budgetRequest{
			{name: "ok", access: defaultAccess, log: []string{pdkSerialize}, exported: true},
			{name: "upstream 500", query: "status=500", access: defaultAccess, log: []string{pdkSerialize}, exported: true},
			{name: "caller context", context: "w3c", access: defaultAccess, log: []string{pdkSerialize}, exported: true},
		}},
		// One format read from one header: get_header instead of get_headers.
		{name: "single-header", config: map[string]any{
			"propagation": map[string]any{"extract": []string{"jaeger"}, "inject": []string{"jaeger"}},
		}, requests: []budgetRequest{
			{name: "ok", access: []string{pdkGetHeader, pdkSetUpstreamHeads, pdkSetSerializeValue},
				log: []string{pdkSerialize}, exported: true},
			{name: "caller context", context: "jaeger",
				access: []string{pdkGetHeader, pdkSetUpstreamHeads, pdkSetSerializeValue}, log: []string{pdkSerialize}, exported: true},
		}},
		// Nothing to read, write or hand over: Kong still sends the access
		// event (the plugin has the phase), which makes no call.
		{name: "log-only", config: map[string]any{
			"propagation": map[string]any{"extract": []string{}, "inject": []string{}},
		}, requests: []budgetRequest{
			{name: "ok", access: []string{}, log: []string{pdkSerialize}, exported: true},
			{name: "caller context", context: "w3c", access: []string{}, log: []string{pdkSerialize}, exported: true},
		}},
		{name: "response-header", config: map[string]any{"http_response_header_for_traceid": "x-trace-id"},
			requests: []budgetRequest{
				{name: "ok", access: append(append([]string{}, defaultAccess...), pdkSetResponseHeader),
					log: []string{pdkSerialize}, exported: true},
			}},
		// Mostly unsampled, no tail rule: one small call (the hand-off read
		// from the ctx) and no serialize for a dropped request.
		{name: "unsampled-no-tail", config: map[string]any{
			"sampling_rate": 0, "tail_sampling": map[string]any{"status_code_min": 0},
		}, requests: []budgetRequest{
			{name: "dropped", access: defaultAccess, log: []string{pdkGetCtx}},
			{name: "dropped 500", query: "status=500", access: defaultAccess, log: []string{pdkGetCtx}},
			{name: "caller sampled", context: "w3c", access: defaultAccess, log: []string{pdkGetCtx, pdkSerialize}, exported: true},
		}},
		// Sampling beyond Kong's costs no PDK call on the request path.
		// Header rules need every header: the one read is get_headers
		// even where one trace-context header would do.
		{name: "sampling-header-rules", config: map[string]any{
			"propagation":    map[string]any{"extract": []string{"jaeger"}, "inject": []string{"jaeger"}},
			"sampling_rules": []any{map[string]any{"header_name": "x-debug", "sampling_rate": 0}},
		}, requests: []budgetRequest{
			{name: "ok", access: []string{pdkGetHeaders, pdkSetUpstreamHeads, pdkSetSerializeValue},
				log: []string{pdkSerialize}, exported: true},
		}},
		{name: "rate-limit", config: map[string]any{"max_traces_per_second": 1000}, requests: []budgetRequest{
			{name: "ok", access: defaultAccess, log: []string{pdkSerialize}, exported: true},
			{name: "caller context", context: "w3c", access: defaultAccess, log: []string{pdkSerialize}, exported: true},
		}},
		// Route, path and per-operation decisions are the log phase's: it
		// reads serialize for every request (the small probe cannot see
		// the route), and keeps what the path rule says.
		{name: "sampling-path-rules", config: map[string]any{
			"sampling_rate": 0, "tail_sampling": map[string]any{"status_code_min": 0},
			"sampling_rules": []any{map[string]any{"path_prefix": "/sampling-path-rules/x"}},
		}, requests: []budgetRequest{
			{name: "kept by the path", access: defaultAccess, log: []string{pdkSerialize}, exported: true},
		}},
		{name: "remote-per-operation", config: map[string]any{
			"remote_sampling": map[string]any{"endpoint": samplingURL, "service_name": "e2e-budget"},
		}, requests: []budgetRequest{
			{name: "kept by its operation", access: defaultAccess, log: []string{pdkSerialize}, exported: true},
		}},
		{name: "remote-drop", config: map[string]any{
			"sampling_rate": 0, "tail_sampling": map[string]any{"status_code_min": 0},
			"remote_sampling": map[string]any{"endpoint": samplingURL, "service_name": "e2e-budget-drop"},
		}, requests: []budgetRequest{
			{name: "dropped", access: defaultAccess, log: []string{pdkGetCtx}},
		}},
		// Resource templates: what serialize holds costs nothing more;
		// uri_captures one call and each shared key one, for exported
		// requests only.
		{name: "templates-serialize", config: map[string]any{"resource_attributes": map[string]any{
			"service.name": "e2e-budget", "tenant": "$(headers.x_tenant)", "n": "$(query_params.n)", "route": "$(kong.route.name)",
		}}, requests: []budgetRequest{
			{name: "ok", access: defaultAccess, log: []string{pdkSerialize}, exported: true},
		}},
		{name: "templates-pdk", config: map[string]any{"sampling_rate": 0, "resource_attributes": map[string]any{
			"service.name": "e2e-budget", "user": "$(uri_captures[1])", "plan": "$(shared.plan)", "tier": "${shared.tier}",
		}}, requests: []budgetRequest{
			{name: "dropped", access: defaultAccess, log: []string{pdkGetCtx, pdkGetStatus}},
			{name: "kept 503", query: "status=503", access: defaultAccess,
				log: []string{pdkGetCtx, pdkGetStatus, pdkSerialize, pdkGetURICaptures, pdkSharedGet, pdkSharedGet}, exported: true},
		}},
		// Request metrics count every request: serialize for each one,
		// sampled or not (the small probe holds none of what they measure).
		{name: "metrics-unsampled", config: map[string]any{
			"sampling_rate": 0, "tail_sampling": map[string]any{"status_code_min": 0},
			"metrics": map[string]any{"endpoint": metricsURL, "push_interval": 3600, "enable_request_metrics": true, "enable_latency_metrics": true},
		}, requests: []budgetRequest{
			{name: "dropped", access: defaultAccess, log: []string{pdkSerialize}},
			{name: "dropped 500", query: "status=500", access: defaultAccess, log: []string{pdkSerialize}},
			{name: "caller sampled", context: "w3c", access: defaultAccess, log: []string{pdkSerialize}, exported: true},
		}},
		// With the default status rule the status is one more small call.
		{name: "unsampled-status-tail", config: map[string]any{"sampling_rate": 0},
			requests: []budgetRequest{
				{name: "dropped", access: defaultAccess, log: []string{pdkGetCtx, pdkGetStatus}},
				{name: "kept 503", query: "status=503", access: defaultAccess,
					log: []string{pdkGetCtx, pdkGetStatus, pdkSerialize}, exported: true},
				{name: "caller sampled", context: "w3c", access: defaultAccess, log: []string{pdkGetCtx, pdkSerialize}, exported: true},
			}},
	}
}

// The PDK budget of the README's table, per request and per mode, through
// the Kong emulator running the real plugin (each mode is a route with its
// own plugin instance), for three Kong versions; spans go to an in-process
// OTLP receiver so the test also proves the budget is not met by doing less
// than exporting. No request may make a call Kong would fail.
func TestPDKBudgetPerMode(t *testing.T) {
	sj := startSamplingJaeger(t, budgetStrategies)
	for _, version := range []string{"3.3", "3.6", "3.9"} {
		t.Run("kong-"+version, func(t *testing.T) {
			t.Parallel()
			sink := otlpsink.Start(t)
			up := harness.StartUpstream(t, harness.UpstreamOptions{})
			modes := budgetModes(sj.SamplingURL, metricsURLOf(sink.TracesURL()))
			var routes []any
			for _, m := range modes {
				routes = append(routes, map[string]any{"name": m.name, "paths": []string{"/" + m.name},
					"plugins": []any{plugin(pluginConfig(sink.TracesURL(), "e2e-budget", m.config))}})
			}
			gw := harness.StartGateway(t, harness.GatewayOptions{KongVersion: version, Config: map[string]any{
				"services": []any{map[string]any{"name": "budget", "url": up.URL(), "routes": routes}},
				"plugins":  []any{plugin(pluginConfig(sink.TracesURL(), "e2e-budget", nil))},
			}})

			// Each request kind several times: the budget must hold on every
			// request, not on average.
			const repeat = 5
			type sent struct {
				mode string
				req  budgetRequest
			}
			byURI := map[string]sent{}
			wantSpans := map[string]int{} // exported spans per route
			for _, m := range modes {
				for _, r := range m.requests {
					for i := range repeat {
						q := "n=" + strconv.Itoa(i) + "&kind=" + randomHex(4)
						if r.query != "" {
							q = r.query + "&" + q
						}
						uri := "/" + m.name + "/x?" + q
						byURI[uri] = sent{m.name, r}
						harness.Do(t, "GET", gw.URL()+uri, callerHeader(r.context))
						if r.exported {
							wantSpans[m.name] += 2 // root + one try
						}
					}
				}
			}
			unrouted := "/no-such-route-" + randomHex(4)
			harness.Do(t, "GET", gw.URL()+unrouted, nil)
			byURI[unrouted] = sent{"global", budgetRequest{name: "no route", access: nil, log: []string{pdkSerialize}, exported: true}}
			wantSpans["global"] = 1

			if err := gw.WaitIdle(bounded(t, 20*time.Second)); err != nil {
				t.Fatal(err)
			}
			records := gw.Records()
			if len(records) != len(byURI) {
				t.Fatalf("%d gateway records for %d requests", len(records), len(byURI))
			}
			for _, rec := range records {
				s, ok := byURI[rec.URI]
				if !ok {
					t.Fatalf("record for unexpected URI %s", rec.URI)
				}
				checkBudget(t, rec, s.mode, s.req)
			}
			checkNodeIDOnce(t, records)
			for _, v := range gw.Violations() {
				t.Errorf("violation: %s", v)
			}

			// Exported exactly what was sampled or kept, per mode.
			total := 0
			for _, n := range wantSpans {
				total += n
			}
			if _, err := sink.WaitSpans(bounded(t, 15*time.Second), total); err != nil {
				t.Fatalf("backend: %v", err)
			}
			time.Sleep(200 * time.Millisecond) // let a stray extra export show up
			// A root (SERVER) span names its route; a try span's parent is its root.
			spans := sink.Spans()
			routeOfRoot := map[string]string{}
			for _, s := range spans {
				if s.GetKind() == tracepb.Span_SPAN_KIND_SERVER {
					route := "global"
					if v, ok := s.Attr("kong.route.name"); ok {
						route = v.GetStringValue()
					}
					routeOfRoot[s.SpanID()] = route
				}
			}
			got := map[string]int{}
			for _, s := range spans {
				if s.GetKind() == tracepb.Span_SPAN_KIND_SERVER {
					got[routeOfRoot[s.SpanID()]]++
				} else if route, ok := routeOfRoot[s.ParentSpanID()]; ok {
					got[route]++
				} else {
					t.Errorf("span %s %s has no root span in the backend", s.GetName(), s.SpanID())
				}
			}
			for _, m := range append(modes, budgetMode{name: "global"}) {
				if got[m.name] != wantSpans[m.name] {
					t.Errorf("mode %s: %d spans exported, want %d", m.name, got[m.name], wantSpans[m.name])
				}
			}
		})
	}
}

func checkBudget(t *testing.T, rec *kongsim.RequestRecord, mode string, r budgetRequest) {
	t.Helper()
	what := mode + "/" + r.name + " (" + rec.URI + ")"
	if r.access == nil {
		if ev := rec.Event("access"); ev != nil {
			t.Errorf("%s: access ran with calls %s, want no access event", what, fmtCalls(ev.Calls))
		}
	} else if ev := rec.Event("access"); ev == nil {
		t.Errorf("%s: no access event", what)
	} else if !callsEqual(ev.Calls, r.access) {
		t.Errorf("%s: access calls %s, want %s", what, fmtCalls(ev.Calls), fmtCalls(r.access))
	}
	if ev := rec.Event("log"); ev == nil {
		t.Errorf("%s: no log event", what)
	} else if calls, _ := withoutNodeID(ev.Calls); !callsEqual(calls, r.log) {
		t.Errorf("%s: log calls %s, want %s", what, fmtCalls(ev.Calls), fmtCalls(r.log))
	}
	if v := rec.Violations(); len(v) > 0 {
		t.Errorf("%s: violations %v", what, v)
	}
	for _, ev := range rec.Events {
		if ev.Err != nil {
			t.Errorf("%s: %s event failed: %v", what, ev.Phase, ev.Err)
		}
	}
}

// The log handler adapts its first call to the traffic an instance sees:
// at sampling_rate 1 it starts with serialize, and once most requests
// arrive unsampled by their callers (here all, flags 00) it switches to the
// small hand-off probe, so dropped requests stop costing a serialize.
func TestPDKBudgetAdaptsToUnsampledTraffic(t *testing.T) {
	sink := otlpsink.Start(t)
	up := harness.StartUpstream(t, harness.UpstreamOptions{})
	gw := harness.StartGateway(t, harness.GatewayOptions{Config: map[string]any{
		"services": []any{map[string]any{"name": "adaptive", "url": up.URL(), "routes": []any{
			map[string]any{"name": "adaptive", "paths": []string{"/adaptive"},
				"plugins": []any{plugin(pluginConfig(sink.TracesURL(), "e2e-adaptive", nil))}},
		}}},
	}})
	// The instance decides over windows of 256 requests; a few more than
	// two windows, one at a time so each log phase follows its access phase.
	const n = 300
	unsampled := http.Header{"Traceparent": {"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00"}}
	for i := range n {
		harness.Do(t, "GET", gw.URL()+"/adaptive?i="+strconv.Itoa(i), unsampled)
		if err := gw.WaitIdle(bounded(t, 10*time.Second)); err != nil {
			t.Fatal(err)
		}
	}
	records := gw.Records()
	if len(records) != n {
		t.Fatalf("%d records", len(records))
	}
	checkNodeIDOnce(t, records)
	for i, rec := range records {
		got, _ := withoutNodeID(rec.Calls("log"))
		switch {
		case i < 250 && !callsEqual(got, []string{pdkSerialize}):
			t.Errorf("request %d (before the first window closed): log calls %s, want [serialize]", i+1, fmtCalls(got))
		case i >= 260 && !callsEqual(got, []string{pdkGetCtx, pdkGetStatus}):
			t.Errorf("request %d (after a window of unsampled traffic): log calls %s, want [get_ctx get_status]", i+1, fmtCalls(got))
		}
		if v := rec.Violations(); len(v) > 0 {
			t.Errorf("request %d: %v", i+1, v)
		}
	}
	if st := sink.Stats(); st.Spans != 0 {
		t.Errorf("%d spans exported for unsampled traffic", st.Spans)
	}
}

// withoutNodeID drops the one kong.node.get_id a plugin server makes, on the
// first request it logs, from a log phase's calls, and counts it.
func withoutNodeID(calls []string) ([]string, int) {
	out := make([]string, 0, len(calls))
	n := 0
	for _, c := range calls {
		if c == pdkNodeID {
			n++
			continue
		}
		out = append(out, c)
	}
	return out, n
}

// checkNodeIDOnce: one plugin server asked Kong for its node id once in
// all these requests, in a log phase, and never in another phase.
func checkNodeIDOnce(t *testing.T, records []*kongsim.RequestRecord) {
	t.Helper()
	total := 0
	for _, rec := range records {
		for _, ev := range rec.Events {
			_, n := withoutNodeID(ev.Calls)
			if n > 0 && ev.Phase != "log" {
				t.Errorf("%s: kong.node.get_id in the %s phase", rec.URI, ev.Phase)
			}
			total += n
		}
	}
	if total != 1 {
		t.Errorf("kong.node.get_id called %d times in %d requests of one plugin server, want once", total, len(records))
	}
}

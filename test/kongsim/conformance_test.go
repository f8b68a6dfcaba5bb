package kongsim

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/trace-exporter/trace-exporter/test/testutil"
)

// The PDK budget of a request: access made exactly the calls the plugin
// made, in order; log made exactly one, kong.log.serialize; nothing failed.
// The upstream saw the header set in access, the route's path stripped and
// Kong's forwarding headers; the serialize data carries the value set with
// set_serialize_value and redacts Authorization.
func TestGatewayCountsPDKCallsPerPhase(t *testing.T) {
	up := newUpstream(t, 200)
	gw := startGateway(t, "3.9", serviceYAML(up.URL, "count"))

	resp, body := do(t, gw, "GET", "/echo/items?id=42&debug", map[string]string{
		"X-Probe": "hello", "Authorization": "Bearer secret"})
	if resp.StatusCode != 200 || body != "upstream says hi\n" {
		t.Fatalf("status %d body %q", resp.StatusCode, body)
	}
	rec := recordOf(t, gw, resp)
	wantAccess := []string{"kong.request.get_header", "kong.service.request.set_header", "kong.log.set_serialize_value"}
	if got := rec.Calls("access"); !equalStrings(got, wantAccess) {
		t.Errorf("access calls = %q, want %q", got, wantAccess)
	}
	if got := rec.Calls("log"); !equalStrings(got, []string{"kong.log.serialize"}) {
		t.Errorf("log calls = %q, want exactly [kong.log.serialize]", got)
	}
	if v := rec.Violations(); len(v) != 0 {
		t.Errorf("violations: %v", v)
	}
	if l := rec.Event("log").Logs; len(l) != 0 {
		t.Errorf("plugin logged %v (serialize failed?)", l)
	}

	got := up.last(t)
	if got.Header.Get("X-Probe-Seen") != "hello" {
		t.Errorf("upstream X-Probe-Seen = %q", got.Header.Get("X-Probe-Seen"))
	}
	if got.URL.Path != "/base/items" || got.URL.RawQuery != "id=42&debug" {
		t.Errorf("upstream got %s?%s, want /base/items?id=42&debug", got.URL.Path, got.URL.RawQuery)
	}
	if got.Header.Get("X-Forwarded-For") != "127.0.0.1" || got.Header.Get("X-Forwarded-Path") != "/echo/items" {
		t.Errorf("forwarding headers: %v", got.Header)
	}
	if resp.Header.Get("Via") != "1.1 kong/3.9.0" || resp.Header.Get("X-Kong-Proxy-Latency") == "" {
		t.Errorf("Kong response headers missing: %v", resp.Header)
	}

	var ser map[string]any
	if err := json.Unmarshal(rec.Serialize, &ser); err != nil {
		t.Fatalf("serialize JSON: %v\n%s", err, rec.Serialize)
	}
	probe, _ := ser["probe"].(map[string]any)
	if probe["tag"] != "a/b" || probe["seen"] != "hello" {
		t.Errorf("set_serialize_value not in serialize: probe = %v", ser["probe"])
	}
	req := ser["request"].(map[string]any)
	headers := req["headers"].(map[string]any)
	if headers["authorization"] != "REDACTED" {
		t.Errorf("authorization = %v, want REDACTED", headers["authorization"])
	}
	if headers["x-probe-seen"] != "hello" {
		t.Errorf("serialize request headers miss the header set in access: %v", headers)
	}
	if q := req["querystring"].(map[string]any); q["id"] != "42" || q["debug"] != true {
		t.Errorf("querystring = %v", q)
	}
	if ser["upstream_uri"] != "/base/items?id=42&debug" || ser["upstream_status"] != "200" || ser["source"] != "upstream" {
		t.Errorf("upstream_uri %v upstream_status %v source %v", ser["upstream_uri"], ser["upstream_status"], ser["source"])
	}
	if !strings.Contains(string(rec.Serialize), `"uri":"\/echo\/items?id=42&debug"`) {
		t.Errorf("serialize does not escape '/' as cjson does: %s", rec.Serialize)
	}
}

// A call Kong fails in its log timer closes the plugin's connection without
// a reply: the plugin's next call fails too, the violation is recorded, and
// the plugin server survives.
func TestForbiddenCallInLogClosesConnection(t *testing.T) {
	up := newUpstream(t, 200)
	gw := startGateway(t, "3.9", serviceYAML(up.URL, "forbidden"))
	pid := gw.Sim().PID()

	resp, _ := do(t, gw, "GET", "/echo", nil)
	if resp.StatusCode != 200 {
		t.Fatalf("status %d: the log phase must not affect the response", resp.StatusCode)
	}
	rec := recordOf(t, gw, resp)
	log := rec.Event("log")
	if log == nil {
		t.Fatal("log phase did not run")
	}
	if !equalStrings(log.Calls, []string{"kong.request.get_path"}) {
		t.Errorf("log calls = %q: the call after the violation must not reach the gateway", log.Calls)
	}
	want := Violation{Phase: "log", Method: "kong.request.get_path", Reason: "API disabled in the current context"}
	if len(log.Violations) != 1 || log.Violations[0] != want {
		t.Errorf("violations = %v, want [%v]", log.Violations, want)
	}
	if len(gw.Violations()) != 1 {
		t.Errorf("gateway violations = %v", gw.Violations())
	}
	// The same instance keeps working on a fresh connection.
	resp, _ = do(t, gw, "GET", "/echo", nil)
	rec = recordOf(t, gw, resp)
	if rec.Event("log") == nil || len(rec.Event("log").Violations) != 1 || gw.Sim().PID() != pid {
		t.Errorf("second request: log %+v, pid %d→%d", rec.Event("log"), pid, gw.Sim().PID())
	}
}

// kong.response.exit is never answered: the client gets the exit response,
// the upstream is not called, and the log phase still runs with Kong's
// serialize shape for an exit.
func TestExitEndsRequestAndLogStillRuns(t *testing.T) {
	up := newUpstream(t, 200)
	gw := startGateway(t, "3.9", serviceYAML(up.URL, "exit"))

	resp, body := do(t, gw, "GET", "/echo/x", nil)
	if resp.StatusCode != 418 || body != "teapot" || resp.Header.Get("X-Exit") != "yes" {
		t.Fatalf("got %d %q %v", resp.StatusCode, body, resp.Header)
	}
	if resp.Header.Get("Server") != "kong/3.9.0" || resp.Header.Get("X-Kong-Response-Latency") == "" {
		t.Errorf("Kong headers on exit: %v", resp.Header)
	}
	if up.count() != 0 {
		t.Errorf("upstream called %d times after exit", up.count())
	}
	rec := recordOf(t, gw, resp)
	if got := rec.Calls("access"); !equalStrings(got, []string{"kong.response.exit"}) {
		t.Errorf("access calls = %q", got)
	}
	if got := rec.Calls("log"); !equalStrings(got, []string{"kong.log.serialize"}) {
		t.Errorf("log calls = %q", got)
	}
	if v := rec.Violations(); len(v) != 0 {
		t.Errorf("violations: %v", v)
	}
	var ser map[string]any
	if err := json.Unmarshal(rec.Serialize, &ser); err != nil {
		t.Fatal(err)
	}
	tries, ok := ser["tries"].([]any)
	if !ok || len(tries) != 0 || ser["source"] != "kong" || ser["upstream_status"] != "" {
		t.Errorf("exit serialize: tries %v source %v upstream_status %q", ser["tries"], ser["source"], ser["upstream_status"])
	}
	if lat := ser["latencies"].(map[string]any); lat["proxy"] != float64(-1) {
		t.Errorf("latencies.proxy = %v, want -1", lat["proxy"])
	}
	if !strings.Contains(string(rec.Serialize), `"tries":[]`) {
		t.Errorf("tries must encode as an array: %s", rec.Serialize)
	}
}

// A handler panic kills the plugin server: the request gets Kong's 500, the
// server is respawned no sooner than 1 s after its last spawn, and requests
// work again afterwards (the emulator resets and restarts the instance).
func TestPanickingPluginIsRespawned(t *testing.T) {
	up := newUpstream(t, 200)
	gw := startGateway(t, "3.9", serviceYAML(up.URL, "panic"))
	sim := gw.Sim()
	resp, _ := do(t, gw, "GET", "/echo", nil)
	if resp.StatusCode != 200 {
		t.Fatalf("warm-up request: %d", resp.StatusCode)
	}
	oldPID := sim.PID()
	spawns, next := sim.Spawns()
	firstSpawn := time.Now()

	resp, body := do(t, gw, "GET", "/echo", map[string]string{"X-Panic": "1"})
	if resp.StatusCode != 500 {
		t.Fatalf("panic request: status %d", resp.StatusCode)
	}
	var msg map[string]any
	if err := json.Unmarshal([]byte(body), &msg); err != nil || msg["message"] != "An unexpected error occurred" {
		t.Errorf("500 body = %q", body)
	}
	select {
	case <-next:
	case <-time.After(10 * time.Second):
		t.Fatal("plugin server not respawned within 10 s")
	}
	if n, _ := sim.Spawns(); n != spawns+1 {
		t.Errorf("spawns %d → %d", spawns, n)
	}
	if since := time.Since(firstSpawn); since < 900*time.Millisecond {
		// firstSpawn is later than the real spawn, so this bound is loose.
		t.Errorf("respawned %s after the first spawn; Kong waits 1 s", since)
	}
	if sim.PID() == oldPID {
		t.Error("pid did not change")
	}
	if !sim.WaitOutput("probe: asked to panic", 5*time.Second) {
		t.Errorf("panic not in captured output: %q", sim.Output())
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := sim.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	resp, _ = do(t, gw, "GET", "/echo", nil)
	if resp.StatusCode != 200 {
		t.Fatalf("after respawn: status %d", resp.StatusCode)
	}
	rec := recordOf(t, gw, resp)
	if rec.Event("access") == nil || rec.Event("access").Err != nil || rec.Event("log").Err != nil {
		t.Errorf("after respawn: access %+v log %+v", rec.Event("access"), rec.Event("log"))
	}
}

// A config the plugin itself refuses at StartInstance gives Kong 3.8+'s 500;
// a config the dumped schema refuses is refused at load.
func TestBadConfig(t *testing.T) {
	up := newUpstream(t, 200)
	gw := startGateway(t, "3.9", `_format_version: "3.0"
services:
- name: s
  url: `+up.URL+`
  routes:
  - name: r
    paths: ["/"]
    plugins:
    - name: kongsim-probe
      config: {mode: count, reject: true}
`)
	resp, body := do(t, gw, "GET", "/", nil)
	var msg map[string]any
	if err := json.Unmarshal([]byte(body), &msg); err != nil {
		t.Fatalf("body %q: %v", body, err)
	}
	if resp.StatusCode != 500 || msg["message"] != "An unexpected error occurred" || msg["request_id"] == "" {
		t.Errorf("got %d %q", resp.StatusCode, body)
	}
	if up.count() != 0 {
		t.Error("upstream called although access failed")
	}
	rec := recordOf(t, gw, resp)
	if e := rec.Event("access"); e == nil || e.Err == nil || !strings.Contains(e.Err.Error(), "starting instance") {
		t.Errorf("access event: %+v", e)
	}
	if !gw.Sim().WaitOutput("decoding config: reject is set", 5*time.Second) {
		t.Errorf("plugin output lacks its refusal: %q", gw.Sim().Output())
	}

	_, err := ParseDeclarative([]byte(`_format_version: "3.0"
plugins:
- name: kongsim-probe
  config: {mode: 3, nope: 1}
`))
	if err != nil {
		t.Fatal(err)
	}
	bad, _ := ParseDeclarative([]byte(`_format_version: "3.0"
plugins:
- name: kongsim-probe
  config: {mode: 3, nope: 1, limit: 1.5}
`))
	err = gw.Load(bad)
	for _, want := range []string{"config.mode: expected a string", "config.nope: unknown field", "config.limit: expected an integer"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Load error %v, want it to contain %q", err, want)
		}
	}
}

// Bytes that are not UTF-8 reach the plugin raw, as from Kong, and fail in
// protobuf-go: the access call and the log phase's serialize both fail.
func TestLatin1HeaderFailsUTF8CheckInPlugin(t *testing.T) {
	up := newUpstream(t, 200)
	gw := startGateway(t, "3.9", serviceYAML(up.URL, "utf8"))
	resp, _ := do(t, gw, "GET", "/echo", map[string]string{"X-Latin": "caf\xe9"})
	if resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	if e := resp.Header.Get("X-Utf8-Error"); !strings.Contains(e, "invalid UTF-8") {
		t.Errorf("plugin's GetHeader error = %q, want protobuf-go's invalid UTF-8 error", e)
	}
	rec := recordOf(t, gw, resp)
	logs := rec.Event("log").Logs
	if len(logs) != 1 || !strings.Contains(logs[0].Message, "invalid UTF-8") {
		t.Errorf("log phase logs = %v, want the serialize UTF-8 failure", logs)
	}
	if !strings.Contains(string(rec.Serialize), "caf\xe9") {
		t.Error("serialize JSON lost the raw byte")
	}
}

// Live request data in access, setters that change the upstream request,
// ctx.shared and ngx.ctx carried to the log phase, and the log phase's
// saved headers, status and start time.
func TestLiveAccessAndSavedLogData(t *testing.T) {
	up := newUpstream(t, 201)
	gw := startGateway(t, "3.9", serviceYAML(up.URL, "live"))
	before := time.Now()
	resp, _ := do(t, gw, "POST", "/echo/p?q=1", nil)
	if resp.StatusCode != 201 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	live := strings.Split(resp.Header.Get("X-Probe-Live"), "|")
	want := []string{"POST", "/echo/p", "q=1", "127.0.0.1", "127.0.0.1", "echo-route", gw.Sim().NodeID()}
	if !equalStrings(live, want) {
		t.Errorf("live data = %q, want %q", live, want)
	}
	got := up.last(t)
	if got.URL.Path != "/rewritten" || got.Header.Get("X-Upstream-Added") != "from-plugin" {
		t.Errorf("upstream got path %s headers %v", got.URL.Path, got.Header)
	}
	rec := recordOf(t, gw, resp)
	logs := rec.Event("log").Logs
	if len(logs) != 1 {
		t.Fatalf("log phase logs = %v (violations %v)", logs, rec.Violations())
	}
	msg := logs[0].Message
	for _, part := range []string{"shared=shared-value", "ctx=ctx-value", "header=from-plugin", "status=201"} {
		if !strings.Contains(msg, part) {
			t.Errorf("log phase saw %q, missing %q", msg, part)
		}
	}
	var start float64
	if i := strings.Index(msg, "start="); i >= 0 {
		json.Unmarshal([]byte(msg[i+len("start="):]), &start)
	}
	if d := start - float64(before.UnixMilli())/1000; d < -0.01 || d > 5 {
		t.Errorf("req_start_time %f is not the request's start (%v)", start, before)
	}
	if v := rec.Violations(); len(v) != 0 {
		t.Errorf("violations: %v", v)
	}
}

// A phase-restricted call in access (service.response outside buffered
// proxying) is a Lua error in Kong: 500, connection closed, recorded.
func TestForbiddenCallInAccessGives500(t *testing.T) {
	up := newUpstream(t, 200)
	gw := startGateway(t, "3.9", serviceYAML(up.URL, "forbidden-access"))
	resp, _ := do(t, gw, "GET", "/echo", nil)
	if resp.StatusCode != 500 {
		t.Errorf("status %d, want 500", resp.StatusCode)
	}
	rec := recordOf(t, gw, resp)
	want := Violation{Phase: "access", Method: "kong.service.response.get_status", Reason: "function cannot be called in access phase"}
	if v := rec.Violations(); len(v) != 1 || v[0] != want {
		t.Errorf("violations = %v, want [%v]", v, want)
	}
}

// Unknown routes get Kong's 404; only a global plugin logs them.
func TestNoRouteOnlyGlobalPluginLogs(t *testing.T) {
	up := newUpstream(t, 200)
	gw := startGateway(t, "3.9", `_format_version: "3.0"
services:
- name: s
  url: `+up.URL+`
  routes:
  - name: r
    paths: ["/known"]
    plugins:
    - name: kongsim-probe
      config: {mode: count}
plugins:
- name: kongsim-probe
  config: {mode: plain}
- name: some-lua-plugin
  config: {x: 1}
`)
	var global *Plugin
	for _, p := range gw.Plugins() {
		if p.Global() {
			global = p
		}
	}
	if global == nil || len(gw.Plugins()) != 2 {
		t.Fatalf("plugins = %v", gw.Plugins())
	}
	resp, body := do(t, gw, "GET", "/unknown", nil)
	var msg map[string]any
	json.Unmarshal([]byte(body), &msg)
	if resp.StatusCode != 404 || msg["message"] != "no Route matched with those values" {
		t.Fatalf("got %d %q", resp.StatusCode, body)
	}
	rec := recordOf(t, gw, resp)
	if rec.PluginID != global.ID || rec.Event("access") != nil || !equalStrings(rec.Calls("log"), []string{"kong.log.serialize"}) {
		t.Errorf("no-route record: plugin %s (global %s), events %+v", rec.PluginID, global.ID, rec.Events)
	}
	var ser map[string]any
	json.Unmarshal(rec.Serialize, &ser)
	if _, ok := ser["route"]; ok || ser["upstream_uri"] != "" || ser["source"] != "kong" {
		t.Errorf("no-route serialize: %s", rec.Serialize)
	}
	// The route's own plugin wins over the global one on a matched route.
	resp, _ = do(t, gw, "GET", "/known", nil)
	rec = recordOf(t, gw, resp)
	if rec.PluginID == global.ID || len(rec.Calls("access")) != 3 {
		t.Errorf("matched route ran plugin %s with access calls %q", rec.PluginID, rec.Calls("access"))
	}

	// Without a global plugin, nothing logs a no-route request.
	gw2 := startGateway(t, "3.9", serviceYAML(up.URL, "count"))
	resp, _ = do(t, gw2, "GET", "/unknown", nil)
	rec = recordOf(t, gw2, resp)
	if resp.StatusCode != 404 || len(rec.Events) != 0 {
		t.Errorf("no global plugin: status %d events %+v", resp.StatusCode, rec.Events)
	}
}

// A refused upstream target is a failed balancer try; the next target
// answers. Serialize shows both tries and nginx's upstream_status.
func TestRetriedUpstreamRecordsFailedTry(t *testing.T) {
	up := newUpstream(t, 200)
	dead := testutil.FreeAddr(t) // nobody listens: refused
	live := strings.TrimPrefix(up.URL, "http://")
	gw := startGateway(t, "3.9", `_format_version: "3.0"
upstreams:
- name: pool
  targets:
  - target: `+dead+`
  - target: `+live+`
services:
- name: s
  host: pool
  retries: 3
  routes:
  - name: r
    paths: ["/"]
    plugins:
    - name: kongsim-probe
      config: {mode: plain}
`)
	resp, _ := do(t, gw, "GET", "/", nil)
	if resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	rec := recordOf(t, gw, resp)
	var ser struct {
		Tries []struct {
			IP              string  `json:"ip"`
			Port            int     `json:"port"`
			State           string  `json:"state"`
			Code            int     `json:"code"`
			BalancerStartNS float64 `json:"balancer_start_ns"`
		} `json:"tries"`
		UpstreamStatus string `json:"upstream_status"`
		Latencies      struct {
			Proxy float64 `json:"proxy"`
		} `json:"latencies"`
	}
	if err := json.Unmarshal(rec.Serialize, &ser); err != nil {
		t.Fatal(err)
	}
	if len(ser.Tries) != 2 || ser.Tries[0].State != "failed" || ser.Tries[0].Code != 502 ||
		ser.Tries[1].State != "" || ser.UpstreamStatus != "502, 200" {
		t.Fatalf("tries %+v upstream_status %q", ser.Tries, ser.UpstreamStatus)
	}
	if ser.Tries[0].BalancerStartNS < 1.6e18 || ser.Tries[1].BalancerStartNS < ser.Tries[0].BalancerStartNS {
		t.Errorf("balancer_start_ns values %v", ser.Tries)
	}
	if ser.Latencies.Proxy < 0 {
		t.Errorf("latencies.proxy = %v for a proxied request", ser.Latencies.Proxy)
	}

	// Every target refused: Kong's 502 after retries+1 tries.
	gw2 := startGateway(t, "3.9", `_format_version: "3.0"
services:
- name: s
  url: http://`+dead+`
  retries: 2
  routes:
  - name: r
    paths: ["/"]
`)
	resp, body := do(t, gw2, "GET", "/", nil)
	if resp.StatusCode != 502 || !strings.Contains(body, "An invalid response was received from the upstream server") {
		t.Errorf("all refused: %d %q", resp.StatusCode, body)
	}
}

// The three serialize shapes (Kong 3.3, 3.6, 3.9) as the plugin receives
// them, and cjson's number precision (14 digits before 3.6, 16 after).
func TestSerializeShapesByVersion(t *testing.T) {
	up := newUpstream(t, 200)
	type shape struct {
		version               string
		has, lacks            []string
		maxNSDigits           int
		kongIncludesReceiveMs bool
	}
	cases := []shape{
		{"3.3", []string{"upstream_status"}, []string{"source", "workspace", "workspace_name", "request.id", "latencies.receive"}, 14, true},
		{"3.6", []string{"upstream_status", "source", "request.id"}, []string{"workspace", "workspace_name", "latencies.receive"}, 16, true},
		{"3.9", []string{"upstream_status", "source", "request.id", "workspace", "workspace_name", "latencies.receive"}, nil, 16, false},
	}
	for _, c := range cases {
		t.Run(c.version, func(t *testing.T) {
			gw := startGateway(t, c.version, serviceYAML(up.URL, "echo-serialize"))
			resp, _ := do(t, gw, "GET", "/echo", nil)
			rec := recordOf(t, gw, resp)
			logs := rec.Event("log").Logs
			if len(logs) != 1 {
				t.Fatalf("logs %v", logs)
			}
			received := logs[0].Message // what the plugin's Serialize returned
			if received != string(rec.Serialize) {
				t.Errorf("plugin received a different serialize text")
			}
			var ser map[string]any
			if err := json.Unmarshal([]byte(received), &ser); err != nil {
				t.Fatal(err)
			}
			lookup := func(path string) bool {
				var cur any = ser
				for _, p := range strings.Split(path, ".") {
					m, ok := cur.(map[string]any)
					if !ok {
						return false
					}
					if cur, ok = m[p]; !ok {
						return false
					}
				}
				return true
			}
			for _, k := range c.has {
				if !lookup(k) {
					t.Errorf("%s: missing %s", c.version, k)
				}
			}
			for _, k := range c.lacks {
				if lookup(k) {
					t.Errorf("%s: has %s, which this version lacks", c.version, k)
				}
			}
			i := strings.Index(received, `"balancer_start_ns":`)
			if i < 0 {
				t.Fatalf("no balancer_start_ns in %s", received)
			}
			num := received[i+len(`"balancer_start_ns":`):]
			num = num[:strings.IndexAny(num, ",}")]
			mant, _, ok := strings.Cut(num, "e+")
			if !ok {
				t.Fatalf("balancer_start_ns %q is not in exponent form", num)
			}
			if digits := len(strings.ReplaceAll(mant, ".", "")); digits > c.maxNSDigits {
				t.Errorf("balancer_start_ns %q has %d digits, cjson prints at most %d", num, digits, c.maxNSDigits)
			}
		})
	}
}

// Changing an entity's config starts a new instance (new __seq__) and then
// closes the old one, as Kong does on the next request.
func TestConfigChangeStartsNewInstanceAndClosesOld(t *testing.T) {
	up := newUpstream(t, 200)
	gw := startGateway(t, "3.9", serviceYAML(up.URL, "plain"))
	p := gw.Plugins()[0]
	resp, _ := do(t, gw, "GET", "/echo", nil)
	recordOf(t, gw, resp)
	if err := gw.UpdatePluginConfig(p.ID, map[string]any{"mode": "count"}); err != nil {
		t.Fatal(err)
	}
	np := gw.Plugins()[0]
	if np.Seq <= p.Seq {
		t.Fatalf("new seq %d, old %d", np.Seq, p.Seq)
	}
	resp, _ = do(t, gw, "GET", "/echo", nil)
	rec := recordOf(t, gw, resp)
	if len(rec.Calls("access")) != 3 {
		t.Errorf("new config not in effect: access calls %q", rec.Calls("access"))
	}
	if !gw.Sim().WaitOutput("closed instance "+strconv.FormatInt(p.Seq, 10), 5*time.Second) {
		t.Fatalf("old instance %d not closed: %q", p.Seq, gw.Sim().Output())
	}
}

// A Response handler switches Kong to buffered proxying: the response phase
// reads the upstream response through kong.service.response.* and changes
// the client's response; those calls also work in the log timer; serialize's
// upstream_status is the buffered status (a number) from 3.8 on, "" before.
func TestBufferedProxyingWithResponseHandler(t *testing.T) {
	up := newUpstream(t, 200)
	bin := pluginBinary(t, "buffered", "kongsim-buffered")
	for _, c := range []struct {
		version        string
		upstreamStatus any
	}{{"3.9", 200.0}, {"3.7", ""}} {
		gw := startGatewayWith(t, bin, c.version, `_format_version: "3.0"
services:
- name: s
  url: `+up.URL+`
  routes:
  - name: r
    paths: ["/"]
plugins:
- name: kongsim-buffered
`)
		resp, body := do(t, gw, "GET", "/b", nil)
		if resp.StatusCode != 200 || body != "upstream says hi\n" || resp.Header.Get("X-Buffered") != "200|yes|17" {
			t.Fatalf("%s: %d %q X-Buffered=%q", c.version, resp.StatusCode, body, resp.Header.Get("X-Buffered"))
		}
		rec := recordOf(t, gw, resp)
		want := []string{"kong.service.response.get_status", "kong.service.response.get_header",
			"kong.service.response.get_raw_body", "kong.response.set_header"}
		if !equalStrings(rec.Calls("response"), want) {
			t.Errorf("response calls %q", rec.Calls("response"))
		}
		logs := rec.Event("log").Logs
		if len(logs) != 1 || logs[0].Message != "log-status=200 err=<nil>" || len(rec.Violations()) != 0 {
			t.Errorf("log phase: logs %v violations %v", logs, rec.Violations())
		}
		var ser map[string]any
		json.Unmarshal(rec.Serialize, &ser)
		if ser["upstream_status"] != c.upstreamStatus {
			t.Errorf("%s: upstream_status %#v, want %#v", c.version, ser["upstream_status"], c.upstreamStatus)
		}
	}
}

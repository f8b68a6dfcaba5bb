package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/trace-exporter/trace-exporter/test/harness"
	"github.com/trace-exporter/trace-exporter/test/jaegertest"
	"github.com/trace-exporter/trace-exporter/test/kongsim"
)

// traceEnv is one gateway (one emulated Kong version) with the services of
// kong.yml's shape, exporting to the shared Jaeger under its own service name.
type traceEnv struct {
	version string
	gw      *kongsim.Gateway
	up      *harness.Upstream
	j       *jaegertest.Jaeger
	service string // resource service.name of every Kong span
	refused int    // the dead balancer target's port
}

func startTraceEnv(t *testing.T, version string, j *jaegertest.Jaeger) *traceEnv {
	return startTraceEnvTo(t, version, j, map[string]any{"traces_endpoint": j.OTLPHTTPURL()})
}

// startTraceEnvTo is startTraceEnv with the plugin exporting through
// backend (the config fields that select and address it) to a pipeline
// that ends in Jaeger j.
func startTraceEnvTo(t *testing.T, version string, j *jaegertest.Jaeger, backend map[string]any) *traceEnv {
	e := &traceEnv{version: version, j: j, up: harness.StartUpstream(t, harness.UpstreamOptions{}),
		service: uniqueService("e2e-kong-" + version), refused: harness.RefusedPort(t)}
	extra := map[string]any{
		"http_response_header_for_traceid": "x-trace-id",
		// Capturing works (x-test-id shows up), and the credential headers
		// cannot be captured at all (the plugin refuses such a config).
		"capture_request_headers": []string{"x-test-id", "user-agent"},
	}
	for k, v := range backend {
		extra[k] = v
	}
	cfg := pluginConfig("", e.service, extra)
	if cfg["traces_endpoint"] == "" {
		delete(cfg, "traces_endpoint")
	}
	e.gw = harness.StartGateway(t, harness.GatewayOptions{KongVersion: version, Config: map[string]any{
		"services": []any{
			map[string]any{"name": "echo", "url": e.up.URL() + "/base", "routes": []any{
				map[string]any{"name": "echo-route", "paths": []string{"/echo"}, "plugins": []any{plugin(cfg)}},
			}},
			map[string]any{"name": "flaky", "host": "flaky-upstream", "port": 80, "protocol": "http",
				"retries": 2, "connect_timeout": 1000, "routes": []any{
					map[string]any{"name": "flaky-route", "paths": []string{"/flaky"}},
				}},
		},
		"upstreams": []any{map[string]any{"name": "flaky-upstream", "targets": []any{
			map[string]any{"target": fmt.Sprintf("127.0.0.1:%d", e.refused)},
			map[string]any{"target": e.up.Addr()},
		}}},
		// A route without a service: Kong answers 503 itself after the
		// access phase ran (the closest this emulator gets to a plugin's exit).
		"routes":  []any{map[string]any{"name": "serviceless", "paths": []string{"/serviceless"}}},
		"plugins": []any{plugin(cfg)}, // global: /flaky, /serviceless and unmatched paths
	}})
	return e
}

func (e *traceEnv) atLeast(minor int) bool {
	v, err := kongsim.ParseVersion(e.version)
	return err == nil && v.AtLeast(minor)
}

// secrets are unique per request so a leak cannot be mistaken for another
// test's traffic.
type secrets struct{ token, cookie, apiKey string }

func newSecrets() secrets {
	return secrets{token: "tok" + randomHex(8), cookie: "ck" + randomHex(8), apiKey: "ak" + randomHex(8)}
}

func (s secrets) header(testID string) http.Header {
	return http.Header{
		"Authorization":      {"Bearer " + s.token},
		"Cookie":             {"session=" + s.cookie},
		harness.TestIDHeader: {testID},
	}
}

// assertNotExported checks the secrets in the span tags and in Jaeger's raw
// JSON answer for the trace.
func (e *traceEnv) assertNotExported(t *testing.T, tr *jaegertest.Trace, s secrets) {
	t.Helper()
	eachSpanHasNo(t, tr, s.token, s.cookie, s.apiKey)
	raw, err := harness.RawTrace(bounded(t, 10*time.Second), e.j, tr.TraceID)
	if err != nil {
		t.Fatal(err)
	}
	for _, secret := range []string{s.token, s.cookie, s.apiKey} {
		if strings.Contains(raw, secret) {
			t.Errorf("Jaeger's answer for trace %s contains the secret %q", tr.TraceID, secret)
		}
	}
}

// upstreamContext returns the one request the upstream received for testID
// and the traceparent Kong sent it.
func (e *traceEnv) upstreamContext(t *testing.T, testID string) (harness.Received, harness.Traceparent) {
	t.Helper()
	got := e.up.Find(testID)
	if len(got) != 1 {
		t.Fatalf("upstream received %d requests tagged %s, want 1", len(got), testID)
	}
	tp, err := harness.ParseTraceparent(got[0].Header.Get("traceparent"))
	if err != nil {
		t.Fatalf("upstream: %v", err)
	}
	return got[0], tp
}

// checkRoot asserts what every root span of this gateway has.
func (e *traceEnv) checkRoot(t *testing.T, root *jaegertest.Span, resp harness.Response, source string) spanCheck {
	t.Helper()
	c := check(t, root, "root").kind("server").service(e.service).
		str("http.request.method", "GET").str("url.scheme", "http").str("server.address", "127.0.0.1").
		num("server.port", int64(portOf(t, e.gw.Addr()))).
		str("client.address", "127.0.0.1").num("http.response.status_code", int64(resp.Status))
	if e.atLeast(5) {
		c.str("kong.request.id", resp.Header.Get("X-Kong-Request-Id"))
	} else {
		c.absent("kong.request.id")
	}
	if e.atLeast(6) {
		c.str("kong.response.source", source)
	} else {
		c.absent("kong.response.source")
	}
	if e.atLeast(7) {
		c.str("kong.workspace.id", e.gw.Sim().WorkspaceID())
	}
	return c
}

func portOf(t testing.TB, addr string) int {
	i := strings.LastIndexByte(addr, ':')
	p, err := strconv.Atoi(addr[i+1:])
	if err != nil {
		t.Fatalf("address %q: %v", addr, err)
	}
	return p
}

// Real HTTP through the emulated Kong (3.3, 3.6 and 3.9 serialize shapes)
// and the real plugin binary, traces read back from Jaeger.
//
// A plugin's exit (kong.response.exit in access) cannot be staged here: the
// emulator runs one external plugin and trace-exporter never exits a
// request. The closest case, Kong answering itself after the access phase
// ran (a route without a service), is covered; the serialize payload of a
// real plugin exit is covered by plugin/spans_test.go (3.9-plugin-exit.json).
func TestTracesInJaeger(t *testing.T) {
	j := harness.Jaeger(t)
	for _, version := range []string{"3.3", "3.6", "3.9"} {
		t.Run("kong-"+version, func(t *testing.T) {
			t.Parallel()
			e := startTraceEnv(t, version, j)
			t.Run("success", e.testSuccess)
			t.Run("upstream-500", e.testUpstream500)
			t.Run("retried-upstream", e.testRetried)
			t.Run("no-route", e.testNoRoute)
			t.Run("no-route-with-caller-context", e.testNoRouteWithContext)
			t.Run("kong-answers-after-access", e.testServiceless)
			if err := e.gw.WaitIdle(bounded(t, 10*time.Second)); err != nil {
				t.Fatal(err)
			}
			for _, v := range e.gw.Violations() {
				t.Errorf("PDK call Kong would fail: %s", v)
			}
		})
	}
}

func (e *traceEnv) testSuccess(t *testing.T) {
	id, sec := randomHex(8), newSecrets()
	resp := harness.Do(t, "GET", e.gw.URL()+"/echo/hello?x=1&api_key="+sec.apiKey, sec.header(id))
	if resp.Status != 200 {
		t.Fatalf("status %d: %s", resp.Status, resp.Body)
	}
	got, tp := e.upstreamContext(t, id)
	// The secrets did travel: Kong forwards them upstream; only exporting them is forbidden.
	if got.Header.Get("Authorization") != "Bearer "+sec.token || !strings.Contains(got.URI, sec.apiKey) {
		t.Fatalf("upstream did not receive the test's credentials: %v %s", got.Header, got.URI)
	}
	if !tp.Sampled() {
		t.Errorf("upstream traceparent %+v: not sampled", tp)
	}
	if h := resp.Header.Get("X-Trace-Id"); h != tp.TraceID {
		t.Errorf("response x-trace-id %q, upstream saw trace %s", h, tp.TraceID)
	}

	tr := waitTrace(t, e.j, tp.TraceID, 2)
	roots := tr.Roots()
	if len(roots) != 1 {
		t.Fatalf("%d roots:\n%s", len(roots), render(tr))
	}
	root := roots[0]
	e.checkRoot(t, root, resp, "upstream").name("GET /echo").parent("").isError(false).
		str("http.route", "/echo").str("url.path", "/echo/hello").str("url.query", "x=1&api_key=REDACTED").
		str("kong.route.name", "echo-route").str("kong.service.name", "echo").str("kong.upstream.status", "200").
		str("http.request.header.x-test-id", `["`+id+`"]`).
		absent("http.request.header.authorization", "http.request.header.cookie", "error.type")

	kids := tr.Children(root.SpanID)
	if len(kids) != 1 {
		t.Fatalf("root has %d children, want 1 try:\n%s", len(kids), render(tr))
	}
	try := kids[0]
	wantURL := "http://" + e.up.Addr() + strings.Replace(got.URI, sec.apiKey, "REDACTED", 1)
	check(t, try, "try").kind("client").name("GET").service(e.service).isError(false).
		num("kong.balancer.try", 1).str("network.peer.address", "127.0.0.1").num("network.peer.port", int64(e.up.Port())).
		str("server.address", "127.0.0.1").num("server.port", int64(e.up.Port())).str("http.request.method", "GET").
		str("url.full", wantURL).num("http.response.status_code", 200).
		absent("kong.balancer.state", "error.type", "http.request.resend_count").
		within(root, 2*time.Millisecond)
	if got.URI != "/base/hello?x=1&api_key="+sec.apiKey {
		t.Errorf("upstream URI %q: route /echo on service path /base should strip /echo", got.URI)
	}

	// The upstream's parent is the last (only) try span, in the same trace.
	if tp.TraceID != tr.TraceID || tp.ParentID != try.SpanID {
		t.Errorf("upstream saw trace %s parent %s; Jaeger has trace %s try span %s", tp.TraceID, tp.ParentID, tr.TraceID, try.SpanID)
	}
	// ...and it was called while that try span was open.
	at := got.At.UnixMicro()
	if at < try.StartMicros-2000 || at > try.StartMicros+try.DurationMicros+2000 {
		t.Errorf("upstream received the request at %dµs, outside the try span [%d, %d]µs", at, try.StartMicros, try.StartMicros+try.DurationMicros)
	}
	e.assertNotExported(t, tr, sec)
}

func (e *traceEnv) testUpstream500(t *testing.T) {
	id := randomHex(8)
	resp := harness.Do(t, "GET", e.gw.URL()+"/echo/boom?status=500", http.Header{harness.TestIDHeader: {id}})
	if resp.Status != 500 {
		t.Fatalf("status %d: %s", resp.Status, resp.Body)
	}
	_, tp := e.upstreamContext(t, id)
	tr := waitTrace(t, e.j, tp.TraceID, 2)
	root := tr.Roots()[0]
	e.checkRoot(t, root, resp, "upstream").name("GET /echo").isError(true).str("error.type", "500").
		str("kong.upstream.status", "500").str("http.route", "/echo")
	kids := tr.Children(root.SpanID)
	if len(kids) != 1 {
		t.Fatalf("root has %d children, want 1:\n%s", len(kids), render(tr))
	}
	check(t, kids[0], "try").kind("client").isError(true).num("http.response.status_code", 500).
		str("error.type", "500").num("kong.balancer.try", 1).absent("kong.balancer.state")
	if kids[0].SpanID != tp.ParentID {
		t.Errorf("upstream's parent %s is not the try span %s", tp.ParentID, kids[0].SpanID)
	}
}

// The dead target refuses the connection and Kong retries on the live one.
// Round robin over two targets: of two requests in a row at least one
// starts on the dead target, whatever the balancer's starting point.
func (e *traceEnv) testRetried(t *testing.T) {
	retried := 0
	for n := range 2 {
		id, sec := randomHex(8), newSecrets()
		query := "n=" + strconv.Itoa(n) + "&api_key=" + sec.apiKey
		resp := harness.Do(t, "GET", e.gw.URL()+"/flaky/r?"+query, sec.header(id))
		if resp.Status != 200 {
			t.Fatalf("status %d: %s", resp.Status, resp.Body)
		}
		got, tp := e.upstreamContext(t, id)
		if got.URI != "/r?"+query {
			t.Errorf("upstream URI %q", got.URI)
		}
		redactedURI := strings.Replace(got.URI, sec.apiKey, "REDACTED", 1)
		tries := e.serializedTries(t, "/flaky/r?"+query)
		tr := waitTrace(t, e.j, tp.TraceID, 1+tries)
		root := tr.Roots()[0]
		e.checkRoot(t, root, resp, "upstream").name("GET /flaky").isError(false).str("http.route", "/flaky").
			str("kong.service.name", "flaky").str("kong.route.name", "flaky-route")
		kids := tr.Children(root.SpanID)
		if len(kids) != tries {
			t.Fatalf("%d try spans, Kong made %d tries:\n%s", len(kids), tries, render(tr))
		}
		last := kids[len(kids)-1]
		// url.full names the service's host (port 80 is http's default), the
		// target tried is network.peer.*.
		lastCheck := check(t, last, "last try").kind("client").name("GET").isError(false).num("kong.balancer.try", int64(tries)).
			str("network.peer.address", "127.0.0.1").num("network.peer.port", int64(e.up.Port())).
			str("server.address", "flaky-upstream").num("server.port", 80).num("http.response.status_code", 200).
			str("url.full", "http://flaky-upstream"+redactedURI).absent("kong.balancer.state").within(root, 2*time.Millisecond)
		if tries > 1 {
			lastCheck.num("http.request.resend_count", int64(tries-1))
		} else {
			lastCheck.absent("http.request.resend_count")
		}
		if last.SpanID != tp.ParentID || tp.TraceID != tr.TraceID {
			t.Errorf("upstream's parent %s is not the last try %s", tp.ParentID, last.SpanID)
		}
		switch tries {
		case 1:
		case 2:
			retried++
			first := kids[0]
			// Refused: no response, so no status code (the 502 is nginx's).
			check(t, first, "failed try").kind("client").name("GET").isError(true).parent(root.SpanID).
				num("kong.balancer.try", 1).str("kong.balancer.state", "failed").absent("http.response.status_code", "http.request.resend_count").
				str("error.type", "connection_failed").num("network.peer.port", int64(e.refused)).
				str("url.full", "http://flaky-upstream"+redactedURI).within(root, 2*time.Millisecond)
			if end := first.StartMicros + first.DurationMicros; end > last.StartMicros+1 {
				t.Errorf("failed try ends at %dµs, after the next try starts (%dµs)", end, last.StartMicros)
			}
			if root.StringTag("kong.upstream.status") != "502, 200" {
				t.Errorf("kong.upstream.status %q, want \"502, 200\"", root.StringTag("kong.upstream.status"))
			}
		default:
			t.Fatalf("%d tries: the upstream has two targets", tries)
		}
		e.assertNotExported(t, tr, sec)
	}
	if retried == 0 {
		t.Fatal("neither request was retried: the dead target was never tried")
	}
}

// serializedTries is how many balancer tries Kong recorded for the request
// with this URI: the ground truth the trace must match.
func (e *traceEnv) serializedTries(t *testing.T, uri string) int {
	t.Helper()
	if err := e.gw.WaitIdle(bounded(t, 10*time.Second)); err != nil {
		t.Fatal(err)
	}
	for _, rec := range e.gw.Records() {
		if rec.URI == uri {
			var payload struct {
				Tries []json.RawMessage `json:"tries"`
			}
			if err := json.Unmarshal(rec.Serialize, &payload); err != nil {
				t.Fatalf("serialize payload of %s: %v", uri, err)
			}
			return len(payload.Tries)
		}
	}
	t.Fatalf("no gateway record for %s", uri)
	return 0
}

func (e *traceEnv) testNoRoute(t *testing.T) {
	sec := newSecrets()
	path := "/nothing-" + randomHex(6)
	resp := harness.Do(t, "GET", e.gw.URL()+path+"?api_key="+sec.apiKey, sec.header(randomHex(8)))
	if resp.Status != 404 {
		t.Fatalf("status %d: %s", resp.Status, resp.Body)
	}
	var body struct {
		Message   string `json:"message"`
		RequestID string `json:"request_id"`
	}
	if err := json.Unmarshal(resp.Body, &body); err != nil || body.Message != "no Route matched with those values" {
		t.Errorf("404 body %q (%v)", resp.Body, err)
	}
	if e.atLeast(5) && body.RequestID != resp.Header.Get("X-Kong-Request-Id") {
		t.Errorf("404 body request_id %q, header %q", body.RequestID, resp.Header.Get("X-Kong-Request-Id"))
	}
	// No access phase ran, so nothing told the client the trace id: find the
	// trace by its path among this gateway's traces.
	tr := findTrace(t, e.j, e.service, func(tr *jaegertest.Trace) bool {
		for i := range tr.Spans {
			if tr.Spans[i].StringTag("url.path") == path {
				return true
			}
		}
		return false
	})
	tr = waitTrace(t, e.j, tr.TraceID, 1)
	root := &tr.Spans[0]
	e.checkRoot(t, root, resp, "kong").name("GET").parent("").isError(false).str("url.path", path).
		str("url.query", "api_key=REDACTED").
		absent("http.route", "kong.route.name", "kong.service.name", "http.request.header.authorization", "http.request.header.cookie")
	e.assertNotExported(t, tr, sec)
}

// The global plugin's log phase extracts the caller's context from the
// saved request headers when no access phase ran.
func (e *traceEnv) testNoRouteWithContext(t *testing.T) {
	traceID, parent := randomHex(16), randomHex(8)
	resp := harness.Do(t, "GET", e.gw.URL()+"/nowhere", http.Header{"Traceparent": {"00-" + traceID + "-" + parent + "-01"}})
	if resp.Status != 404 {
		t.Fatalf("status %d", resp.Status)
	}
	tr := waitTrace(t, e.j, traceID, 1)
	e.checkRoot(t, &tr.Spans[0], resp, "kong").name("GET").parent(parent).str("url.path", "/nowhere")
}

// A route without a service: the access phase runs (ids chosen, x-trace-id
// set), then Kong answers 503 itself; there is no balancer try.
func (e *traceEnv) testServiceless(t *testing.T) {
	resp := harness.Do(t, "GET", e.gw.URL()+"/serviceless", nil)
	if resp.Status != 503 {
		t.Fatalf("status %d: %s", resp.Status, resp.Body)
	}
	traceID := resp.Header.Get("X-Trace-Id")
	if len(traceID) != 32 {
		t.Fatalf("x-trace-id %q: the access phase ran and should have set it", traceID)
	}
	tr := waitTrace(t, e.j, traceID, 1)
	e.checkRoot(t, &tr.Spans[0], resp, "kong").name("GET /serviceless").isError(true).str("error.type", "503").
		str("http.route", "/serviceless").str("kong.route.name", "serviceless").absent("kong.service.name")
}

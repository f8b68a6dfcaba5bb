package plugin

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/trace-exporter/trace-exporter/exporter"
	"github.com/trace-exporter/trace-exporter/schema"
)

func fixture(t testing.TB, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "serialize", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func testOptions() *spanOptions {
	d := schema.Defaults()
	var next byte
	return &spanOptions{
		spanName:     schema.SpanNameMethodRoute,
		redactQuery:  d.RedactQueryParams,
		knownMethods: d.HTTPKnownMethods,
		maxAttrs:     d.MaxAttributes,
		maxValueLen:  d.MaxAttributeValueLength,
		newSpanID: func() exporter.SpanID {
			next++
			return exporter.SpanID{0xee, 0, 0, 0, 0, 0, 0, next}
		},
	}
}

// parseAndBuild runs the pure part of the log path on a fixture.
func parseAndBuild(t *testing.T, name string, w *parseWants) (*logEntry, []exporter.Span) {
	t.Helper()
	a := newArena(64)
	if w == nil {
		w = &parseWants{handoffKey: handoffKey}
	}
	e, err := parseSerialized(fixture(t, name), w, &a)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	h, err := decodeHandoff(e.handoff)
	if err != nil {
		t.Fatalf("%s: hand-off %q: %v", name, e.handoff, err)
	}
	return e, buildSpans(e, &h.ids, testOptions(), &a)
}

func attr(s exporter.Span, key string) (exporter.Value, bool) {
	for _, a := range s.Attributes {
		if a.Key == key {
			return a.Value, true
		}
	}
	return exporter.Value{}, false
}

func strAttr(t *testing.T, s exporter.Span, key string) string {
	t.Helper()
	v, ok := attr(s, key)
	if !ok || v.Type != exporter.TypeString {
		t.Fatalf("span %q: no string attribute %s", s.Name, key)
	}
	return v.AsString()
}

func intAttr(t *testing.T, s exporter.Span, key string) int64 {
	t.Helper()
	v, ok := attr(s, key)
	if !ok || v.Type != exporter.TypeInt {
		t.Fatalf("span %q: no int attribute %s", s.Name, key)
	}
	return v.AsInt()
}

func hexSpan(s string) exporter.SpanID {
	var id exporter.SpanID
	if !decodeHex(id[:], s) {
		panic(s)
	}
	return id
}

func TestProxiedGETWithConsumer(t *testing.T) {
	w := &parseWants{handoffKey: handoffKey, captureRequest: []string{"x-tenant", "x-multi"}, captureResponse: []string{"content-type"}}
	e, spans := parseAndBuild(t, "3.9-proxied-consumer.json", w)
	if len(spans) != 2 {
		t.Fatalf("want root + 1 try, got %d spans", len(spans))
	}
	root, try := spans[0], spans[1]

	if root.Kind != exporter.KindServer || try.Kind != exporter.KindClient {
		t.Fatalf("kinds: root %v try %v", root.Kind, try.Kind)
	}
	if root.Name != "GET /echo" {
		t.Errorf("root name %q, want route-based \"GET /echo\"", root.Name)
	}
	// Root = [started_at, started_at + latencies.request] in ns.
	if root.StartUnixNano != 1726783839538*1e6 || root.EndUnixNano != (1726783839538+5)*1e6 {
		t.Errorf("root timing %d..%d", root.StartUnixNano, root.EndUnixNano)
	}
	// Try starts at balancer_start_ns (a float in the payload).
	if d := int64(try.StartUnixNano) - 1726783839539123000; d < -1000 || d > 1000 {
		t.Errorf("try start %d, want ~1726783839539123000", try.StartUnixNano)
	}
	// Upstream exchange ends at started_at + kong + proxy + receive.
	if try.EndUnixNano != (1726783839538+1+3+0)*1e6 {
		t.Errorf("try end %d", try.EndUnixNano)
	}
	if root.TraceID.String() != "4bf92f3577b34da6a3ce929d0e0e4736" || try.TraceID != root.TraceID {
		t.Errorf("trace ids %s / %s", root.TraceID, try.TraceID)
	}
	if root.SpanID != hexSpan("00f067aa0ba902b7") || root.ParentSpanID != hexSpan("53995c3f42cd8ad8") {
		t.Errorf("root ids %s parent %s", root.SpanID, root.ParentSpanID)
	}
	// The last try carries the id injected upstream: the upstream's span is its child.
	if try.SpanID != hexSpan("b7ad6b7169203331") || try.ParentSpanID != root.SpanID {
		t.Errorf("try id %s parent %s", try.SpanID, try.ParentSpanID)
	}
	if root.TraceState != "congo=t61rcWkgMzE" || root.Flags&0xff != 1 || root.Flags&flagIsRemote == 0 {
		t.Errorf("tracestate %q flags %#x", root.TraceState, root.Flags)
	}
	if root.Status != exporter.StatusUnset || try.Status != exporter.StatusUnset {
		t.Errorf("statuses %v %v", root.Status, try.Status)
	}

	for key, want := range map[string]string{
		"http.request.method":    "GET",
		"url.scheme":             "http",
		"url.path":               "/echo/items",
		"url.query":              "id=42&debug&api_key=REDACTED",
		"server.address":         "localhost",
		"client.address":         "127.0.0.1",
		"user_agent.original":    "curl/8.5.0",
		"http.route":             "/echo",
		"kong.request.id":        "2f6946328ffc4946b8c9120704a4a155",
		"kong.route.name":        "echo-route",
		"kong.service.name":      "echo",
		"kong.consumer.username": "alice",
		"kong.consumer.id":       "9c270f20-0000-4000-8000-000000000002",
		"kong.response.source":   "upstream",
		"kong.workspace.name":    "default",
	} {
		if got := strAttr(t, root, key); got != want {
			t.Errorf("root %s = %q, want %q", key, got, want)
		}
	}
	for key, want := range map[string]int64{"server.port": 8000, "http.response.status_code": 200, "http.request.size": 171, "http.response.size": 412} {
		if got := intAttr(t, root, key); got != want {
			t.Errorf("root %s = %d, want %d", key, got, want)
		}
	}
	// Captured headers are parsed here and become attributes in the
	// capture_headers processor (processors_test.go).
	if got := toHeaders(e.capturedRequest, nil); len(got) != 2 || strings.Join((&exporter.Request{RequestHeaders: got}).RequestHeader("x-multi"), ",") != "a,b" {
		t.Errorf("captured request headers %+v", got)
	}
	if got := toHeaders(e.capturedResponse, nil); len(got) != 1 || got[0].Name != "content-type" || got[0].Values[0] != "application/json" {
		t.Errorf("captured response headers %+v", got)
	}
	if got := strAttr(t, try, "url.full"); got != "http://127.0.0.1:9000/items?id=42&debug&api_key=REDACTED" {
		t.Errorf("try url.full = %q", got)
	}
	if intAttr(t, try, "network.peer.port") != 9000 || intAttr(t, try, "http.response.status_code") != 200 {
		t.Errorf("try peer/status wrong")
	}
	assertNoSecrets(t, spans, "s3cr3t", "my-key", "session=abc", "sid=zzz", "REDACTED\"")
}

// assertNoSecrets fails if any name or attribute value contains a secret.
func assertNoSecrets(t *testing.T, spans []exporter.Span, secrets ...string) {
	t.Helper()
	for _, s := range spans {
		check := func(where, v string) {
			for _, sec := range secrets {
				if strings.Contains(v, sec) {
					t.Errorf("span %q %s leaks %q: %q", s.Name, where, sec, v)
				}
			}
		}
		check("name", s.Name)
		for _, a := range s.Attributes {
			check(a.Key, a.Value.AsString())
			for _, v := range a.Value.AsStringSlice() {
				check(a.Key, v)
			}
		}
	}
}

func TestRetriedUpstream(t *testing.T) {
	_, spans := parseAndBuild(t, "3.9-retried.json", nil)
	if len(spans) != 3 {
		t.Fatalf("want root + 2 tries, got %d", len(spans))
	}
	root, failed, ok := spans[0], spans[1], spans[2]
	if root.Status != exporter.StatusUnset || intAttr(t, root, "http.response.status_code") != 200 {
		t.Errorf("root should be a 200 without error")
	}
	// Kong's state "failed" is a try without a response (here the target
	// refused): its 502 is nginx's, so no http.response.status_code, and a
	// low-cardinality error.type instead of the code.
	if failed.Status != exporter.StatusError || strAttr(t, failed, "kong.balancer.state") != "failed" ||
		strAttr(t, failed, "error.type") != "connection_failed" {
		t.Errorf("failed try: status %v attrs %+v", failed.Status, failed.Attributes)
	}
	if v, ok := attr(failed, "http.response.status_code"); ok {
		t.Errorf("a try without a response carries http.response.status_code %v", v.AsInt())
	}
	if failed.SpanID[0] != 0xee || failed.ParentSpanID != root.SpanID {
		t.Errorf("failed try should get a fresh id under the root")
	}
	// A failed try lasts until the next try starts.
	if failed.EndUnixNano != ok.StartUnixNano {
		t.Errorf("failed try end %d != next start %d", failed.EndUnixNano, ok.StartUnixNano)
	}
	if ok.Status != exporter.StatusUnset || intAttr(t, ok, "http.response.status_code") != 200 ||
		intAttr(t, ok, "kong.balancer.try") != 2 || intAttr(t, ok, "network.peer.port") != 9002 {
		t.Errorf("last try wrong: %+v", ok.Attributes)
	}
	if ok.SpanID != hexSpan("b9c7c989f97918e1") {
		t.Errorf("last try must carry the injected id")
	}
	if root.ParentSpanID.IsValid() || root.Flags&flagIsRemote != 0 {
		t.Errorf("no parent was extracted: root must be a trace root")
	}
	if root.Name != "POST /flaky" || ok.Name != "POST" || failed.Name != "POST" {
		t.Errorf("names %q %q", root.Name, ok.Name)
	}
}

func TestUpstream500(t *testing.T) {
	_, spans := parseAndBuild(t, "3.9-upstream-500.json", nil)
	root, try := spans[0], spans[1]
	if root.Status != exporter.StatusError || strAttr(t, root, "error.type") != "500" {
		t.Errorf("root of a 500 must be an error")
	}
	if try.Status != exporter.StatusError || intAttr(t, try, "http.response.status_code") != 500 {
		t.Errorf("the try that got the 500 must be an error")
	}
	if root.Name != "GET /boom" {
		t.Errorf("name %q", root.Name)
	}
}

func TestPluginExitHasNoTries(t *testing.T) {
	_, spans := parseAndBuild(t, "3.9-plugin-exit.json", nil)
	if len(spans) != 1 {
		t.Fatalf("a request Kong answered itself has only the root span, got %d", len(spans))
	}
	root := spans[0]
	if strAttr(t, root, "kong.response.source") != "kong" || intAttr(t, root, "http.response.status_code") != 401 {
		t.Errorf("attrs %+v", root.Attributes)
	}
	if _, ok := attr(root, "kong.latency.upstream_ms"); ok {
		t.Errorf("latencies.proxy = -1 means no upstream: no upstream latency attribute")
	}
	if root.Status != exporter.StatusUnset {
		t.Errorf("a 401 is not a server error")
	}
}

func TestNoRouteParses(t *testing.T) {
	a := newArena(64)
	w := &parseWants{handoffKey: handoffKey, propagationNames: []string{"traceparent", "tracestate"}}
	e, err := parseSerialized(fixture(t, "3.9-no-route.json"), w, &a)
	if err != nil {
		t.Fatal(err)
	}
	if e.hasRoute || e.hasService || len(e.tries) != 0 || e.handoff != "" {
		t.Fatalf("no-route payload: %+v", e)
	}
	if got := savedHeaders(e.propagationHeaders).Get("traceparent"); got != "00-11111111111111111111111111111111-2222222222222222-01" {
		t.Errorf("incoming traceparent not kept for log-phase extraction: %q", got)
	}
	ids := traceIDs{trace: exporter.TraceID{1}, root: exporter.SpanID{2}}
	spans := buildSpans(e, &ids, testOptions(), &a)
	if len(spans) != 1 || spans[0].Name != "GET" || strAttr(t, spans[0], "url.query") != "token=REDACTED" {
		t.Errorf("no-route root: %q %+v", spans[0].Name, spans[0].Attributes)
	}
}

func TestHTTPS(t *testing.T) {
	_, spans := parseAndBuild(t, "3.9-https.json", nil)
	root, try := spans[0], spans[1]
	for key, want := range map[string]string{"url.scheme": "https", "server.address": "api.example.com",
		"tls.protocol.name": "tls", "tls.protocol.version": "1.3", "tls.cipher": "TLS_AES_256_GCM_SHA384"} {
		if got := strAttr(t, root, key); got != want {
			t.Errorf("%s = %q, want %q", key, got, want)
		}
	}
	// The Host header names no port: the client addressed https's default
	// (Kong listened on 8443 behind a port mapping).
	if got := intAttr(t, root, "server.port"); got != 443 {
		t.Errorf("server.port %d, want 443", got)
	}
	// url.full names the service's host (its default port left out); the
	// target tried is network.peer.*.
	if got := strAttr(t, try, "url.full"); got != "https://secure.internal/secure" {
		t.Errorf("url.full %q", got)
	}
	if strAttr(t, try, "network.peer.address") != "10.1.2.3" || intAttr(t, try, "network.peer.port") != 443 {
		t.Errorf("try peer: %+v", try.Attributes)
	}
}

func TestOlderKongShapes(t *testing.T) {
	e, spans := parseAndBuild(t, "3.3-proxied.json", nil)
	if e.requestID != "" || e.source != "" || e.hasReceive || e.workspace != "" {
		t.Errorf("3.3 has no request.id, source, receive or workspace: %+v", e)
	}
	if _, ok := attr(spans[0], "kong.request.id"); ok {
		t.Errorf("no request id attribute expected")
	}
	// Before 3.7 latencies.kong includes the receive time: end = start + kong + proxy.
	if spans[1].EndUnixNano != (1726783839538+3+4)*1e6 {
		t.Errorf("3.3 try end %d", spans[1].EndUnixNano)
	}
	e, _ = parseAndBuild(t, "3.6-proxied.json", nil)
	if e.requestID != "36a" || e.source != "upstream" || e.hasReceive {
		t.Errorf("3.6 shape: %+v", e)
	}
	e, spans = parseAndBuild(t, "3.8-buffered.json", nil)
	if e.upstreamStatus != "503" || intAttr(t, spans[1], "http.response.status_code") != 503 {
		t.Errorf("numeric upstream_status (buffered proxying, 3.8+) not read: %q", e.upstreamStatus)
	}
}

func TestBadPayloadsAreRefused(t *testing.T) {
	w := &parseWants{handoffKey: handoffKey}
	for name, payload := range map[string]string{
		"stream":     fixture(t, "stream.json"),
		"not json":   "{\"request\":",
		"array":      "[1,2]",
		"no request": `{"response":{"status":200}}`,
		"huge":       `{"request":{"uri":"` + strings.Repeat("a", maxPayloadBytes) + `"}}`,
	} {
		a := newArena(64)
		if _, err := parseSerialized(payload, w, &a); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	a := newArena(64)
	if _, err := parseSerialized(fixture(t, "stream.json"), w, &a); err != errStream {
		t.Errorf("stream payload error = %v, want errStream", err)
	}
}

func TestAttributeLimits(t *testing.T) {
	o := testOptions()
	o.maxAttrs = 5
	o.maxValueLen = 16
	a := newArena(64)
	e, err := parseSerialized(fixture(t, "3.9-proxied-consumer.json"), &parseWants{handoffKey: handoffKey}, &a)
	if err != nil {
		t.Fatal(err)
	}
	e.userAgent = "é" + strings.Repeat("x", 40) + "\xff"
	h, _ := decodeHandoff(e.handoff)
	spans := buildSpans(e, &h.ids, o, &a)
	root := spans[0]
	if len(root.Attributes) != 5 || root.DroppedAttributes == 0 {
		t.Errorf("attribute cap: %d kept, %d dropped", len(root.Attributes), root.DroppedAttributes)
	}
	o.maxAttrs = 128
	spans = buildSpans(e, &h.ids, o, &a)
	ua := strAttr(t, spans[0], "user_agent.original")
	if utf8.RuneCountInString(ua) != 16 || !strings.HasPrefix(ua, "é") || !utf8.ValidString(ua) {
		t.Errorf("value not cut at 16 characters: %q", ua)
	}
}

func TestRedactQuery(t *testing.T) {
	names := []string{"token", "api_key", "password"}
	a := newArena(64)
	for in, want := range map[string]string{
		"a=1&b=2":                "a=1&b=2",
		"token=abc":              "token=REDACTED",
		"TOKEN=abc&x=1":          "TOKEN=REDACTED&x=1",
		"api%5Fkey=zzz":          "api%5Fkey=REDACTED",
		"token[]=a&token[]=b":    "token[]=REDACTED&token[]=REDACTED",
		"password":               "password=REDACTED",
		"x=token&y=password%3D1": "x=token&y=password%3D1",
		"a=1&&token=t&":          "a=1&&token=REDACTED&",
	} {
		if got := redactQuery(in, names, &a); got != want {
			t.Errorf("redactQuery(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestHandoffRoundTrip(t *testing.T) {
	h := handoff{ids: traceIDs{
		trace: exporter.TraceID{1, 2, 3}, root: exporter.SpanID{4}, upstream: exporter.SpanID{5},
		parent: exporter.SpanID{6}, flags: 1, traceState: "a=b;c,d=e",
	}, accessUnixMs: 1726783839538}
	got, err := decodeHandoff(h.encode())
	if err != nil || got != h {
		t.Fatalf("round trip: %+v, %v", got, err)
	}
	h.ids.parent = exporter.SpanID{}
	if got, err := decodeHandoff(h.encode()); err != nil || got != h {
		t.Fatalf("round trip without parent: %+v, %v", got, err)
	}
	for _, bad := range []string{"", "2;x", "1;zz;00f067aa0ba902b7;b7ad6b7169203331;;01;1;", "1;00000000000000000000000000000000;00f067aa0ba902b7;b7ad6b7169203331;;01;1;"} {
		if _, err := decodeHandoff(bad); err == nil {
			t.Errorf("accepted %q", bad)
		}
	}
}

// Every try span lies within the root span, for every fixture and for a
// sub-millisecond request (Kong's ms values are floored, try starts are ns).
func TestTriesNestInRoot(t *testing.T) {
	names := []string{"3.9-proxied-consumer.json", "3.9-retried.json", "3.9-upstream-500.json",
		"3.9-https.json", "3.3-proxied.json", "3.6-proxied.json", "3.8-buffered.json"}
	for _, name := range names {
		_, spans := parseAndBuild(t, name, nil)
		checkNested(t, name, spans)
	}
	a := newArena(64)
	e, err := parseSerialized(fixture(t, "3.9-upstream-500.json"), &parseWants{handoffKey: handoffKey}, &a)
	if err != nil {
		t.Fatal(err)
	}
	e.latKong, e.latProxy, e.latReceive, e.latRequest = 0, 0, 0, 0
	e.tries[0].startNs = e.startedAtMs*1e6 + 400_000
	h, _ := decodeHandoff(e.handoff)
	spans := buildSpans(e, &h.ids, testOptions(), &a)
	checkNested(t, "sub-millisecond", spans)
	if d := spans[1].EndUnixNano - spans[1].StartUnixNano; d == 0 {
		t.Errorf("sub-millisecond try has no duration")
	}
}

func checkNested(t *testing.T, name string, spans []exporter.Span) {
	t.Helper()
	root := spans[0]
	for _, s := range spans[1:] {
		if s.StartUnixNano < root.StartUnixNano || s.EndUnixNano > root.EndUnixNano || s.EndUnixNano < s.StartUnixNano {
			t.Errorf("%s: try [%d, %d] not within root [%d, %d]", name, s.StartUnixNano, s.EndUnixNano, root.StartUnixNano, root.EndUnixNano)
		}
	}
}

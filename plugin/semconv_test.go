package plugin

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/trace-exporter/trace-exporter/exporter"
	"github.com/trace-exporter/trace-exporter/schema"
	"github.com/trace-exporter/trace-exporter/test/otlpsink"
)

// One test per finding of the semantic-conventions review (issue 17).

// entryOf parses a fixture for a test that changes the entry before
// building spans.
func entryOf(t *testing.T, name string) (*logEntry, traceIDs, *arena) {
	t.Helper()
	a := newArena(64)
	e, err := parseSerialized(fixture(t, name), &parseWants{handoffKey: handoffKey}, &a)
	if err != nil {
		t.Fatal(err)
	}
	h, err := decodeHandoff(e.handoff)
	if err != nil {
		t.Fatal(err)
	}
	return e, h.ids, &a
}

func hasAttr(s exporter.Span, key string) bool {
	_, ok := attr(s, key)
	return ok
}

// 1, 2, 3: an unknown method is _OTHER with method_original on every span
// and HTTP in every span name; http_known_methods makes it known.
func TestUnknownMethodSpans(t *testing.T) {
	e, ids, a := entryOf(t, "3.9-retried.json")
	e.method = "PURGE"
	spans := buildSpans(e, &ids, testOptions(), a)
	if spans[0].Name != "HTTP /flaky" {
		t.Errorf("root name %q, want HTTP /flaky", spans[0].Name)
	}
	for _, s := range spans {
		if got := strAttr(t, s, "http.request.method"); got != "_OTHER" {
			t.Errorf("%s: http.request.method %q", s.Name, got)
		}
		if got := strAttr(t, s, "http.request.method_original"); got != "PURGE" {
			t.Errorf("%s: http.request.method_original %q", s.Name, got)
		}
		if s.Kind == exporter.KindClient && s.Name != "HTTP" {
			t.Errorf("try name %q, want HTTP", s.Name)
		}
	}

	cfg := benchDiscardConfig()
	if err := json.Unmarshal([]byte(`{"traces_endpoint":"http://127.0.0.1:1/v1/traces","exporter":"bench-discard","http_known_methods":["GET","PURGE"]}`), &cfg); err != nil {
		t.Fatal(err)
	}
	rt, err := newTestRuntime(&cfg)
	if err != nil {
		t.Fatal(err)
	}
	o := rt.spanOpts
	o.newSpanID = testOptions().newSpanID
	spans = buildSpans(e, &ids, &o, a)
	if spans[0].Name != "PURGE /flaky" || spans[1].Name != "PURGE" || strAttr(t, spans[0], "http.request.method") != "PURGE" ||
		hasAttr(spans[0], "http.request.method_original") || hasAttr(spans[1], "http.request.method_original") {
		t.Errorf("with PURGE known: %q %q %+v", spans[0].Name, spans[1].Name, spans[0].Attributes[:3])
	}
	// Methods are case-sensitive: purge is not PURGE.
	e.method = "purge"
	if spans = buildSpans(e, &ids, &o, a); strAttr(t, spans[0], "http.request.method") != "_OTHER" {
		t.Errorf("purge matched PURGE")
	}
}

// 2: a try span is named {method}: no URL template is known upstream.
func TestTrySpanNamedByMethod(t *testing.T) {
	_, spans := parseAndBuild(t, "3.9-proxied-consumer.json", nil)
	if spans[1].Name != "GET" {
		t.Errorf("try name %q, want GET", spans[1].Name)
	}
}

// 4: a retry carries http.request.resend_count (1, 2, ...), the first try
// none; kong.balancer.try stays (1-based).
func TestResendCount(t *testing.T) {
	e, ids, a := entryOf(t, "3.9-retried.json")
	for len(e.tries) < 4 {
		next := e.tries[len(e.tries)-1]
		next.startNs += 1e6
		e.tries = append(e.tries, next)
	}
	spans := buildSpans(e, &ids, testOptions(), a)
	if hasAttr(spans[1], "http.request.resend_count") {
		t.Error("the first try is not a resend")
	}
	for i, s := range spans[2:] {
		if got := intAttr(t, s, "http.request.resend_count"); got != int64(i+1) {
			t.Errorf("try %d: resend_count %d, want %d", i+2, got, i+1)
		}
		if got := intAttr(t, s, "kong.balancer.try"); got != int64(i+2) {
			t.Errorf("try %d: kong.balancer.try %d", i+2, got)
		}
	}
}

// 5: tries and what they got. Kong's state failed means no response (the
// code is nginx's); next means the upstream answered with code.
func TestTryOutcomes(t *testing.T) {
	for _, c := range []struct {
		name        string
		state       string
		code        int
		last        bool
		source      string
		wantStatus  int64 // 0: no http.response.status_code
		wantErrType string
	}{
		{"refused", "failed", 502, false, "upstream", 0, "connection_failed"},
		{"timed out", "failed", 504, false, "upstream", 0, "timeout"},
		{"bad status", "next", 503, false, "upstream", 503, "503"},
		{"last, answered", "", 200, true, "upstream", 200, ""},
		{"last, answered 503", "", 503, true, "upstream", 503, "503"},
		{"last, no answer (nginx's 502)", "", 502, true, "kong", 0, "connection_failed"},
		{"last, timed out (nginx's 504)", "", 504, true, "kong", 0, "timeout"},
		{"last, refused (emulator's state)", "failed", 502, true, "kong", 0, "connection_failed"},
		{"abandoned, Kong said nothing", "", 0, false, "upstream", 0, "_OTHER"},
	} {
		t.Run(c.name, func(t *testing.T) {
			e, ids, a := entryOf(t, "3.9-retried.json")
			e.source = e.source[:0] + c.source
			i := 0
			if c.last {
				i = 1
				e.upstreamStatus = fmt.Sprintf("502, %d", c.code)
			}
			e.tries[i].state, e.tries[i].code = c.state, c.code
			if c.last {
				e.tries[i].code = 0 // Kong gives the last try's status in upstream_status
			}
			s := buildSpans(e, &ids, testOptions(), a)[1+i]
			v, ok := attr(s, "http.response.status_code")
			switch {
			case c.wantStatus == 0 && ok:
				t.Errorf("no response, yet http.response.status_code %d", v.AsInt())
			case c.wantStatus != 0 && (!ok || v.AsInt() != c.wantStatus):
				t.Errorf("http.response.status_code %v (present %v), want %d", v.AsInt(), ok, c.wantStatus)
			}
			et, hasET := attr(s, "error.type")
			if c.wantErrType == "" {
				if hasET || s.Status == exporter.StatusError {
					t.Errorf("a success is an error: %v %q", s.Status, et.AsString())
				}
				return
			}
			if et.AsString() != c.wantErrType || s.Status != exporter.StatusError {
				t.Errorf("error.type %q status %v, want %q and ERROR", et.AsString(), s.Status, c.wantErrType)
			}
		})
	}
}

// 7: max_attribute_value_length counts characters, as OpenTelemetry does.
func TestValueLimitCountsCharacters(t *testing.T) {
	o := &spanOptions{maxValueLen: 8}
	s := exporter.Span{Name: "n", Attributes: []exporter.Attribute{
		exporter.String("seven", "ééééééé"), exporter.String("ten", "éééééééééé"),
		exporter.String("mixed", "aé€😀aé€😀a"), exporter.StringSlice("list", []string{"ééééééééé"}),
	}}
	limitAttributes(&s, o)
	for key, want := range map[string]string{"seven": "ééééééé", "ten": "éééééééé", "mixed": "aé€😀aé€😀"} {
		if v, _ := attr(s, key); v.AsString() != want {
			t.Errorf("%s: %q, want %q", key, v.AsString(), want)
		}
	}
	if v, _ := attr(s, "list"); utf8.RuneCountInString(v.AsStringSlice()[0]) != 8 {
		t.Errorf("array element %q not cut at 8 characters", v.AsStringSlice()[0])
	}
}

// 8: SERVER server.address and server.port are what the client addressed:
// the Host header, its port or the scheme's default.
func TestServerAddressFromHost(t *testing.T) {
	for _, c := range []struct {
		url, host string
		wantHost  string
		wantPort  int64
	}{
		{"https://api.example.com:8443/x", "api.example.com", "api.example.com", 443},
		{"http://api.example.com:8000/x", "api.example.com", "api.example.com", 80},
		{"http://localhost:8000/x", "localhost:9999", "localhost", 9999},
		{"http://[::1]:8000/x", "[::1]:8001", "::1", 8001},
		{"https://[::1]:8443/x", "[::1]", "::1", 443},
		{"http://kong.local:8000/x", "", "kong.local", 8000}, // no Host: Kong's name and port
	} {
		e, ids, a := entryOf(t, "3.9-upstream-500.json")
		e.url, e.host = c.url, c.host
		root := buildSpans(e, &ids, testOptions(), a)[0]
		if got := strAttr(t, root, "server.address"); got != c.wantHost {
			t.Errorf("Host %q: server.address %q, want %q", c.host, got, c.wantHost)
		}
		if got := intAttr(t, root, "server.port"); got != c.wantPort {
			t.Errorf("Host %q over %s: server.port %d, want %d", c.host, c.url, got, c.wantPort)
		}
	}
}

// 9: the default redact_query_params covers the conventions' sensitive
// parameters, whatever their case.
func TestDefaultRedactionCoversSemconvParameters(t *testing.T) {
	a := newArena(64)
	names := schema.Defaults().RedactQueryParams
	q := "AWSAccessKeyId=AKIA&Signature=s1&sig=s2&X-Goog-Signature=s3&x-goog-signature=s4&keep=1"
	want := "AWSAccessKeyId=REDACTED&Signature=REDACTED&sig=REDACTED&X-Goog-Signature=REDACTED&x-goog-signature=REDACTED&keep=1"
	if got := redactQuery(q, names, &a); got != want {
		t.Errorf("redactQuery:\n got %s\nwant %s", got, want)
	}
}

// 10: tls.cipher is the IANA name; an OpenSSL name without a mapping leaves
// the attribute out.
func TestTLSCipherIsIANA(t *testing.T) {
	for openssl, want := range map[string]string{
		"ECDHE-RSA-AES128-GCM-SHA256": "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
		"TLS_AES_256_GCM_SHA384":      "TLS_AES_256_GCM_SHA384",
		"AES256-SHA":                  "TLS_RSA_WITH_AES_256_CBC_SHA",
		"SOME-FUTURE-CIPHER":          "",
	} {
		e, ids, a := entryOf(t, "3.9-https.json")
		e.tlsCipher = openssl
		root := buildSpans(e, &ids, testOptions(), a)[0]
		v, ok := attr(root, "tls.cipher")
		if want == "" && ok || want != "" && v.AsString() != want {
			t.Errorf("%s: tls.cipher %q (present %v), want %q", openssl, v.AsString(), ok, want)
		}
	}
	// Every suite Go implements (its names are IANA's), RC4 aside, is in
	// the table, and every name in the table is IANA-shaped.
	values := map[string]bool{}
	iana := regexp.MustCompile(`^TLS_[A-Z0-9_]+$`)
	for openssl, name := range opensslToIANA {
		values[name] = true
		if !iana.MatchString(name) {
			t.Errorf("%s maps to %q, not an IANA name", openssl, name)
		}
	}
	for _, suite := range append(tls.CipherSuites(), tls.InsecureCipherSuites()...) {
		if !strings.Contains(suite.Name, "RC4") && !values[suite.Name] {
			t.Errorf("%s (Go implements it) has no OpenSSL name in the table", suite.Name)
		}
	}
}

// 11: url.full names the service host (as the client sees the upstream),
// network.peer.* the target tried; the scheme's default port is left out.
func TestTryURLFullNamesTheServiceHost(t *testing.T) {
	_, spans := parseAndBuild(t, "3.9-retried.json", nil)
	first, last := spans[1], spans[2]
	if got := strAttr(t, first, "url.full"); got != "http://flaky-upstream/flaky" {
		t.Errorf("url.full %q", got)
	}
	if strAttr(t, first, "server.address") != "flaky-upstream" || intAttr(t, first, "server.port") != 80 {
		t.Errorf("server.*: %+v", first.Attributes)
	}
	if strAttr(t, first, "network.peer.address") != "127.0.0.1" || intAttr(t, first, "network.peer.port") != 9001 ||
		intAttr(t, last, "network.peer.port") != 9002 {
		t.Errorf("network.peer.* must name the targets tried")
	}
	e, ids, a := entryOf(t, "3.9-retried.json")
	e.serviceHost, e.servicePort = "fe80::1", 8080
	if got := strAttr(t, buildSpans(e, &ids, testOptions(), a)[1], "url.full"); got != "http://[fe80::1]:8080/flaky" {
		t.Errorf("IPv6 service: url.full %q", got)
	}
}

// 12: http.route is the route path that matched the request; left out
// (and out of the span name) when serialize cannot tell which one it was.
func TestHTTPRouteIsTheMatchedPath(t *testing.T) {
	for _, c := range []struct {
		paths []string
		path  string
		want  string
	}{
		{[]string{"/echo"}, "/echo/items", "/echo"},
		{[]string{"/a", "/api/v2", "/api"}, "/api/v2/users", "/api/v2"},
		{[]string{"/a", "/api"}, "/api/v2/users", "/api"},
		{[]string{`~/users/\d+$`}, "/users/42", `~/users/\d+$`},
		{[]string{"/a", `~/users/\d+$`}, "/users/42", `~/users/\d+$`},
		{[]string{`~/a/\d+$`, `~/b/\d+$`}, "/b/1", ""},
		{nil, "/anything", ""},
	} {
		e, ids, a := entryOf(t, "3.9-upstream-500.json")
		e.uri = c.path
		e.routePathCount = copy(e.routePaths[:], c.paths)
		root := buildSpans(e, &ids, testOptions(), a)[0]
		v, ok := attr(root, "http.route")
		wantName := "GET"
		if c.want != "" {
			wantName += " " + c.want
		}
		if v.AsString() != c.want || ok != (c.want != "") || root.Name != wantName {
			t.Errorf("paths %q, request %s: http.route %q (present %v), name %q; want %q", c.paths, c.path, v.AsString(), ok, root.Name, c.want)
		}
	}
}

// 13: one injection per request (Kong's access phase sets the upstream
// headers once, before the balancer): only the last try carries the span
// id sent upstream; earlier tries have their own ids under the root.
func TestOnlyTheLastTryCarriesTheInjectedID(t *testing.T) {
	e, ids, a := entryOf(t, "3.9-retried.json")
	spans := buildSpans(e, &ids, testOptions(), a)
	if spans[2].SpanID != ids.upstream || spans[1].SpanID == ids.upstream || spans[1].ParentSpanID != ids.root {
		t.Errorf("ids: first try %s, last try %s, injected %s", spans[1].SpanID, spans[2].SpanID, ids.upstream)
	}
}

// 14: a request a tail rule kept is exported as sampled (OTLP flags),
// through the whole log path into a real OTLP receiver.
func TestTailKeptSpansSaySampled(t *testing.T) {
	sink := otlpsink.Start(t)
	p := NewWithEnv(NewEnv(exporter.DefaultRegistry))
	config := fmt.Sprintf(`{"traces_endpoint":%q,"queue":{"max_coalescing_delay":0.05},"sampling_rate":0,"tail_sampling":{"status_code_min":500}}`, sink.TracesURL())
	if err := json.Unmarshal([]byte(config), p); err != nil {
		t.Fatal(err)
	}
	// The access phase decided "not sampled" (flags 00).
	payload := strings.Replace(fixture(t, "3.9-upstream-500.json"), ";;01;", ";;00;", 1)
	p.LogPayload(payload)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	spans, err := sink.WaitTrace(ctx, "0af7651916cd43dd8448eb211c80319d", 2)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range spans {
		if s.GetFlags()&0xff&flagSampled == 0 {
			t.Errorf("span %s: flags %#x lack the sampled bit", s.GetName(), s.GetFlags())
		}
	}
	if p.env.Stats.TailKept.Load() != 1 {
		t.Errorf("tail_kept = %d, want 1", p.env.Stats.TailKept.Load())
	}
}

// 15: ids chosen in the log phase (the access phase did not run) carry the
// W3C random flag for a new trace id, and keep the caller's.
func TestLogPhaseIDsRandomFlag(t *testing.T) {
	cfg := benchDiscardConfig()
	rt, err := newTestRuntime(&cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		traceparent string
		random      bool
	}{
		{"", true}, // a new trace: our ids are random
		{"00-11111111111111111111111111111111-2222222222222222-03", true},
		{"00-11111111111111111111111111111111-2222222222222222-01", false},
	} {
		e := logEntry{}
		if c.traceparent != "" {
			e.propagationHeaders = []capturedHeader{{name: "traceparent", values: []string{c.traceparent}}}
		}
		ids, _, _ := rt.resolveIDs(&e)
		if got := ids.flags&flagRandom != 0; got != c.random {
			t.Errorf("traceparent %q: random flag %v, want %v", c.traceparent, got, c.random)
		}
	}
}

// 17: max_attributes drops Kong's own attributes before the conventions'
// (error.type first among them); the value limit never cuts the span name.
func TestLimitsKeepWhatTheConventionsRequire(t *testing.T) {
	e, ids, a := entryOf(t, "3.9-upstream-500.json")
	o := testOptions()
	o.maxAttrs = 6
	spans := buildSpans(e, &ids, o, a)
	for _, s := range spans {
		if len(s.Attributes) != 6 || s.DroppedAttributes == 0 {
			t.Fatalf("%s: %d attributes, %d dropped", s.Name, len(s.Attributes), s.DroppedAttributes)
		}
		for _, key := range []string{"http.request.method", "error.type"} {
			if !hasAttr(s, key) {
				t.Errorf("%s (%v): %s dropped by max_attributes", s.Name, s.Kind, key)
			}
		}
	}
	long := "/" + strings.Repeat("segment/", 10)
	e.routePaths[0], e.uri = long, long+"x"
	o = testOptions()
	o.maxValueLen = 16
	root := buildSpans(e, &ids, o, a)[0]
	if root.Name != "GET "+long {
		t.Errorf("span name cut by max_attribute_value_length: %q", root.Name)
	}
	if got := strAttr(t, root, "http.route"); utf8.RuneCountInString(got) != 16 {
		t.Errorf("http.route %q not cut at 16 characters", got)
	}
}

// 20: a try never starts before the root (clamped and counted) nor, without
// balancer_start*, at the epoch.
func TestTryStartBounds(t *testing.T) {
	e, ids, a := entryOf(t, "3.9-retried.json")
	o := testOptions()
	var clamped atomic.Int64
	o.clampedTries = &clamped
	root := msToNs(e.startedAtMs)
	e.tries[0].startNs, e.tries[0].startMs = float64(root-3e6), 0 // 3 ms before the request
	e.tries[1].startNs, e.tries[1].startMs = 0, 0                 // no start at all
	spans := buildSpans(e, &ids, o, a)
	if spans[1].StartUnixNano != root || clamped.Load() != 1 {
		t.Errorf("first try starts %d (root %d), clamped %d", spans[1].StartUnixNano, root, clamped.Load())
	}
	if spans[2].StartUnixNano != spans[1].StartUnixNano {
		t.Errorf("a try without a start starts at %d, want the previous try's start %d", spans[2].StartUnixNano, spans[1].StartUnixNano)
	}
	checkNested(t, "clamped", spans)
	e.tries = e.tries[:1]
	e.tries[0].startNs, e.tries[0].startMs = 0, 0
	if s := buildSpans(e, &ids, o, a)[1]; s.StartUnixNano != root {
		t.Errorf("the only try without a start starts at %d, want the root's %d", s.StartUnixNano, root)
	}
	if clamped.Load() != 1 {
		t.Errorf("a missing start is not a clamp: %d", clamped.Load())
	}
}

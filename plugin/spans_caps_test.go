package plugin

import (
	"reflect"
	"testing"

	"github.com/trace-exporter/trace-exporter/exporter"
)

// fullestEntry is a request with every field spans are built from set:
// TLS, a consumer and credential, every latency, an unknown method, a 5xx,
// a query, and a retried upstream whose failed try has a state and a code.
func fullestEntry() *logEntry {
	return &logEntry{
		requestID: "req-1", method: "PURGE", uri: "/a/b?x=1&token=t", url: "https://api.example.com:8443/a/b?x=1&token=t",
		requestSize: 100, responseSize: 200, status: 503,
		upstreamURI: "/b?x=1&token=t", upstreamStatus: "502, 503",
		latKong: 1.5, latProxy: 3, latRequest: 9, latReceive: 0.5, hasReceive: true,
		tries: []balancerTry{
			{startMs: 1726783839539, startNs: 1726783839539100000, latencyMs: 1, latencyNs: 1e6, ip: "10.0.0.1", port: 8080, state: "failed", code: 502},
			{startMs: 1726783839541, startNs: 1726783839541100000, latencyMs: 1, latencyNs: 1e6, ip: "10.0.0.2", port: 8080, state: "next", code: 503},
		},
		routeID: "r1", routeName: "route", routePaths: [maxRoutePaths]string{"/b", "/a"}, routePathCount: 2, hasRoute: true,
		serviceID: "s1", serviceName: "svc", serviceHost: "svc.internal", serviceProtocol: "http", servicePath: "/", servicePort: 8080, hasService: true,
		consumerID: "c1", consumerUsername: "alice", consumerCustomID: "cust", credentialID: "cred",
		clientIP: "192.0.2.1", startedAtMs: 1726783839538,
		source: "upstream", workspace: "ws", workspaceName: "default",
		tlsVersion: "TLSv1.3", tlsCipher: "TLS_AES_256_GCM_SHA384", tlsVerify: "SUCCESS",
		userAgent: "curl/8", host: "api.example.com",
	}
}

// Fields of logEntry and balancerTry that spans are not built from (so the
// fullest entry may leave them zero), and why.
var notSpanInputs = map[string]string{
	"capturedRequest":    "handed to span processors, not built into spans here",
	"capturedResponse":   "handed to span processors, not built into spans here",
	"capturedQuery":      "read by resource templates, not built into spans",
	"propagationHeaders": "read for the ids, not the attributes",
	"handoff":            "read for the ids, not the attributes",
	"ai":                 "read for AI request metrics, not built into spans",
}

// maxRootAttrs and maxTryAttrs size the stack array span attributes are
// gathered in. They must be exact: the fullest possible entry reaches them
// and nothing exceeds them. A new attribute fails this test until the
// constant is raised; a new entry field fails it until fullestEntry sets
// it.
func TestAttributeCapsAreExact(t *testing.T) {
	e := fullestEntry()
	checkAllSet(t, reflect.ValueOf(*e), "logEntry")
	for i, tr := range e.tries {
		checkAllSet(t, reflect.ValueOf(tr), "tries["+string(rune('0'+i))+"]")
	}
	o := testOptions()
	o.maxAttrs, o.maxValueLen = 0, 0 // no limit: count what is built
	ids := traceIDs{trace: exporter.TraceID{1}, root: exporter.SpanID{2}, upstream: exporter.SpanID{3}}
	a := newArena(64)
	spans := buildSpans(e, &ids, o, &a)
	if got := len(spans[0].Attributes); got != maxRootAttrs {
		t.Errorf("the fullest root span has %d attributes, maxRootAttrs is %d: make them equal", got, maxRootAttrs)
	}
	most := 0
	for _, s := range spans[1:] {
		most = max(most, len(s.Attributes))
	}
	if most != maxTryAttrs {
		t.Errorf("the fullest try span has %d attributes, maxTryAttrs is %d: make them equal", most, maxTryAttrs)
	}
}

func checkAllSet(t *testing.T, v reflect.Value, what string) {
	t.Helper()
	for i := range v.NumField() {
		name := v.Type().Field(i).Name
		if _, skip := notSpanInputs[name]; skip {
			continue
		}
		if v.Field(i).IsZero() {
			t.Errorf("fullestEntry leaves %s.%s zero: set it (or list it in notSpanInputs with the reason)", what, name)
		}
	}
}

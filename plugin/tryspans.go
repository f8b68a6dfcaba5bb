package plugin

import (
	"strings"

	"github.com/trace-exporter/trace-exporter/exporter"
)

// tryFacts is what one balancer try's span is built from.
type tryFacts struct {
	index      int // 0-based: http.request.resend_count
	last       bool
	try        *balancerTry
	start, end uint64
	// noAnswer: the try got no HTTP response (the connection failed or
	// timed out); code is then the status nginx answers with in its place
	// (502, 504). responded: the upstream answered with status code.
	noAnswer  bool
	responded bool
	code      int
}

// newTryFacts times try i and tells whether it got a response. prevStart
// is the previous try's start (the root's for the first): a try Kong gave
// no start starts there, never at the epoch.
func newTryFacts(e *logEntry, r *requestFacts, i int, prevStart uint64, o *spanOptions) tryFacts {
	t := tryFacts{index: i, last: i == len(e.tries)-1, try: &e.tries[i]}
	t.start = tryStart(t.try)
	switch {
	case t.start == 0:
		t.start = prevStart
	case t.start < r.rootStart:
		// The root's start is Kong's request start in whole milliseconds
		// (and from another clock): a child never starts before its parent.
		t.start = r.rootStart
		if o.clampedTries != nil {
			o.clampedTries.Add(1)
		}
	}
	if t.last {
		t.end = r.upstreamEnd
		switch {
		case e.latProxy < 0: // no answer from the upstream
			t.end = r.rootEnd
		case t.end < t.start:
			// Kong's millisecond values are floored while the try's
			// start has nanoseconds: the exchange ended within the
			// millisecond after the one Kong reports.
			t.end += 1e6
		}
		if t.end > r.rootEnd && r.rootEnd >= t.start {
			t.end = r.rootEnd
		}
	} else {
		t.end = tryStart(&e.tries[i+1])
	}
	if t.end < t.start {
		t.end = t.start
	}
	t.code = t.try.code
	if t.last && t.code == 0 {
		t.code = r.lastCode
	}
	t.noAnswer = noResponse(e, &t)
	t.responded = t.code > 0 && !t.noAnswer
	return t
}

// noResponse tells a try that got no HTTP response: Kong's state "failed"
// (ngx.balancer's name for a refused or reset connection or a timeout; its
// code is nginx's), or the last try of a request that Kong answered itself
// with nginx's 502 or 504 (source "kong", Kong 3.6+).
func noResponse(e *logEntry, t *tryFacts) bool {
	if t.try.state == "failed" {
		return true
	}
	return t.last && t.try.state == "" && e.source == "kong" && (t.code == 502 || t.code == 504)
}

func tryStart(t *balancerTry) uint64 {
	if t.startNs > 0 && t.startNs < maxPayloadNumber {
		return uint64(t.startNs)
	}
	return msToNs(t.startMs)
}

// failed tells a try that is an error: one Kong abandoned for the next,
// one without a response, or a 4xx/5xx answer (a client span's error).
func (t *tryFacts) failed() bool {
	return !t.last || t.try.state != "" || t.noAnswer || (t.responded && t.code >= 400)
}

// errorType is the try's error.type, a low-cardinality identifier: the
// status code for an HTTP answer, timeout or connection_failed without
// one (nginx answers 504 for a timeout, 502 for everything else: refused,
// reset, an answer that is not HTTP), _OTHER when Kong said nothing.
func (t *tryFacts) errorType(a *arena) string {
	switch {
	case t.responded:
		return a.itoa(t.code)
	case t.noAnswer && t.code == 504:
		return "timeout"
	case t.noAnswer:
		return "connection_failed"
	}
	return "_OTHER"
}

// trySpan is the CLIENT span of one balancer try, without its attributes.
// The last try carries the span id sent upstream (the upstream's server
// span is its child); earlier ones get fresh ids.
func trySpan(ids *traceIDs, r *requestFacts, t *tryFacts, o *spanOptions) exporter.Span {
	id := ids.upstream
	if !t.last || !id.IsValid() {
		id = o.newSpanID()
	}
	s := exporter.Span{
		TraceID:       ids.trace,
		SpanID:        id,
		ParentSpanID:  ids.root,
		TraceState:    ids.traceState,
		Flags:         uint32(ids.flags) | flagHasIsRemote,
		Name:          r.spanMethod, // no URL template is known for an upstream request
		Kind:          exporter.KindClient,
		StartUnixNano: t.start,
		EndUnixNano:   t.end,
	}
	if t.failed() {
		s.Status = exporter.StatusError
	}
	return s
}

// appendTryAttributes appends a try span's attributes (at most
// maxTryAttrs), the semantic conventions' required and conditionally
// required ones first.
func appendTryAttributes(attrs []exporter.Attribute, e *logEntry, r *requestFacts, t *tryFacts, o *spanOptions, a *arena) []exporter.Attribute {
	try := t.try
	scheme := e.serviceProtocol
	if scheme == "" {
		scheme = "http"
	}
	host, port := e.serviceHost, e.servicePort
	if host == "" {
		host, port = try.ip, try.port
	}
	if port == 0 {
		port = defaultPort(scheme)
	}
	attrs = append(attrs, exporter.String("http.request.method", r.method))
	attrs = appendNonEmpty(attrs, "server.address", host)
	if host != "" && port > 0 {
		attrs = append(attrs, exporter.Int("server.port", int64(port)))
	}
	if e.upstreamURI != "" && host != "" {
		attrs = append(attrs, exporter.String("url.full", upstreamURL(scheme, host, port, e.upstreamURI, o.redactQuery, a)))
	}
	if t.responded {
		attrs = append(attrs, exporter.Int("http.response.status_code", int64(t.code)))
	}
	if t.failed() {
		attrs = append(attrs, exporter.String("error.type", t.errorType(a)))
	}
	if r.methodOther {
		attrs = append(attrs, exporter.String("http.request.method_original", e.method))
	}
	if t.index > 0 {
		attrs = append(attrs, exporter.Int("http.request.resend_count", int64(t.index)))
	}
	// Kong 3.12+ names the upstream service on its balancer span.
	attrs = appendNonEmpty(attrs, "peer.service", e.serviceName)
	attrs = appendNonEmpty(attrs, "network.peer.address", try.ip)
	if try.port > 0 {
		attrs = append(attrs, exporter.Int("network.peer.port", int64(try.port)))
	}
	attrs = append(attrs, exporter.Int("kong.balancer.try", int64(t.index+1)))
	attrs = appendNonEmpty(attrs, "kong.balancer.state", try.state)
	latency := try.latencyMs
	if try.latencyNs > 0 {
		latency = try.latencyNs / 1e6
	}
	return append(attrs, exporter.Float("kong.balancer.latency_ms", latency))
}

// upstreamURL is the try's url.full: the service's scheme, host and port
// (the port left out when it is the scheme's default) and the upstream
// URI, its query redacted.
func upstreamURL(scheme, host string, port int, uri string, redact []string, a *arena) string {
	path, query := splitQuery(uri)
	open, close := "", ""
	if strings.IndexByte(host, ':') >= 0 {
		open, close = "[", "]"
	}
	colon, portText := "", ""
	if port != defaultPort(scheme) {
		colon, portText = ":", a.itoa(port)
	}
	if query == "" {
		return a.concat(scheme, "://", open, host, close, colon, portText, path)
	}
	return a.concat(scheme, "://", open, host, close, colon, portText, path, "?", redactQuery(query, redact, a))
}

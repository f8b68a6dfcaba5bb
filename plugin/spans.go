package plugin

import (
	"math"
	"strconv"
	"strings"

	"github.com/trace-exporter/trace-exporter/exporter"
	"github.com/trace-exporter/trace-exporter/schema"
)

// traceIDs are the ids of one request's spans: chosen in the access phase
// and handed over, or chosen in the log phase when access did not run.
type traceIDs struct {
	trace      exporter.TraceID
	root       exporter.SpanID // the SERVER span
	upstream   exporter.SpanID // the last balancer try: the id sent upstream
	parent     exporter.SpanID // the caller's span, if a context was extracted
	flags      byte            // W3C trace flags as propagated upstream
	traceState string
}

// spanOptions are the instance settings span building depends on.
type spanOptions struct {
	spanName    schema.SpanName
	redactQuery []string // lowercase parameter names
	maxAttrs    int
	maxValueLen int
	newSpanID   func() exporter.SpanID
}

// OTLP span flags: whether the parent is known to be remote (bits 8 and 9).
const (
	flagHasIsRemote = 0x100
	flagIsRemote    = 0x200
)

// buildSpans turns one request into a root SERVER span and one CLIENT span
// per balancer try. It is a pure function of its inputs, apart from the ids
// of failed tries, which come from o.newSpanID.
func buildSpans(e *logEntry, ids *traceIDs, o *spanOptions, a *arena) []exporter.Span {
	return appendSpans(make([]exporter.Span, 0, 1+len(e.tries)), e, ids, o, a)
}

// appendSpans is buildSpans appending to spans (the log handler passes an
// array on its stack: the queue copies the spans it takes).
//
// The attributes of all the spans are gathered on the stack, then copied
// once into an array of exactly their number: the queue charges a span for
// its attributes, so what it holds is what it counted (max_bytes bounds
// memory), and the collector has less to scan.
func appendSpans(spans []exporter.Span, e *logEntry, ids *traceIDs, o *spanOptions, a *arena) []exporter.Span {
	var scratch [maxRootAttrs + 3*maxTryAttrs]exporter.Attribute
	attrs := scratch[:0]
	var endsBuf [4]int
	ends := endsBuf[:0] // where each span's attributes end in attrs
	first := len(spans)

	r := newRequestFacts(e, a)
	attrs = appendRootAttributes(attrs, e, &r, o, a)
	ends = append(ends, len(attrs))
	spans = append(spans, rootSpan(e, ids, &r, o, a))
	for i := range e.tries {
		t := newTryFacts(e, &r, i)
		attrs = appendTryAttributes(attrs, e, &r, &t, o, a)
		ends = append(ends, len(attrs))
		spans = append(spans, trySpan(ids, &r, &t, o))
		// A child must lie within its parent: stretch the root over a try
		// that millisecond rounding put past the root's end.
		if root := &spans[first]; t.end > root.EndUnixNano {
			root.EndUnixNano = t.end
		}
	}
	owned := make([]exporter.Attribute, len(attrs))
	copy(owned, attrs)
	from := 0
	for i, to := range ends {
		s := &spans[first+i]
		s.Attributes = owned[from:to:to]
		limitAttributes(s, o)
		from = to
	}
	return spans
}

// requestFacts are what the root span and the try spans both derive from
// the entry.
type requestFacts struct {
	method      string // http.request.method: known or _OTHER
	methodOther bool   // the original method is kept apart
	rootStart   uint64
	rootEnd     uint64
	// upstreamEnd is when the upstream exchange ended: started_at plus
	// Kong's latencies before, during and after it.
	upstreamEnd uint64
	lastCode    int    // the final upstream status
	tryName     string // the name of every try span
}

func newRequestFacts(e *logEntry, a *arena) requestFacts {
	r := requestFacts{rootStart: msToNs(e.startedAtMs), lastCode: lastStatus(e.upstreamStatus)}
	r.rootEnd = r.rootStart + msToNs(e.latRequest)
	r.upstreamEnd = r.rootStart + msToNs(e.latKong) + msToNs(e.latProxy) + msToNs(e.latReceive)
	r.method, r.methodOther = normalizeMethod(e.method)
	if len(e.tries) > 0 {
		upstream := e.serviceName
		if upstream == "" {
			upstream = e.serviceHost
		}
		r.tryName = e.method
		if upstream != "" {
			r.tryName = a.concat(e.method, " ", upstream)
		}
	}
	return r
}

// rootSpan is the SERVER span of the request, without its attributes.
func rootSpan(e *logEntry, ids *traceIDs, r *requestFacts, o *spanOptions, a *arena) exporter.Span {
	path, _ := splitQuery(e.uri)
	s := exporter.Span{
		TraceID:       ids.trace,
		SpanID:        ids.root,
		ParentSpanID:  ids.parent,
		TraceState:    ids.traceState,
		Flags:         uint32(ids.flags) | flagHasIsRemote,
		Name:          rootSpanName(o.spanName, e.method, e.routePath, path, a),
		Kind:          exporter.KindServer,
		StartUnixNano: r.rootStart,
		EndUnixNano:   r.rootEnd,
	}
	if ids.parent.IsValid() {
		s.Flags |= flagIsRemote
	}
	if e.status >= 500 {
		s.Status = exporter.StatusError
	}
	return s
}

// appendRootAttributes appends the SERVER span's attributes (at most
// maxRootAttrs).
func appendRootAttributes(attrs []exporter.Attribute, e *logEntry, r *requestFacts, o *spanOptions, a *arena) []exporter.Attribute {
	scheme, host, port := splitURL(e.url)
	path, query := splitQuery(e.uri)
	attrs = append(attrs,
		exporter.String("http.request.method", r.method),
		exporter.String("url.scheme", scheme),
		exporter.String("url.path", path),
	)
	if r.methodOther {
		attrs = append(attrs, exporter.String("http.request.method_original", e.method))
	}
	if query != "" {
		attrs = append(attrs, exporter.String("url.query", redactQuery(query, o.redactQuery, a)))
	}
	if host != "" {
		attrs = append(attrs, exporter.String("server.address", host))
	}
	if port > 0 {
		attrs = append(attrs, exporter.Int("server.port", int64(port)))
	}
	attrs = appendNonEmpty(attrs, "client.address", e.clientIP)
	attrs = appendNonEmpty(attrs, "user_agent.original", e.userAgent)
	attrs = appendNonEmpty(attrs, "http.route", e.routePath)
	if e.status > 0 {
		attrs = append(attrs, exporter.Int("http.response.status_code", int64(e.status)))
	}
	if e.requestSize > 0 {
		attrs = append(attrs, exporter.Int("http.request.size", e.requestSize))
	}
	if e.responseSize > 0 {
		attrs = append(attrs, exporter.Int("http.response.size", e.responseSize))
	}
	if e.tlsVersion != "" {
		name, version := splitTLSVersion(e.tlsVersion)
		attrs = append(attrs, exporter.String("tls.protocol.name", name), exporter.String("tls.protocol.version", version))
		attrs = appendNonEmpty(attrs, "tls.cipher", e.tlsCipher)
		attrs = appendNonEmpty(attrs, "tls.client.verify", e.tlsVerify)
	}
	attrs = appendNonEmpty(attrs, "kong.request.id", e.requestID)
	attrs = appendNonEmpty(attrs, "kong.route.id", e.routeID)
	attrs = appendNonEmpty(attrs, "kong.route.name", e.routeName)
	attrs = appendNonEmpty(attrs, "kong.service.id", e.serviceID)
	attrs = appendNonEmpty(attrs, "kong.service.name", e.serviceName)
	attrs = appendNonEmpty(attrs, "kong.consumer.id", e.consumerID)
	attrs = appendNonEmpty(attrs, "kong.consumer.username", e.consumerUsername)
	attrs = appendNonEmpty(attrs, "kong.credential.id", e.credentialID)
	attrs = appendNonEmpty(attrs, "kong.workspace.id", e.workspace)
	attrs = appendNonEmpty(attrs, "kong.workspace.name", e.workspaceName)
	attrs = appendNonEmpty(attrs, "kong.response.source", e.source)
	attrs = appendNonEmpty(attrs, "kong.upstream.status", e.upstreamStatus)
	attrs = append(attrs, exporter.Float("kong.latency.kong_ms", e.latKong))
	if e.latProxy >= 0 {
		attrs = append(attrs, exporter.Float("kong.latency.upstream_ms", e.latProxy))
	}
	if e.hasReceive {
		attrs = append(attrs, exporter.Float("kong.latency.receive_ms", e.latReceive))
	}
	if e.status >= 500 {
		attrs = append(attrs, exporter.String("error.type", a.itoa(e.status)))
	}
	return attrs
}

// tryFacts is what one balancer try's span is built from.
type tryFacts struct {
	index      int // 0-based
	last       bool
	try        *balancerTry
	start, end uint64
	code       int // the status it got, if it got one
}

func newTryFacts(e *logEntry, r *requestFacts, i int) tryFacts {
	t := tryFacts{index: i, last: i == len(e.tries)-1, try: &e.tries[i]}
	t.start = tryStart(t.try)
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
	return t
}

func tryStart(t *balancerTry) uint64 {
	if t.startNs != 0 {
		return uint64(t.startNs)
	}
	return msToNs(t.startMs)
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
		Name:          r.tryName,
		Kind:          exporter.KindClient,
		StartUnixNano: t.start,
		EndUnixNano:   t.end,
	}
	// A client span is an error for 4xx and 5xx (HTTP semantic
	// conventions), and a try Kong abandoned failed by definition.
	if !t.last || t.try.state != "" || t.code >= 400 {
		s.Status = exporter.StatusError
	}
	return s
}

// appendTryAttributes appends a try span's attributes (at most
// maxTryAttrs).
func appendTryAttributes(attrs []exporter.Attribute, e *logEntry, r *requestFacts, t *tryFacts, o *spanOptions, a *arena) []exporter.Attribute {
	try := t.try
	attrs = append(attrs,
		exporter.String("http.request.method", r.method),
		exporter.Int("kong.balancer.try", int64(t.index+1)),
	)
	attrs = appendNonEmpty(attrs, "server.address", e.serviceHost)
	if e.servicePort > 0 {
		attrs = append(attrs, exporter.Int("server.port", int64(e.servicePort)))
	}
	attrs = appendNonEmpty(attrs, "network.peer.address", try.ip)
	if try.port > 0 {
		attrs = append(attrs, exporter.Int("network.peer.port", int64(try.port)))
	}
	if e.upstreamURI != "" && try.ip != "" {
		attrs = append(attrs, exporter.String("url.full", upstreamURL(e, *try, o.redactQuery, a)))
	}
	attrs = appendNonEmpty(attrs, "kong.balancer.state", try.state)
	attrs = append(attrs, exporter.Float("kong.balancer.latency_ms", try.latencyMs))
	if t.code > 0 {
		attrs = append(attrs, exporter.Int("http.response.status_code", int64(t.code)))
	}
	switch {
	case !t.last || try.state != "":
		errType := try.state
		if t.code > 0 {
			errType = a.itoa(t.code)
		}
		if errType == "" {
			errType = "failed"
		}
		attrs = append(attrs, exporter.String("error.type", errType))
	case t.code >= 400:
		attrs = append(attrs, exporter.String("error.type", a.itoa(t.code)))
	}
	return attrs
}

// The most attributes buildSpans gives a root span and a try span: they
// size the stack array attributes are gathered in (more still works, at
// the cost of an allocation). TestAttributeCapsAreExact keeps them exact.
const (
	maxRootAttrs = 33
	maxTryAttrs  = 11
)

func appendNonEmpty(attrs []exporter.Attribute, key, value string) []exporter.Attribute {
	if value == "" {
		return attrs
	}
	return append(attrs, exporter.String(key, value))
}

// msToNs converts Kong's millisecond values. Epoch times in ns exceed a
// float64's 53-bit mantissa, so whole milliseconds are scaled as integers.
func msToNs(ms float64) uint64 {
	// 1e13 ms is the year 2286: larger values are garbage, and their ns
	// would overflow.
	if ms <= 0 || ms > 1e13 {
		return 0
	}
	whole := math.Floor(ms)
	return uint64(whole)*1e6 + uint64((ms-whole)*1e6+0.5)
}

func rootSpanName(mode schema.SpanName, method, route, path string, a *arena) string {
	switch mode {
	case schema.SpanNameMethodPath:
		if path != "" {
			return a.concat(method, " ", path)
		}
	case schema.SpanNameMethodRoute:
		if route != "" {
			return a.concat(method, " ", route)
		}
	}
	return method
}

var knownMethods = [...]string{"GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH"}

// normalizeMethod follows HTTP semantic conventions: unknown methods are
// reported as _OTHER (with the original kept separately).
func normalizeMethod(m string) (string, bool) {
	for _, k := range knownMethods {
		if m == k {
			return k, false
		}
	}
	return "_OTHER", true
}

// splitURL reads Kong's request.url: scheme://host:port/uri.
func splitURL(u string) (scheme, host string, port int) {
	scheme, rest, ok := strings.Cut(u, "://")
	if !ok {
		return "", "", 0
	}
	if i := strings.IndexAny(rest, "/?"); i >= 0 {
		rest = rest[:i]
	}
	host = rest
	if i := strings.LastIndexByte(rest, ':'); i >= 0 && !strings.HasSuffix(rest, "]") {
		if p, err := strconv.Atoi(rest[i+1:]); err == nil {
			host, port = rest[:i], p
		}
	}
	return scheme, strings.TrimSuffix(strings.TrimPrefix(host, "["), "]"), port
}

func splitQuery(uri string) (path, query string) {
	path, query, _ = strings.Cut(uri, "?")
	return path, query
}

// splitTLSVersion turns nginx's "TLSv1.3" into ("tls", "1.3").
func splitTLSVersion(v string) (string, string) {
	if rest, ok := strings.CutPrefix(v, "TLSv"); ok {
		return "tls", rest
	}
	if rest, ok := strings.CutPrefix(v, "SSLv"); ok {
		return "ssl", rest
	}
	return "tls", v
}

// lastStatus reads the final upstream status of "502, 200"-style values.
func lastStatus(s string) int {
	if i := strings.LastIndexByte(s, ','); i >= 0 {
		s = s[i+1:]
	}
	n, _ := strconv.Atoi(strings.TrimSpace(s))
	return n
}

func upstreamURL(e *logEntry, t balancerTry, redact []string, a *arena) string {
	proto := e.serviceProtocol
	if proto == "" {
		proto = "http"
	}
	path, query := splitQuery(e.upstreamURI)
	hostPort := t.ip
	if strings.IndexByte(hostPort, ':') >= 0 {
		hostPort = "[" + hostPort + "]"
	}
	if query == "" {
		return a.concat(proto, "://", hostPort, ":", a.itoa(t.port), path)
	}
	return a.concat(proto, "://", hostPort, ":", a.itoa(t.port), path, "?", redactQuery(query, redact, a))
}

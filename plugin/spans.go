package plugin

import (
	"math"
	"strconv"
	"strings"
	"sync/atomic"

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
	flags      byte            // W3C trace flags of the exported spans
	traceState string
}

// spanOptions are the instance settings span building depends on.
type spanOptions struct {
	spanName     schema.SpanName
	redactQuery  []string // lowercase parameter names
	knownMethods []string // exported as they are; others are _OTHER
	maxAttrs     int
	maxValueLen  int // in characters
	newSpanID    func() exporter.SpanID
	// clampedTries counts tries whose start preceded the root's (nil: not
	// counted).
	clampedTries *atomic.Int64
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

	r := newRequestFacts(e, o, a)
	attrs = appendRootAttributes(attrs, e, &r, o, a)
	ends = append(ends, len(attrs))
	spans = append(spans, rootSpan(e, ids, &r, o, a))
	prevStart := r.rootStart
	for i := range e.tries {
		t := newTryFacts(e, &r, i, prevStart, o)
		prevStart = t.start
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

// The most attributes buildSpans gives a root span and a try span: they
// size the stack array attributes are gathered in (more still works, at
// the cost of an allocation). TestAttributeCapsAreExact keeps them exact.
const (
	maxRootAttrs = 33
	maxTryAttrs  = 14
)

// requestFacts are what the root span and the try spans both derive from
// the entry.
type requestFacts struct {
	method      string // http.request.method: a known method or _OTHER
	methodOther bool   // the method is not known: method_original keeps it
	spanMethod  string // the method in span names: HTTP for _OTHER
	route       string // http.route: the route path the router matched
	rootStart   uint64
	rootEnd     uint64
	// upstreamEnd is when the upstream exchange ended: started_at plus
	// Kong's latencies before, during and after it.
	upstreamEnd uint64
	lastCode    int // the final upstream status
}

func newRequestFacts(e *logEntry, o *spanOptions, a *arena) requestFacts {
	r := requestFacts{rootStart: msToNs(e.startedAtMs), lastCode: lastStatus(e.upstreamStatus)}
	r.rootEnd = r.rootStart + msToNs(e.latRequest)
	r.upstreamEnd = r.rootStart + msToNs(e.latKong) + msToNs(e.latProxy) + msToNs(e.latReceive)
	r.method, r.methodOther = normalizeMethod(e.method, o.knownMethods)
	r.spanMethod = r.method
	if r.methodOther {
		r.spanMethod = "HTTP"
	}
	path, _ := splitQuery(e.uri)
	r.route = matchedRoute(e, path)
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
		Name:          rootSpanName(o.spanName, r.spanMethod, r.route, path, a),
		Kind:          exporter.KindServer,
		StartUnixNano: r.rootStart,
		EndUnixNano:   r.rootEnd,
	}
	if ids.parent.IsValid() {
		s.Flags |= flagIsRemote
	}
	// A server span is an error for 5xx only: a 4xx is the client's.
	if e.status >= 500 {
		s.Status = exporter.StatusError
	}
	return s
}

// appendRootAttributes appends the SERVER span's attributes (at most
// maxRootAttrs): the semantic conventions' required and conditionally
// required ones first, so max_attributes drops Kong's own first.
func appendRootAttributes(attrs []exporter.Attribute, e *logEntry, r *requestFacts, o *spanOptions, a *arena) []exporter.Attribute {
	scheme, _, _ := splitURL(e.url)
	path, query := splitQuery(e.uri)
	attrs = append(attrs,
		exporter.String("http.request.method", r.method),
		exporter.String("url.path", path),
		exporter.String("url.scheme", scheme),
	)
	if e.status > 0 {
		attrs = append(attrs, exporter.Int("http.response.status_code", int64(e.status)))
	}
	if e.status >= 500 {
		attrs = append(attrs, exporter.String("error.type", a.itoa(e.status)))
	}
	attrs = appendNonEmpty(attrs, "http.route", r.route)
	if r.methodOther {
		attrs = append(attrs, exporter.String("http.request.method_original", e.method))
	}
	if query != "" {
		attrs = append(attrs, exporter.String("url.query", redactQuery(query, o.redactQuery, a)))
	}
	if host, port := serverAddress(e, scheme); host != "" {
		attrs = append(attrs, exporter.String("server.address", host))
		if port > 0 {
			attrs = append(attrs, exporter.Int("server.port", int64(port)))
		}
	}
	attrs = appendNonEmpty(attrs, "client.address", e.clientIP)
	attrs = appendNonEmpty(attrs, "user_agent.original", e.userAgent)
	if e.requestSize > 0 {
		attrs = append(attrs, exporter.Int("http.request.size", e.requestSize))
	}
	if e.responseSize > 0 {
		attrs = append(attrs, exporter.Int("http.response.size", e.responseSize))
	}
	if e.tlsVersion != "" {
		name, version := splitTLSVersion(e.tlsVersion)
		attrs = append(attrs, exporter.String("tls.protocol.name", name), exporter.String("tls.protocol.version", version))
		attrs = appendNonEmpty(attrs, "tls.cipher", ianaCipher(e.tlsCipher))
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
	return attrs
}

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

// rootSpanName names the SERVER span: "{method} {http.route}" as the
// semantic conventions ask (span_name method_route), "{method} {url.path}"
// (method_path: the user's choice, high cardinality) or "{method}"; method
// is HTTP for an unknown method.
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

// normalizeMethod follows the HTTP semantic conventions: a method not in
// known (case-sensitive) is reported as _OTHER, the original kept apart.
func normalizeMethod(m string, known []string) (string, bool) {
	for _, k := range known {
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
	host, port = splitHostPort(rest)
	return scheme, host, port
}

// splitHostPort reads host, host:port, [v6] or [v6]:port; port is 0 when
// absent or not a number.
func splitHostPort(hp string) (string, int) {
	host := hp
	port := 0
	if i := strings.LastIndexByte(hp, ':'); i >= 0 && !strings.HasSuffix(hp, "]") && (hp[0] == '[' || strings.IndexByte(hp[:i], ':') < 0) {
		if p, err := strconv.Atoi(hp[i+1:]); err == nil && p > 0 && p < 65536 {
			host, port = hp[:i], p
		}
	}
	return strings.TrimSuffix(strings.TrimPrefix(host, "["), "]"), port
}

// defaultPort is the port a client uses for scheme when it names none.
func defaultPort(scheme string) int {
	switch scheme {
	case "https", "grpcs", "wss", "tls":
		return 443
	case "http", "grpc", "ws":
		return 80
	}
	return 0
}

// serverAddress is the address the client addressed: the Host header, its
// port or else the scheme's default (443 for Host: api.example.com over
// https). Without a Host header (HTTP/1.0) it is request.url's host and
// port: Kong's own name and listening port.
func serverAddress(e *logEntry, scheme string) (string, int) {
	if e.host != "" {
		host, port := splitHostPort(e.host)
		if port == 0 {
			port = defaultPort(scheme)
		}
		return host, port
	}
	_, host, port := splitURL(e.url)
	return host, port
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

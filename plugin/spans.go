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
func appendSpans(spans []exporter.Span, e *logEntry, ids *traceIDs, o *spanOptions, a *arena) []exporter.Span {
	// The attributes of all the spans are gathered on the stack, then copied
	// once into an array of exactly their number: the queue charges a span
	// for its attributes, so what it holds is what it counted (max_bytes
	// bounds memory), and the collector has less to scan.
	var scratch [maxRootAttrs + 3*maxTryAttrs]exporter.Attribute
	attrs := scratch[:0]
	first := len(spans)
	var endsBuf [4]int
	ends := endsBuf[:0] // where each span's attributes end in attrs

	rootStart := msToNs(e.startedAtMs)
	rootEnd := rootStart + msToNs(e.latRequest)
	scheme, host, port := splitURL(e.url)
	path, query := splitQuery(e.uri)
	method, methodOther := normalizeMethod(e.method)

	attrs = append(attrs,
		exporter.String("http.request.method", method),
		exporter.String("url.scheme", scheme),
		exporter.String("url.path", path),
	)
	if methodOther {
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
	root := exporter.Span{
		TraceID:       ids.trace,
		SpanID:        ids.root,
		ParentSpanID:  ids.parent,
		TraceState:    ids.traceState,
		Flags:         uint32(ids.flags) | flagHasIsRemote,
		Name:          rootSpanName(o.spanName, e.method, e.routePath, path, a),
		Kind:          exporter.KindServer,
		StartUnixNano: rootStart,
		EndUnixNano:   rootEnd,
	}
	ends = append(ends, len(attrs))
	if ids.parent.IsValid() {
		root.Flags |= flagIsRemote
	}
	if e.status >= 500 {
		root.Status = exporter.StatusError
	}
	spans = append(spans, root)

	upstreamName := e.serviceName
	if upstreamName == "" {
		upstreamName = e.serviceHost
	}
	tryName := e.method
	if upstreamName != "" {
		tryName = a.concat(e.method, " ", upstreamName)
	}
	upstreamEnd := rootStart + msToNs(e.latKong) + msToNs(e.latProxy) + msToNs(e.latReceive)
	lastCode := lastStatus(e.upstreamStatus)
	for i, t := range e.tries {
		last := i == len(e.tries)-1
		start := uint64(t.startNs)
		if start == 0 {
			start = msToNs(t.startMs)
		}
		var end uint64
		if last {
			end = upstreamEnd
			switch {
			case e.latProxy < 0: // no answer from the upstream
				end = rootEnd
			case end < start:
				// Kong's millisecond values are floored while the try's
				// start has nanoseconds: the exchange ended within the
				// millisecond after the one Kong reports.
				end += 1e6
			}
			if end > rootEnd && rootEnd >= start {
				end = rootEnd
			}
		} else {
			next := e.tries[i+1]
			end = uint64(next.startNs)
			if end == 0 {
				end = msToNs(next.startMs)
			}
		}
		if end < start {
			end = start
		}
		id := ids.upstream
		if !last || !id.IsValid() {
			id = o.newSpanID()
		}
		attrs = append(attrs,
			exporter.String("http.request.method", method),
			exporter.Int("kong.balancer.try", int64(i+1)),
		)
		attrs = appendNonEmpty(attrs, "server.address", e.serviceHost)
		if e.servicePort > 0 {
			attrs = append(attrs, exporter.Int("server.port", int64(e.servicePort)))
		}
		// Kong 3.12+ names the upstream service on its balancer span.
		attrs = appendNonEmpty(attrs, "peer.service", e.serviceName)
		attrs = appendNonEmpty(attrs, "network.peer.address", t.ip)
		if t.port > 0 {
			attrs = append(attrs, exporter.Int("network.peer.port", int64(t.port)))
		}
		if e.upstreamURI != "" && t.ip != "" {
			attrs = append(attrs, exporter.String("url.full", upstreamURL(e, t, o.redactQuery, a)))
		}
		attrs = appendNonEmpty(attrs, "kong.balancer.state", t.state)
		attrs = append(attrs, exporter.Float("kong.balancer.latency_ms", t.latencyMs))
		code := t.code
		if last && code == 0 {
			code = lastCode
		}
		if code > 0 {
			attrs = append(attrs, exporter.Int("http.response.status_code", int64(code)))
		}
		// A client span is an error for 4xx and 5xx (HTTP semantic
		// conventions), and a try Kong abandoned failed by definition.
		status := exporter.StatusUnset
		switch {
		case !last || t.state != "":
			status = exporter.StatusError
			errType := t.state
			if code > 0 {
				errType = a.itoa(code)
			}
			if errType == "" {
				errType = "failed"
			}
			attrs = append(attrs, exporter.String("error.type", errType))
		case code >= 400:
			status = exporter.StatusError
			attrs = append(attrs, exporter.String("error.type", a.itoa(code)))
		}
		s := exporter.Span{
			TraceID:       ids.trace,
			SpanID:        id,
			ParentSpanID:  ids.root,
			TraceState:    ids.traceState,
			Flags:         uint32(ids.flags) | flagHasIsRemote,
			Name:          tryName,
			Kind:          exporter.KindClient,
			StartUnixNano: start,
			EndUnixNano:   end,
			Status:        status,
		}
		ends = append(ends, len(attrs))
		spans = append(spans, s)
		// A child must lie within its parent: stretch the root over a try
		// that millisecond rounding put past the root's end.
		if end > spans[first].EndUnixNano {
			spans[first].EndUnixNano = end
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

// The most attributes buildSpans gives a root span and a try span.
const (
	maxRootAttrs = 33
	maxTryAttrs  = 12
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

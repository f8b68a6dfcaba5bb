package plugin

import (
	"errors"
	"strconv"

	"github.com/trace-exporter/trace-exporter/plugin/reqmetrics"
)

// logEntry is the part of a kong.log.serialize() payload that spans are
// built from. Strings live in the request's arena. Fields absent from older
// Kong versions stay zero (request.id before 3.5, source before 3.6,
// latencies.receive and workspace before 3.7).
type logEntry struct {
	requestID, method, uri, url string
	requestSize, responseSize   int64
	status                      int
	upstreamURI, upstreamStatus string

	latKong, latProxy, latRequest, latReceive float64
	hasReceive                                bool

	tries []balancerTry

	routeID, routeName                                                string
	routePaths                                                        [maxRoutePaths]string // the first of route.paths
	routePathCount                                                    int                   // route.paths, all of them
	hasRoute                                                          bool
	serviceID, serviceName, serviceHost, serviceProtocol, servicePath string
	servicePort                                                       int
	hasService                                                        bool
	consumerID, consumerUsername, consumerCustomID, credentialID      string

	clientIP                         string
	startedAtMs                      float64
	source, workspace, workspaceName string
	tlsVersion, tlsCipher, tlsVerify string
	userAgent, host                  string

	capturedRequest, capturedResponse []capturedHeader
	capturedQuery                     []capturedHeader // request.querystring, for resource templates
	// propagationHeaders holds the incoming trace-context headers, kept only
	// when the access phase handed nothing over (it did not run).
	propagationHeaders []capturedHeader
	handoff            string
	ai                 []reqmetrics.AIUsage // Kong's AI plugins' statistics, read for AI metrics only
}

// maxRoutePaths bounds the route paths kept to choose http.route from; a
// route with more is rare, and beyond them http.route may be left out.
const maxRoutePaths = 8

type balancerTry struct {
	startMs, startNs     float64
	latencyMs, latencyNs float64
	ip                   string
	port                 int
	state                string
	code                 int
}

type capturedHeader struct {
	name   string
	values []string
}

// parseWants says which optional parts of the payload to keep.
type parseWants struct {
	handoffKey       string
	captureRequest   []string // lowercase header names
	captureResponse  []string
	captureQuery     []string // query parameter names (as sent)
	propagationNames []string // headers read by the configured extractors
	ai               bool     // the AI plugins' statistics (aistats.go)
}

// Payload problems; each is counted and the request skipped.
var (
	errNotJSON      = errors.New("serialize payload is not a JSON object")
	errStream       = errors.New("stream subsystem payload (no HTTP request)")
	errNoRequest    = errors.New("serialize payload has no request")
	errTooLarge     = errors.New("serialize payload larger than the limit")
	maxPayloadBytes = 4 << 20 // far above Kong's own header limits
)

// parseSerialized reads a kong.log.serialize() JSON text as Kong 3.3–3.9
// produce it: cjson "\/" escapes, float *_ns values, upstream_status as a
// string, a number or "", and every optional part possibly absent.
//
// It reads the text once, keeping only the fields spans are built from and
// skipping the rest (most of a payload: headers, query, entity details)
// without building a tree; BenchmarkParse compares it with fastjson (the
// differential tests' reference), encoding/json and gjson. Of duplicate keys the first wins, as with a
// lookup in a parsed tree.
func parseSerialized(payload string, w *parseWants, a *arena) (*logEntry, error) {
	e := &logEntry{}
	if err := e.parse(payload, w, a); err != nil {
		return nil, err
	}
	return e, nil
}

// parse is parseSerialized into an entry the caller provides (the log
// handler's is on its stack: one allocation less per request).
func (e *logEntry) parse(payload string, w *parseWants, a *arena) error {
	if len(payload) > maxPayloadBytes {
		return errTooLarge
	}
	sc := scanner{s: payload}
	if sc.peek() != '{' {
		return errNotJSON
	}
	var r rootParts
	e.readRoot(&sc, w, a, &r)
	if sc.peek(); !sc.ok() || sc.pos != len(sc.s) {
		return errNotJSON
	}
	if !r.request {
		if r.session {
			return errStream
		}
		return errNoRequest
	}
	// The incoming context is needed only when the access phase handed
	// nothing over, which is known only once the whole text was read.
	if e.handoff == "" && len(w.propagationNames) > 0 && r.headersEnd > 0 {
		hs := scanner{s: payload[:r.headersEnd], pos: r.headersStart}
		e.propagationHeaders = readCaptured(&hs, a, w.propagationNames)
	}
	return nil
}

// rootParts is what the caller of readRoot needs beyond the entry.
type rootParts struct {
	request                  bool // request is an object
	session                  bool // a stream subsystem payload
	headersStart, headersEnd int  // request.headers, for a second look
}

// seenKeys records which keys of one JSON object were read, so that of
// duplicate keys the first wins (as a lookup in a parsed tree would). Each
// object reader names its keys with constants of this type (1 << iota), so
// no two keys can share a bit.
type seenKeys uint32

// first reports whether key is seen for the first time, and marks it.
func (s *seenKeys) first(key seenKeys) bool {
	if *s&key != 0 {
		return false
	}
	*s |= key
	return true
}

// Keys read from the payload's top-level object.
const (
	keyRequest seenKeys = 1 << iota
	keyUpstreamURI
	keyUpstreamStatus
	keyResponse
	keyLatencies
	keyTries
	keyRoute
	keyService
	keyConsumer
	keyAuthenticatedEntity
	keyClientIP
	keyStartedAt
	keySource
	keyWorkspace
	keyWorkspaceName
	keyHandoff // w.handoffKey
	keyAI
)

// Keys read from request.
const (
	keyRequestID seenKeys = 1 << iota
	keyRequestMethod
	keyRequestURI
	keyRequestURL
	keyRequestSize
	keyRequestTLS
	keyRequestHeaders
	keyRequestQuery
)

// Keys read from request.tls.
const (
	keyTLSVersion seenKeys = 1 << iota
	keyTLSCipher
	keyTLSClientVerify
)

// Headers read from request.headers for the spans themselves.
const (
	keyUserAgent seenKeys = 1 << iota
	keyHost
)

// Keys read from response.
const (
	keyResponseStatus seenKeys = 1 << iota
	keyResponseSize
	keyResponseHeaders
)

// Keys read from latencies.
const (
	keyLatencyKong seenKeys = 1 << iota
	keyLatencyProxy
	keyLatencyRequest
	keyLatencyReceive
)

// Keys read from each element of tries.
const (
	keyBalancerStart seenKeys = 1 << iota
	keyBalancerStartNs
	keyBalancerLatency
	keyBalancerLatencyNs
	keyTryIP
	keyTryPort
	keyTryState
	keyTryCode
)

// Keys read from route.
const (
	keyRouteID seenKeys = 1 << iota
	keyRouteName
	keyRoutePaths
)

// Keys read from service.
const (
	keyServiceID seenKeys = 1 << iota
	keyServiceName
	keyServiceHost
	keyServiceProtocol
	keyServicePath
	keyServicePort
)

// Keys read from consumer.
const (
	keyConsumerID seenKeys = 1 << iota
	keyConsumerUsername
	keyConsumerCustomID
)

// Keys read from authenticated_entity.
const keyCredentialID seenKeys = 1

// readRoot reads the top-level object, handing each part spans use to its
// reader and skipping the rest.
func (e *logEntry) readRoot(sc *scanner, w *parseWants, a *arena, r *rootParts) {
	var seen seenKeys
	for more := sc.enter('}'); more; more = sc.next('}') {
		switch key := sc.field(); key {
		case "request":
			if seen.first(keyRequest) {
				if sc.peek() == '{' {
					r.request = true
					e.readRequest(sc, w, a, r)
					continue
				}
			}
		case "upstream_uri":
			if seen.first(keyUpstreamURI) {
				e.upstreamURI = sc.str(a)
				continue
			}
		case "upstream_status":
			if seen.first(keyUpstreamStatus) {
				switch c := sc.peek(); {
				case c == '"':
					e.upstreamStatus = sc.str(a)
					continue
				case c == '-' || c >= '0' && c <= '9':
					e.upstreamStatus = strconv.Itoa(intOrZero(sc.number()))
					continue
				}
			}
		case "response":
			if seen.first(keyResponse) && sc.peek() == '{' {
				e.readResponse(sc, w, a)
				continue
			}
		case "latencies":
			if seen.first(keyLatencies) && sc.peek() == '{' {
				e.readLatencies(sc)
				continue
			}
		case "tries":
			if seen.first(keyTries) && sc.peek() == '[' {
				e.readTries(sc, a)
				continue
			}
		case "route":
			if seen.first(keyRoute) && sc.peek() == '{' {
				e.hasRoute = true
				e.readRoute(sc, a)
				continue
			}
		case "service":
			if seen.first(keyService) && sc.peek() == '{' {
				e.hasService = true
				e.readService(sc, a)
				continue
			}
		case "consumer":
			if seen.first(keyConsumer) && sc.peek() == '{' {
				e.readConsumer(sc, a)
				continue
			}
		case "authenticated_entity":
			if seen.first(keyAuthenticatedEntity) && sc.peek() == '{' {
				e.readCredential(sc, a)
				continue
			}
		case "client_ip":
			if seen.first(keyClientIP) {
				e.clientIP = sc.str(a)
				continue
			}
		case "started_at":
			if seen.first(keyStartedAt) {
				e.startedAtMs = sc.num()
				continue
			}
		case "source":
			if seen.first(keySource) {
				e.source = sc.str(a)
				continue
			}
		case "workspace":
			if seen.first(keyWorkspace) {
				e.workspace = sc.str(a)
				continue
			}
		case "workspace_name":
			if seen.first(keyWorkspaceName) {
				e.workspaceName = sc.str(a)
				continue
			}
		case "session":
			r.session = true
		case "ai":
			if w.ai && seen.first(keyAI) && sc.peek() == '{' {
				e.ai = readAIStats(sc, a, e.ai)
				continue
			}
		default:
			if key == w.handoffKey && w.handoffKey != "" && seen.first(keyHandoff) {
				e.handoff = sc.str(a)
				continue
			}
		}
		sc.skip()
	}
}

func (e *logEntry) readRequest(sc *scanner, w *parseWants, a *arena, r *rootParts) {
	var seen seenKeys
	for more := sc.enter('}'); more; more = sc.next('}') {
		switch sc.field() {
		case "id":
			if seen.first(keyRequestID) {
				e.requestID = sc.str(a)
				continue
			}
		case "method":
			if seen.first(keyRequestMethod) {
				e.method = sc.str(a)
				continue
			}
		case "uri":
			if seen.first(keyRequestURI) {
				e.uri = sc.str(a)
				continue
			}
		case "url":
			if seen.first(keyRequestURL) {
				e.url = sc.str(a)
				continue
			}
		case "size":
			if seen.first(keyRequestSize) {
				e.requestSize = int64(sc.num())
				continue
			}
		case "tls":
			if seen.first(keyRequestTLS) && sc.peek() == '{' {
				e.readTLS(sc, a)
				continue
			}
		case "headers":
			if seen.first(keyRequestHeaders) && sc.peek() == '{' {
				r.headersStart = sc.pos
				e.readRequestHeaders(sc, w, a)
				r.headersEnd = sc.pos
				continue
			}
		case "querystring":
			// Kong's get_query values: a string, true, or an array of them.
			if seen.first(keyRequestQuery) && sc.peek() == '{' {
				e.capturedQuery = readCaptured(sc, a, w.captureQuery)
				continue
			}
		}
		sc.skip()
	}
}

func (e *logEntry) readTLS(sc *scanner, a *arena) {
	var seen seenKeys
	for more := sc.enter('}'); more; more = sc.next('}') {
		switch sc.field() {
		case "version":
			if seen.first(keyTLSVersion) {
				e.tlsVersion = sc.str(a)
				continue
			}
		case "cipher":
			if seen.first(keyTLSCipher) {
				e.tlsCipher = sc.str(a)
				continue
			}
		case "client_verify":
			if seen.first(keyTLSClientVerify) {
				e.tlsVerify = sc.str(a)
				continue
			}
		}
		sc.skip()
	}
}

// readRequestHeaders keeps user-agent, host and the captured headers. A
// header may be all three, so its value is read once per use.
func (e *logEntry) readRequestHeaders(sc *scanner, w *parseWants, a *arena) {
	var seen seenKeys
	captured := newCapture(w.captureRequest)
	for more := sc.enter('}'); more; more = sc.next('}') {
		key := sc.field()
		start := sc.pos
		read := false
		if key == "user-agent" && seen.first(keyUserAgent) {
			e.userAgent = sc.firstHeader(a)
			read = true
		} else if key == "host" && seen.first(keyHost) {
			e.host = sc.firstHeader(a)
			read = true
		}
		for i, n := range w.captureRequest {
			if key == n && captured[i].name == "" {
				sc.pos = start
				captured[i] = capturedHeader{name: n, values: sc.headerValues(a)}
				read = true
			}
		}
		if !read {
			sc.skip()
		}
	}
	e.capturedRequest = compactCaptured(captured)
}

func (e *logEntry) readResponse(sc *scanner, w *parseWants, a *arena) {
	var seen seenKeys
	for more := sc.enter('}'); more; more = sc.next('}') {
		switch sc.field() {
		case "status":
			if seen.first(keyResponseStatus) {
				e.status = int(sc.num())
				continue
			}
		case "size":
			if seen.first(keyResponseSize) {
				e.responseSize = int64(sc.num())
				continue
			}
		case "headers":
			if seen.first(keyResponseHeaders) && sc.peek() == '{' {
				e.capturedResponse = readCaptured(sc, a, w.captureResponse)
				continue
			}
		}
		sc.skip()
	}
}

func (e *logEntry) readLatencies(sc *scanner) {
	var seen seenKeys
	for more := sc.enter('}'); more; more = sc.next('}') {
		switch sc.field() {
		case "kong":
			if seen.first(keyLatencyKong) {
				e.latKong = sc.num()
				continue
			}
		case "proxy":
			if seen.first(keyLatencyProxy) {
				e.latProxy = sc.num()
				continue
			}
		case "request":
			if seen.first(keyLatencyRequest) {
				e.latRequest = sc.num()
				continue
			}
		case "receive":
			// Present at all (3.7+) is what counts; only a number is read.
			if seen.first(keyLatencyReceive) {
				e.hasReceive = true
				if c := sc.peek(); c == '-' || c >= '0' && c <= '9' {
					e.latReceive = sc.numberValue()
					continue
				}
			}
		}
		sc.skip()
	}
}

// readTries reads the tries array; elements that are not objects are
// skipped.
func (e *logEntry) readTries(sc *scanner, a *arena) {
	for more := sc.enter(']'); more; more = sc.next(']') {
		if sc.peek() != '{' {
			sc.skip()
			continue
		}
		e.tries = append(e.tries, readTry(sc, a))
	}
}

// readCredential reads authenticated_entity: the credential's id.
func (e *logEntry) readCredential(sc *scanner, a *arena) {
	var seen seenKeys
	for more := sc.enter('}'); more; more = sc.next('}') {
		if sc.field() == "id" && seen.first(keyCredentialID) {
			e.credentialID = sc.str(a)
			continue
		}
		sc.skip()
	}
}

func readTry(sc *scanner, a *arena) balancerTry {
	var t balancerTry
	var seen seenKeys
	for more := sc.enter('}'); more; more = sc.next('}') {
		switch sc.field() {
		case "balancer_start":
			if seen.first(keyBalancerStart) {
				t.startMs = sc.num()
				continue
			}
		case "balancer_start_ns":
			if seen.first(keyBalancerStartNs) {
				t.startNs = sc.num()
				continue
			}
		case "balancer_latency":
			if seen.first(keyBalancerLatency) {
				t.latencyMs = sc.num()
				continue
			}
		case "balancer_latency_ns":
			if seen.first(keyBalancerLatencyNs) {
				t.latencyNs = sc.num()
				continue
			}
		case "ip":
			if seen.first(keyTryIP) {
				t.ip = sc.str(a)
				continue
			}
		case "port":
			if seen.first(keyTryPort) {
				t.port = int(sc.num())
				continue
			}
		case "state":
			if seen.first(keyTryState) {
				t.state = sc.str(a)
				continue
			}
		case "code":
			if seen.first(keyTryCode) {
				t.code = int(sc.num())
				continue
			}
		}
		sc.skip()
	}
	return t
}

func (e *logEntry) readRoute(sc *scanner, a *arena) {
	var seen seenKeys
	for more := sc.enter('}'); more; more = sc.next('}') {
		switch sc.field() {
		case "id":
			if seen.first(keyRouteID) {
				e.routeID = sc.str(a)
				continue
			}
		case "name":
			if seen.first(keyRouteName) {
				e.routeName = sc.str(a)
				continue
			}
		case "paths":
			// The path the router matched becomes http.route (matchedRoute).
			if seen.first(keyRoutePaths) && sc.peek() == '[' {
				for more := sc.enter(']'); more; more = sc.next(']') {
					if sc.peek() != '"' {
						sc.skip()
						continue
					}
					if e.routePathCount < maxRoutePaths {
						e.routePaths[e.routePathCount] = sc.str(a)
					} else {
						sc.skip()
					}
					e.routePathCount++
				}
				continue
			}
		}
		sc.skip()
	}
}

func (e *logEntry) readService(sc *scanner, a *arena) {
	var seen seenKeys
	for more := sc.enter('}'); more; more = sc.next('}') {
		switch sc.field() {
		case "id":
			if seen.first(keyServiceID) {
				e.serviceID = sc.str(a)
				continue
			}
		case "name":
			if seen.first(keyServiceName) {
				e.serviceName = sc.str(a)
				continue
			}
		case "host":
			if seen.first(keyServiceHost) {
				e.serviceHost = sc.str(a)
				continue
			}
		case "protocol":
			if seen.first(keyServiceProtocol) {
				e.serviceProtocol = sc.str(a)
				continue
			}
		case "path":
			if seen.first(keyServicePath) {
				e.servicePath = sc.str(a)
				continue
			}
		case "port":
			if seen.first(keyServicePort) {
				e.servicePort = int(sc.num())
				continue
			}
		}
		sc.skip()
	}
}

func (e *logEntry) readConsumer(sc *scanner, a *arena) {
	var seen seenKeys
	for more := sc.enter('}'); more; more = sc.next('}') {
		switch sc.field() {
		case "id":
			if seen.first(keyConsumerID) {
				e.consumerID = sc.str(a)
				continue
			}
		case "username":
			if seen.first(keyConsumerUsername) {
				e.consumerUsername = sc.str(a)
				continue
			}
		case "custom_id":
			if seen.first(keyConsumerCustomID) {
				e.consumerCustomID = sc.str(a)
				continue
			}
		}
		sc.skip()
	}
}

// newCapture makes one slot per wanted header name; a slot's name is set
// once the header was seen (first wins), its values may stay empty.
func newCapture(names []string) []capturedHeader {
	if len(names) == 0 {
		return nil
	}
	return make([]capturedHeader, len(names))
}

// compactCaptured keeps the headers that had values, in the order of the
// configured names; nil when there are none.
func compactCaptured(slots []capturedHeader) []capturedHeader {
	out := slots[:0]
	for _, h := range slots {
		if len(h.values) > 0 {
			out = append(out, h)
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// readCaptured reads a headers object (Kong already lowercases names) and
// keeps the listed headers.
func readCaptured(sc *scanner, a *arena, names []string) []capturedHeader {
	if len(names) == 0 {
		sc.skip()
		return nil
	}
	captured := newCapture(names)
	for more := sc.enter('}'); more; more = sc.next('}') {
		key := sc.field()
		start, read := sc.pos, false
		for i, n := range names {
			if key == n && captured[i].name == "" {
				sc.pos = start
				captured[i] = capturedHeader{name: n, values: sc.headerValues(a)}
				read = true
			}
		}
		if !read {
			sc.skip()
		}
	}
	return compactCaptured(captured)
}

// firstHeader reads a header's first value (repeated headers are arrays).
func (sc *scanner) firstHeader(a *arena) string {
	switch sc.peek() {
	case '"':
		return sc.str(a)
	case '[':
		v := ""
		for more, first := sc.enter(']'), true; more; more, first = sc.next(']'), false {
			if first && sc.peek() == '"' {
				v = sc.str(a)
				continue
			}
			sc.skip()
		}
		return v
	}
	sc.skip()
	return ""
}

// headerValues reads a header's values: a string, an array of them, or
// true (a header sent without a value).
func (sc *scanner) headerValues(a *arena) []string {
	switch sc.peek() {
	case '"':
		return []string{sc.str(a)}
	case '[':
		var vals []string
		for more := sc.enter(']'); more; more = sc.next(']') {
			if sc.peek() == '"' {
				vals = append(vals, sc.str(a))
				continue
			}
			sc.skip()
		}
		return vals
	case 't':
		if sc.skip(); sc.ok() {
			return []string{"true"}
		}
		return nil
	}
	sc.skip()
	return nil
}

// intOrZero reads an integer token as fastjson's GetInt did: digits with an
// optional minus, else 0.
func intOrZero(s string) int {
	if s == "" || s[0] == '+' {
		return 0
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0
	}
	return int(n)
}

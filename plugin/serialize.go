package plugin

import (
	"errors"
	"math"
	"strconv"

	"github.com/valyala/fastjson"
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

	routeID, routeName, routePath                                     string
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
	// propagationHeaders holds the incoming trace-context headers, kept only
	// when the access phase handed nothing over (it did not run).
	propagationHeaders []capturedHeader
	handoff            string
}

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
	propagationNames []string // headers read by the configured extractors
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
func parseSerialized(p *fastjson.Parser, payload string, w *parseWants, a *arena) (*logEntry, error) {
	if len(payload) > maxPayloadBytes {
		return nil, errTooLarge
	}
	root, err := p.Parse(payload)
	if err != nil || root.Type() != fastjson.TypeObject {
		return nil, errNotJSON
	}
	req := root.Get("request")
	if req == nil || req.Type() != fastjson.TypeObject {
		if root.Get("session") != nil {
			return nil, errStream
		}
		return nil, errNoRequest
	}
	e := &logEntry{}
	e.requestID = str(a, req, "id")
	e.method = str(a, req, "method")
	e.uri = str(a, req, "uri")
	e.url = str(a, req, "url")
	e.requestSize = int64(num(req, "size"))
	if tls := req.Get("tls"); tls != nil {
		e.tlsVersion = str(a, tls, "version")
		e.tlsCipher = str(a, tls, "cipher")
		e.tlsVerify = str(a, tls, "client_verify")
	}
	if w.handoffKey != "" {
		e.handoff = str(a, root, w.handoffKey)
	}
	if hdrs := req.Get("headers"); hdrs != nil && hdrs.Type() == fastjson.TypeObject {
		e.userAgent = firstHeader(a, hdrs, "user-agent")
		e.host = firstHeader(a, hdrs, "host")
		e.capturedRequest = captureHeaders(a, hdrs, w.captureRequest)
		if e.handoff == "" {
			e.propagationHeaders = captureHeaders(a, hdrs, w.propagationNames)
		}
	}

	e.upstreamURI = str(a, root, "upstream_uri")
	switch us := root.Get("upstream_status"); {
	case us == nil:
	case us.Type() == fastjson.TypeString:
		e.upstreamStatus = a.bytes(us.GetStringBytes())
	case us.Type() == fastjson.TypeNumber:
		e.upstreamStatus = strconv.Itoa(us.GetInt())
	}

	if resp := root.Get("response"); resp != nil {
		e.status = int(num(resp, "status"))
		e.responseSize = int64(num(resp, "size"))
		if hdrs := resp.Get("headers"); hdrs != nil && hdrs.Type() == fastjson.TypeObject {
			e.capturedResponse = captureHeaders(a, hdrs, w.captureResponse)
		}
	}

	if lat := root.Get("latencies"); lat != nil {
		e.latKong = num(lat, "kong")
		e.latProxy = num(lat, "proxy")
		e.latRequest = num(lat, "request")
		if r := lat.Get("receive"); r != nil {
			e.latReceive, _ = r.Float64()
			e.hasReceive = true
		}
	}

	for _, t := range root.GetArray("tries") {
		if t.Type() != fastjson.TypeObject {
			continue
		}
		e.tries = append(e.tries, balancerTry{
			startMs:   num(t, "balancer_start"),
			startNs:   num(t, "balancer_start_ns"),
			latencyMs: num(t, "balancer_latency"),
			latencyNs: num(t, "balancer_latency_ns"),
			ip:        str(a, t, "ip"),
			port:      int(num(t, "port")),
			state:     str(a, t, "state"),
			code:      int(num(t, "code")),
		})
	}

	if r := root.Get("route"); r != nil && r.Type() == fastjson.TypeObject {
		e.hasRoute = true
		e.routeID = str(a, r, "id")
		e.routeName = str(a, r, "name")
		if paths := r.GetArray("paths"); len(paths) > 0 && paths[0].Type() == fastjson.TypeString {
			e.routePath = a.bytes(paths[0].GetStringBytes())
		}
	}
	if s := root.Get("service"); s != nil && s.Type() == fastjson.TypeObject {
		e.hasService = true
		e.serviceID = str(a, s, "id")
		e.serviceName = str(a, s, "name")
		e.serviceHost = str(a, s, "host")
		e.serviceProtocol = str(a, s, "protocol")
		e.servicePath = str(a, s, "path")
		e.servicePort = int(num(s, "port"))
	}
	if c := root.Get("consumer"); c != nil && c.Type() == fastjson.TypeObject {
		e.consumerID = str(a, c, "id")
		e.consumerUsername = str(a, c, "username")
		e.consumerCustomID = str(a, c, "custom_id")
	}
	if ae := root.Get("authenticated_entity"); ae != nil && ae.Type() == fastjson.TypeObject {
		e.credentialID = str(a, ae, "id")
	}
	e.clientIP = str(a, root, "client_ip")
	e.startedAtMs = num(root, "started_at")
	e.source = str(a, root, "source")
	e.workspace = str(a, root, "workspace")
	e.workspaceName = str(a, root, "workspace_name")
	return e, nil
}

// str returns v[key] when it is a string, copied into the arena.
func str(a *arena, v *fastjson.Value, key string) string {
	f := v.Get(key)
	if f == nil || f.Type() != fastjson.TypeString {
		return ""
	}
	return a.bytes(f.GetStringBytes())
}

// num returns v[key] as a number; Kong numbers may be integers, floats in
// exponent form (1.7267838395395e+18) or, for sizes, numeric strings.
func num(v *fastjson.Value, key string) float64 {
	f := v.Get(key)
	if f == nil {
		return 0
	}
	var n float64
	switch f.Type() {
	case fastjson.TypeNumber:
		n, _ = f.Float64()
	case fastjson.TypeString:
		n, _ = strconv.ParseFloat(string(f.GetStringBytes()), 64)
	}
	// Absurd values (1e400 parses as +Inf) must not reach attributes or
	// timestamps: some backends store a non-finite double and then cannot
	// return the trace, and nanosecond conversions would overflow.
	if math.IsNaN(n) || n > maxPayloadNumber || n < -maxPayloadNumber {
		return 0
	}
	return n
}

// maxPayloadNumber bounds every number read from a payload: epoch times in
// ns (balancer_start_ns ≈ 1.7e18) still fit, and so does a uint64.
const maxPayloadNumber = 1e19

// firstHeader returns a header's first value (repeated headers are arrays).
func firstHeader(a *arena, hdrs *fastjson.Value, name string) string {
	h := hdrs.Get(name)
	if h == nil {
		return ""
	}
	switch h.Type() {
	case fastjson.TypeString:
		return a.bytes(h.GetStringBytes())
	case fastjson.TypeArray:
		if vs := h.GetArray(); len(vs) > 0 && vs[0].Type() == fastjson.TypeString {
			return a.bytes(vs[0].GetStringBytes())
		}
	}
	return ""
}

// captureHeaders copies the listed headers (Kong already lowercases names).
func captureHeaders(a *arena, hdrs *fastjson.Value, names []string) []capturedHeader {
	if len(names) == 0 {
		return nil
	}
	var out []capturedHeader
	for _, n := range names {
		h := hdrs.Get(n)
		if h == nil {
			continue
		}
		var vals []string
		switch h.Type() {
		case fastjson.TypeString:
			vals = []string{a.bytes(h.GetStringBytes())}
		case fastjson.TypeArray:
			for _, v := range h.GetArray() {
				if v.Type() == fastjson.TypeString {
					vals = append(vals, a.bytes(v.GetStringBytes()))
				}
			}
		case fastjson.TypeTrue:
			vals = []string{"true"}
		}
		if len(vals) > 0 {
			out = append(out, capturedHeader{name: n, values: vals})
		}
	}
	return out
}

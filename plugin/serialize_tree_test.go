package plugin

import (
	"math"
	"strconv"
	"unsafe"

	"github.com/valyala/fastjson"
)

func treeBytes(a *arena, b []byte) string { return a.str(unsafe.String(unsafe.SliceData(b), len(b))) }

// parseSerializedTree is the parser parseSerialized replaced: fastjson builds
// the whole tree, then fields are looked up. It stays as the reference of
// the differential tests and as a peer in BenchmarkParse.
func parseSerializedTree(p *fastjson.Parser, payload string, w *parseWants, a *arena) (*logEntry, error) {
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
	e.requestID = treeStr(a, req, "id")
	e.method = treeStr(a, req, "method")
	e.uri = treeStr(a, req, "uri")
	e.url = treeStr(a, req, "url")
	e.requestSize = int64(treeNum(req, "size"))
	if tls := req.Get("tls"); tls != nil {
		e.tlsVersion = treeStr(a, tls, "version")
		e.tlsCipher = treeStr(a, tls, "cipher")
		e.tlsVerify = treeStr(a, tls, "client_verify")
	}
	if w.handoffKey != "" {
		e.handoff = treeStr(a, root, w.handoffKey)
	}
	if hdrs := req.Get("headers"); hdrs != nil && hdrs.Type() == fastjson.TypeObject {
		e.userAgent = treeFirstHeader(a, hdrs, "user-agent")
		e.host = treeFirstHeader(a, hdrs, "host")
		e.capturedRequest = treeCaptureHeaders(a, hdrs, w.captureRequest)
		if e.handoff == "" {
			e.propagationHeaders = treeCaptureHeaders(a, hdrs, w.propagationNames)
		}
	}

	e.upstreamURI = treeStr(a, root, "upstream_uri")
	switch us := root.Get("upstream_status"); {
	case us == nil:
	case us.Type() == fastjson.TypeString:
		e.upstreamStatus = treeBytes(a, us.GetStringBytes())
	case us.Type() == fastjson.TypeNumber:
		e.upstreamStatus = strconv.Itoa(us.GetInt())
	}

	if resp := root.Get("response"); resp != nil {
		e.status = int(treeNum(resp, "status"))
		e.responseSize = int64(treeNum(resp, "size"))
		if hdrs := resp.Get("headers"); hdrs != nil && hdrs.Type() == fastjson.TypeObject {
			e.capturedResponse = treeCaptureHeaders(a, hdrs, w.captureResponse)
		}
	}

	if lat := root.Get("latencies"); lat != nil {
		e.latKong = treeNum(lat, "kong")
		e.latProxy = treeNum(lat, "proxy")
		e.latRequest = treeNum(lat, "request")
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
			startMs:   treeNum(t, "balancer_start"),
			startNs:   treeNum(t, "balancer_start_ns"),
			latencyMs: treeNum(t, "balancer_latency"),
			latencyNs: treeNum(t, "balancer_latency_ns"),
			ip:        treeStr(a, t, "ip"),
			port:      int(treeNum(t, "port")),
			state:     treeStr(a, t, "state"),
			code:      int(treeNum(t, "code")),
		})
	}

	if r := root.Get("route"); r != nil && r.Type() == fastjson.TypeObject {
		e.hasRoute = true
		e.routeID = treeStr(a, r, "id")
		e.routeName = treeStr(a, r, "name")
		for _, p := range r.GetArray("paths") {
			if p.Type() != fastjson.TypeString {
				continue
			}
			if e.routePathCount < maxRoutePaths {
				e.routePaths[e.routePathCount] = treeBytes(a, p.GetStringBytes())
			}
			e.routePathCount++
		}
	}
	if s := root.Get("service"); s != nil && s.Type() == fastjson.TypeObject {
		e.hasService = true
		e.serviceID = treeStr(a, s, "id")
		e.serviceName = treeStr(a, s, "name")
		e.serviceHost = treeStr(a, s, "host")
		e.serviceProtocol = treeStr(a, s, "protocol")
		e.servicePath = treeStr(a, s, "path")
		e.servicePort = int(treeNum(s, "port"))
	}
	if c := root.Get("consumer"); c != nil && c.Type() == fastjson.TypeObject {
		e.consumerID = treeStr(a, c, "id")
		e.consumerUsername = treeStr(a, c, "username")
		e.consumerCustomID = treeStr(a, c, "custom_id")
	}
	if ae := root.Get("authenticated_entity"); ae != nil && ae.Type() == fastjson.TypeObject {
		e.credentialID = treeStr(a, ae, "id")
	}
	e.clientIP = treeStr(a, root, "client_ip")
	e.startedAtMs = treeNum(root, "started_at")
	e.source = treeStr(a, root, "source")
	e.workspace = treeStr(a, root, "workspace")
	e.workspaceName = treeStr(a, root, "workspace_name")
	return e, nil
}

// treeStr returns v[key] when it is a string, copied into the arena.
func treeStr(a *arena, v *fastjson.Value, key string) string {
	f := v.Get(key)
	if f == nil || f.Type() != fastjson.TypeString {
		return ""
	}
	return treeBytes(a, f.GetStringBytes())
}

// treeNum returns v[key] as a number; Kong numbers may be integers, floats in
// exponent form (1.7267838395395e+18) or, for sizes, numeric strings.
func treeNum(v *fastjson.Value, key string) float64 {
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

// treeFirstHeader returns a header's first value (repeated headers are arrays).
func treeFirstHeader(a *arena, hdrs *fastjson.Value, name string) string {
	h := hdrs.Get(name)
	if h == nil {
		return ""
	}
	switch h.Type() {
	case fastjson.TypeString:
		return treeBytes(a, h.GetStringBytes())
	case fastjson.TypeArray:
		if vs := h.GetArray(); len(vs) > 0 && vs[0].Type() == fastjson.TypeString {
			return treeBytes(a, vs[0].GetStringBytes())
		}
	}
	return ""
}

// treeCaptureHeaders copies the listed headers (Kong already lowercases names).
func treeCaptureHeaders(a *arena, hdrs *fastjson.Value, names []string) []capturedHeader {
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
			vals = []string{treeBytes(a, h.GetStringBytes())}
		case fastjson.TypeArray:
			for _, v := range h.GetArray() {
				if v.Type() == fastjson.TypeString {
					vals = append(vals, treeBytes(a, v.GetStringBytes()))
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

package kongsim

import (
	"crypto/rand"
	"encoding/hex"
	"net"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Exchange is one request as Kong's ngx.var, ngx.req and ngx.ctx see it
// while the request is live (rewrite, access, response). PDK setters change
// it; the gateway proxies what it holds; kong.log.serialize reads it.
// An Exchange is used by one goroutine at a time.
type Exchange struct {
	ID          string // request id (kong.log.serialize request.id, X-Kong-Request-Id)
	Start       time.Time
	Method      string
	Scheme      string // http
	Host        string // Host header without port, lowercased (ngx.var.host)
	Port        int    // the gateway's listen port (ngx.var.server_port)
	RequestURI  string // as received: path and query
	Path        string
	RawQuery    string // changed by kong.service.request.set_raw_query/set_query
	HTTPVersion float64
	ClientIP    string
	ClientPort  int
	// Headers are the request headers; kong.service.request.set_header and
	// friends change them, as ngx.req.set_header does, so they are also what
	// is sent upstream and what the log phase saves.
	Headers     http.Header
	Body        []byte
	RequestSize int

	Route      *Route
	Service    *Service
	Consumer   *Consumer
	Credential *Credential
	// URICaptures and NamedCaptures are the matched regex path's groups
	// (kong.request.get_uri_captures).
	URICaptures   []string
	NamedCaptures map[string]string

	// Upstream request parts set by routing and by kong.service.*.
	UpstreamScheme string
	UpstreamPath   string // upstream_uri without the query
	UpstreamName   string // kong.service.set_upstream
	UpstreamTarget string // kong.service.set_target, host:port

	// ResponseHeaders are the headers sent to the client: the upstream's,
	// then those plugins set, then Kong's own.
	ResponseHeaders http.Header
	Status          int
	ResponseSize    int

	Shared map[string]any // kong.ctx.shared
	Ctx    map[string]any // ngx.ctx (KONG_* timestamps, plugin set_ctx values)

	serializeValues []serializeValue
	Exit            *ExitResponse
	Tries           []Try
	UpstreamStatus  string // ngx.var.upstream_status: "200", "502, 200", ""
	Proxied         bool
	Exited          bool // Kong answered itself (kong.response.exit/error: KONG_EXITED)
	Unexpected      bool // Kong itself failed the request (KONG_UNEXPECTED)
	Buffered        *BufferedResponse

	Workspace string
}

// ExitResponse is what kong.response.exit asked for.
type ExitResponse struct {
	Status  int
	Body    []byte
	Headers http.Header
}

// BufferedResponse is the upstream response held back under buffered
// proxying (a plugin with a Response handler).
type BufferedResponse struct {
	Status  int
	Headers http.Header
	Body    []byte
}

// Try is one balancer attempt (serialize tries[]).
type Try struct {
	IP                string
	Port              int
	BalancerStart     time.Time
	BalancerLatencyNS int64
	State             string // "failed" or "next" on an earlier, failed try
	Code              int    // its HTTP status (502 refused, 504 timeout)
}

type serializeValue struct {
	key   string
	value any
	mode  string
}

// NewExchange builds an Exchange from an incoming HTTP request, reading its
// body. listenPort is the gateway port the request arrived on.
func NewExchange(r *http.Request, body []byte, listenPort int) *Exchange {
	now := time.Now()
	x := &Exchange{
		ID:              newRequestID(),
		Start:           now,
		Method:          r.Method,
		Scheme:          "http",
		Port:            listenPort,
		RequestURI:      r.RequestURI,
		Path:            r.URL.Path,
		RawQuery:        r.URL.RawQuery,
		HTTPVersion:     float64(r.ProtoMajor) + float64(r.ProtoMinor)/10,
		Headers:         r.Header.Clone(),
		Body:            body,
		ResponseHeaders: http.Header{},
		Shared:          map[string]any{},
		Ctx:             map[string]any{},
	}
	if x.RequestURI == "" {
		x.RequestURI = r.URL.RequestURI()
	}
	if r.URL.RawPath != "" {
		x.Path = r.URL.RawPath
	}
	if x.Headers == nil {
		x.Headers = http.Header{}
	}
	host := r.Host
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	x.Host = strings.ToLower(host)
	if r.Host != "" {
		x.Headers.Set("Host", r.Host)
	}
	if ip, port, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		x.ClientIP = ip
		x.ClientPort, _ = strconv.Atoi(port)
	}
	x.RequestSize = requestSize(r, len(body))
	x.setCtx("KONG_PROCESSING_START", msOf(now))
	return x
}

// requestSize approximates $request_length: request line, headers, body.
func requestSize(r *http.Request, bodyLen int) int {
	n := len(r.Method) + 1 + len(r.RequestURI) + 1 + len(r.Proto) + 2
	for k, vs := range r.Header {
		for _, v := range vs {
			n += len(k) + 2 + len(v) + 2
		}
	}
	if r.Host != "" && r.Header.Get("Host") == "" {
		n += len("Host: ") + len(r.Host) + 2
	}
	return n + 2 + bodyLen
}

func newRequestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// msOf is ngx.now()*1000: milliseconds since the epoch at ms resolution.
func msOf(t time.Time) float64 { return float64(t.UnixMilli()) }

func (x *Exchange) setCtx(key string, v any) { x.Ctx[key] = v }

func (x *Exchange) ctxNumber(key string) (float64, bool) {
	f, ok := x.Ctx[key].(float64)
	return f, ok
}

// markPhase records KONG_<PHASE>_START/_ENDED_AT/_TIME as Kong's runloop does.
func (x *Exchange) markPhase(phase string, start, end time.Time) {
	p := "KONG_" + strings.ToUpper(phase)
	x.setCtx(p+"_START", msOf(start))
	x.setCtx(p+"_ENDED_AT", msOf(end))
	x.setCtx(p+"_TIME", msOf(end)-msOf(start))
}

// UpstreamURI is ngx.var.upstream_uri with the query Kong appends.
func (x *Exchange) UpstreamURI() string {
	if x.Route == nil {
		return ""
	}
	u := x.UpstreamPath
	if x.RawQuery != "" && !strings.Contains(u, "?") {
		u += "?" + x.RawQuery
	}
	return u
}

// LogData is what Kong saves for a Go plugin's log handler before the
// response's request object is released: the handler runs later, in a timer,
// and may only use these.
type LogData struct {
	Serialize       []byte         // cjson-encoded kong.log.serialize() result
	Ctx             map[string]any // shallow clone of ngx.ctx
	Shared          map[string]any // kong.ctx.shared (the same table)
	RequestHeaders  http.Header
	ResponseHeaders http.Header
	Status          int
	StartTime       float64 // ngx.req.start_time(), seconds

	Route      *Route
	Service    *Service
	Consumer   *Consumer
	Credential *Credential
	// Buffered is set under buffered proxying; kong.service.response.* then
	// work in the log timer.
	Buffered *BufferedResponse
	// Source is kong.response.get_source's answer: service, exit or error.
	Source string
	// URICaptures and NamedCaptures: the matched regex path's groups, which
	// kong.request.get_uri_captures reads from the saved ngx.ctx.
	URICaptures   []string
	NamedCaptures map[string]string
}

// responseSource is kong.response.get_source for the exchange.
func (x *Exchange) responseSource() string {
	switch {
	case x.Unexpected:
		return "error"
	case x.Exit != nil, x.Exited:
		return "exit"
	case x.Proxied:
		return "service"
	}
	return "error"
}

// luaHeaders is ngx.req.get_headers(): lowercase names, repeated headers as
// arrays, at most max names (Kong's default 100).
func luaHeaders(h http.Header, max int) map[string]any {
	if max <= 0 {
		max = 100
	}
	names := make([]string, 0, len(h))
	for k := range h {
		names = append(names, k)
	}
	sort.Strings(names)
	out := make(map[string]any, len(h))
	for _, k := range names {
		if len(out) >= max {
			break
		}
		vs := h[k]
		if len(vs) == 0 {
			continue
		}
		key := strings.ToLower(k)
		if len(vs) == 1 {
			out[key] = vs[0]
		} else {
			out[key] = stringsToAny(vs)
		}
	}
	return out
}

// headerLookup finds a header the way ngx's header tables do: any case, and
// '_' matching '-'.
func headerLookup(h http.Header, name string) (string, bool) {
	name = strings.ReplaceAll(name, "_", "-")
	vs := h.Values(name)
	if len(vs) == 0 {
		for k, v := range h {
			if strings.EqualFold(strings.ReplaceAll(k, "_", "-"), name) && len(v) > 0 {
				return v[0], true
			}
		}
		return "", false
	}
	return vs[0], true
}

// luaQuery is kong.request.get_query(): flags (no '=') are true, repeated
// keys arrays.
func luaQuery(raw string, max int) map[string]any {
	if max <= 0 {
		max = 100
	}
	out := map[string]any{}
	n := 0
	for _, part := range strings.Split(raw, "&") {
		if part == "" {
			continue
		}
		if n >= max {
			break
		}
		n++
		var key string
		var val any
		if i := strings.IndexByte(part, '='); i >= 0 {
			key = unescapeQuery(part[:i])
			val = unescapeQuery(part[i+1:])
		} else {
			key, val = unescapeQuery(part), true
		}
		switch prev := out[key].(type) {
		case nil:
			out[key] = val
		case []any:
			out[key] = append(prev, val)
		default:
			out[key] = []any{prev, val}
		}
	}
	return out
}

func unescapeQuery(s string) string {
	if u, err := url.QueryUnescape(s); err == nil {
		return u
	}
	return s
}

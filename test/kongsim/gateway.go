package kongsim

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// GatewayOptions configure a Gateway.
type GatewayOptions struct {
	Options // the plugin binary, Kong version, prefix, output, logger

	// Config is the declarative configuration; ConfigPath is read when
	// Config is nil.
	Config     *Declarative
	ConfigPath string
	// Listen is the proxy address; default "127.0.0.1:0" (a free port).
	Listen string
	// MaxRecords bounds the request records kept (oldest dropped first);
	// default 10000.
	MaxRecords int
}

// Gateway is a small Kong: it proxies HTTP through services, routes and
// upstreams from a declarative config and runs the external plugin's
// phases the way Kong 3.x does, recording every PDK call per request.
type Gateway struct {
	sim        *Sim
	log        *slog.Logger
	listener   net.Listener
	server     *http.Server
	port       int
	maxRecords int

	cfgMu      sync.RWMutex
	router     *router
	upstreams  map[string]*upstreamState
	plugins    []*Plugin
	transports map[string]*http.Transport // by service id

	recMu    sync.Mutex
	records  []*RequestRecord
	byID     map[string]*RequestRecord
	received int
	pending  int
	idle     chan struct{} // closed while pending == 0

	closeOnce sync.Once
}

type upstreamState struct {
	up   *Upstream
	next atomic.Uint64
}

// StartGateway starts the plugin server and the proxy listener.
func StartGateway(ctx context.Context, opts GatewayOptions) (*Gateway, error) {
	decl := opts.Config
	if decl == nil {
		if opts.ConfigPath == "" {
			return nil, errors.New("kongsim: GatewayOptions needs Config or ConfigPath")
		}
		var err error
		if decl, err = LoadDeclarative(opts.ConfigPath); err != nil {
			return nil, err
		}
	}
	sim, err := New(ctx, opts.Options)
	if err != nil {
		return nil, err
	}
	g := &Gateway{sim: sim, log: sim.log, maxRecords: opts.MaxRecords, byID: map[string]*RequestRecord{},
		idle: make(chan struct{})}
	close(g.idle)
	if g.maxRecords <= 0 {
		g.maxRecords = 10000
	}
	if err := g.Load(decl); err != nil {
		sim.Close()
		return nil, err
	}
	listen := opts.Listen
	if listen == "" {
		listen = "127.0.0.1:0"
	}
	if g.listener, err = net.Listen("tcp", listen); err != nil {
		sim.Close()
		return nil, err
	}
	g.port = g.listener.Addr().(*net.TCPAddr).Port
	g.server = &http.Server{Handler: g, ReadHeaderTimeout: 60 * time.Second,
		ErrorLog: slog.NewLogLogger(g.log.Handler(), slog.LevelWarn)}
	go func() {
		if err := g.server.Serve(g.listener); err != nil && !errors.Is(err, http.ErrServerClosed) {
			g.log.Error("gateway listener stopped", "err", err)
		}
	}()
	return g, nil
}

// Load replaces the gateway's entities with decl. Plugin entities whose name
// is not the loaded plugin are ignored with a warning; the loaded plugin's
// configs are validated against its dumped schema (an error refuses the
// whole config, as Kong refuses a declarative file). Entities whose config
// did not change keep their running instance.
func (g *Gateway) Load(decl *Declarative) error {
	rt, err := newRouter(decl.Routes)
	if err != nil {
		return err
	}
	name := g.sim.info.Name
	g.cfgMu.RLock()
	old := map[string]*Plugin{}
	for _, p := range g.plugins {
		old[p.ID] = p
	}
	g.cfgMu.RUnlock()
	var plugins []*Plugin
	for _, e := range decl.Plugins {
		if e.Name != name {
			g.log.Warn("plugin is not the loaded external plugin; ignored", "plugin", e.Name, "loaded", name)
			continue
		}
		if e.ConsumerID != "" {
			g.log.Warn("consumer-scoped plugin entities are not emulated; ignored", "plugin", e.Name)
			continue
		}
		p, err := g.sim.Configure(e)
		if err != nil {
			return fmt.Errorf("declarative config is invalid: %w", err)
		}
		if err := checkProtocolsMatch(p, decl); err != nil {
			return fmt.Errorf("declarative config is invalid: plugin %s: %w", p.Name, err)
		}
		if !servesHTTP(p.Protocols) {
			// Kong's plugins iterator leaves it out of the http subsystem.
			g.log.Warn("plugin entity lists no HTTP protocol; it never runs here", "plugin", p.Name, "protocols", p.Protocols)
			continue
		}
		if prev := old[p.ID]; prev != nil && bytes.Equal(stripSeq(prev.configJSON), stripSeq(p.configJSON)) {
			p = prev // unchanged: Kong keeps the cached config table and its __seq__
		}
		plugins = append(plugins, p)
	}
	ups := map[string]*upstreamState{}
	for _, u := range decl.Upstreams {
		ups[u.Name] = &upstreamState{up: u}
	}
	transports := map[string]*http.Transport{}
	for _, s := range decl.Services {
		transports[s.ID] = newTransport(s)
	}
	g.sim.SetConsumers(decl.Consumers)
	g.cfgMu.Lock()
	oldTransports := g.transports
	g.router, g.upstreams, g.plugins, g.transports = rt, ups, plugins, transports
	g.cfgMu.Unlock()
	for _, t := range oldTransports {
		t.CloseIdleConnections()
	}
	return nil
}

// checkProtocolsMatch is Kong's rule for a plugin on a route: the two must
// share a protocol (kong/db/dao/plugins.lua check_protocols_match).
func checkProtocolsMatch(p *Plugin, decl *Declarative) error {
	if p.RouteID == "" {
		return nil
	}
	for _, r := range decl.Routes {
		if r.ID != p.RouteID {
			continue
		}
		for _, rp := range r.Protocols {
			if containsString(p.Protocols, rp) {
				return nil
			}
		}
		return &SchemaError{Fields: map[string]string{"protocols": "must match the associated route's protocols"}}
	}
	return nil
}

// servesHTTP: one of the protocols belongs to nginx's http subsystem, the
// only one the emulator runs (Kong's PROTOCOLS_WITH_SUBSYSTEM).
func servesHTTP(protocols []string) bool {
	for _, p := range protocols {
		switch p {
		case "http", "https", "grpc", "grpcs", "ws", "wss":
			return true
		}
	}
	return false
}

// stripSeq removes the "__seq__" member so configs can be compared.
func stripSeq(b []byte) []byte {
	i := bytes.Index(b, []byte(`"__seq__":`))
	if i < 0 {
		return b
	}
	j := i + len(`"__seq__":`)
	for j < len(b) && b[j] != ',' && b[j] != '}' {
		j++
	}
	return append(append([]byte{}, b[:i]...), b[j:]...)
}

// UpdatePluginConfig reconfigures the plugin entity id (a config change in
// Kong): the next request starts a new instance and closes the old one.
func (g *Gateway) UpdatePluginConfig(id string, config map[string]any) error {
	g.cfgMu.Lock()
	defer g.cfgMu.Unlock()
	for i, p := range g.plugins {
		if p.ID == id {
			np, err := g.sim.Configure(PluginEntity{ID: p.ID, Name: p.Name, Config: config,
				RouteID: p.RouteID, ServiceID: p.ServiceID, Protocols: p.Protocols})
			if err != nil {
				return err
			}
			g.plugins[i] = np
			return nil
		}
	}
	return fmt.Errorf("no plugin entity %s", id)
}

// Plugins returns the loaded plugin's configured entities.
func (g *Gateway) Plugins() []*Plugin {
	g.cfgMu.RLock()
	defer g.cfgMu.RUnlock()
	return append([]*Plugin(nil), g.plugins...)
}

func newTransport(s *Service) *http.Transport {
	d := &net.Dialer{Timeout: time.Duration(s.ConnectTimeout) * time.Millisecond}
	return &http.Transport{
		Proxy:                  nil,
		DialContext:            d.DialContext,
		ResponseHeaderTimeout:  time.Duration(s.ReadTimeout) * time.Millisecond,
		MaxIdleConns:           1024,
		MaxIdleConnsPerHost:    256,
		IdleConnTimeout:        60 * time.Second,
		DisableCompression:     true,
		TLSClientConfig:        &tls.Config{InsecureSkipVerify: true}, // Kong's tls_verify defaults to off
		MaxResponseHeaderBytes: 1 << 20,
	}
}

// Sim is the gateway's plugin emulator.
func (g *Gateway) Sim() *Sim { return g.sim }

// URL is the proxy's base URL, e.g. "http://127.0.0.1:41234".
func (g *Gateway) URL() string { return "http://" + g.listener.Addr().String() }

// Addr is the proxy's listen address.
func (g *Gateway) Addr() string { return g.listener.Addr().String() }

// Close stops the listener, waits (bounded) for pending log phases, and
// stops the plugin server.
func (g *Gateway) Close() error {
	g.closeOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = g.server.Shutdown(ctx)
		_ = g.WaitIdle(ctx)
		g.cfgMu.RLock()
		for _, t := range g.transports {
			t.CloseIdleConnections()
		}
		g.cfgMu.RUnlock()
		g.sim.Close()
	})
	return nil
}

// WaitIdle waits until every request received so far has finished,
// log phase included.
func (g *Gateway) WaitIdle(ctx context.Context) error {
	g.recMu.Lock()
	idle := g.idle
	g.recMu.Unlock()
	select {
	case <-idle:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (g *Gateway) begin(x *Exchange) *RequestRecord {
	g.recMu.Lock()
	defer g.recMu.Unlock()
	if g.pending == 0 {
		g.idle = make(chan struct{})
	}
	g.pending++
	g.received++
	rec := &RequestRecord{ID: x.ID, Seq: g.received, Method: x.Method, URI: x.RequestURI}
	g.records = append(g.records, rec)
	g.byID[rec.ID] = rec
	if len(g.records) > g.maxRecords {
		drop := g.records[0]
		delete(g.byID, drop.ID)
		g.records = g.records[1:]
	}
	return rec
}

func (g *Gateway) end(rec *RequestRecord) {
	g.recMu.Lock()
	defer g.recMu.Unlock()
	rec.Done = true
	g.pending--
	if g.pending == 0 {
		close(g.idle)
	}
}

func (g *Gateway) addEvent(rec *RequestRecord, res *EventResult) {
	g.recMu.Lock()
	rec.Events = append(rec.Events, res)
	g.recMu.Unlock()
}

type gatewayConfig struct {
	router    *router
	upstreams map[string]*upstreamState
	plugins   []*Plugin
	transport map[string]*http.Transport
}

func (g *Gateway) snapshot() gatewayConfig {
	g.cfgMu.RLock()
	defer g.cfgMu.RUnlock()
	return gatewayConfig{router: g.router, upstreams: g.upstreams, plugins: g.plugins, transport: g.transports}
}

func (c gatewayConfig) globalPlugin() *Plugin {
	for _, p := range c.plugins {
		if p.Global() {
			return p
		}
	}
	return nil
}

// pluginFor picks the most specific entity of the plugin for a request.
func (c gatewayConfig) pluginFor(r *Route) *Plugin {
	var best *Plugin
	for _, p := range c.plugins {
		if p.RouteID != "" && p.RouteID != r.ID {
			continue
		}
		if p.ServiceID != "" && (r.Service == nil || p.ServiceID != r.Service.ID) {
			continue
		}
		if best == nil || pluginScopeRank(p) < pluginScopeRank(best) {
			best = p
		}
	}
	return best
}

// ServeHTTP runs one request through Kong's phases.
func (g *Gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, "reading request body: "+err.Error(), http.StatusBadRequest)
		return
	}
	x := NewExchange(r, body, g.port)
	x.Workspace = g.sim.workspace
	x.setCtx("workspace", x.Workspace)
	rec := g.begin(x)
	cfg := g.snapshot()
	logPlugin := g.serve(w, x, rec, cfg)
	g.finish(x, rec, logPlugin)
}

// serve runs rewrite, routing, access and the proxying, writes the response
// and returns the plugin entity whose log handler runs for this request.
func (g *Gateway) serve(w http.ResponseWriter, x *Exchange, rec *RequestRecord, cfg gatewayConfig) *Plugin {
	info := g.sim.info
	global := cfg.globalPlugin()
	if global != nil && info.HasPhase("rewrite") {
		start := time.Now()
		res := g.sim.RunPhase(global, "rewrite", x)
		g.addEvent(rec, res)
		x.markPhase("rewrite", start, time.Now())
		if g.handleEventFailure(w, x, res) || g.handleExit(w, x) {
			return global
		}
	}
	m := cfg.router.match(x.Method, x.Host, x.Path)
	if m == nil {
		x.setCtx("KONG_ACCESS_ENDED_AT", msOf(time.Now()))
		g.sendKongError(w, x, http.StatusNotFound, "no Route matched with those values")
		return global // only global plugins log unmatched requests
	}
	rec.setRoute(m.route)
	x.Route, x.Service = m.route, m.route.Service
	x.URICaptures, x.NamedCaptures = m.captures, m.named
	x.setCtx("route", m.route.luaTable(x.Workspace))
	if x.Service != nil {
		x.setCtx("service", x.Service.luaTable(x.Workspace))
		x.UpstreamScheme = x.Service.Protocol
		x.UpstreamPath = upstreamPath(x.Service.Path, x.Path, m.matched, m.route.StripPath)
	} else {
		x.UpstreamScheme = "http"
		x.UpstreamPath = upstreamPath("", x.Path, m.matched, m.route.StripPath)
	}
	p := cfg.pluginFor(m.route)
	accessStart := time.Now()
	if p != nil && info.HasPhase("access") {
		res := g.sim.RunPhase(p, "access", x)
		g.addEvent(rec, res)
		x.markPhase("access", accessStart, time.Now())
		if g.handleEventFailure(w, x, res) || g.handleExit(w, x) {
			return p
		}
	} else {
		x.markPhase("access", accessStart, time.Now())
	}
	if x.Service == nil {
		g.sendKongError(w, x, http.StatusServiceUnavailable, "no Service found with those values")
		return p
	}
	g.proxy(w, x, rec, cfg, p)
	return p
}

// handleEventFailure answers 500 when Kong would: a Lua error in the
// handler's PDK calls (any version), a start failure, or from 3.8 on any
// event error.
func (g *Gateway) handleEventFailure(w http.ResponseWriter, x *Exchange, res *EventResult) bool {
	if len(res.Violations) == 0 && res.Err == nil {
		return false
	}
	if res.Err != nil && len(res.Violations) == 0 && !g.sim.version.AtLeast(8) &&
		!strings.HasPrefix(res.Err.Error(), "starting instance") {
		// ≤3.7: the error is logged and the request goes on without the plugin.
		g.log.Error("pluginserver error", "err", res.Err)
		return false
	}
	x.Unexpected = true
	x.setCtx("KONG_UNEXPECTED", true)
	g.sendKongError(w, x, http.StatusInternalServerError, "An unexpected error occurred")
	return true
}

func (g *Gateway) handleExit(w http.ResponseWriter, x *Exchange) bool {
	if x.Exit == nil {
		return false
	}
	x.Exited = true
	x.setCtx("KONG_EXITED", true)
	h := x.Exit.Headers.Clone()
	g.addKongResponseHeaders(x, h)
	g.send(w, x, x.Exit.Status, h, x.Exit.Body)
	return true
}

// sendKongError is kong.response.error: Kong's JSON error body.
func (g *Gateway) sendKongError(w http.ResponseWriter, x *Exchange, status int, msg string) {
	if !x.Unexpected {
		x.Exited = true
		x.setCtx("KONG_EXITED", true)
	}
	m := map[string]any{"message": msg}
	if g.sim.version.AtLeast(5) {
		m["request_id"] = x.ID
	}
	body, _ := EncodeLuaJSON(m, g.sim.version.jsonPrecision())
	h := http.Header{}
	h.Set("Content-Type", "application/json; charset=utf-8")
	for k, vs := range x.ResponseHeaders {
		h[k] = vs
	}
	g.addKongResponseHeaders(x, h)
	g.send(w, x, status, h, body)
}

// addKongResponseHeaders adds what Kong adds to responses it generates.
func (g *Gateway) addKongResponseHeaders(x *Exchange, h http.Header) {
	now := msOf(time.Now())
	start := x.Ctx["KONG_PROCESSING_START"].(float64)
	end := now
	if v, ok := x.ctxNumber("KONG_ACCESS_ENDED_AT"); ok {
		end = v
	}
	x.setCtx("KONG_RESPONSE_LATENCY", end-start)
	h.Set("X-Kong-Response-Latency", strconv.FormatFloat(end-start, 'f', -1, 64))
	h.Set("Server", "kong/"+g.sim.version.Release())
	if g.sim.version.AtLeast(5) {
		h.Set("X-Kong-Request-Id", x.ID)
	}
}

// send writes a complete response and flushes it, so the log phase that
// follows runs after the client has its response, as in Kong.
func (g *Gateway) send(w http.ResponseWriter, x *Exchange, status int, h http.Header, body []byte) {
	x.setCtx("KONG_HEADER_FILTER_START", msOf(time.Now()))
	h.Set("Content-Length", strconv.Itoa(len(body)))
	dst := w.Header()
	for k, vs := range h {
		dst[k] = vs
	}
	w.WriteHeader(status)
	n, _ := w.Write(body)
	if f, ok := w.(http.Flusher); ok {
		f.Flush()
	}
	x.Status, x.ResponseHeaders = status, h
	x.ResponseSize = headerSize(status, h) + n
	x.setCtx("KONG_BODY_FILTER_ENDED_AT", msOf(time.Now()))
}

func headerSize(status int, h http.Header) int {
	n := len("HTTP/1.1 200 ") + len(http.StatusText(status)) + 2
	n += len("Date: Mon, 02 Jan 2006 15:04:05 GMT\r\n")
	for k, vs := range h {
		for _, v := range vs {
			n += len(k) + 2 + len(v) + 2
		}
	}
	return n + 2
}

var hopHeaders = []string{"Connection", "Keep-Alive", "Proxy-Connection", "Te", "Trailer",
	"Transfer-Encoding", "Upgrade"}

// proxy runs the balancer tries and relays the upstream response.
func (g *Gateway) proxy(w http.ResponseWriter, x *Exchange, rec *RequestRecord, cfg gatewayConfig, p *Plugin) {
	svc := x.Service
	transport := cfg.transport[svc.ID]
	pick, err := g.balancer(x, cfg)
	if err != nil {
		x.Unexpected = true
		x.setCtx("KONG_UNEXPECTED", true)
		g.sendKongError(w, x, http.StatusServiceUnavailable, err.Error())
		return
	}
	var resp *http.Response
	var statuses []string
	var balancerEnd time.Time
	failCode := http.StatusBadGateway
	for try := 0; try <= svc.Retries; try++ {
		bStart := time.Now()
		if try == 0 {
			x.setCtx("KONG_BALANCER_START", msOf(bStart))
		}
		host, port, err := pick()
		if err != nil {
			x.Unexpected = true
			x.setCtx("KONG_UNEXPECTED", true)
			g.sendKongError(w, x, http.StatusServiceUnavailable, err.Error())
			return
		}
		balancerEnd = time.Now()
		t := Try{IP: host, Port: port, BalancerStart: bStart, BalancerLatencyNS: balancerEnd.Sub(bStart).Nanoseconds()}
		x.setCtx("KONG_BALANCER_ENDED_AT", msOf(balancerEnd))
		x.setCtx("KONG_BALANCER_TIME", msOf(balancerEnd)-x.Ctx["KONG_BALANCER_START"].(float64))
		x.Proxied = true
		x.setCtx("KONG_PROXIED", true)
		req := g.upstreamRequest(x, host, port)
		resp, err = transport.RoundTrip(req)
		if err == nil {
			x.Tries = append(x.Tries, t)
			statuses = append(statuses, strconv.Itoa(resp.StatusCode))
			break
		}
		code, retry := classifyUpstreamError(err, x.Method)
		t.State, t.Code = "failed", code
		x.Tries = append(x.Tries, t)
		statuses = append(statuses, strconv.Itoa(code))
		failCode = code
		g.log.Warn("upstream try failed", "request_id", x.ID, "target", net.JoinHostPort(host, strconv.Itoa(port)), "err", err)
		if !retry {
			break
		}
	}
	x.UpstreamStatus = strings.Join(statuses, ", ")
	headerStart := time.Now()
	x.setCtx("KONG_PROXY_LATENCY", msOf(balancerEnd)-x.Ctx["KONG_PROCESSING_START"].(float64))
	x.setCtx("KONG_WAITING_TIME", msOf(headerStart)-msOf(balancerEnd))
	if resp == nil {
		x.Unexpected = true
		x.setCtx("KONG_UNEXPECTED", true)
		msg := "An invalid response was received from the upstream server"
		if failCode == http.StatusGatewayTimeout {
			msg = "The upstream server is timing out"
		}
		g.sendKongError(w, x, failCode, msg)
		return
	}
	defer resp.Body.Close()
	h := resp.Header.Clone()
	for _, k := range hopHeaders {
		h.Del(k)
	}
	pluginSet := x.ResponseHeaders
	merge := func() http.Header {
		out := h.Clone()
		for k, vs := range pluginSet {
			out[k] = vs
		}
		out.Set("Via", "1.1 kong/"+g.sim.version.Release())
		out.Set("X-Kong-Upstream-Latency", strconv.FormatFloat(x.Ctx["KONG_WAITING_TIME"].(float64), 'f', -1, 64))
		out.Set("X-Kong-Proxy-Latency", strconv.FormatFloat(x.Ctx["KONG_PROXY_LATENCY"].(float64), 'f', -1, 64))
		if g.sim.version.AtLeast(5) {
			out.Set("X-Kong-Request-Id", x.ID)
		}
		return out
	}
	if p != nil && g.sim.info.HasPhase("response") {
		g.bufferedResponse(w, x, rec, p, resp, h, merge)
		return
	}
	out := merge()
	x.setCtx("KONG_HEADER_FILTER_START", msOf(headerStart))
	dst := w.Header()
	for k, vs := range out {
		dst[k] = vs
	}
	w.WriteHeader(resp.StatusCode)
	n, _ := io.Copy(w, resp.Body)
	if f, ok := w.(http.Flusher); ok {
		f.Flush()
	}
	x.Status, x.ResponseHeaders = resp.StatusCode, out
	x.ResponseSize = headerSize(resp.StatusCode, out) + int(n)
	end := time.Now()
	x.setCtx("KONG_BODY_FILTER_ENDED_AT", msOf(end))
	x.setCtx("KONG_RECEIVE_TIME", msOf(end)-msOf(headerStart))
}

// bufferedResponse is Kong's buffered proxying, on when the plugin has a
// Response handler: the whole upstream response is read, the response
// phase runs (kong.service.response.* work), then the client gets it.
func (g *Gateway) bufferedResponse(w http.ResponseWriter, x *Exchange, rec *RequestRecord, p *Plugin,
	resp *http.Response, upstreamHeaders http.Header, merge func() http.Header) {
	headerStart := time.Now()
	body, _ := io.ReadAll(resp.Body)
	x.setCtx("KONG_RECEIVE_TIME", msOf(time.Now())-msOf(headerStart))
	x.Buffered = &BufferedResponse{Status: resp.StatusCode, Headers: upstreamHeaders, Body: body}
	// The upstream exchange happened in a subrequest: the main request's
	// $upstream_status is empty (serialize falls back to the buffered status
	// from 3.8 on).
	x.UpstreamStatus = ""
	x.setCtx("buffered_status", float64(resp.StatusCode))
	x.Status, x.ResponseHeaders = resp.StatusCode, merge()
	start := time.Now()
	res := g.sim.RunPhase(p, "response", x)
	g.addEvent(rec, res)
	x.markPhase("response", start, time.Now())
	if g.handleEventFailure(w, x, res) || g.handleExit(w, x) {
		return
	}
	g.send(w, x, x.Status, x.ResponseHeaders, body)
}

// classifyUpstreamError maps a failed try to the status nginx records and
// whether proxy_next_upstream retries it: connection errors always (nothing
// was sent), timeouts only for idempotent methods.
func classifyUpstreamError(err error, method string) (code int, retry bool) {
	var ne net.Error
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "dial" {
		if op.Timeout() {
			return http.StatusGatewayTimeout, true
		}
		return http.StatusBadGateway, true
	}
	if errors.As(err, &ne) && ne.Timeout() || strings.Contains(err.Error(), "timeout awaiting response headers") {
		switch method {
		case "GET", "HEAD", "PUT", "DELETE", "OPTIONS", "TRACE":
			return http.StatusGatewayTimeout, true
		}
		return http.StatusGatewayTimeout, false
	}
	return http.StatusBadGateway, false
}

// balancer returns the function picking each try's target: set_target's
// target, else the upstream's targets round robin, else the service host.
func (g *Gateway) balancer(x *Exchange, cfg gatewayConfig) (func() (string, int, error), error) {
	resolve := func(hostport string) (string, int, error) {
		host, portStr, err := net.SplitHostPort(hostport)
		if err != nil {
			return "", 0, err
		}
		port, _ := strconv.Atoi(portStr)
		if ip := net.ParseIP(host); ip != nil {
			return host, port, nil
		}
		ips, err := net.DefaultResolver.LookupIPAddr(context.Background(), host)
		if err != nil || len(ips) == 0 {
			return "", 0, fmt.Errorf("name resolution failed")
		}
		for _, ip := range ips {
			if ip.IP.To4() != nil {
				return ip.IP.String(), port, nil
			}
		}
		return ips[0].IP.String(), port, nil
	}
	if x.UpstreamTarget != "" {
		t := x.UpstreamTarget
		return func() (string, int, error) { return resolve(t) }, nil
	}
	name := x.UpstreamName
	if name == "" {
		name = x.Service.Host
	}
	if u := cfg.upstreams[name]; u != nil {
		if len(u.up.Targets) == 0 {
			return nil, fmt.Errorf("failure to get a peer from the ring-balancer")
		}
		return func() (string, int, error) {
			i := u.next.Add(1) - 1
			return resolve(u.up.Targets[i%uint64(len(u.up.Targets))])
		}, nil
	}
	if x.UpstreamName != "" {
		return nil, fmt.Errorf("could not find an Upstream named '%s'", x.UpstreamName)
	}
	hp := net.JoinHostPort(x.Service.Host, strconv.Itoa(x.Service.Port))
	return func() (string, int, error) { return resolve(hp) }, nil
}

func (g *Gateway) upstreamRequest(x *Exchange, ip string, port int) *http.Request {
	scheme := x.UpstreamScheme
	if scheme == "" {
		scheme = "http"
	}
	u := scheme + "://" + net.JoinHostPort(ip, strconv.Itoa(port)) + x.UpstreamURI()
	var body io.Reader = http.NoBody
	if len(x.Body) > 0 {
		body = bytes.NewReader(x.Body)
	}
	req, err := http.NewRequest(x.Method, u, body)
	if err != nil {
		// An unparsable upstream URI: send "/" rather than crash the gateway.
		req, _ = http.NewRequest(x.Method, scheme+"://"+net.JoinHostPort(ip, strconv.Itoa(port))+"/", body)
	}
	req.ContentLength = int64(len(x.Body))
	req.Header = x.Headers.Clone()
	req.Header.Del("Host")
	for _, k := range hopHeaders {
		req.Header.Del(k)
	}
	if x.Route != nil && x.Route.PreserveHost {
		req.Host = x.Headers.Get("Host")
	} else {
		host := x.Service.Host
		if x.UpstreamTarget != "" {
			host, _, _ = net.SplitHostPort(x.UpstreamTarget)
		}
		if port != 80 && port != 443 {
			host = net.JoinHostPort(host, strconv.Itoa(port))
		}
		req.Host = host
	}
	if prior := req.Header.Get("X-Forwarded-For"); prior != "" {
		req.Header.Set("X-Forwarded-For", prior+", "+x.ClientIP)
	} else {
		req.Header.Set("X-Forwarded-For", x.ClientIP)
	}
	req.Header.Set("X-Forwarded-Proto", x.Scheme)
	req.Header.Set("X-Forwarded-Host", x.Host)
	req.Header.Set("X-Forwarded-Port", strconv.Itoa(x.Port))
	req.Header.Set("X-Forwarded-Path", x.Path)
	req.Header.Set("X-Real-IP", x.ClientIP)
	if g.sim.version.AtLeast(5) {
		req.Header.Set("X-Kong-Request-Id", x.ID)
	}
	if req.Header.Get("User-Agent") == "" {
		req.Header["User-Agent"] = nil // no Go default User-Agent: Kong adds none
	}
	return req
}

// finish runs the log phase after the response: Kong saves the data and
// runs the Go log handler in a timer, asynchronously.
func (g *Gateway) finish(x *Exchange, rec *RequestRecord, p *Plugin) {
	x.setCtx("KONG_LOG_START", msOf(time.Now()))
	g.recMu.Lock()
	rec.Status = x.Status
	g.recMu.Unlock()
	if p == nil || !g.sim.info.HasPhase("log") {
		g.end(rec)
		return
	}
	data, err := g.sim.SaveLogData(x)
	if err != nil {
		g.log.Error("saving log data", "err", err)
		g.end(rec)
		return
	}
	g.recMu.Lock()
	rec.Serialize = data.Serialize
	rec.PluginID = p.ID
	g.recMu.Unlock()
	go func() {
		defer g.end(rec)
		res := g.sim.RunLog(p, data)
		if res.Err != nil {
			g.log.Error("log phase failed", "request_id", x.ID, "err", res.Err)
		}
		g.addEvent(rec, res)
	}()
}

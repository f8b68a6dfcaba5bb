package otlpsink

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"

	statuspb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/protobuf/proto"
)

// receiver is the OTLP/HTTP receiving that Sink and LogSink share, so the
// two signals answer alike: one POST path, the Responder's faults, the
// google.rpc.Status refusals, recording before answering, the counters and
// waiting on them. R is the signal's request type (*Request, *LogRequest),
// E its decoded export request. While a request is in flight its shared
// fields live in a *Request, the one the Responder sees; finish turns it
// into an R once no field changes any more.
type receiver[R any, E proto.Message] struct {
	path    string
	decode  func(body []byte, enc Encoding) (E, error)
	success func(Response) proto.Message // the 2xx answer, a partial success when asked
	finish  func(r *Request, export E) R
	// store keeps an accepted request's items (unless discard) and returns
	// how many it carried; called under mu.
	store     func(R) int64
	onRequest func(R)
	discard   bool
	maxBody   int64

	srv       *httptest.Server
	closing   chan struct{}
	closeOnce sync.Once

	mu        sync.Mutex
	responder Responder
	seq       int
	stats     Stats // Spans counts the signal's items (log records for a LogSink)
	requests  []R
	changed   chan struct{} // closed and replaced on every recorded request
}

// init sets what both signals configure alike.
func (c *receiver[R, E]) init(responder Responder, onRequest func(R), discard bool, maxBody int64) {
	if maxBody <= 0 {
		maxBody = DefaultMaxBodyBytes
	}
	c.responder, c.onRequest, c.discard, c.maxBody = responder, onRequest, discard, maxBody
	c.closing, c.changed = make(chan struct{}), make(chan struct{})
}

// startOn runs a receiver on a free loopback port, closed at test cleanup.
func startOn[S interface{ Close() }](t testing.TB, listen func(addr string) (S, error)) S {
	t.Helper()
	s, err := listen("127.0.0.1:0")
	if err != nil {
		t.Fatalf("otlpsink: %v", err)
	}
	t.Cleanup(s.Close)
	return s
}

// listen serves on addr. Only loopback addresses are accepted: the sinks
// are test and demo tools and must not be reachable from the network.
func (c *receiver[R, E]) listen(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("listen address %q: %w", addr, err)
	}
	if !isLoopback(host) {
		return fmt.Errorf("listen address %q: only loopback hosts (127.0.0.1, ::1, localhost) are allowed", addr)
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	c.srv = &httptest.Server{Listener: l, Config: &http.Server{Handler: c, ReadHeaderTimeout: 10 * time.Second}}
	c.srv.Start()
	return nil
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// URL is the base URL, e.g. http://127.0.0.1:40123.
func (c *receiver[R, E]) URL() string { return c.srv.URL }

// Addr is the listening host:port.
func (c *receiver[R, E]) Addr() string { return c.srv.Listener.Addr().String() }

// SetResponder replaces the Responder for requests arriving from now on.
func (c *receiver[R, E]) SetResponder(r Responder) {
	c.mu.Lock()
	c.responder = r
	c.mu.Unlock()
}

// Close stops the sink: delayed answers end at once, then the server
// waits for in-flight handlers. Safe to call more than once.
func (c *receiver[R, E]) Close() {
	c.closeOnce.Do(func() {
		close(c.closing)
		c.srv.CloseClientConnections()
		c.srv.Close()
	})
}

// ServeHTTP handles one request. Every POST to the sink's path is
// recorded, whatever the answer.
func (c *receiver[R, E]) ServeHTTP(w http.ResponseWriter, hr *http.Request) {
	if hr.URL.Path != c.path {
		http.Error(w, "otlpsink serves only "+c.path, http.StatusNotFound)
		return
	}
	if hr.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "use POST", http.StatusMethodNotAllowed)
		return
	}
	c.mu.Lock()
	c.seq++
	r := &Request{Seq: c.seq, Received: time.Now(), Header: hr.Header.Clone(), ContentType: hr.Header.Get("Content-Type")}
	responder := c.responder
	c.mu.Unlock()
	if responder != nil {
		r.Response = responder(r)
	}

	var export E
	status, answer := c.serve(w, hr, r, &export)
	var body []byte
	if answer != nil {
		body = encodeAnswer(r, status, answer)
	}
	// Recorded before the answer goes out, so a test that saw the 200 also
	// sees what the request carried.
	out := c.record(r, export)
	if answer != nil {
		w.Header().Set("Content-Type", r.Encoding.ContentType())
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		w.WriteHeader(r.Status)
		w.Write(body)
	}
	if c.onRequest != nil {
		c.onRequest(out)
	}
}

// serve reads and decodes the body into export and picks the answer: a
// refusal, or the Responder's. A nil answer means none is sent (the
// connection was reset, the client gave up or the sink closed).
func (c *receiver[R, E]) serve(w http.ResponseWriter, hr *http.Request, r *Request, export *E) (int, proto.Message) {
	if r.Response.Reset == ResetBeforeBody {
		r.Err = errors.New("connection reset before the body by the responder")
		resetConn(w)
		return 0, nil
	}
	enc, err := encodingOf(r.ContentType)
	if err == nil {
		r.Encoding = enc
		r.Gzip, err = isGzip(hr.Header.Get("Content-Encoding"))
	}
	if err != nil {
		return refuse(r, http.StatusUnsupportedMediaType, err)
	}
	body, wire, err := readBody(hr.Body, r.Gzip, c.maxBody)
	r.WireBytes, r.BodyBytes = wire, int64(len(body))
	if err != nil {
		status := http.StatusBadRequest
		if errors.Is(err, errTooLarge) {
			status = http.StatusRequestEntityTooLarge
		}
		return refuse(r, status, err)
	}
	if *export, err = c.decode(body, enc); err != nil {
		return refuse(r, http.StatusBadRequest, err)
	}

	if r.Response.Reset == ResetAfterBody {
		r.Err = errors.New("connection reset after the body by the responder")
		resetConn(w)
		return 0, nil
	}
	if d := r.Response.Delay; d > 0 {
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-t.C:
		case <-hr.Context().Done():
			// The client gave up: whatever we would answer, it did not get it.
			r.Err = fmt.Errorf("client gave up during the %v delay: %w", d, hr.Context().Err())
			return 0, nil
		case <-c.closing:
			r.Err = errors.New("sink closed during the delay")
			return 0, nil
		}
	}
	return c.answer(w, r)
}

// refuse answers a request that could not be read (4xx, google.rpc.Status body).
func refuse(r *Request, status int, err error) (int, proto.Message) {
	r.Err, r.invalid = err, true
	return status, rpcStatus(status, err.Error())
}

// answer is the Responder's answer; 2xx accepts the request.
func (c *receiver[R, E]) answer(w http.ResponseWriter, r *Request) (int, proto.Message) {
	resp := r.Response
	for k, vs := range resp.Header {
		for _, v := range vs {
			w.Header().Add(k, v)
		}
	}
	if resp.RetryAfter != "" {
		w.Header().Set("Retry-After", resp.RetryAfter)
	}
	status := resp.Status
	if status == 0 {
		status = http.StatusOK
	}
	if status < 200 || status > 299 {
		msg := resp.Message
		if msg == "" {
			msg = "otlpsink: injected " + strconv.Itoa(status)
		}
		return status, rpcStatus(status, msg)
	}
	r.Accepted = true
	return status, c.success(resp)
}

func rpcStatus(status int, msg string) *statuspb.Status {
	return &statuspb.Status{Code: grpcCodeFor(status), Message: msg}
}

// encodeAnswer encodes m like the request was encoded (protobuf when
// unknown) and sets the status sent: 500 when m cannot be encoded.
func encodeAnswer(r *Request, status int, m proto.Message) []byte {
	var body []byte
	var err error
	if r.Encoding == JSON {
		body, err = MarshalJSON(m)
	} else {
		body, err = proto.Marshal(m)
	}
	if err != nil {
		status, r.Accepted, r.Err = http.StatusInternalServerError, false, fmt.Errorf("encode answer: %w", err)
		body = []byte("otlpsink: " + r.Err.Error())
	}
	r.Status = status
	return body
}

// record counts a finished request, keeps it and its items (unless
// discard) and wakes waiters. It returns the signal's request.
func (c *receiver[R, E]) record(r *Request, export E) R {
	out := c.finish(r, export)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.stats.Requests++
	c.stats.WireBytes += r.WireBytes
	c.stats.BodyBytes += r.BodyBytes
	switch {
	case r.Accepted:
		c.stats.Accepted++
		c.stats.Spans += c.store(out)
	case r.invalid:
		c.stats.Invalid++
		c.stats.Refused++
	default:
		c.stats.Refused++
	}
	if !c.discard {
		c.requests = append(c.requests, out)
	}
	close(c.changed)
	c.changed = make(chan struct{})
	return out
}

// counters returns the counters, Spans counting the signal's items.
func (c *receiver[R, E]) counters() Stats {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.stats
}

// requestList returns every request received, in arrival order.
func (c *receiver[R, E]) requestList() []R {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]R(nil), c.requests...)
}

// clear forgets stored requests, zeroes the counters and runs forget (under
// the lock) to drop the signal's items. Arrival numbers (Seq) keep counting.
func (c *receiver[R, E]) clear(forget func()) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.requests, c.stats = nil, Stats{}
	forget()
}

// waitRequests waits until at least n requests were handled (whatever the
// answer) and returns them all.
func (c *receiver[R, E]) waitRequests(ctx context.Context, n int) ([]R, error) {
	err := c.waitUntil(ctx, func() bool { return int(c.stats.Requests) >= n },
		func() string { return fmt.Sprintf("%d requests handled, want %d", c.stats.Requests, n) })
	return c.requestList(), err
}

// waitUntil blocks until cond (run under the lock) holds, bounded by ctx or
// DefaultWaitTimeout; the error describes the state reached.
func (c *receiver[R, E]) waitUntil(ctx context.Context, cond func() bool, state func() string) error {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, DefaultWaitTimeout)
		defer cancel()
	}
	start := time.Now()
	for {
		c.mu.Lock()
		ok := cond()
		changed := c.changed
		c.mu.Unlock()
		if ok {
			return nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			c.mu.Lock()
			msg := state()
			c.mu.Unlock()
			return fmt.Errorf("otlpsink: after %v: %s: %w", time.Since(start).Round(time.Millisecond), msg, ctx.Err())
		}
	}
}

// grpcCodeFor maps HTTP statuses to the google.rpc.Status code OTLP expects.
func grpcCodeFor(status int) int32 {
	switch status {
	case http.StatusBadRequest, http.StatusUnsupportedMediaType, http.StatusRequestEntityTooLarge:
		return 3 // INVALID_ARGUMENT
	case http.StatusUnauthorized:
		return 16 // UNAUTHENTICATED
	case http.StatusForbidden:
		return 7 // PERMISSION_DENIED
	case http.StatusNotFound:
		return 5 // NOT_FOUND
	case http.StatusTooManyRequests:
		return 8 // RESOURCE_EXHAUSTED
	case http.StatusServiceUnavailable, http.StatusBadGateway, http.StatusGatewayTimeout:
		return 14 // UNAVAILABLE
	}
	return 2 // UNKNOWN
}

// resetConn drops the connection with a TCP RST (SO_LINGER 0) and no answer.
func resetConn(w http.ResponseWriter) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		panic("otlpsink: connection cannot be hijacked for a reset")
	}
	conn, _, err := hj.Hijack()
	if err != nil {
		return
	}
	nc := conn
	if tc, ok := conn.(interface{ NetConn() net.Conn }); ok { // TLS
		nc = tc.NetConn()
	}
	if tcp, ok := nc.(*net.TCPConn); ok {
		tcp.SetLinger(0)
	}
	conn.Close()
}

// Package otlpsink is a small in-process OTLP/HTTP trace receiver for tests
// and the demo: POST /v1/traces with application/x-protobuf or
// application/json (hex ids), optionally gzip, decoded with the official
// OTLP types. It stores what it accepts, counts everything, and can answer
// with injected faults (status codes, Retry-After, delays, partial success,
// connection resets).
//
//	sink := otlpsink.Start(t)                       // closed at cleanup
//	sink.SetResponder(otlpsink.FailFirst(2, otlpsink.Response{Status: 503, RetryAfter: "1"}))
//	export to sink.TracesURL() ...
//	spans, err := sink.WaitTrace(ctx, traceIDHex, 3)
package otlpsink

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	statuspb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/protobuf/proto"
)

// TracesPath is the OTLP/HTTP traces path.
const TracesPath = "/v1/traces"

// DefaultMaxBodyBytes bounds a request body, compressed and decompressed.
const DefaultMaxBodyBytes = 32 << 20

// Options configure a Sink. The zero value suits tests.
type Options struct {
	// Responder picks each answer; nil answers plain successes.
	Responder Responder
	// OnRequest is called after each request was answered (from the
	// handler's goroutine; keep it quick). The demo prints traces here.
	OnRequest func(*Request)
	// Discard keeps counters only: no requests or spans are retained (for
	// long runs and load). WaitTrace, Spans, Traces then see nothing.
	Discard bool
	// MaxBodyBytes defaults to DefaultMaxBodyBytes.
	MaxBodyBytes int64
}

// Sink is a running OTLP/HTTP receiver.
type Sink struct {
	srv     *httptest.Server
	opts    Options
	closing chan struct{}
	closeMu sync.Once

	mu         sync.Mutex
	responder  Responder
	seq        int
	stats      Stats
	requests   []*Request
	spans      []Span
	byTrace    map[string][]int // trace id (hex) → indexes into spans
	traceOrder []string
	changed    chan struct{} // closed and replaced on every recorded request
}

// Start runs a sink on a free loopback port, closed at test cleanup.
func Start(t testing.TB) *Sink { return StartOptions(t, Options{}) }

// StartOptions is Start with options.
func StartOptions(t testing.TB, opts Options) *Sink {
	t.Helper()
	s, err := Listen("127.0.0.1:0", opts)
	if err != nil {
		t.Fatalf("otlpsink: %v", err)
	}
	t.Cleanup(s.Close)
	return s
}

// StartTLS runs a sink over HTTPS with a self-signed certificate; use
// Client or Certificate to trust it. Closed at test cleanup.
func StartTLS(t testing.TB, opts Options) *Sink {
	t.Helper()
	s := newSink(opts)
	s.srv = httptest.NewUnstartedServer(s)
	s.srv.StartTLS()
	t.Cleanup(s.Close)
	return s
}

// Listen runs a sink on addr (host:port; port 0 picks a free one). Only
// loopback addresses are accepted: the sink is a test and demo tool and
// must not be reachable from the network. The caller must Close it.
func Listen(addr string, opts Options) (*Sink, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("listen address %q: %w", addr, err)
	}
	if !isLoopback(host) {
		return nil, fmt.Errorf("listen address %q: only loopback hosts (127.0.0.1, ::1, localhost) are allowed", addr)
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	s := newSink(opts)
	s.srv = &httptest.Server{Listener: l, Config: &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second}}
	s.srv.Start()
	return s, nil
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func newSink(opts Options) *Sink {
	if opts.MaxBodyBytes <= 0 {
		opts.MaxBodyBytes = DefaultMaxBodyBytes
	}
	return &Sink{
		opts:      opts,
		responder: opts.Responder,
		closing:   make(chan struct{}),
		byTrace:   map[string][]int{},
		changed:   make(chan struct{}),
	}
}

// URL is the base URL, e.g. http://127.0.0.1:40123.
func (s *Sink) URL() string { return s.srv.URL }

// TracesURL is the endpoint to export to: URL() + "/v1/traces".
func (s *Sink) TracesURL() string { return s.srv.URL + TracesPath }

// Addr is the listening host:port.
func (s *Sink) Addr() string { return s.srv.Listener.Addr().String() }

// Client is an HTTP client that trusts the sink (for StartTLS).
func (s *Sink) Client() *http.Client { return s.srv.Client() }

// Server exposes the underlying test server (its Certificate for TLS tests).
func (s *Sink) Server() *httptest.Server { return s.srv }

// SetResponder replaces the Responder for requests arriving from now on.
func (s *Sink) SetResponder(r Responder) {
	s.mu.Lock()
	s.responder = r
	s.mu.Unlock()
}

// Close stops the sink: delayed answers end at once, then the server
// waits for in-flight handlers. Safe to call more than once.
func (s *Sink) Close() {
	s.closeMu.Do(func() {
		close(s.closing)
		s.srv.CloseClientConnections()
		s.srv.Close()
	})
}

// ServeHTTP handles one request. Every POST to TracesPath is recorded,
// whatever the answer.
func (s *Sink) ServeHTTP(w http.ResponseWriter, hr *http.Request) {
	if hr.URL.Path != TracesPath {
		http.Error(w, "otlpsink serves only "+TracesPath, http.StatusNotFound)
		return
	}
	if hr.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "use POST", http.StatusMethodNotAllowed)
		return
	}
	s.mu.Lock()
	s.seq++
	r := &Request{Seq: s.seq, Received: time.Now(), Header: hr.Header.Clone(), ContentType: hr.Header.Get("Content-Type")}
	responder := s.responder
	s.mu.Unlock()
	defer func() {
		if !r.recorded {
			s.record(r)
		}
		if s.opts.OnRequest != nil {
			s.opts.OnRequest(r)
		}
	}()

	if responder != nil {
		r.Response = responder(r)
	}
	if r.Response.Reset == ResetBeforeBody {
		r.Err = errors.New("connection reset before the body by the responder")
		resetConn(w)
		return
	}

	enc, err := encodingOf(r.ContentType)
	if err == nil {
		r.Encoding = enc
		r.Gzip, err = isGzip(hr.Header.Get("Content-Encoding"))
	}
	if err != nil {
		s.refuse(w, r, http.StatusUnsupportedMediaType, err)
		return
	}
	body, wire, err := readBody(hr.Body, r.Gzip, s.opts.MaxBodyBytes)
	r.WireBytes, r.BodyBytes = wire, int64(len(body))
	if err != nil {
		status := http.StatusBadRequest
		if errors.Is(err, errTooLarge) {
			status = http.StatusRequestEntityTooLarge
		}
		s.refuse(w, r, status, err)
		return
	}
	if r.Export, err = decodeExport(body, enc); err != nil {
		s.refuse(w, r, http.StatusBadRequest, err)
		return
	}

	if r.Response.Reset == ResetAfterBody {
		r.Err = errors.New("connection reset after the body by the responder")
		resetConn(w)
		return
	}
	if d := r.Response.Delay; d > 0 {
		t := time.NewTimer(d)
		select {
		case <-t.C:
		case <-hr.Context().Done():
			// The client gave up: whatever we would answer, it did not get it.
			t.Stop()
			r.Err = fmt.Errorf("client gave up during the %v delay: %w", d, hr.Context().Err())
			return
		case <-s.closing:
			t.Stop()
			r.Err = errors.New("sink closed during the delay")
			return
		}
	}
	s.answer(w, r)
}

// refuse answers a request that could not be read (4xx, google.rpc.Status body).
func (s *Sink) refuse(w http.ResponseWriter, r *Request, status int, err error) {
	r.Err, r.invalid = err, true
	s.writeStatus(w, r, status, err.Error())
}

// answer sends the Responder's answer; 2xx stores the spans.
func (s *Sink) answer(w http.ResponseWriter, r *Request) {
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
		s.writeStatus(w, r, status, msg)
		return
	}
	out := &coltracepb.ExportTraceServiceResponse{}
	if resp.RejectedSpans != 0 || resp.PartialMessage != "" {
		out.PartialSuccess = &coltracepb.ExportTracePartialSuccess{
			RejectedSpans: resp.RejectedSpans,
			ErrorMessage:  resp.PartialMessage,
		}
	}
	r.Accepted = true
	s.write(w, r, status, out)
}

func (s *Sink) writeStatus(w http.ResponseWriter, r *Request, status int, msg string) {
	s.write(w, r, status, &statuspb.Status{Code: grpcCodeFor(status), Message: msg})
}

// write encodes m like the request was encoded (protobuf when unknown).
func (s *Sink) write(w http.ResponseWriter, r *Request, status int, m proto.Message) {
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
	// Recorded before the answer goes out, so a test that saw the 200 also
	// sees the spans.
	r.Status = status
	s.record(r)
	w.Header().Set("Content-Type", r.Encoding.ContentType())
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	w.Write(body)
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

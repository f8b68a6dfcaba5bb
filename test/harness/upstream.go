package harness

import (
	"encoding/json"
	"net"
	"net/http"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"
)

// TestIDHeader is the header tests tag their requests with, so the upstream's
// record of a request can be found (Kong 3.3/3.4 send no X-Kong-Request-Id).
const TestIDHeader = "X-Test-Id"

// Received is one request as the upstream saw it.
type Received struct {
	Method string
	URI    string // request URI as received (path and query)
	Host   string
	Header http.Header
	At     time.Time
}

// UpstreamOptions configure StartUpstream.
type UpstreamOptions struct {
	// Wrap, if set, wraps the upstream's handler, e.g. to make a server
	// span from the propagation headers received.
	Wrap func(http.Handler) http.Handler
}

// Upstream is a loopback HTTP server that records every request and answers
// it like docker/echo: ?status=N answers N, ?delay_ms=N waits first.
type Upstream struct {
	ln  net.Listener
	srv *http.Server

	mu   sync.Mutex
	reqs []Received
}

// StartUpstream starts an upstream on a free loopback port, stopped at
// test cleanup.
func StartUpstream(tb testing.TB, opts UpstreamOptions) *Upstream {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	u := &Upstream{ln: ln}
	var h http.Handler = http.HandlerFunc(u.serve)
	if opts.Wrap != nil {
		h = opts.Wrap(h)
	}
	// Recording happens before any wrapper runs, so a wrapper's work
	// cannot hide a request from the test.
	u.srv = &http.Server{Handler: u.record(h), ReadHeaderTimeout: 10 * time.Second}
	go u.srv.Serve(ln) // returns at Close
	tb.Cleanup(func() { u.srv.Close() })
	return u
}

func (u *Upstream) record(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u.mu.Lock()
		u.reqs = append(u.reqs, Received{Method: r.Method, URI: r.RequestURI, Host: r.Host,
			Header: r.Header.Clone(), At: time.Now()})
		u.mu.Unlock()
		next.ServeHTTP(w, r)
	})
}

func (u *Upstream) serve(w http.ResponseWriter, r *http.Request) {
	status := http.StatusOK
	if s := r.URL.Query().Get("status"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 200 || n > 599 {
			http.Error(w, "bad status", http.StatusBadRequest)
			return
		}
		status = n
	}
	if s := r.URL.Query().Get("delay_ms"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 || n > 10000 {
			http.Error(w, "bad delay_ms", http.StatusBadRequest)
			return
		}
		select {
		case <-time.After(time.Duration(n) * time.Millisecond):
		case <-r.Context().Done():
			return
		}
	}
	body, _ := json.Marshal(map[string]any{"method": r.Method, "uri": r.RequestURI, "status": status})
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(body)
}

// Addr is the upstream's host:port.
func (u *Upstream) Addr() string { return u.ln.Addr().String() }

// Port is the upstream's port.
func (u *Upstream) Port() int { return u.ln.Addr().(*net.TCPAddr).Port }

// URL is the upstream's base URL.
func (u *Upstream) URL() string { return "http://" + u.Addr() }

// Requests returns every request received so far, in arrival order.
func (u *Upstream) Requests() []Received {
	u.mu.Lock()
	defer u.mu.Unlock()
	return append([]Received(nil), u.reqs...)
}

// Find returns the requests tagged with TestIDHeader: id.
func (u *Upstream) Find(id string) []Received {
	var out []Received
	for _, r := range u.Requests() {
		if r.Header.Get(TestIDHeader) == id {
			out = append(out, r)
		}
	}
	return out
}

// RefusedPort returns a loopback port that refuses connections at once (a
// dead balancer target): a TCP socket is bound to it but never listens, so
// the kernel answers every connection attempt with a reset, and no other
// process can take the port until the test ends.
func RefusedPort(tb testing.TB) int {
	tb.Helper()
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM, 0)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { syscall.Close(fd) })
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		tb.Fatal(err)
	}
	sa, err := syscall.Getsockname(fd)
	if err != nil {
		tb.Fatal(err)
	}
	return sa.(*syscall.SockaddrInet4).Port
}

package exporter

import (
	"compress/gzip"
	"crypto/tls"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"
)

// httpRecorder is a loopback HTTP endpoint for the JSON backends (zipkin,
// http_json, custom ones): it records each request's headers and body,
// gunzipped with the standard library when the request says gzip, and
// answers with the status its respond function picks.
type httpRecorder struct {
	t   *testing.T
	srv *httptest.Server

	respond func(n int, w http.ResponseWriter)

	mu      sync.Mutex
	reqs    []recordedRequest
	arrived chan struct{}
}

type recordedRequest struct {
	header  http.Header
	path    string
	body    []byte // decompressed
	rawSize int
	at      time.Time
}

// newHTTPRecorder starts a recorder; tlsConfig non-nil serves HTTPS with it.
func newHTTPRecorder(t *testing.T, tlsConfig *tls.Config, respond func(n int, w http.ResponseWriter)) *httpRecorder {
	t.Helper()
	r := &httpRecorder{t: t, respond: respond, arrived: make(chan struct{}, 10000)}
	r.srv = httptest.NewUnstartedServer(http.HandlerFunc(r.serve))
	if tlsConfig != nil {
		r.srv.TLS = tlsConfig
		r.srv.StartTLS()
	} else {
		r.srv.Start()
	}
	t.Cleanup(r.srv.Close)
	return r
}

func (r *httpRecorder) serve(w http.ResponseWriter, req *http.Request) {
	raw, err := io.ReadAll(req.Body)
	if err != nil {
		return
	}
	body := raw
	if req.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(bytesReader(raw))
		if err != nil {
			r.t.Errorf("request says gzip but is not: %v", err)
			http.Error(w, "bad gzip", http.StatusBadRequest)
			return
		}
		if body, err = io.ReadAll(zr); err != nil {
			r.t.Errorf("bad gzip: %v", err)
		}
	}
	r.mu.Lock()
	n := len(r.reqs)
	r.reqs = append(r.reqs, recordedRequest{header: req.Header.Clone(), path: req.URL.Path, body: body, rawSize: len(raw), at: time.Now()})
	r.mu.Unlock()
	r.arrived <- struct{}{}
	if r.respond != nil {
		r.respond(n, w)
		return
	}
	w.WriteHeader(http.StatusAccepted)
}

func (r *httpRecorder) received() []recordedRequest {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]recordedRequest(nil), r.reqs...)
}

func (r *httpRecorder) waitRequests(n int, timeout time.Duration) []recordedRequest {
	r.t.Helper()
	deadline := time.After(timeout)
	for {
		if got := r.received(); len(got) >= n {
			return got
		}
		select {
		case <-r.arrived:
		case <-deadline:
			r.t.Fatalf("got %d requests, want %d within %s", len(r.received()), n, timeout)
		}
	}
}

// statusSequence answers the listed statuses in turn, then 202.
func statusSequence(codes ...int) func(int, http.ResponseWriter) {
	return func(n int, w http.ResponseWriter) {
		if n < len(codes) {
			if codes[n] == http.StatusServiceUnavailable {
				w.Header().Set("Retry-After", "0")
			}
			w.WriteHeader(codes[n])
			return
		}
		w.WriteHeader(http.StatusAccepted)
	}
}

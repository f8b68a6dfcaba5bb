package exportertest

import (
	"bytes"
	"compress/gzip"
	"crypto/tls"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/trace-exporter/trace-exporter/test/otlpsink"
)

// Recorder is a loopback HTTP endpoint for backend tests: it records each
// request's headers and body (gunzipped with the standard library when the
// request says gzip), decodes OTLP trace requests with the official types,
// and answers as its respond function says (nil: 200, empty body). The
// fault-injecting OTLP receiver of the end-to-end suites is test/otlpsink;
// this one hands a test the raw exchange.
type Recorder struct {
	t   *testing.T
	Srv *httptest.Server

	// respond decides the answer to request n (0-based).
	respond func(n int, w http.ResponseWriter, r *http.Request)

	mu      sync.Mutex
	reqs    []RecordedRequest
	arrived chan struct{}

	inFlight, maxInFlight atomic.Int32
}

// RecordedRequest is one request as the recorder saw it.
type RecordedRequest struct {
	Header  http.Header
	Path    string
	Body    []byte // decompressed
	RawSize int    // bytes on the wire
	At      time.Time
	// Export is the decoded OTLP request when the body was one (protobuf,
	// or OTLP/JSON), else nil; Spans counts its spans.
	Export *coltracepb.ExportTraceServiceRequest
	Spans  int
}

// NewRecorder starts a recorder; tlsConfig non-nil serves HTTPS with it.
func NewRecorder(t *testing.T, tlsConfig *tls.Config, respond func(n int, w http.ResponseWriter, r *http.Request)) *Recorder {
	t.Helper()
	r := &Recorder{t: t, respond: respond, arrived: make(chan struct{}, 10000)}
	r.Srv = httptest.NewUnstartedServer(http.HandlerFunc(r.serve))
	if tlsConfig != nil {
		r.Srv.TLS = tlsConfig
		r.Srv.StartTLS()
	} else {
		r.Srv.Start()
	}
	t.Cleanup(r.Srv.Close)
	return r
}

// TracesURL is the recorder's OTLP/HTTP traces URL.
func (r *Recorder) TracesURL() string { return r.Srv.URL + "/v1/traces" }

func (r *Recorder) serve(w http.ResponseWriter, req *http.Request) {
	cur := r.inFlight.Add(1)
	defer r.inFlight.Add(-1)
	for {
		m := r.maxInFlight.Load()
		if cur <= m || r.maxInFlight.CompareAndSwap(m, cur) {
			break
		}
	}
	raw, err := io.ReadAll(req.Body)
	if err != nil {
		return
	}
	body := raw
	if req.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(bytes.NewReader(raw))
		if err != nil {
			r.t.Errorf("request says gzip but is not: %v", err)
			http.Error(w, "bad gzip", http.StatusBadRequest)
			return
		}
		if body, err = io.ReadAll(zr); err != nil {
			r.t.Errorf("bad gzip: %v", err)
		}
	}
	rec := RecordedRequest{Header: req.Header.Clone(), Path: req.URL.Path, Body: body, RawSize: len(raw), At: time.Now()}
	if !strings.HasSuffix(req.URL.Path, "/v1/logs") && !strings.HasSuffix(req.URL.Path, "/v1/metrics") {
		rec.Export, rec.Spans = r.decode(req.Header.Get("Content-Type"), body)
	}
	r.mu.Lock()
	n := len(r.reqs)
	r.reqs = append(r.reqs, rec)
	r.mu.Unlock()
	r.arrived <- struct{}{}
	if r.respond != nil {
		r.respond(n, w, req)
		return
	}
	w.WriteHeader(http.StatusOK)
}

// decode reads an OTLP trace request; other bodies (logs and metrics by
// their paths, Zipkin and webhook JSON arrays) are left to the test.
func (r *Recorder) decode(contentType string, body []byte) (*coltracepb.ExportTraceServiceRequest, int) {
	req := &coltracepb.ExportTraceServiceRequest{}
	switch {
	case strings.HasPrefix(contentType, "application/x-protobuf"):
		if err := proto.Unmarshal(body, req); err != nil {
			r.t.Errorf("recorder cannot decode the protobuf request: %v", err)
			return nil, 0
		}
	case strings.HasPrefix(contentType, "application/json") && bytes.HasPrefix(body, []byte(`{"resourceSpans"`)):
		if err := otlpsink.UnmarshalJSON(body, req); err != nil {
			r.t.Errorf("recorder cannot decode the OTLP/JSON request: %v", err)
			return nil, 0
		}
	default:
		return nil, 0
	}
	n := 0
	for _, rs := range req.ResourceSpans {
		for _, ss := range rs.ScopeSpans {
			n += len(ss.Spans)
		}
	}
	return req, n
}

// Received returns the requests so far.
func (r *Recorder) Received() []RecordedRequest {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]RecordedRequest(nil), r.reqs...)
}

// WaitRequests waits until n requests arrived, failing after timeout.
func (r *Recorder) WaitRequests(n int, timeout time.Duration) []RecordedRequest {
	r.t.Helper()
	deadline := time.After(timeout)
	for {
		if got := r.Received(); len(got) >= n {
			return got
		}
		select {
		case <-r.arrived:
		case <-deadline:
			r.t.Fatalf("got %d requests, want %d within %s", len(r.Received()), n, timeout)
		}
	}
}

// TotalSpans counts the OTLP spans received.
func (r *Recorder) TotalSpans() int {
	n := 0
	for _, q := range r.Received() {
		n += q.Spans
	}
	return n
}

// MaxInFlight is the most requests the recorder served at once.
func (r *Recorder) MaxInFlight() int { return int(r.maxInFlight.Load()) }

// StatusSequence answers the listed statuses in turn, then 200.
func StatusSequence(codes ...int) func(int, http.ResponseWriter, *http.Request) {
	return func(n int, w http.ResponseWriter, _ *http.Request) {
		if n < len(codes) {
			if codes[n] == http.StatusServiceUnavailable {
				w.Header().Set("Retry-After", "0")
			}
			w.WriteHeader(codes[n])
			return
		}
		w.WriteHeader(http.StatusOK)
	}
}

// DecodeOTLPJSON decodes an OTLP/JSON trace request (hex ids) with the
// official types, failing the test when it is not one.
func DecodeOTLPJSON(t *testing.T, data []byte) *coltracepb.ExportTraceServiceRequest {
	t.Helper()
	req := &coltracepb.ExportTraceServiceRequest{}
	if err := otlpsink.UnmarshalJSON(data, req); err != nil {
		t.Fatalf("not an OTLP/JSON trace request: %v\n%s", err, data)
	}
	return req
}

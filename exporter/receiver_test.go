package exporter

import (
	"compress/gzip"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"

	"github.com/trace-exporter/trace-exporter/schema"
)

// otlpReceiver is a real OTLP/HTTP endpoint on loopback: it decodes each
// request with the official types (gunzipping and reading JSON as needed)
// and answers as its respond function says.
type otlpReceiver struct {
	t   *testing.T
	srv *httptest.Server

	// respond decides the answer to request n (0-based); nil means 200.
	respond func(n int, w http.ResponseWriter, r *http.Request)

	mu       sync.Mutex
	requests []receivedRequest
	arrived  chan struct{} // one value per request, buffered

	inFlight, maxInFlight atomic.Int32
}

type receivedRequest struct {
	at      time.Time
	header  http.Header
	spans   int
	request *coltracepb.ExportTraceServiceRequest
	rawSize int
}

func newOTLPReceiver(t *testing.T, respond func(n int, w http.ResponseWriter, r *http.Request)) *otlpReceiver {
	t.Helper()
	rc := &otlpReceiver{t: t, respond: respond, arrived: make(chan struct{}, 10000)}
	rc.srv = httptest.NewServer(http.HandlerFunc(rc.serve))
	t.Cleanup(rc.srv.Close)
	return rc
}

func (rc *otlpReceiver) url() string { return rc.srv.URL + "/v1/traces" }

func (rc *otlpReceiver) serve(w http.ResponseWriter, r *http.Request) {
	cur := rc.inFlight.Add(1)
	defer rc.inFlight.Add(-1)
	for {
		m := rc.maxInFlight.Load()
		if cur <= m || rc.maxInFlight.CompareAndSwap(m, cur) {
			break
		}
	}
	raw, err := io.ReadAll(r.Body)
	if err != nil {
		return
	}
	body := raw
	if r.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(bytesReader(raw))
		if err != nil {
			rc.t.Errorf("bad gzip: %v", err)
			http.Error(w, "bad gzip", http.StatusBadRequest)
			return
		}
		if body, err = io.ReadAll(zr); err != nil {
			rc.t.Errorf("bad gzip: %v", err)
		}
	}
	var req *coltracepb.ExportTraceServiceRequest
	switch r.Header.Get("Content-Type") {
	case "application/json":
		req = decodeOTLPJSON(rc.t, body)
	default:
		req = &coltracepb.ExportTraceServiceRequest{}
		if err := proto.Unmarshal(body, req); err != nil {
			rc.t.Errorf("receiver cannot decode request: %v", err)
		}
	}
	spans := 0
	for _, rs := range req.ResourceSpans {
		for _, ss := range rs.ScopeSpans {
			spans += len(ss.Spans)
		}
	}
	rc.mu.Lock()
	n := len(rc.requests)
	rc.requests = append(rc.requests, receivedRequest{at: time.Now(), header: r.Header.Clone(), spans: spans, request: req, rawSize: len(raw)})
	rc.mu.Unlock()
	rc.arrived <- struct{}{}
	if rc.respond != nil {
		rc.respond(n, w, r)
		return
	}
	w.Header().Set("Content-Type", "application/x-protobuf")
	w.WriteHeader(http.StatusOK)
}

// waitRequests waits until n requests arrived, failing after timeout.
func (rc *otlpReceiver) waitRequests(n int, timeout time.Duration) []receivedRequest {
	rc.t.Helper()
	deadline := time.After(timeout)
	for {
		rc.mu.Lock()
		got := len(rc.requests)
		rc.mu.Unlock()
		if got >= n {
			return rc.snapshot()
		}
		select {
		case <-rc.arrived:
		case <-deadline:
			rc.t.Fatalf("got %d requests, want %d within %s", got, n, timeout)
		}
	}
}

func (rc *otlpReceiver) snapshot() []receivedRequest {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]receivedRequest(nil), rc.requests...)
}

func (rc *otlpReceiver) totalSpans() int {
	n := 0
	for _, r := range rc.snapshot() {
		n += r.spans
	}
	return n
}

// testConfig is a valid OTLP/HTTP config for endpoint with fast test timings.
func testConfig(endpoint string) *schema.Config {
	c := schema.Defaults()
	c.TracesEndpoint = endpoint
	c.Queue.MaxCoalescingDelay = 0.05
	c.Queue.InitialRetryDelay = 0.01
	c.Queue.MaxRetryDelay = 0.1
	c.Queue.MaxRetryTime = 5
	return &c
}

// newTestRegistry returns a registry shut down (with a deadline) when the
// test ends.
func newTestRegistry(t *testing.T, opts RegistryOptions) *Registry {
	t.Helper()
	r := NewRegistry(opts)
	t.Cleanup(func() {
		ctx, cancel := contextWithTimeout(2 * time.Second)
		defer cancel()
		_ = r.ShutdownAll(ctx)
	})
	return r
}

// testSpans returns n small spans of one trace.
func testSpans(n int) []Span {
	spans := make([]Span, n)
	for i := range spans {
		spans[i] = Span{
			TraceID: TraceID{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, byte(i + 1)},
			SpanID:  SpanID{1, 2, 3, 4, 5, 6, 7, byte(i + 1)},
			Name:    "GET /test", Kind: KindServer,
			StartUnixNano: 1_700_000_000_000_000_000, EndUnixNano: 1_700_000_000_001_000_000,
			Attributes: []Attribute{String("http.request.method", "GET"), Int("http.response.status_code", 200)},
		}
	}
	return spans
}

// waitFor polls cond until it holds, failing after timeout.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// checkAccounting asserts that every accepted span is exported, dropped
// after acceptance, or still held.
func checkAccounting(t *testing.T, s Stats) {
	t.Helper()
	after := s.Dropped[DropRetryExhausted] + s.Dropped[DropPermanent] + s.Dropped[DropRejected]
	// Shutdown drops happen both before acceptance (Enqueue refused) and
	// after; tests that mix them check by hand.
	if s.Enqueued != s.Exported+after+s.Dropped[DropShutdown]+uint64(s.QueueSpans) {
		t.Fatalf("accounting broken: %+v", s)
	}
}

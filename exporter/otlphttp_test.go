package exporter

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"

	"github.com/trace-exporter/trace-exporter/schema"
)

func TestBatchSizeTriggersExport(t *testing.T) {
	rc := newOTLPReceiver(t, nil)
	cfg := testConfig(rc.url())
	cfg.Queue.MaxBatchSize = 10
	cfg.Queue.MaxCoalescingDelay = 30 // only the size can trigger within the test
	reg := newTestRegistry(t, RegistryOptions{})
	h, err := reg.Acquire(cfg)
	if err != nil {
		t.Fatal(err)
	}
	for range 25 {
		if !h.Enqueue(testSpans(1)) {
			t.Fatal("enqueue refused")
		}
	}
	reqs := rc.waitRequests(2, 5*time.Second)
	if reqs[0].spans != 10 || reqs[1].spans != 10 {
		t.Fatalf("batches of %d and %d spans, want 10 and 10", reqs[0].spans, reqs[1].spans)
	}
	time.Sleep(200 * time.Millisecond)
	if n := len(rc.snapshot()); n != 2 {
		t.Fatalf("%d requests before the delay, want 2 (5 spans must wait)", n)
	}
	if s := h.Stats(); s.QueueSpans != 5 || s.Exported != 20 {
		t.Fatalf("stats %+v: want 5 queued, 20 exported", s)
	}
}

func TestCoalescingDelayTriggersExport(t *testing.T) {
	rc := newOTLPReceiver(t, nil)
	cfg := testConfig(rc.url())
	cfg.Queue.MaxBatchSize = 1000
	cfg.Queue.MaxCoalescingDelay = 0.3
	reg := newTestRegistry(t, RegistryOptions{})
	h, _ := reg.Acquire(cfg)
	start := time.Now()
	h.Enqueue(testSpans(2))
	h.Enqueue(testSpans(1))
	reqs := rc.waitRequests(1, 5*time.Second)
	waited := reqs[0].at.Sub(start)
	if reqs[0].spans != 3 {
		t.Fatalf("batch of %d spans, want 3", reqs[0].spans)
	}
	if waited < 300*time.Millisecond || waited > 3*time.Second {
		t.Fatalf("sent after %s, want about max_coalescing_delay (300ms)", waited)
	}
}

func TestExportedSpansArriveIntactWithResourceAndHeaders(t *testing.T) {
	for _, protocol := range []schema.Protocol{schema.ProtocolHTTPProtobuf, schema.ProtocolHTTPJSON} {
		for _, comp := range []schema.Compression{schema.CompressionNone, schema.CompressionGzip} {
			t.Run(string(protocol)+"/"+string(comp), func(t *testing.T) {
				rc := newOTLPReceiver(t, nil)
				cfg := testConfig(rc.url())
				cfg.Protocol = protocol
				cfg.Compression = comp
				cfg.Headers = map[string]string{"Authorization": "Bearer s3cret", "X-Tenant": "t1"}
				cfg.ResourceAttributes = map[string]string{"deployment.environment": "test"}
				reg := newTestRegistry(t, RegistryOptions{})
				h, err := reg.Acquire(cfg)
				if err != nil {
					t.Fatal(err)
				}
				batch := richBatch()
				h.Enqueue(batch.Spans)
				req := rc.waitRequests(1, 5*time.Second)[0]

				wantCT := map[schema.Protocol]string{schema.ProtocolHTTPProtobuf: "application/x-protobuf", schema.ProtocolHTTPJSON: "application/json"}[protocol]
				if got := req.header.Get("Content-Type"); got != wantCT {
					t.Errorf("Content-Type %q, want %q", got, wantCT)
				}
				wantCE := map[schema.Compression]string{schema.CompressionGzip: "gzip"}[comp]
				if got := req.header.Get("Content-Encoding"); got != wantCE {
					t.Errorf("Content-Encoding %q, want %q", got, wantCE)
				}
				if req.header.Get("Authorization") != "Bearer s3cret" || req.header.Get("X-Tenant") != "t1" {
					t.Errorf("config headers missing: %v", req.header)
				}
				if !strings.HasPrefix(req.header.Get("User-Agent"), "trace-exporter/") {
					t.Errorf("User-Agent %q", req.header.Get("User-Agent"))
				}
				want := toOTLP(&Batch{Resource: NewResource(cfg), Scope: NewScope(), Spans: batch.Spans})
				if !proto.Equal(req.request, want) {
					t.Fatalf("received\n %v\nwant\n %v", req.request, want)
				}
			})
		}
	}
}

func TestGzipShrinksTheBody(t *testing.T) {
	rc := newOTLPReceiver(t, nil)
	cfg := testConfig(rc.url())
	cfg.Compression = schema.CompressionGzip
	reg := newTestRegistry(t, RegistryOptions{})
	h, _ := reg.Acquire(cfg)
	h.Enqueue(kongLikeBatch(200).Spans)
	req := rc.waitRequests(1, 5*time.Second)[0]
	var enc protoEncoder
	plain := len(enc.appendTracesRequest(nil, &Batch{Resource: NewResource(cfg), Scope: NewScope(), Spans: kongLikeBatch(200).Spans}))
	if req.spans != 200 || req.rawSize*3 > plain {
		t.Fatalf("gzip body %d bytes for %d plain (%d spans): want at least 3x smaller", req.rawSize, plain, req.spans)
	}
}

func TestRetryAfterOn503IsHonoured(t *testing.T) {
	rc := newOTLPReceiver(t, func(n int, w http.ResponseWriter, r *http.Request) {
		if n == 0 {
			w.Header().Set("Retry-After", "1")
			http.Error(w, "overloaded", http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusOK)
	})
	cfg := testConfig(rc.url())
	reg := newTestRegistry(t, RegistryOptions{})
	h, _ := reg.Acquire(cfg)
	h.Enqueue(testSpans(3))
	reqs := rc.waitRequests(2, 5*time.Second)
	gap := reqs[1].at.Sub(reqs[0].at)
	// The backoff alone would retry after ~10ms: the 1 s must come from the header.
	if gap < time.Second || gap > 3*time.Second {
		t.Fatalf("retried after %s, want the 1s Retry-After", gap)
	}
	waitFor(t, 2*time.Second, "export counted", func() bool { return h.Stats().Exported == 3 })
	if s := h.Stats(); s.Retries != 1 || s.DroppedTotal() != 0 {
		t.Fatalf("stats %+v: want 1 retry, no drop", s)
	}
}

func TestRetryAfterHTTPDateOn429(t *testing.T) {
	rc := newOTLPReceiver(t, func(n int, w http.ResponseWriter, r *http.Request) {
		if n == 0 {
			// HTTP dates have 1 s resolution: 2 s ahead means at least 1 s.
			w.Header().Set("Retry-After", time.Now().Add(2*time.Second).UTC().Format(http.TimeFormat))
			w.WriteHeader(http.StatusTooManyRequests)
			return
		}
		w.WriteHeader(http.StatusOK)
	})
	reg := newTestRegistry(t, RegistryOptions{})
	h, _ := reg.Acquire(testConfig(rc.url()))
	h.Enqueue(testSpans(1))
	reqs := rc.waitRequests(2, 5*time.Second)
	if gap := reqs[1].at.Sub(reqs[0].at); gap < time.Second || gap > 4*time.Second {
		t.Fatalf("retried after %s, want the HTTP-date Retry-After (1-2 s)", gap)
	}
	waitFor(t, 2*time.Second, "export counted", func() bool { return h.Stats().Exported == 1 })
}

func TestRetryableStatusesAreRetried(t *testing.T) {
	for _, code := range []int{429, 502, 503, 504} {
		t.Run(http.StatusText(code), func(t *testing.T) {
			rc := newOTLPReceiver(t, func(n int, w http.ResponseWriter, r *http.Request) {
				if n < 2 {
					w.WriteHeader(code)
					return
				}
				w.WriteHeader(http.StatusOK)
			})
			reg := newTestRegistry(t, RegistryOptions{})
			h, _ := reg.Acquire(testConfig(rc.url()))
			h.Enqueue(testSpans(2))
			rc.waitRequests(3, 5*time.Second)
			waitFor(t, 2*time.Second, "export counted", func() bool { return h.Stats().Exported == 2 })
			if s := h.Stats(); s.Retries != 2 || s.DroppedTotal() != 0 {
				t.Fatalf("stats %+v: want 2 retries, no drop", s)
			}
		})
	}
}

func TestPermanentStatusesAreNotRetried(t *testing.T) {
	for _, code := range []int{400, 401, 403, 404, 413, 500, 501} {
		t.Run(http.StatusText(code), func(t *testing.T) {
			rc := newOTLPReceiver(t, func(n int, w http.ResponseWriter, r *http.Request) {
				http.Error(w, "no", code)
			})
			reg := newTestRegistry(t, RegistryOptions{})
			h, _ := reg.Acquire(testConfig(rc.url()))
			h.Enqueue(testSpans(4))
			rc.waitRequests(1, 5*time.Second)
			waitFor(t, 2*time.Second, "drop counted", func() bool { return h.Stats().DroppedBy(DropPermanent) == 4 })
			// Well past several backoff periods (10-100 ms): still one request.
			time.Sleep(300 * time.Millisecond)
			if n := len(rc.snapshot()); n != 1 {
				t.Fatalf("%d requests for a %d answer, want exactly 1", n, code)
			}
			s := h.Stats()
			if s.Retries != 0 || s.FailedBatches != 1 || s.Exported != 0 {
				t.Fatalf("stats %+v", s)
			}
			checkAccounting(t, s)
		})
	}
}

func TestTimeoutIsRetriedThenGivenUp(t *testing.T) {
	release := make(chan struct{})
	rc := newOTLPReceiver(t, func(n int, w http.ResponseWriter, r *http.Request) {
		select { // hang past read_timeout
		case <-release:
		case <-time.After(5 * time.Second):
		}
	})
	defer close(release)
	cfg := testConfig(rc.url())
	cfg.ReadTimeout = 100
	cfg.Queue.MaxRetryTime = 1
	reg := newTestRegistry(t, RegistryOptions{})
	h, _ := reg.Acquire(cfg)
	start := time.Now()
	h.Enqueue(testSpans(3))
	waitFor(t, 5*time.Second, "loss counted", func() bool { return h.Stats().DroppedBy(DropRetryExhausted) == 3 })
	took := time.Since(start)
	if took < 900*time.Millisecond || took > 4*time.Second {
		t.Fatalf("gave up after %s, want about max_retry_time (1s)", took)
	}
	s := h.Stats()
	if n := len(rc.snapshot()); n < 3 || s.Retries < 2 {
		t.Fatalf("%d attempts, %d retries: a timeout must be retried", n, s.Retries)
	}
	if s.FailedBatches != 1 || s.Exported != 0 {
		t.Fatalf("stats %+v", s)
	}
	checkAccounting(t, s)
}

func TestConnectionRefusedIsRetriedThenGivenUp(t *testing.T) {
	rc := newOTLPReceiver(t, nil)
	url := rc.url()
	rc.srv.Close() // nothing listens there any more
	cfg := testConfig(url)
	cfg.Queue.MaxRetryTime = 0.5
	reg := newTestRegistry(t, RegistryOptions{})
	h, _ := reg.Acquire(cfg)
	h.Enqueue(testSpans(2))
	waitFor(t, 5*time.Second, "loss counted", func() bool { return h.Stats().DroppedBy(DropRetryExhausted) == 2 })
	if s := h.Stats(); s.Retries < 2 {
		t.Fatalf("stats %+v: connection errors must be retried", s)
	}
}

func TestPartialSuccessIsCountedNotRetried(t *testing.T) {
	for _, asJSON := range []bool{false, true} {
		t.Run(map[bool]string{false: "protobuf", true: "json"}[asJSON], func(t *testing.T) {
			rc := newOTLPReceiver(t, func(n int, w http.ResponseWriter, r *http.Request) {
				if asJSON {
					w.Header().Set("Content-Type", "application/json")
					_, _ = w.Write([]byte(`{"partialSuccess":{"rejectedSpans":"2","errorMessage":"too old"}}`))
					return
				}
				resp := &coltracepb.ExportTraceServiceResponse{PartialSuccess: &coltracepb.ExportTracePartialSuccess{RejectedSpans: 2, ErrorMessage: "too old"}}
				b, _ := proto.Marshal(resp)
				w.Header().Set("Content-Type", "application/x-protobuf")
				_, _ = w.Write(b)
			})
			cfg := testConfig(rc.url())
			if asJSON {
				cfg.Protocol = schema.ProtocolHTTPJSON
			}
			reg := newTestRegistry(t, RegistryOptions{})
			h, _ := reg.Acquire(cfg)
			h.Enqueue(testSpans(5))
			waitFor(t, 5*time.Second, "partial success counted", func() bool { return h.Stats().DroppedBy(DropRejected) == 2 })
			time.Sleep(200 * time.Millisecond)
			s := h.Stats()
			if len(rc.snapshot()) != 1 || s.Exported != 3 || s.Retries != 0 {
				t.Fatalf("requests %d, stats %+v: want 1 request, 3 exported, 2 rejected", len(rc.snapshot()), s)
			}
		})
	}
}

func TestOversizedSuccessResponseIsNotParsed(t *testing.T) {
	rc := newOTLPReceiver(t, func(n int, w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"partialSuccess":{"rejectedSpans":"1","errorMessage":"` + strings.Repeat("x", maxOTLPResponseBytes) + `"}}`))
	})
	cfg := testConfig(rc.url())
	reg := newTestRegistry(t, RegistryOptions{})
	h, _ := reg.Acquire(cfg)
	h.Enqueue(testSpans(2))
	waitFor(t, 5*time.Second, "export counted", func() bool { return h.Stats().Exported == 2 })
}

func TestExportErrorTypes(t *testing.T) {
	// The classification other HTTP backends reuse.
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	h := http.Header{}
	h.Set("Retry-After", "7")
	err := ClassifyHTTPStatus(503, h, "busy", now)
	var he *HTTPError
	if IsPermanent(err) || !errors.As(err, &he) || he.StatusCode != 503 || he.Message != "busy" {
		t.Fatalf("503: %v", err)
	}
	if d, ok := RetryDelay(err); !ok || d != 7*time.Second {
		t.Fatalf("503 delay %v %v", d, ok)
	}
	if err := ClassifyHTTPStatus(400, h, "", now); !IsPermanent(err) {
		t.Fatalf("400 must be permanent: %v", err)
	}
	if _, ok := RetryDelay(ClassifyHTTPStatus(502, http.Header{}, "", now)); ok {
		t.Fatal("no Retry-After: no server delay")
	}
	for in, want := range map[string]time.Duration{
		"0":                             0,
		"120":                           120 * time.Second,
		"99999999999":                   time.Hour,
		"Thu, 01 Jan 2026 00:00:30 GMT": 30 * time.Second,
		"Wed, 31 Dec 2025 00:00:00 GMT": time.Millisecond,
	} {
		if got, ok := ParseRetryAfter(in, now); !ok || got != want {
			t.Errorf("ParseRetryAfter(%q) = %v %v, want %v", in, got, ok, want)
		}
	}
	for _, in := range []string{"", "-1", "soon", "1.5"} {
		if _, ok := ParseRetryAfter(in, now); ok {
			t.Errorf("ParseRetryAfter(%q) accepted", in)
		}
	}
}

func TestFailureMessagesAreReadFromTheBody(t *testing.T) {
	if got := decodeStatusMessage([]byte(`{"code":3,"message":"bad span"}`), "application/json"); got != "bad span" {
		t.Errorf("json: %q", got)
	}
	if got := decodeStatusMessage([]byte{0x12, 0x03, 'b', 'a', 'd'}, "application/x-protobuf"); got != "bad" {
		t.Errorf("protobuf: %q", got)
	}
	if got := decodeStatusMessage([]byte(strings.Repeat("é", 1000)), "text/plain"); len(got) > maxErrorMessage+len("…") {
		t.Errorf("text not capped: %d bytes", len(got))
	}
	if got := redactURL("https://user:pw@host:4318/v1/traces?token=x"); got != "https://host:4318/v1/traces" {
		t.Errorf("redactURL: %q", got)
	}
}

func TestRequestsOverTheSizeLimitAreDroppedNotSent(t *testing.T) {
	rc := newOTLPReceiver(t, nil)
	cfg := testConfig(rc.url())
	exp, err := newOTLPHTTPExporter(cfg, Settings{Logger: discardLogger()})
	if err != nil {
		t.Fatal(err)
	}
	defer exp.Shutdown(context.Background())
	exp.(*otlpHTTPExporter).sender.maxBody = 1000
	err = exp.Export(context.Background(), *kongLikeBatch(50))
	if !IsPermanent(err) || !strings.Contains(err.Error(), "exceeds the limit") {
		t.Fatalf("err = %v, want a permanent size error", err)
	}
	if n := len(rc.snapshot()); n != 0 {
		t.Fatalf("%d requests sent", n)
	}
}

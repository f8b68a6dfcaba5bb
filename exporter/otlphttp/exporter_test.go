package otlphttp

import (
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/trace-exporter/trace-exporter/exporter/internal/exportertest"
	"github.com/trace-exporter/trace-exporter/exporter/internal/otlpenc"

	"google.golang.org/protobuf/proto"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"

	"github.com/trace-exporter/trace-exporter/exporter"
	"github.com/trace-exporter/trace-exporter/schema"
)

func TestBatchSizeTriggersExport(t *testing.T) {
	rc := exportertest.NewRecorder(t, nil, nil)
	cfg := exportertest.Config(rc.TracesURL())
	cfg.Queue.MaxBatchSize = 10
	cfg.Queue.MaxCoalescingDelay = 30 // only the size can trigger within the test
	reg := exportertest.NewRegistry(t, exporter.RegistryOptions{})
	h, err := reg.Acquire(cfg)
	if err != nil {
		t.Fatal(err)
	}
	for range 25 {
		if !h.Enqueue(exportertest.Spans(1)) {
			t.Fatal("enqueue refused")
		}
	}
	reqs := rc.WaitRequests(2, 5*time.Second)
	if reqs[0].Spans != 10 || reqs[1].Spans != 10 {
		t.Fatalf("batches of %d and %d spans, want 10 and 10", reqs[0].Spans, reqs[1].Spans)
	}
	time.Sleep(200 * time.Millisecond)
	if n := len(rc.Received()); n != 2 {
		t.Fatalf("%d requests before the delay, want 2 (5 spans must wait)", n)
	}
	if s := h.Stats(); s.QueueSpans != 5 || s.Exported != 20 {
		t.Fatalf("stats %+v: want 5 queued, 20 exported", s)
	}
}

func TestCoalescingDelayTriggersExport(t *testing.T) {
	rc := exportertest.NewRecorder(t, nil, nil)
	cfg := exportertest.Config(rc.TracesURL())
	cfg.Queue.MaxBatchSize = 1000
	cfg.Queue.MaxCoalescingDelay = 0.3
	reg := exportertest.NewRegistry(t, exporter.RegistryOptions{})
	h, _ := reg.Acquire(cfg)
	start := time.Now()
	h.Enqueue(exportertest.Spans(2))
	h.Enqueue(exportertest.Spans(1))
	reqs := rc.WaitRequests(1, 5*time.Second)
	waited := reqs[0].At.Sub(start)
	if reqs[0].Spans != 3 {
		t.Fatalf("batch of %d spans, want 3", reqs[0].Spans)
	}
	if waited < 300*time.Millisecond || waited > 3*time.Second {
		t.Fatalf("sent after %s, want about max_coalescing_delay (300ms)", waited)
	}
}

func TestExportedSpansArriveIntactWithResourceAndHeaders(t *testing.T) {
	for _, protocol := range []schema.Protocol{schema.ProtocolHTTPProtobuf, schema.ProtocolHTTPJSON} {
		for _, comp := range []schema.Compression{schema.CompressionNone, schema.CompressionGzip} {
			t.Run(string(protocol)+"/"+string(comp), func(t *testing.T) {
				rc := exportertest.NewRecorder(t, nil, nil)
				cfg := exportertest.Config(rc.TracesURL())
				cfg.Protocol = protocol
				cfg.Compression = comp
				cfg.Headers = map[string]string{"Authorization": "Bearer s3cret", "X-Tenant": "t1"}
				cfg.ResourceAttributes = map[string]string{"deployment.environment": "test"}
				reg := exportertest.NewRegistry(t, exporter.RegistryOptions{})
				h, err := reg.Acquire(cfg)
				if err != nil {
					t.Fatal(err)
				}
				batch := exportertest.RichBatch()
				h.Enqueue(batch.Spans)
				req := rc.WaitRequests(1, 5*time.Second)[0]

				wantCT := map[schema.Protocol]string{schema.ProtocolHTTPProtobuf: "application/x-protobuf", schema.ProtocolHTTPJSON: "application/json"}[protocol]
				if got := req.Header.Get("Content-Type"); got != wantCT {
					t.Errorf("Content-Type %q, want %q", got, wantCT)
				}
				wantCE := map[schema.Compression]string{schema.CompressionGzip: "gzip"}[comp]
				if got := req.Header.Get("Content-Encoding"); got != wantCE {
					t.Errorf("Content-Encoding %q, want %q", got, wantCE)
				}
				if req.Header.Get("Authorization") != "Bearer s3cret" || req.Header.Get("X-Tenant") != "t1" {
					t.Errorf("config headers missing: %v", req.Header)
				}
				if !strings.HasPrefix(req.Header.Get("User-Agent"), "trace-exporter/") {
					t.Errorf("User-Agent %q", req.Header.Get("User-Agent"))
				}
				want := exportertest.ToOTLP(&exporter.Batch{Resource: exporter.NewResource(cfg), Scope: exporter.NewScope(), Spans: batch.Spans})
				if !proto.Equal(req.Export, want) {
					t.Fatalf("received\n %v\nwant\n %v", req.Export, want)
				}
			})
		}
	}
}

func TestGzipShrinksTheBody(t *testing.T) {
	rc := exportertest.NewRecorder(t, nil, nil)
	cfg := exportertest.Config(rc.TracesURL())
	cfg.Compression = schema.CompressionGzip
	reg := exportertest.NewRegistry(t, exporter.RegistryOptions{})
	h, _ := reg.Acquire(cfg)
	h.Enqueue(exportertest.KongLikeBatch(200).Spans)
	req := rc.WaitRequests(1, 5*time.Second)[0]
	plain := len(otlpenc.AppendTraces(nil, &exporter.Batch{Resource: exporter.NewResource(cfg), Scope: exporter.NewScope(), Spans: exportertest.KongLikeBatch(200).Spans}))
	if req.Spans != 200 || req.RawSize*3 > plain {
		t.Fatalf("gzip body %d bytes for %d plain (%d spans): want at least 3x smaller", req.RawSize, plain, req.Spans)
	}
}

func TestRetryAfterOn503IsHonoured(t *testing.T) {
	rc := exportertest.NewRecorder(t, nil, func(n int, w http.ResponseWriter, r *http.Request) {
		if n == 0 {
			w.Header().Set("Retry-After", "1")
			http.Error(w, "overloaded", http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusOK)
	})
	cfg := exportertest.Config(rc.TracesURL())
	reg := exportertest.NewRegistry(t, exporter.RegistryOptions{})
	h, _ := reg.Acquire(cfg)
	h.Enqueue(exportertest.Spans(3))
	reqs := rc.WaitRequests(2, 5*time.Second)
	gap := reqs[1].At.Sub(reqs[0].At)
	// The backoff alone would retry after ~10ms: the 1 s must come from the header.
	if gap < time.Second || gap > 3*time.Second {
		t.Fatalf("retried after %s, want the 1s Retry-After", gap)
	}
	exportertest.WaitFor(t, 2*time.Second, "export counted", func() bool { return h.Stats().Exported == 3 })
	if s := h.Stats(); s.Retries != 1 || s.DroppedTotal() != 0 {
		t.Fatalf("stats %+v: want 1 retry, no drop", s)
	}
}

func TestRetryAfterHTTPDateOn429(t *testing.T) {
	rc := exportertest.NewRecorder(t, nil, func(n int, w http.ResponseWriter, r *http.Request) {
		if n == 0 {
			// HTTP dates have 1 s resolution: 2 s ahead means at least 1 s.
			w.Header().Set("Retry-After", time.Now().Add(2*time.Second).UTC().Format(http.TimeFormat))
			w.WriteHeader(http.StatusTooManyRequests)
			return
		}
		w.WriteHeader(http.StatusOK)
	})
	reg := exportertest.NewRegistry(t, exporter.RegistryOptions{})
	h, _ := reg.Acquire(exportertest.Config(rc.TracesURL()))
	h.Enqueue(exportertest.Spans(1))
	reqs := rc.WaitRequests(2, 5*time.Second)
	if gap := reqs[1].At.Sub(reqs[0].At); gap < time.Second || gap > 4*time.Second {
		t.Fatalf("retried after %s, want the HTTP-date Retry-After (1-2 s)", gap)
	}
	exportertest.WaitFor(t, 2*time.Second, "export counted", func() bool { return h.Stats().Exported == 1 })
}

func TestRetryableStatusesAreRetried(t *testing.T) {
	for _, code := range []int{429, 502, 503, 504} {
		t.Run(http.StatusText(code), func(t *testing.T) {
			rc := exportertest.NewRecorder(t, nil, func(n int, w http.ResponseWriter, r *http.Request) {
				if n < 2 {
					w.WriteHeader(code)
					return
				}
				w.WriteHeader(http.StatusOK)
			})
			reg := exportertest.NewRegistry(t, exporter.RegistryOptions{})
			h, _ := reg.Acquire(exportertest.Config(rc.TracesURL()))
			h.Enqueue(exportertest.Spans(2))
			rc.WaitRequests(3, 5*time.Second)
			exportertest.WaitFor(t, 2*time.Second, "export counted", func() bool { return h.Stats().Exported == 2 })
			if s := h.Stats(); s.Retries != 2 || s.DroppedTotal() != 0 {
				t.Fatalf("stats %+v: want 2 retries, no drop", s)
			}
		})
	}
}

func TestPermanentStatusesAreNotRetried(t *testing.T) {
	for _, code := range []int{400, 401, 403, 404, 413, 500, 501} {
		t.Run(http.StatusText(code), func(t *testing.T) {
			rc := exportertest.NewRecorder(t, nil, func(n int, w http.ResponseWriter, r *http.Request) {
				http.Error(w, "no", code)
			})
			reg := exportertest.NewRegistry(t, exporter.RegistryOptions{})
			h, _ := reg.Acquire(exportertest.Config(rc.TracesURL()))
			h.Enqueue(exportertest.Spans(4))
			rc.WaitRequests(1, 5*time.Second)
			exportertest.WaitFor(t, 2*time.Second, "drop counted", func() bool { return h.Stats().DroppedBy(exporter.DropPermanent) == 4 })
			// Well past several backoff periods (10-100 ms): still one request.
			time.Sleep(300 * time.Millisecond)
			if n := len(rc.Received()); n != 1 {
				t.Fatalf("%d requests for a %d answer, want exactly 1", n, code)
			}
			s := h.Stats()
			if s.Retries != 0 || s.FailedBatches != 1 || s.Exported != 0 {
				t.Fatalf("stats %+v", s)
			}
			exportertest.CheckAccounting(t, s)
		})
	}
}

func TestTimeoutIsRetriedThenGivenUp(t *testing.T) {
	release := make(chan struct{})
	rc := exportertest.NewRecorder(t, nil, func(n int, w http.ResponseWriter, r *http.Request) {
		select { // hang past read_timeout
		case <-release:
		case <-time.After(5 * time.Second):
		}
	})
	defer close(release)
	cfg := exportertest.Config(rc.TracesURL())
	cfg.ReadTimeout = 100
	cfg.Queue.MaxRetryTime = 1
	reg := exportertest.NewRegistry(t, exporter.RegistryOptions{})
	h, _ := reg.Acquire(cfg)
	start := time.Now()
	h.Enqueue(exportertest.Spans(3))
	exportertest.WaitFor(t, 5*time.Second, "loss counted", func() bool { return h.Stats().DroppedBy(exporter.DropRetryExhausted) == 3 })
	took := time.Since(start)
	if took < 900*time.Millisecond || took > 4*time.Second {
		t.Fatalf("gave up after %s, want about max_retry_time (1s)", took)
	}
	s := h.Stats()
	if n := len(rc.Received()); n < 3 || s.Retries < 2 {
		t.Fatalf("%d attempts, %d retries: a timeout must be retried", n, s.Retries)
	}
	if s.FailedBatches != 1 || s.Exported != 0 {
		t.Fatalf("stats %+v", s)
	}
	exportertest.CheckAccounting(t, s)
}

func TestConnectionRefusedIsRetriedThenGivenUp(t *testing.T) {
	rc := exportertest.NewRecorder(t, nil, nil)
	url := rc.TracesURL()
	rc.Srv.Close() // nothing listens there any more
	cfg := exportertest.Config(url)
	cfg.Queue.MaxRetryTime = 0.5
	reg := exportertest.NewRegistry(t, exporter.RegistryOptions{})
	h, _ := reg.Acquire(cfg)
	h.Enqueue(exportertest.Spans(2))
	exportertest.WaitFor(t, 5*time.Second, "loss counted", func() bool { return h.Stats().DroppedBy(exporter.DropRetryExhausted) == 2 })
	if s := h.Stats(); s.Retries < 2 {
		t.Fatalf("stats %+v: connection errors must be retried", s)
	}
}

func TestPartialSuccessIsCountedNotRetried(t *testing.T) {
	for _, asJSON := range []bool{false, true} {
		t.Run(map[bool]string{false: "protobuf", true: "json"}[asJSON], func(t *testing.T) {
			rc := exportertest.NewRecorder(t, nil, func(n int, w http.ResponseWriter, r *http.Request) {
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
			cfg := exportertest.Config(rc.TracesURL())
			if asJSON {
				cfg.Protocol = schema.ProtocolHTTPJSON
			}
			reg := exportertest.NewRegistry(t, exporter.RegistryOptions{})
			h, _ := reg.Acquire(cfg)
			h.Enqueue(exportertest.Spans(5))
			exportertest.WaitFor(t, 5*time.Second, "partial success counted", func() bool { return h.Stats().DroppedBy(exporter.DropRejected) == 2 })
			time.Sleep(200 * time.Millisecond)
			s := h.Stats()
			if len(rc.Received()) != 1 || s.Exported != 3 || s.Retries != 0 {
				t.Fatalf("requests %d, stats %+v: want 1 request, 3 exported, 2 rejected", len(rc.Received()), s)
			}
		})
	}
}

func TestOversizedSuccessResponseIsNotParsed(t *testing.T) {
	rc := exportertest.NewRecorder(t, nil, func(n int, w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"partialSuccess":{"rejectedSpans":"1","errorMessage":"` + strings.Repeat("x", exporter.MaxResponseBytes) + `"}}`))
	})
	cfg := exportertest.Config(rc.TracesURL())
	reg := exportertest.NewRegistry(t, exporter.RegistryOptions{})
	h, _ := reg.Acquire(cfg)
	h.Enqueue(exportertest.Spans(2))
	exportertest.WaitFor(t, 5*time.Second, "export counted", func() bool { return h.Stats().Exported == 2 })
}

func TestExportErrorTypes(t *testing.T) {
	// The classification other HTTP backends reuse.
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	h := http.Header{}
	h.Set("Retry-After", "7")
	err := exporter.ClassifyHTTPStatus(503, h, "busy", now)
	var he *exporter.HTTPError
	if exporter.IsPermanent(err) || !errors.As(err, &he) || he.StatusCode != 503 || he.Message != "busy" {
		t.Fatalf("503: %v", err)
	}
	if d, ok := exporter.RetryDelay(err); !ok || d != 7*time.Second {
		t.Fatalf("503 delay %v %v", d, ok)
	}
	if err := exporter.ClassifyHTTPStatus(400, h, "", now); !exporter.IsPermanent(err) {
		t.Fatalf("400 must be permanent: %v", err)
	}
	if _, ok := exporter.RetryDelay(exporter.ClassifyHTTPStatus(502, http.Header{}, "", now)); ok {
		t.Fatal("no Retry-After: no server delay")
	}
	for in, want := range map[string]time.Duration{
		"0":                             0,
		"120":                           120 * time.Second,
		"99999999999":                   time.Hour,
		"Thu, 01 Jan 2026 00:00:30 GMT": 30 * time.Second,
		"Wed, 31 Dec 2025 00:00:00 GMT": time.Millisecond,
	} {
		if got, ok := exporter.ParseRetryAfter(in, now); !ok || got != want {
			t.Errorf("ParseRetryAfter(%q) = %v %v, want %v", in, got, ok, want)
		}
	}
	for _, in := range []string{"", "-1", "soon", "1.5"} {
		if _, ok := exporter.ParseRetryAfter(in, now); ok {
			t.Errorf("ParseRetryAfter(%q) accepted", in)
		}
	}
}

package sampling

import (
	"net/http"
	"net/http/httptest"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// strategyServer answers the sampling API with whatever body holds (an
// empty body answers 503), counting requests per service.
type strategyServer struct {
	*httptest.Server
	mu    sync.Mutex
	body  string
	polls map[string]int
}

func startStrategyServer(t *testing.T, body string) *strategyServer {
	s := &strategyServer{body: body, polls: map[string]int{}}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.polls[r.URL.Query().Get("service")]++
		if s.body == "" {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(s.body))
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *strategyServer) set(body string) {
	s.mu.Lock()
	s.body = body
	s.mu.Unlock()
}

func (s *strategyServer) count(service string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.polls[service]
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestRemoteFirstAnswerThenLastGoodOnFailure(t *testing.T) {
	srv := startStrategyServer(t, "")
	r, err := testProcess.AcquireRemote(srv.URL+"/sampling", "svc-first", 20*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "a failed poll", func() bool { return srv.count("svc-first") >= 2 })
	if _, ok := r.Strategy(); ok {
		t.Fatal("a strategy is in force before any good answer")
	}
	srv.set(`{"strategyType":0,"probabilisticSampling":{"samplingRate":0.25}}`)
	waitFor(t, "the first strategy", func() bool { _, ok := r.Strategy(); return ok })
	srv.set("")
	n := srv.count("svc-first")
	waitFor(t, "more failed polls", func() bool { return srv.count("svc-first") >= n+3 })
	if s, ok := r.Strategy(); !ok || s.Kind != Probabilistic || s.Probability != 0.25 {
		t.Fatalf("after failures: %+v %v, want the last good strategy", s, ok)
	}
	srv.set(`{"strategyType":0,"probabilisticSampling":{"samplingRate":2}}`) // invalid: refused whole
	n = srv.count("svc-first")
	waitFor(t, "polls of a bad answer", func() bool { return srv.count("svc-first") >= n+3 })
	if s, _ := r.Strategy(); s.Probability != 0.25 {
		t.Fatalf("a bad answer replaced the strategy: %+v", s)
	}
	srv.set(`{"strategyType":1,"rateLimitingSampling":{"maxTracesPerSecond":3}}`)
	waitFor(t, "the new strategy", func() bool { s, _ := r.Strategy(); return s.Kind == RateLimiting })
	runtime.KeepAlive(r)
}

// Instances asking for the same endpoint and service share one poller (one
// request per interval, not one per instance); it stops once no instance
// holds it.
func TestRemoteSharedAndReleased(t *testing.T) {
	srv := startStrategyServer(t, `{"strategyType":0,"probabilisticSampling":{"samplingRate":0.5}}`)
	a, err := testProcess.AcquireRemote(srv.URL, "svc-shared", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := testProcess.AcquireRemote(srv.URL, "svc-shared", time.Hour)
	other, _ := testProcess.AcquireRemote(srv.URL, "svc-other", time.Hour)
	if a != b || a == other {
		t.Fatal("same endpoint and service must share one poller, another service must not")
	}
	waitFor(t, "first polls", func() bool { return srv.count("svc-shared") == 1 && srv.count("svc-other") == 1 })
	// A shorter interval asked by a later instance applies to the shared poller.
	c, _ := testProcess.AcquireRemote(srv.URL, "svc-shared", 10*time.Millisecond)
	if c != a {
		t.Fatal("a shorter interval must not start a second poller")
	}
	waitFor(t, "faster polls", func() bool { return srv.count("svc-shared") >= 5 })
	if srv.count("svc-other") != 1 {
		t.Errorf("svc-other polled %d times within its hour", srv.count("svc-other"))
	}
	runtime.KeepAlive(other)

	var stopped atomic.Bool
	st := a.st
	go func() { <-st.done; stopped.Store(true) }()
	a, b, c = nil, nil, nil
	waitFor(t, "the unused poller to stop", func() bool { runtime.GC(); return stopped.Load() })
	n := srv.count("svc-shared")
	time.Sleep(50 * time.Millisecond)
	if srv.count("svc-shared") > n+1 {
		t.Errorf("a stopped poller kept polling: %d → %d", n, srv.count("svc-shared"))
	}
	d, _ := testProcess.AcquireRemote(srv.URL, "svc-shared", time.Hour)
	if d.st == st {
		t.Error("a released poller was handed out again")
	}
	runtime.KeepAlive(d)
}

func TestStrategyURL(t *testing.T) {
	for ep, want := range map[string]string{
		"http://jaeger:5778/sampling":       "http://jaeger:5778/sampling?service=kong+edge",
		"https://j.example.com/?tenant=a&x": "https://j.example.com/?service=kong+edge&tenant=a&x=",
	} {
		got, err := strategyURL(ep, "kong edge")
		if err != nil || got != want {
			t.Errorf("%s: %q %v, want %q", ep, got, err, want)
		}
	}
	if _, err := strategyURL("jaeger:5778", "x"); err == nil {
		t.Error("a URL without scheme was accepted")
	}
}

func TestLowerBoundsPerOperation(t *testing.T) {
	var lb lowerBounds
	if lb.limiter("x") != nil {
		t.Fatal("a limiter before any strategy")
	}
	lb.reset(0)
	if lb.limiter("x") != nil {
		t.Fatal("a limiter without a lower bound")
	}
	lb.reset(2)
	a := lb.limiter("a")
	if a == nil || lb.limiter("a") != a || lb.limiter("b") == a {
		t.Fatal("one limiter per operation, kept between calls")
	}
	lb.reset(2)
	if lb.limiter("a") != a {
		t.Error("the same lower bound again must keep the buckets")
	}
	lb.reset(3)
	if l := lb.limiter("a"); l == a || l.Rate() != 3 {
		t.Error("a new lower bound must give new buckets")
	}
	for i := range maxOperations + 10 {
		lb.limiter(string(rune('A'+i%26)) + time.Duration(i).String())
	}
	if n := len(*lb.m.Load()); n != maxOperations {
		t.Errorf("%d operations with a bucket, want at most %d", n, maxOperations)
	}
}

package kongsim

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/trace-exporter/trace-exporter/test/testutil"
)

var (
	buildMu   sync.Mutex
	buildDir  string
	buildErrs = map[string]error{}
)

func TestMain(m *testing.M) {
	code := m.Run()
	if buildDir != "" {
		os.RemoveAll(buildDir)
	}
	os.Exit(code)
}

// pluginBinary builds testdata/<dir> once per test run into an executable
// named name, which go-pdk makes the plugin name.
func pluginBinary(t testing.TB, dir, name string) string {
	t.Helper()
	buildMu.Lock()
	defer buildMu.Unlock()
	if buildDir == "" {
		var err error
		if buildDir, err = os.MkdirTemp("", "kongsim-bin-"); err != nil {
			t.Fatal(err)
		}
	}
	out := filepath.Join(buildDir, name)
	err, built := buildErrs[name]
	if !built {
		_, file, _, _ := runtime.Caller(0)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		err = testutil.Build(ctx, filepath.Join(filepath.Dir(file), "testdata", dir), ".", out)
		buildErrs[name] = err
	}
	if err != nil {
		t.Fatalf("building %s: %v", dir, err)
	}
	return out
}

// probeBinary is testdata/probe, the plugin "kongsim-probe".
func probeBinary(t testing.TB) string { return pluginBinary(t, "probe", "kongsim-probe") }

// testLogger discards the emulator's log unless -v is given.
func testLogger(t testing.TB) *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// upstream is a loopback HTTP server that records what it received.
type upstream struct {
	*httptest.Server
	mu   sync.Mutex
	reqs []*http.Request
	hits int
}

func newUpstream(t testing.TB, status int) *upstream {
	u := &upstream{}
	u.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u.mu.Lock()
		u.reqs = append(u.reqs, r.Clone(context.Background()))
		u.hits++
		u.mu.Unlock()
		w.Header().Set("Content-Type", "text/plain")
		w.Header().Set("X-Upstream", "yes")
		w.WriteHeader(status)
		io.WriteString(w, "upstream says hi\n")
	}))
	t.Cleanup(u.Close)
	return u
}

func (u *upstream) last(t testing.TB) *http.Request {
	t.Helper()
	u.mu.Lock()
	defer u.mu.Unlock()
	if len(u.reqs) == 0 {
		t.Fatal("upstream received no request")
	}
	return u.reqs[len(u.reqs)-1]
}

func (u *upstream) count() int {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.hits
}

// startGateway starts a gateway with the probe plugin and a declarative
// config given as YAML text.
func startGateway(t testing.TB, version, yml string) *Gateway {
	t.Helper()
	return startGatewayWith(t, probeBinary(t), version, yml)
}

func startGatewayWith(t testing.TB, binary, version, yml string) *Gateway {
	t.Helper()
	decl, err := ParseDeclarative([]byte(yml))
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	gw, err := StartGateway(ctx, GatewayOptions{
		Options: Options{Binary: binary, KongVersion: version, Logger: testLogger(t)},
		Config:  decl,
	})
	if err != nil {
		t.Fatalf("StartGateway: %v", err)
	}
	t.Cleanup(func() { gw.Close() })
	return gw
}

// do sends a request through the gateway and returns response and body.
func do(t testing.TB, gw *Gateway, method, path string, headers map[string]string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, gw.URL()+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	client := &http.Client{Timeout: 20 * time.Second}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp, string(body)
}

// recordOf waits for the request's log phase and returns its record.
func recordOf(t testing.TB, gw *Gateway, resp *http.Response) *RequestRecord {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := gw.WaitIdle(ctx); err != nil {
		t.Fatalf("WaitIdle: %v", err)
	}
	id := resp.Header.Get("X-Kong-Request-Id")
	if id == "" {
		recs := gw.Records()
		if len(recs) == 0 {
			t.Fatal("no records")
		}
		return recs[len(recs)-1]
	}
	rec := gw.Record(id)
	if rec == nil {
		t.Fatalf("no record for request %s", id)
	}
	return rec
}

func serviceYAML(upstreamURL, mode string) string {
	return `_format_version: "3.0"
services:
- name: echo
  url: ` + upstreamURL + `/base
  routes:
  - name: echo-route
    paths: ["/echo"]
    plugins:
    - name: kongsim-probe
      config: {mode: ` + mode + `, tag: "a/b"}
`
}

func equalStrings(a, b []string) bool {
	return strings.Join(a, "\x00") == strings.Join(b, "\x00") && len(a) == len(b)
}

func mustRequest(method, url string, headers map[string]string) *http.Request {
	r, err := http.NewRequest(method, url, nil)
	if err != nil {
		panic(err)
	}
	r.RequestURI = r.URL.RequestURI()
	r.RemoteAddr = "127.0.0.1:40000"
	for k, v := range headers {
		r.Header.Set(k, v)
	}
	return r
}

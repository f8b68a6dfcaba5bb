package bench

import (
	"flag"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/trace-exporter/trace-exporter/test/kongsim"
)

// The benchmark payloads are kong.log.serialize texts as the Kong emulator
// encodes them for Kong 3.9 (cjson: "\/" escapes, float *_ns values), with
// the access phase's hand-off under "trace_exporter", as the plugin reads
// them in production. Times and ids are fixed so every run parses the same
// bytes.
type payload struct {
	name string
	text string
}

// Ids in the hand-offs: a sampled request whose caller sent a traceparent.
const (
	benchTraceID  = "4bf92f3577b34da6a3ce929d0e0e4736"
	benchRootID   = "00f067aa0ba902b7"
	benchUpID     = "b7ad6b7169203331"
	benchParentID = "53995c3f42cd8ad8"
)

var benchStart = time.UnixMilli(1726783839538)

func payloads(tb testing.TB) []payload {
	return []payload{
		{"small-get", serializeText(tb, smallGet())},
		{"many-headers", serializeText(tb, manyHeaders())},
		{"retried", serializeText(tb, retried())},
	}
}

func serializeText(tb testing.TB, x *kongsim.Exchange) string {
	tb.Helper()
	t := x.Serialize(kongsim.DefaultVersion)
	t["trace_exporter"] = fmt.Sprintf("1;%s;%s;%s;%s;01;%d;", benchTraceID, benchRootID, benchUpID, benchParentID, benchStart.UnixMilli())
	b, err := kongsim.EncodeLuaJSON(t, 16)
	if err != nil {
		tb.Fatal(err)
	}
	return string(b)
}

var (
	echoService = &kongsim.Service{ID: "5f6ea2d4-0c9e-5b3a-9a6b-1e2f3a4b5c6d", Name: "echo", Protocol: "http",
		Host: "echo.internal", Port: 8080, Retries: 5, ConnectTimeout: 60000, WriteTimeout: 60000, ReadTimeout: 60000,
		CreatedAt: 1726780000}
	echoRoute = &kongsim.Route{ID: "9a1c7e34-5d2b-5f6a-8c9d-0e1f2a3b4c5d", Name: "echo-route", Paths: []string{"/echo"},
		Protocols: []string{"http", "https"}, StripPath: true, Service: echoService, CreatedAt: 1726780000}
)

// exchange is a proxied request as the emulator's gateway leaves it at the
// log phase: one try, Kong's latencies in ngx.ctx.
func exchange(method, target string, headers map[string]string, tries int) *kongsim.Exchange {
	r, err := http.NewRequest(method, "http://gateway.example:8000"+target, nil)
	if err != nil {
		panic(err)
	}
	r.RequestURI = target
	r.RemoteAddr = "10.1.2.3:51234"
	for k, v := range headers {
		r.Header.Add(k, v)
	}
	x := kongsim.NewExchange(r, nil, 8000)
	x.ID = "2f6946328ffc4946b8c9120704a4a155"
	x.Start = benchStart
	x.Route, x.Service = echoRoute, echoService
	x.UpstreamPath = strings.TrimPrefix(r.URL.Path, "/echo")
	if x.UpstreamPath == "" {
		x.UpstreamPath = "/"
	}
	x.Status, x.ResponseSize, x.Proxied = 200, 612, true
	x.ResponseHeaders.Set("Content-Type", "application/json")
	x.ResponseHeaders.Set("Content-Length", "512")
	x.ResponseHeaders.Set("Date", "Thu, 19 Sep 2024 22:10:39 GMT")
	x.ResponseHeaders.Set("Via", "kong/3.9.0")
	x.ResponseHeaders.Set("X-Kong-Upstream-Latency", "3")
	x.ResponseHeaders.Set("X-Kong-Proxy-Latency", "1")
	x.ResponseHeaders.Set("X-Kong-Request-Id", x.ID)
	start := float64(benchStart.UnixMilli())
	x.Ctx["KONG_PROCESSING_START"] = start
	x.Ctx["KONG_PROXY_LATENCY"] = float64(1)
	x.Ctx["KONG_WAITING_TIME"] = float64(3)
	x.Ctx["KONG_RECEIVE_TIME"] = float64(0)
	x.Ctx["KONG_LOG_START"] = start + 5
	x.UpstreamStatus = ""
	for i := range tries {
		t := kongsim.Try{IP: "10.0.0.11", Port: 8080, BalancerStart: benchStart.Add(time.Duration(1000+i*1500) * time.Microsecond),
			BalancerLatencyNS: 21000}
		if i < tries-1 {
			t.IP = fmt.Sprintf("10.0.0.%d", 12+i)
			t.State, t.Code = "failed", 502
			x.UpstreamStatus += "502, "
		}
		x.Tries = append(x.Tries, t)
	}
	x.UpstreamStatus += "200"
	return x
}

// smallGet: a typical API call (about 1.5 KB of serialize text).
func smallGet() *kongsim.Exchange {
	return exchange("GET", "/echo/items?id=42&page=2", map[string]string{
		"User-Agent":  "curl/8.5.0",
		"Accept":      "*/*",
		"Traceparent": "00-" + benchTraceID + "-" + benchParentID + "-01",
	}, 1)
}

// manyHeaders: a browser-like request with 60 request headers (about 4 KB).
func manyHeaders() *kongsim.Exchange {
	h := map[string]string{
		"User-Agent":      "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/128.0.0.0 Safari/537.36",
		"Accept":          "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8",
		"Accept-Language": "en-US,en;q=0.9,de;q=0.8",
		"Accept-Encoding": "gzip, deflate, br, zstd",
		"Cache-Control":   "no-cache",
		"Pragma":          "no-cache",
		"Cookie":          "session=3f2a9c1b7e6d5a4f; theme=dark; _ga=GA1.1.123456789.1726780000",
		"Traceparent":     "00-" + benchTraceID + "-" + benchParentID + "-01",
		"Tracestate":      "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7",
		"X-Forwarded-For": "203.0.113.7, 198.51.100.23",
		"Sec-Fetch-Mode":  "navigate",
		"Sec-Fetch-Site":  "same-origin",
	}
	for i := len(h) + 1; i < 60; i++ { // with Host, 60 in all
		h[fmt.Sprintf("X-Custom-Header-%02d", i)] = fmt.Sprintf("value-%02d-%s", i, strings.Repeat("v", 20))
	}
	return exchange("GET", "/echo/dashboard/widgets?tab=overview&sort=desc&api_key=s3cr3t", h, 1)
}

// retried: a POST whose first two tries were refused (502), then served.
func retried() *kongsim.Exchange {
	return exchange("POST", "/echo/orders", map[string]string{
		"User-Agent":   "orders-client/2.3",
		"Content-Type": "application/json",
		"Traceparent":  "00-" + benchTraceID + "-" + benchParentID + "-01",
	}, 3)
}

func TestPayloadsAreKongShaped(t *testing.T) {
	for _, p := range payloads(t) {
		t.Logf("%s: %d bytes", p.name, len(p.text))
		if !strings.Contains(p.text, `\/echo`) || !strings.Contains(p.text, `"trace_exporter":"1;`) {
			t.Errorf("%s: not a cjson serialize text with a hand-off: %.200s", p.name, p.text)
		}
	}
}

var updateFixtures = flag.Bool("update", false, "rewrite plugin/testdata/serialize/bench-*.json from the emulator")

// The payloads are also fixtures of package plugin (its parser benchmarks
// and differential tests read them): they must stay what the emulator
// encodes. go test ./test/bench -run TestBenchFixtures -update rewrites them.
func TestBenchFixtures(t *testing.T) {
	for _, p := range payloads(t) {
		path := filepath.Join("..", "..", "plugin", "testdata", "serialize", "bench-"+p.name+".json")
		if *updateFixtures {
			if err := os.WriteFile(path, []byte(p.text), 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if string(b) != p.text {
			t.Errorf("%s differs from the emulator's payload: run go test ./test/bench -run TestBenchFixtures -update", path)
		}
	}
}

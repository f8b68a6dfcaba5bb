package e2e

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/trace-exporter/trace-exporter/plugin/sampling"
	"github.com/trace-exporter/trace-exporter/test/harness"
	"github.com/trace-exporter/trace-exporter/test/jaegertest"
	"github.com/trace-exporter/trace-exporter/test/kongsim"
)

// samplingJaeger is a Jaeger v2 with its remote_sampling extension: file
// strategies (reloaded every 100 ms) or adaptive ones, served on their own
// loopback port, besides the usual OTLP receivers and query API.
type samplingJaeger struct {
	*jaegertest.Jaeger
	SamplingURL string // the sampling endpoint: GET <SamplingURL>?service=S
	strategies  string // the strategies file (file mode)
}

// The config is tools/jaeger/config.yaml's (loopback only, ports from the
// environment jaegertest sets) plus the remote_sampling extension; adaptive
// mode adds the adaptive_sampling processor and computes probabilities
// every second from the last second's throughput.
const samplingJaegerConfig = `
service:
  extensions: [jaeger_storage, jaeger_query, healthcheckv2, remote_sampling]
  pipelines:
    traces:
      receivers: [otlp]
      processors: [%s]
      exporters: [jaeger_storage_exporter]
  telemetry:
    resource: {service.name: jaeger}
    metrics: {level: none}
    logs: {level: warn}
extensions:
  healthcheckv2:
    use_v2: true
    http: {endpoint: "127.0.0.1:${env:JAEGER_HEALTH_PORT}"}
  jaeger_storage:
    backends:
      mem:
        memory: {max_traces: 100000}
  jaeger_query:
    enable_tracing: false
    storage: {traces: mem}
    http: {endpoint: "127.0.0.1:${env:JAEGER_QUERY_HTTP_PORT}"}
    grpc: {endpoint: "127.0.0.1:${env:JAEGER_QUERY_GRPC_PORT}"}
  remote_sampling:
%s
    http: {endpoint: "127.0.0.1:%d"}
receivers:
  otlp:
    protocols:
      grpc: {endpoint: "127.0.0.1:${env:JAEGER_OTLP_GRPC_PORT}"}
      http: {endpoint: "127.0.0.1:${env:JAEGER_OTLP_HTTP_PORT}"}
processors:
  batch: {timeout: 20ms}
%s
exporters:
  jaeger_storage_exporter: {trace_storage: mem}
`

// startSamplingJaeger starts a Jaeger serving strategies (the file's JSON,
// Jaeger's format) or, with strategies "", adaptive strategies.
func startSamplingJaeger(t *testing.T, strategies string) *samplingJaeger {
	t.Helper()
	dir := t.TempDir()
	port := freePort(t)
	sj := &samplingJaeger{SamplingURL: "http://127.0.0.1:" + strconv.Itoa(port) + "/sampling"}
	var provider, processors, processorConfig string
	if strategies != "" {
		sj.strategies = filepath.Join(dir, "strategies.json")
		if err := os.WriteFile(sj.strategies, []byte(strategies), 0o644); err != nil {
			t.Fatal(err)
		}
		provider = fmt.Sprintf("    file: {path: %q, reload_interval: 100ms}", sj.strategies)
		processors = "batch"
	} else {
		provider = `    adaptive:
      sampling_store: mem
      initial_sampling_probability: 0.00001
      min_samples_per_second: 2
      target_samples_per_second: 5
      calculation_interval: 1s
      calculation_delay: 0s
      aggregation_buckets: 3
      calculation_buckets: 1
      delta_tolerance: 0.1
      leader_lease_refresh_interval: 100ms
      follower_lease_refresh_interval: 100ms`
		processors = "adaptive_sampling, batch"
		processorConfig = "  adaptive_sampling: {}"
	}
	cfg := filepath.Join(dir, "jaeger.yaml")
	if err := os.WriteFile(cfg, []byte(fmt.Sprintf(samplingJaegerConfig, processors, provider, port, processorConfig)), 0o644); err != nil {
		t.Fatal(err)
	}
	sj.Jaeger = jaegertest.StartOptions(t, jaegertest.Options{Config: cfg})
	return sj
}

// setStrategies rewrites the strategies file; Jaeger reloads it within
// 100 ms.
func (sj *samplingJaeger) setStrategies(t *testing.T, strategies string) {
	t.Helper()
	if err := os.WriteFile(sj.strategies, []byte(strategies), 0o644); err != nil {
		t.Fatal(err)
	}
}

// strategy reads the strategy Jaeger serves for service now.
func (sj *samplingJaeger) strategy(t *testing.T, service string) sampling.Strategy {
	t.Helper()
	resp, err := http.Get(sj.SamplingURL + "?service=" + service)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	s, err := sampling.ParseStrategy(body)
	if err != nil {
		t.Fatalf("Jaeger's strategy for %s: %v (%s)", service, err, body)
	}
	return s
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// unsampledCaller is a caller that decided not to sample: its requests are
// never exported (parent-based), whatever the strategy says.
func unsampledCaller() http.Header {
	return http.Header{"Traceparent": {"00-" + randomHex(16) + "-" + randomHex(8) + "-00"}}
}

// startInstances makes Kong start the plugin instance of each path's route
// (Kong starts one on its first request) with a request nobody exports.
func startInstances(t *testing.T, gw *kongsim.Gateway, paths ...string) {
	t.Helper()
	for _, p := range paths {
		if resp := harness.Do(t, "GET", gw.URL()+p, unsampledCaller()); resp.Status != 200 {
			t.Fatalf("GET %s: %d %s", p, resp.Status, resp.Body)
		}
	}
}

// waitPluginOutput waits until the plugin server has printed sub.
func waitPluginOutput(t *testing.T, gw *kongsim.Gateway, sub string) {
	t.Helper()
	if !gw.Sim().WaitOutput(sub, 20*time.Second) {
		t.Fatalf("the plugin never printed %q; its output:\n%s", sub, strings.Join(gw.Sim().Output(), "\n"))
	}
}

// sent is one request through the gateway as the test saw it: the trace id
// the gateway answered with (http_response_header_for_traceid: x-trace-id)
// and the sampled flag the upstream received.
type sent struct {
	path     string
	traceID  string
	upstream bool // the traceparent the upstream got said "sampled"
	at       time.Time
}

const traceIDHeader = "x-trace-id"

// sendAll sends each path once through the gateway, conc at a time, and
// reports what the client and the upstream saw of each.
func sendAll(t *testing.T, gw *kongsim.Gateway, up *harness.Upstream, paths []string, header http.Header, conc int) []sent {
	t.Helper()
	out := make([]sent, len(paths))
	var wg sync.WaitGroup
	next := make(chan int)
	for range conc {
		wg.Go(func() {
			for i := range next {
				id := randomHex(8)
				h := http.Header{harness.TestIDHeader: {id}}
				for k, v := range header {
					h[k] = v
				}
				at := time.Now()
				resp := harness.Do(t, "GET", gw.URL()+paths[i], h)
				if resp.Status != 200 {
					t.Errorf("GET %s: status %d %s", paths[i], resp.Status, resp.Body)
					continue
				}
				out[i] = sent{path: paths[i], traceID: resp.Header.Get(traceIDHeader), at: at}
				if got := up.Find(id); len(got) == 1 {
					tp, err := harness.ParseTraceparent(got[0].Header.Get("traceparent"))
					if err != nil {
						t.Errorf("GET %s: upstream traceparent: %v", paths[i], err)
					}
					out[i].upstream = tp.Sampled()
				} else {
					t.Errorf("GET %s: the upstream saw %d requests tagged %s", paths[i], len(got), id)
				}
			}
		})
	}
	for i := range paths {
		next <- i
	}
	close(next)
	wg.Wait()
	return out
}

// exportedRoots reads back from Jaeger the root spans of service, by trace
// id, once count of them arrived and nothing more came for a moment.
func exportedRoots(t *testing.T, j *jaegertest.Jaeger, service string, count int) map[string]*jaegertest.Span {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	roots := map[string]*jaegertest.Span{}
	stable := 0
	for {
		traces, err := j.FindTraces(ctx, service, 100000)
		if err != nil && ctx.Err() == nil {
			t.Fatalf("search Jaeger: %v", err)
		}
		before := len(roots)
		for _, tr := range traces {
			for _, r := range tr.Roots() {
				if r.Kind == "server" {
					roots[tr.TraceID] = r
				}
			}
		}
		if len(roots) >= count && len(roots) == before {
			if stable++; stable >= 3 {
				return roots
			}
		}
		select {
		case <-ctx.Done():
			if len(roots) < count {
				t.Fatalf("%d root spans of %s in Jaeger after 30 s, want %d", len(roots), service, count)
			}
			return roots
		case <-time.After(100 * time.Millisecond):
		}
	}
}

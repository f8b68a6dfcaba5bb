package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/trace-exporter/trace-exporter/test/kongsim"
	"github.com/trace-exporter/trace-exporter/test/testutil"
)

// The plugin servers of the emulator benchmarks, built once per test run
// with the files of testdata/overlay added to their main packages:
// trace-exporter (with the extra backend `exporter: discard`) and the empty
// plugin (the emulator's probe plugin, whose Log handler only calls
// kong.log.serialize), both serving their Go runtime counters when asked.
var (
	buildOnce sync.Once
	buildDir  string
	buildErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if buildDir != "" {
		os.RemoveAll(buildDir)
	}
	testutil.Cleanup()
	os.Exit(code)
}

// pluginBinaries returns the paths of trace-exporter and the empty plugin.
func pluginBinaries(tb testing.TB) (traceExporter, empty string) {
	tb.Helper()
	buildOnce.Do(func() { buildErr = buildPluginBinaries() })
	if buildErr != nil {
		tb.Fatal(buildErr)
	}
	return filepath.Join(buildDir, "te", testutil.PluginName), filepath.Join(buildDir, "empty")
}

func buildPluginBinaries() error {
	var err error
	if buildDir, err = os.MkdirTemp("", "bench-bin-"); err != nil {
		return err
	}
	root, err := testutil.RepoRoot()
	if err != nil {
		return err
	}
	overlay := filepath.Join(root, "test", "bench", "testdata", "overlay")
	probe := filepath.Join(root, "test", "kongsim", "testdata", "probe")
	for _, b := range []struct {
		dir, out string
		files    []string
	}{
		{root, filepath.Join(buildDir, "te", testutil.PluginName), []string{"discard.go", "runtimestats.go"}},
		{probe, filepath.Join(buildDir, "empty"), []string{"runtimestats.go"}},
	} {
		replace := map[string]string{}
		for _, f := range b.files {
			replace[filepath.Join(b.dir, "zz_bench_"+f)] = filepath.Join(overlay, f)
		}
		spec, _ := json.Marshal(map[string]any{"Replace": replace})
		specFile := b.out + ".overlay.json"
		if err := os.MkdirAll(filepath.Dir(b.out), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(specFile, spec, 0o644); err != nil {
			return err
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		err := testutil.Build(ctx, b.dir, ".", b.out, "-overlay", specFile)
		cancel()
		if err != nil {
			return err
		}
	}
	return nil
}

func quietLogger() *slog.Logger {
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// newSim starts a plugin server under the Kong emulator (Kong 3.9).
func newSim(tb testing.TB, binary string) *kongsim.Sim {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := kongsim.New(ctx, kongsim.Options{Binary: binary, Logger: quietLogger()})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { s.Close() })
	return s
}

// BenchmarkPluginServer measures log events through the Kong emulator over
// the plugin server's real unix socket, as Kong's log timer sends them (the
// saved serialize payload of a small GET), from 4 concurrent connections:
// trace-exporter (OTLP/HTTP to a discarding receiver in the benchmark's
// process) next to the same server with `exporter: discard` (the log path
// and the pipeline, no encoding, no network) and the empty plugin, the floor
// of any Go plugin that reads serialize. Besides events/s it reports what
// the plugin server process itself spent per event (the emulator's share is
// not in it): CPU, thread context switches, read/write system calls,
// goroutine schedulings, heap allocations, GC cycles.
//
// For trace-exporter the timer runs until the server has built the spans
// of every event it answered (its /metrics, polled every millisecond).
//
// trace-exporter-kafka is the same plugin server exporting to an in-process
// Kafka broker (kfake, records acknowledged and discarded), each request a
// trace of its own (the payload without the access phase's hand-off): the
// timer runs until the broker has acknowledged every span, and spans/s is
// what one plugin server produces into Kafka.
func BenchmarkPluginServer(b *testing.B) {
	teBin, emptyBin := pluginBinaries(b)
	sink := newDiscardSink(b)
	payload := []byte(payloads(b)[0].text)
	for _, impl := range []struct {
		name, binary string
		config       map[string]any
	}{
		{"trace-exporter", teBin, map[string]any{"traces_endpoint": sink.tracesURL()}},
		{"trace-exporter-discard", teBin, map[string]any{"exporter": "discard"}},
		{"empty", emptyBin, map[string]any{"mode": "plain"}},
		{"trace-exporter-kafka", teBin, nil},
	} {
		b.Run(impl.name, func(b *testing.B) {
			payload, config := payload, impl.config
			var acked *producedSpans
			if config == nil {
				payload = []byte(kafkaPayload(b))
				acked = countProducedSpans(b)
				// A short coalescing delay: the last, partial batch must not
				// hold the timer for the default second.
				config = map[string]any{"exporter": "kafka", "kafka": map[string]any{"brokers": []string{acked.addr}},
					"queue": map[string]any{"max_coalescing_delay": 0.01}}
			}
			statsPath := runtimeStatsPath(b)
			var metricsAddr string
			if impl.binary == teBin {
				// The timer runs until the server has built every event's
				// spans (its log worker builds them after answering).
				metricsAddr = testutil.FreeAddr(b)
				b.Setenv("TRACE_EXPORTER_METRICS_LISTEN", metricsAddr)
			}
			s := newSim(b, impl.binary)
			p, err := s.Configure(kongsim.PluginEntity{Config: config})
			if err != nil {
				b.Fatal(err)
			}
			// The first event starts the instance (and trace-exporter asks
			// once for the node id).
			if res := s.RunLog(p, &kongsim.LogData{Serialize: payload}); res.Err != nil || len(res.Calls) == 0 || res.Calls[0] != "kong.log.serialize" {
				b.Fatalf("first event: %+v", res)
			}
			before := readServerCounters(b, s.PID(), statsPath)
			b.SetParallelism(2) // 4 event streams on 2 cores, as Kong's workers send them
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					res := s.RunLog(p, &kongsim.LogData{Serialize: payload})
					if res.Err != nil || len(res.Calls) != 1 || len(res.Violations) != 0 {
						b.Errorf("event: %+v", res)
						return
					}
				}
			})
			if metricsAddr != "" {
				awaitSpansBuilt(b, metricsAddr, int64(spansPerEvent(b, payload))*int64(b.N+1))
			}
			if acked != nil {
				acked.await(b, int64(spansPerEvent(b, payload))*int64(b.N+1))
			}
			b.StopTimer()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
			if acked != nil {
				b.ReportMetric(float64(spansPerEvent(b, payload)*b.N)/b.Elapsed().Seconds(), "spans/s")
			}
			// What the plugin server process spent per event (the
			// emulator's share is not in it): the plugin's own cost, less
			// noisy than throughput on a shared machine.
			reportPerEvent(b, before, readServerCounters(b, s.PID(), statsPath), b.N)
		})
	}
}

// BenchmarkGatewayLoad is the load run: HTTP requests through the
// emulator's gateway (proxy, access and log events over the socket, a
// loopback upstream) from 16 concurrent keep-alive clients, with the plugin
// off (no plugin entity: the gateway only proxies), with the empty plugin
// on the route (the cost of any external plugin: an access and a log event
// over the socket, serialize) and with trace-exporter on the route (default
// config: 3 PDK calls in access, serialize in log; exporting to a
// discarding OTLP receiver) and installed as trace-exporter-log (no access
// event: serialize in log only).
// Reports requests/s and the p50 and p99 latency seen by the clients. The
// run is bounded by the benchmark's count (b.N requests) and every request
// by a 5 s timeout.
func BenchmarkGatewayLoad(b *testing.B) {
	sink := newDiscardSink(b)
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"ok":true}`)
	}))
	b.Cleanup(upstream.Close)
	teBin, emptyBin := pluginBinaries(b)
	logOnlyBin := testutil.LogOnlyPluginBinary(b)
	onRoute := func(plugin, config string) string {
		return "        plugins:\n          - name: " + plugin + "\n            config:\n              " + config + "\n"
	}
	for _, run := range []struct{ name, binary, plugin string }{
		{"plugin-off", teBin, ""},
		{"empty-plugin", emptyBin, onRoute("empty", "mode: plain")},
		{"plugin-on", teBin, onRoute("trace-exporter", "traces_endpoint: "+sink.tracesURL())},
		{"plugin-on-log-only", logOnlyBin, onRoute("trace-exporter-log", "traces_endpoint: "+sink.tracesURL())},
	} {
		b.Run(run.name, func(b *testing.B) {
			yml := fmt.Sprintf("_format_version: \"3.0\"\nservices:\n  - name: echo\n    url: %s\n    routes:\n      - name: echo-route\n        paths: [/echo]\n", upstream.URL)
			yml += run.plugin
			decl, err := kongsim.ParseDeclarative([]byte(yml))
			if err != nil {
				b.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			gw, err := kongsim.StartGateway(ctx, kongsim.GatewayOptions{
				Options: kongsim.Options{Binary: run.binary, Logger: quietLogger()}, Config: decl, MaxRecords: 1000})
			if err != nil {
				b.Fatal(err)
			}
			defer gw.Close()
			client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
			defer client.CloseIdleConnections()
			url := gw.URL() + "/echo/items?id=42"
			get := func() error {
				resp, err := client.Get(url)
				if err != nil {
					return err
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					return fmt.Errorf("status %d", resp.StatusCode)
				}
				return nil
			}
			if err := get(); err != nil { // warm up: instance started, connections open
				b.Fatal(err)
			}
			var mu sync.Mutex
			var latencies []time.Duration
			b.SetParallelism(8) // 16 clients on 2 cores
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				var mine []time.Duration
				for pb.Next() {
					t0 := time.Now()
					if err := get(); err != nil {
						b.Error(err)
						return
					}
					mine = append(mine, time.Since(t0))
				}
				mu.Lock()
				latencies = append(latencies, mine...)
				mu.Unlock()
			})
			b.StopTimer()
			if err := gw.WaitIdle(ctx); err != nil {
				b.Fatal(err)
			}
			if v := gw.Violations(); len(v) != 0 {
				b.Fatalf("PDK violations: %v", v[0])
			}
			slices.Sort(latencies)
			pct := func(p float64) float64 {
				if len(latencies) == 0 {
					return 0
				}
				return float64(latencies[int(p*float64(len(latencies)-1))].Microseconds()) / 1000
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
			b.ReportMetric(pct(0.50), "p50-ms")
			b.ReportMetric(pct(0.99), "p99-ms")
		})
	}
}

// processCPU is the user+system CPU time a process has used so far, from
// /proc/<pid>/stat (in clock ticks of 10 ms).
func processCPU(tb testing.TB, pid int) time.Duration {
	tb.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		tb.Fatal(err)
	}
	// The command name (field 2) may hold spaces: fields count from the ')'.
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(utime+stime) * 10 * time.Millisecond
}

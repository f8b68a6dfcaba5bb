package bench

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// envRuntimeStats names the unix socket on which the benchmarks' plugin
// servers serve their Go runtime counters (testdata/overlay/runtimestats.go).
const envRuntimeStats = "BENCH_RUNTIME_STATS"

// serverCounters are a plugin server process's cumulative costs, read from
// /proc and from its Go runtime: what BenchmarkPluginServer divides by the
// events it sent to split the server's CPU per event.
type serverCounters struct {
	cpu         time.Duration // user + system
	benchCPU    time.Duration // the benchmark process's: the emulator and any receiver in it
	ctxSwitches int64         // voluntary + involuntary, all threads
	rwSyscalls  int64         // read- and write-like system calls (/proc/<pid>/io syscr + syscw)
	runtime     map[string]float64
}

// runtimeStatsPath returns a fresh socket path for a server's runtime
// counters and sets the variable that makes it serve them.
func runtimeStatsPath(b *testing.B) string {
	path := filepath.Join(b.TempDir(), "rt.sock")
	b.Setenv(envRuntimeStats, path)
	return path
}

func readServerCounters(tb testing.TB, pid int, statsPath string) serverCounters {
	tb.Helper()
	c := serverCounters{cpu: processCPU(tb, pid), benchCPU: processCPU(tb, os.Getpid())}
	tasks, err := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/status", pid))
	if err != nil {
		tb.Fatal(err)
	}
	for _, task := range tasks {
		c.ctxSwitches += procFields(tb, task, "voluntary_ctxt_switches:", "nonvoluntary_ctxt_switches:")
	}
	c.rwSyscalls = procFields(tb, fmt.Sprintf("/proc/%d/io", pid), "syscr:", "syscw:")
	client := http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "unix", statsPath)
		}}}
	defer client.CloseIdleConnections()
	resp, err := client.Get("http://runtime/")
	if err != nil {
		tb.Fatalf("runtime counters of the plugin server: %v", err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(&c.runtime); err != nil {
		tb.Fatal(err)
	}
	return c
}

// procFields sums the named "key: value" fields of a /proc file (a thread
// that exits meanwhile counts zero).
func procFields(tb testing.TB, path string, keys ...string) int64 {
	tb.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		if os.IsNotExist(err) {
			return 0
		}
		tb.Fatal(err)
	}
	var sum int64
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		for _, k := range keys {
			if v, ok := strings.CutPrefix(sc.Text(), k); ok {
				n, _ := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
				sum += n
			}
		}
	}
	return sum
}

// reportPerEvent reports what the server spent per event between two
// readings: CPU (and the benchmark process's: the emulator, and the
// receiver of what the server exports when it runs there), thread context switches, read/write system calls,
// goroutine schedulings (the Go runtime samples 1 in 8 of them for
// /sched/latencies), heap allocations and GC cycles per thousand events.
func reportPerEvent(b *testing.B, before, after serverCounters, events int) {
	n := float64(events)
	rt := func(name string) float64 { return after.runtime[name] - before.runtime[name] }
	b.ReportMetric(float64(after.cpu-before.cpu)/float64(time.Microsecond)/n, "server-cpu-µs/event")
	b.ReportMetric(float64(after.benchCPU-before.benchCPU)/float64(time.Microsecond)/n, "bench-cpu-µs/event")
	b.ReportMetric(float64(after.ctxSwitches-before.ctxSwitches)/n, "ctxsw/event")
	b.ReportMetric(float64(after.rwSyscalls-before.rwSyscalls)/n, "rw-syscalls/event")
	b.ReportMetric(8*rt("/sched/latencies:seconds")/n, "sched/event")
	b.ReportMetric((rt("/gc/heap/allocs:objects")+rt("/gc/heap/tiny/allocs:objects"))/n, "allocs/event")
	b.ReportMetric(1000*rt("/gc/cycles/total:gc-cycles")/n, "gc/kevent")
}

// awaitSpansBuilt waits until the plugin server's /metrics at addr counts
// want spans built (bounded: 10 s).
func awaitSpansBuilt(tb testing.TB, addr string, want int64) {
	tb.Helper()
	const name = "trace_exporter_spans_built_total "
	var got int64
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		resp, err := http.Get("http://" + addr + "/metrics")
		if err != nil {
			continue
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		for line := range strings.Lines(string(body)) {
			if v, ok := strings.CutPrefix(line, name); ok {
				f, _ := strconv.ParseFloat(strings.TrimSpace(v), 64)
				got = int64(f)
			}
		}
		if got >= want {
			return
		}
	}
	tb.Fatalf("the plugin server built %d spans, want %d", got, want)
}

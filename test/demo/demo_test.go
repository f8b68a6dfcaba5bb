package main

import (
	"context"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/trace-exporter/trace-exporter/test/harness"
	"github.com/trace-exporter/trace-exporter/test/jaegertest"
	"github.com/trace-exporter/trace-exporter/test/testutil"
)

func TestMain(m *testing.M) { os.Exit(harness.Main(m)) }

// testConfig is the demo on free ports (never the defaults, which a
// developer's own `make demo` may hold), stopping after the samples.
func testConfig(t *testing.T, backend string) config {
	root, err := jaegertest.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	p := testutil.FreePorts(t, 8)
	return config{
		Root: root, Backend: backend, Plugin: harness.PluginBinary(t),
		ProxyPort: p[0], UpstreamPort: p[1], DeadPort: harness.RefusedPort(t), OTLPPort: p[2],
		Jaeger: jaegertest.Ports{OTLPGRPC: p[3], Zipkin: p[4], QueryHTTP: p[5], QueryGRPC: p[6], Health: p[7]},
		Quiet:  300 * time.Millisecond, Samples: true, ExitAfterSamples: true, ASCII: true,
	}
}

// blocks splits the printed traces: each starts with its "-- label --"
// line (samples) or "trace <id>" line, and ends at a blank line.
func sampleBlocks(out string) map[string][]string {
	blocks := map[string][]string{}
	for _, chunk := range strings.Split(out, "\n\n") {
		lines := strings.Split(strings.TrimSpace(chunk), "\n")
		if len(lines) > 1 && strings.HasPrefix(lines[0], "-- ") {
			label := strings.TrimSuffix(strings.TrimPrefix(lines[0], "-- "), " --")
			blocks[label] = append(blocks[label], strings.Join(lines[1:], "\n"))
		}
	}
	return blocks
}

var (
	traceLine = regexp.MustCompile(`^trace [0-9a-f]{32}  service=kong  spans=(\d+)`)
	rootLine  = regexp.MustCompile(`(?m)^server GET.*status=(\d+)`)
)

// checkSamples asserts that each sample request's trace was printed with
// the shape it must have.
func checkSamples(t *testing.T, out string) {
	t.Helper()
	blocks := sampleBlocks(out)
	one := func(label string) string {
		t.Helper()
		b := blocks[label]
		if len(b) != 1 {
			t.Fatalf("sample %q: printed %d times, want once; output:\n%s", label, len(b), out)
		}
		if !traceLine.MatchString(b[0]) {
			t.Errorf("sample %q: no trace header:\n%s", label, b[0])
		}
		return b[0]
	}
	status := func(block string) string {
		m := rootLine.FindStringSubmatch(block)
		if m == nil {
			return ""
		}
		return m[1]
	}
	spans := func(block string) int {
		n, _ := strconv.Atoi(traceLine.FindStringSubmatch(block)[1])
		return n
	}

	ok := one(samples[0].label)
	if status(ok) != "200" || spans(ok) != 2 || !strings.Contains(ok, "route=/echo") || !strings.Contains(ok, "client GET ") {
		t.Errorf("success trace:\n%s", ok)
	}
	failed := one(samples[1].label)
	if status(failed) != "503" || spans(failed) != 2 || !strings.Contains(failed, "error=") {
		t.Errorf("upstream error trace:\n%s", failed)
	}
	retried := 0
	for _, s := range samples[2:4] {
		b := one(s.label)
		if status(b) != "200" {
			t.Errorf("flaky trace:\n%s", b)
		}
		if strings.Contains(b, "state=failed") && spans(b) == 3 {
			retried++
		}
	}
	if retried == 0 {
		t.Errorf("neither /flaky trace shows a failed try then a good one; output:\n%s", out)
	}
	notFound := one(samples[4].label)
	if status(notFound) != "404" || spans(notFound) != 1 || !strings.Contains(notFound, "source=kong") {
		t.Errorf("unknown route trace:\n%s", notFound)
	}
}

func portsFree(t *testing.T, ports ...int) {
	t.Helper()
	for _, p := range ports {
		ln, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p))
		if err != nil {
			t.Errorf("port %d still held after the demo returned: %v", p, err)
			continue
		}
		ln.Close()
	}
}

// The demo logic end to end with the default backend (the printing OTLP
// receiver): it builds the echo upstream, serves kong.yml through the real
// plugin, prints the sample traces, and releases every port when it stops.
func TestDemoPrintsSampleTraces(t *testing.T) {
	c := testConfig(t, "sink")
	var out, errOut testutil.SyncBuffer
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	start := time.Now()
	if err := run(ctx, c, &out, &errOut); err != nil {
		t.Fatalf("demo: %v\nstdout:\n%s\nstderr:\n%s", err, out.String(), errOut.String())
	}
	t.Logf("demo with the sink backend ran in %v", time.Since(start).Round(time.Millisecond))
	checkSamples(t, out.String())
	if !strings.Contains(out.String(), "stopped:") {
		t.Errorf("no clean-shutdown line:\n%s", out.String())
	}
	portsFree(t, c.ProxyPort, c.UpstreamPort, c.OTLPPort)
	if testing.Verbose() {
		t.Logf("output:\n%s", out.String())
	}
}

// The same with a real Jaeger: the traces printed are those read back from
// its query API.
func TestDemoWithJaeger(t *testing.T) {
	c := testConfig(t, "jaeger")
	var out, errOut testutil.SyncBuffer
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute) // a cold Jaeger build
	defer cancel()
	start := time.Now()
	if err := run(ctx, c, &out, &errOut); err != nil {
		t.Fatalf("demo: %v\nstdout:\n%s\nstderr:\n%s", err, out.String(), errOut.String())
	}
	t.Logf("demo with the jaeger backend ran in %v", time.Since(start).Round(time.Millisecond))
	checkSamples(t, out.String())
	portsFree(t, c.ProxyPort, c.UpstreamPort, c.OTLPPort, c.Jaeger.QueryHTTP, c.Jaeger.OTLPGRPC)
}

// A taken port is refused before anything starts, naming the address and
// the flag that moves it.
func TestDemoRefusesTakenPort(t *testing.T) {
	c := testConfig(t, "sink")
	ln, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(c.ProxyPort))
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var out testutil.SyncBuffer
	err = run(context.Background(), c, &out, &out)
	if !errors.Is(err, errPortTaken) {
		t.Fatalf("run with the gateway port taken: %v, want errPortTaken", err)
	}
	for _, want := range []string{"127.0.0.1:" + strconv.Itoa(c.ProxyPort), "-proxy-port", "the gateway"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
	if out.String() != "" {
		t.Errorf("something started before the port check:\n%s", out.String())
	}
	portsFree(t, c.UpstreamPort, c.OTLPPort)
}

// The demo command as `make demo` runs it: after the samples it keeps
// serving (a request of the user's own is traced and printed), and a
// terminal's Ctrl-C (SIGINT to the whole foreground process group) stops
// everything cleanly with exit status 0.
func TestDemoCommandServesUntilCtrlC(t *testing.T) {
	c := testConfig(t, "sink")
	bin := filepath.Join(t.TempDir(), "demo")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if err := testutil.Build(ctx, ".", ".", bin); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-plugin", c.Plugin, "-ascii", "-quiet", "300ms",
		"-proxy-port", strconv.Itoa(c.ProxyPort), "-upstream-port", strconv.Itoa(c.UpstreamPort),
		"-dead-port", strconv.Itoa(c.DeadPort), "-otlp-port", strconv.Itoa(c.OTLPPort))
	var out testutil.SyncBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	// Its own process group stands for the terminal's foreground group.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) // only if the test failed midway
	})
	waitFor := func(what string, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(60 * time.Second)
		for !cond() {
			select {
			case err := <-exited:
				t.Fatalf("demo exited (%v) before %s:\n%s", err, what, out.String())
			case <-time.After(50 * time.Millisecond):
			}
			if time.Now().After(deadline) {
				t.Fatalf("no %s after 60 s:\n%s", what, out.String())
			}
		}
	}
	waitFor("serving line", func() bool { return strings.Contains(out.String(), "until Ctrl-C") })

	path := "/echo/mine-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	resp := harness.Do(t, "GET", "http://127.0.0.1:"+strconv.Itoa(c.ProxyPort)+path, nil)
	if resp.Status != 200 {
		t.Fatalf("own request: status %d", resp.Status)
	}
	traceID := resp.Header.Get("X-Trace-Id")
	// The /echo route flushes its queue every second.
	waitFor("trace of the user's request", func() bool { return strings.Contains(out.String(), "trace "+traceID) })

	if err := syscall.Kill(-cmd.Process.Pid, syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("demo exited with %v after Ctrl-C:\n%s", err, out.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("demo still running 30 s after Ctrl-C:\n%s", out.String())
	}
	if !strings.Contains(out.String(), "stopped:") {
		t.Errorf("no clean-shutdown line:\n%s", out.String())
	}
	portsFree(t, c.ProxyPort, c.UpstreamPort, c.OTLPPort)
	// No process is left in its group. The upstream and the plugin run in
	// groups of their own: the free ports above show they stopped.
	if err := syscall.Kill(-cmd.Process.Pid, 0); !errors.Is(err, syscall.ESRCH) {
		t.Errorf("processes of the demo's group remain: %v", err)
	}
}

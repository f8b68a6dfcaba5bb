// Package jaegertest runs a real Jaeger v2 (tools/jaeger) on free loopback
// ports for tests and the demo, and reads traces back from its query API.
//
//	j := jaegertest.Start(t)                 // stopped with SIGTERM at cleanup
//	post spans to j.OTLPHTTPURL() / j.OTLPGRPCAddr() / j.ZipkinURL()
//	tr, err := j.WaitTrace(ctx, traceID, 3)  // typed spans, tags, parents
//
// Where the binary comes from:
//   - JAEGER_BIN set: that file, which must exist.
//   - otherwise <repo>/.cache/bin/jaeger (git-ignored). `make test` runs
//     tools/jaeger/build.sh before the tests, so it is there.
//   - missing (a plain `go test` on a fresh clone): built once with
//     tools/jaeger/build.sh (~3.5 min cold; concurrent test packages wait
//     for one build), unless JAEGERTEST_BUILD=0 makes that an error.
//
// Tests never skip for lack of Jaeger: a skipped end-to-end test proves nothing.
package jaegertest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Options configure StartProcess. The zero value is what tests want.
type Options struct {
	// Binary defaults to EnsureBinary's answer.
	Binary string
	// Config defaults to tools/jaeger/config.yaml (ports come from env vars).
	Config string
	// Ports: all zero picks free ports and retries with new ones if another
	// process grabs one first. Fixed ports are used as given, never retried.
	Ports Ports
	// Output receives a copy of Jaeger's log (info level: readiness is read
	// from it). Nil keeps only the tail used in error messages.
	Output io.Writer
	// Args are extra command-line arguments (e.g. --set=key=value). Do not
	// lower the log level below info: readiness needs the startup line.
	Args []string
	// StartTimeout bounds each start attempt (default 30 s).
	StartTimeout time.Duration
}

// Jaeger is a running Jaeger process. Its embedded Client queries it.
type Jaeger struct {
	*Client
	Ports Ports

	cmd      *exec.Cmd
	log      *logTail
	exited   chan struct{} // closed once the process has been reaped
	waitErr  error         // valid after exited is closed
	stopOnce sync.Once
	stopErr  error
}

const (
	defaultStartTimeout = 30 * time.Second
	stopTimeout         = 15 * time.Second
	maxStartAttempts    = 5
	// readyMarker is what the OTel collector logs once every component has
	// started (all ports bound). Unlike the health endpoint it comes from our
	// own process: a health 200 could come from another Jaeger that holds
	// the port ours failed to bind.
	readyMarker = "Everything is ready"
	busyMarker  = "address already in use"
)

// Start runs a Jaeger for the test on free loopback ports, waits until it is
// ready and stops it at cleanup; the test fails if it cannot start or if it
// died before cleanup.
func Start(t testing.TB) *Jaeger { return StartOptions(t, Options{}) }

// StartOptions is Start with options.
func StartOptions(t testing.TB, opts Options) *Jaeger {
	t.Helper()
	// The deadline covers a cold build of the binary (~3.5 min) when a plain
	// `go test` runs on a fresh clone.
	deadline := time.Now().Add(15 * time.Minute)
	if d, ok := t.(interface{ Deadline() (time.Time, bool) }); ok {
		if td, ok := d.Deadline(); ok && td.Before(deadline) {
			deadline = td
		}
	}
	ctx, cancel := context.WithDeadline(context.Background(), deadline)
	defer cancel()
	j, err := StartProcess(ctx, opts)
	if err != nil {
		t.Fatalf("start Jaeger: %v", err)
	}
	t.Cleanup(func() {
		if err := j.Stop(); err != nil {
			t.Errorf("Jaeger: %v", err)
		}
	})
	return j
}

// StartProcess starts Jaeger and waits until it is ready. The caller must
// call Stop. ctx bounds the start (including a build), not the process life.
func StartProcess(ctx context.Context, opts Options) (*Jaeger, error) {
	bin := opts.Binary
	if bin == "" {
		var err error
		if bin, err = EnsureBinary(ctx, os.Stderr); err != nil {
			return nil, err
		}
	}
	cfg := opts.Config
	if cfg == "" {
		var err error
		if cfg, err = ConfigPath(); err != nil {
			return nil, err
		}
	}
	fixed := opts.Ports != (Ports{})
	if fixed && !opts.Ports.complete() {
		return nil, fmt.Errorf("jaegertest: set all ports or none, got %+v", opts.Ports)
	}
	var lastErr error
	for attempt := 1; attempt <= maxStartAttempts; attempt++ {
		ports := opts.Ports
		if !fixed {
			var err error
			if ports, err = pickPorts(); err != nil {
				return nil, err
			}
		}
		j, err := startOnce(ctx, bin, cfg, ports, opts)
		if err == nil {
			return j, nil
		}
		lastErr = fmt.Errorf("attempt %d: %w", attempt, err)
		if fixed || !errors.Is(err, errPortBusy) || ctx.Err() != nil {
			break
		}
	}
	return nil, lastErr
}

// pickPorts is a variable so a test can hand out a busy port once.
var pickPorts = freePorts

var errPortBusy = errors.New("a port was already in use")

func startOnce(ctx context.Context, bin, cfg string, ports Ports, opts Options) (*Jaeger, error) {
	timeout := opts.StartTimeout
	if timeout <= 0 {
		timeout = defaultStartTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	args := append([]string{"--config=" + cfg, "--set=service.telemetry.logs.level=info"}, opts.Args...)
	// Not CommandContext: ctx bounds the start, the process lives until Stop.
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), ports.env()...)
	log := &logTail{copyTo: opts.Output}
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = childAttrs()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("run %s: %w", bin, err)
	}
	j := &Jaeger{
		Client: NewClient("http://127.0.0.1:" + strconv.Itoa(ports.QueryHTTP)),
		Ports:  ports,
		cmd:    cmd,
		log:    log,
		exited: make(chan struct{}),
	}
	go func() {
		j.waitErr = cmd.Wait()
		close(j.exited)
	}()

	health := &http.Client{Timeout: time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	healthURL := "http://127.0.0.1:" + strconv.Itoa(ports.Health) + "/status"
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-j.exited:
			err := fmt.Errorf("jaeger exited during start (%v); log tail:\n%s", j.waitErr, log.tail())
			if log.contains(busyMarker) {
				err = fmt.Errorf("%w: %w", errPortBusy, err)
			}
			return nil, err
		case <-ctx.Done():
			j.kill()
			return nil, fmt.Errorf("jaeger not ready after %v (want %q in its log and 200 from %s); log tail:\n%s",
				timeout, readyMarker, healthURL, log.tail())
		case <-tick.C:
		}
		if !log.contains(readyMarker) {
			continue
		}
		if healthy(ctx, health, healthURL) && j.alive() {
			return j, nil
		}
	}
}

func healthy(ctx context.Context, hc *http.Client, url string) bool {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return false
	}
	resp, err := hc.Do(req)
	if err != nil {
		return false
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// OTLPHTTPURL is the OTLP/HTTP traces endpoint, http://127.0.0.1:P/v1/traces.
func (j *Jaeger) OTLPHTTPURL() string {
	return "http://127.0.0.1:" + strconv.Itoa(j.Ports.OTLPHTTP) + "/v1/traces"
}

// OTLPGRPCAddr is the OTLP/gRPC host:port.
func (j *Jaeger) OTLPGRPCAddr() string { return "127.0.0.1:" + strconv.Itoa(j.Ports.OTLPGRPC) }

// ZipkinURL is the Zipkin v2 spans endpoint.
func (j *Jaeger) ZipkinURL() string {
	return "http://127.0.0.1:" + strconv.Itoa(j.Ports.Zipkin) + "/api/v2/spans"
}

// QueryURL is the query server's base URL (JSON API under /api/).
func (j *Jaeger) QueryURL() string { return j.Client.QueryURL }

// QueryGRPCAddr is the query server's gRPC host:port.
func (j *Jaeger) QueryGRPCAddr() string { return "127.0.0.1:" + strconv.Itoa(j.Ports.QueryGRPC) }

// PID is the Jaeger process id.
func (j *Jaeger) PID() int { return j.cmd.Process.Pid }

// Log returns the retained tail of Jaeger's log.
func (j *Jaeger) Log() string { return j.log.tail() }

// Exited is closed when the process has ended (for whatever reason).
func (j *Jaeger) Exited() <-chan struct{} { return j.exited }

func (j *Jaeger) alive() bool {
	select {
	case <-j.exited:
		return false
	default:
		return true
	}
}

// Stop sends SIGTERM and waits for Jaeger to exit (SIGKILL after 15 s).
// It reports an error if Jaeger had died on its own before Stop, or did not
// exit cleanly. Calling it again returns the same result.
func (j *Jaeger) Stop() error {
	j.stopOnce.Do(func() { j.stopErr = j.stop() })
	return j.stopErr
}

func (j *Jaeger) stop() error {
	select {
	case <-j.exited:
		return fmt.Errorf("jaeger (pid %d) died before Stop: %v; log tail:\n%s", j.PID(), j.waitErr, j.log.tail())
	default:
	}
	if err := j.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		select {
		case <-j.exited: // exited between the check and the signal
		default:
			j.kill()
			return fmt.Errorf("SIGTERM jaeger (pid %d): %w", j.PID(), err)
		}
	}
	select {
	case <-j.exited:
	case <-time.After(stopTimeout):
		j.kill()
		return fmt.Errorf("jaeger (pid %d) ignored SIGTERM for %v, killed", j.PID(), stopTimeout)
	}
	if j.waitErr != nil && !terminatedBy(j.waitErr, syscall.SIGTERM) {
		return fmt.Errorf("jaeger (pid %d) exited badly after SIGTERM: %v; log tail:\n%s", j.PID(), j.waitErr, j.log.tail())
	}
	return nil
}

func (j *Jaeger) kill() {
	j.cmd.Process.Kill()
	<-j.exited
}

func terminatedBy(err error, sig syscall.Signal) bool {
	var ee *exec.ExitError
	if !errors.As(err, &ee) {
		return false
	}
	ws, ok := ee.Sys().(syscall.WaitStatus)
	return ok && ws.Signaled() && ws.Signal() == sig
}

// logTail keeps the last tailBytes of Jaeger's output for error messages and
// remembers whether the readiness line appeared.
type logTail struct {
	mu     sync.Mutex
	buf    []byte
	seen   map[string]bool
	copyTo io.Writer
}

const tailBytes = 64 << 10

func (l *logTail) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.seen == nil {
		l.seen = map[string]bool{}
	}
	// Markers are searched in the old tail's end plus p, so one split across
	// two writes is still found.
	window := append(lastN(l.buf, 128), p...)
	for _, m := range []string{readyMarker, busyMarker} {
		if bytes.Contains(window, []byte(m)) {
			l.seen[m] = true
		}
	}
	l.buf = append(l.buf, p...)
	if len(l.buf) > tailBytes {
		l.buf = append([]byte(nil), l.buf[len(l.buf)-tailBytes:]...)
	}
	if l.copyTo != nil {
		l.copyTo.Write(p)
	}
	return len(p), nil
}

func lastN(b []byte, n int) []byte {
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return append([]byte(nil), b...)
}

func (l *logTail) contains(marker string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.seen[marker]
}

func (l *logTail) tail() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return string(l.buf)
}

package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/trace-exporter/trace-exporter/test/jaegertest"
	"github.com/trace-exporter/trace-exporter/test/kongsim"
	"github.com/trace-exporter/trace-exporter/test/otlpsink"
)

// demo holds the running parts, stopped in reverse order by shutdown.
type demo struct {
	cfg    config
	out    io.Writer
	errOut io.Writer
	outMu  sync.Mutex

	tmpDir   string
	echo     *exec.Cmd
	echoEnd  chan error
	sink     *otlpsink.Sink
	jaeger   *jaegertest.Jaeger
	gw       *kongsim.Gateway
	printer  *printer
	stopPoll context.CancelFunc
	pollDone chan struct{}
}

func (d *demo) say(format string, args ...any) {
	d.outMu.Lock()
	defer d.outMu.Unlock()
	fmt.Fprintf(d.out, format, args...)
}

// checkPorts fails early, naming the flag, when a port the demo must bind
// is taken, and warns when the dead target is not dead.
func checkPorts(c config) error {
	type port struct {
		n    int
		flag string
		what string
	}
	ports := []port{
		{c.ProxyPort, "-proxy-port", "the gateway"},
		{c.UpstreamPort, "-upstream-port", "the echo upstream"},
		{c.OTLPPort, "-otlp-port", "the OTLP/HTTP receiver"},
	}
	if c.Backend == "jaeger" {
		ports = append(ports,
			port{c.Jaeger.OTLPGRPC, "-jaeger-otlp-grpc-port", "Jaeger's OTLP/gRPC receiver"},
			port{c.Jaeger.Zipkin, "-jaeger-zipkin-port", "Jaeger's Zipkin receiver"},
			port{c.Jaeger.QueryHTTP, "-jaeger-query-port", "Jaeger's query API"},
			port{c.Jaeger.QueryGRPC, "-jaeger-query-grpc-port", "Jaeger's query gRPC API"},
			port{c.Jaeger.Health, "-jaeger-health-port", "Jaeger's health check"})
	}
	seen := map[int]string{}
	for _, p := range ports {
		if p.n <= 0 || p.n > 65535 {
			return fmt.Errorf("%s %d: not a port", p.flag, p.n)
		}
		if other, dup := seen[p.n]; dup {
			return fmt.Errorf("%s and %s are both %d", other, p.flag, p.n)
		}
		seen[p.n] = p.flag
		addr := "127.0.0.1:" + strconv.Itoa(p.n)
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			return fmt.Errorf("%w: %s, for %s, cannot be bound (%v); stop what holds it (another demo, a Kong, a collector or Jaeger?) or move it with %s",
				errPortTaken, addr, p.what, err, p.flag)
		}
		ln.Close()
	}
	if c.DeadPort == c.UpstreamPort || seen[c.DeadPort] != "" {
		return fmt.Errorf("-dead-port %d: must differ from the other ports", c.DeadPort)
	}
	return nil
}

func (d *demo) start(ctx context.Context) error {
	c := d.cfg
	var err error
	if d.tmpDir, err = os.MkdirTemp("", "trace-exporter-demo-"); err != nil {
		return err
	}
	if err := d.ensurePlugin(ctx); err != nil {
		return err
	}
	if err := d.startEcho(ctx); err != nil {
		return err
	}
	if c.DeadPort > 0 {
		if conn, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(c.DeadPort), time.Second); err == nil {
			conn.Close()
			d.say("warning: something listens on 127.0.0.1:%d, kong.yml's dead target: /flaky will not show a failed try (move it with -dead-port)\n", c.DeadPort)
		}
	}
	if err := d.startBackend(ctx); err != nil {
		return err
	}
	return d.startGateway(ctx)
}

// ensurePlugin builds the plugin when the binary is missing (make demo
// builds it first; `go run ./test/demo` may not have).
func (d *demo) ensurePlugin(ctx context.Context) error {
	if filepath.Base(d.cfg.Plugin) != "trace-exporter" {
		return fmt.Errorf("-plugin %s: the file must be named trace-exporter (go-pdk names the plugin after it)", d.cfg.Plugin)
	}
	if _, err := os.Stat(d.cfg.Plugin); err == nil {
		return nil
	}
	d.say("building the plugin into %s ...\n", d.cfg.Plugin)
	return goBuild(ctx, d.cfg.Root, d.cfg.Plugin, ".")
}

func goBuild(ctx context.Context, root, out, pkg string) error {
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-o", out, pkg)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build %s: %v\n%s", pkg, err, b)
	}
	return nil
}

func (d *demo) startEcho(ctx context.Context) error {
	bin := d.cfg.Echo
	if bin == "" {
		bin = filepath.Join(d.tmpDir, "echo")
		d.say("building the echo upstream (docker/echo) ...\n")
		if err := goBuild(ctx, d.cfg.Root, bin, "./docker/echo"); err != nil {
			return err
		}
	}
	addr := "127.0.0.1:" + strconv.Itoa(d.cfg.UpstreamPort)
	args := []string{"-listen", addr}
	if !d.cfg.Verbose {
		args = append(args, "-quiet")
	}
	d.echo = exec.Command(bin, args...)
	d.echo.Stdout, d.echo.Stderr = d.errOut, d.errOut
	if !d.cfg.Verbose {
		d.echo.Stderr = io.Discard
	}
	// Its own process group (Ctrl-C reaches it only through our SIGTERM,
	// after the gateway stopped), and gone if the demo is killed.
	d.echo.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
	if err := d.echo.Start(); err != nil {
		return fmt.Errorf("start the echo upstream: %w", err)
	}
	d.echoEnd = make(chan error, 1)
	go func() { d.echoEnd <- d.echo.Wait() }()
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := http.Get("http://" + addr + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return nil
			}
		}
		select {
		case err := <-d.echoEnd:
			d.echoEnd <- err
			return fmt.Errorf("the echo upstream exited at start: %v", err)
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the echo upstream on %s is not healthy after 10 s", addr)
		}
	}
}

func (d *demo) startBackend(ctx context.Context) error {
	d.printer = newPrinter(d, d.cfg.ASCII)
	addr := "127.0.0.1:" + strconv.Itoa(d.cfg.OTLPPort)
	if d.cfg.Backend == "sink" {
		var err error
		d.sink, err = otlpsink.Listen(addr, otlpsink.Options{
			Discard: true, // runs until Ctrl-C: keep counters only
			OnRequest: func(r *otlpsink.Request) {
				if r.Accepted {
					d.printer.addOTLP(r.Export.GetResourceSpans())
				}
			},
		})
		if err != nil {
			return fmt.Errorf("OTLP receiver on %s: %w", addr, err)
		}
		pollCtx, cancel := context.WithCancel(context.Background())
		d.stopPoll, d.pollDone = cancel, make(chan struct{})
		go func() {
			defer close(d.pollDone)
			d.printer.printQuiet(pollCtx, d.cfg.Quiet)
		}()
		d.say("backend: OTLP/HTTP receiver on http://%s/v1/traces, printing each trace\n", addr)
		return nil
	}
	d.say("starting Jaeger (built first if missing: a few minutes, once) ...\n")
	var out io.Writer
	if d.cfg.Verbose {
		out = d.errOut
	}
	startCtx, cancel := context.WithTimeout(ctx, 15*time.Minute)
	defer cancel()
	j, err := jaegertest.StartProcess(startCtx, jaegertest.Options{Ports: d.cfg.Jaeger, Output: out})
	if err != nil {
		return fmt.Errorf("start Jaeger: %w", err)
	}
	d.jaeger = j
	pollCtx, stop := context.WithCancel(context.Background())
	d.stopPoll, d.pollDone = stop, make(chan struct{})
	go func() {
		defer close(d.pollDone)
		d.printer.pollJaeger(pollCtx, j.Client, "kong")
	}()
	d.say("backend: Jaeger, OTLP/HTTP on http://%s/v1/traces, query API on %s\n", addr, j.QueryURL())
	return nil
}

func (d *demo) startGateway(ctx context.Context) error {
	c := d.cfg
	text, err := os.ReadFile(c.KongYML)
	if err != nil {
		return err
	}
	// kong.yml names fixed loopback addresses; move the ones whose port was
	// moved by a flag.
	yml := strings.NewReplacer(
		ymlUpstream, "127.0.0.1:"+strconv.Itoa(c.UpstreamPort),
		ymlDead, "127.0.0.1:"+strconv.Itoa(c.DeadPort),
		ymlOTLP, "127.0.0.1:"+strconv.Itoa(c.OTLPPort),
	).Replace(string(text))
	decl, err := kongsim.ParseDeclarative([]byte(yml))
	if err != nil {
		return fmt.Errorf("%s: %w", c.KongYML, err)
	}
	level := slog.LevelError
	var pluginOut io.Writer
	if c.Verbose {
		level, pluginOut = slog.LevelInfo, d.errOut
	}
	logger := slog.New(slog.NewTextHandler(d.errOut, &slog.HandlerOptions{Level: level}))
	startCtx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	d.gw, err = kongsim.StartGateway(startCtx, kongsim.GatewayOptions{
		Options: kongsim.Options{Binary: c.Plugin, KongVersion: c.KongVersion, Logger: logger, Output: pluginOut},
		Config:  decl,
		Listen:  "127.0.0.1:" + strconv.Itoa(c.ProxyPort),
	})
	if err != nil {
		return fmt.Errorf("start the gateway: %w", err)
	}
	d.say("gateway: Kong %s emulator on http://%s with %s, plugin %s, upstream on 127.0.0.1:%d\n",
		c.KongVersion, d.gw.Addr(), filepath.Base(c.KongYML), c.Plugin, c.UpstreamPort)
	return nil
}

// sample is one request the demo sends at start.
type sample struct {
	label string
	path  string
}

var samples = []sample{
	{"a success", "/echo/hello"},
	{"an upstream error (kept by the tail rule at sampling_rate 0.25)", "/orders?status=503"},
	// Two in a row: with two round-robin targets one of them starts on the
	// dead one and is retried, whatever the balancer's starting point.
	{"a retried upstream (the dead target refuses, Kong retries)", "/flaky"},
	{"a retried upstream (second request)", "/flaky"},
	{"an unknown route (404, logged by the global plugin)", "/nothing"},
}

// sendSamples sends each sample and waits (bounded) until its trace was
// printed.
func (d *demo) sendSamples(ctx context.Context) error {
	d.say("\nSample requests:\n")
	hc := &http.Client{Timeout: 30 * time.Second}
	var ids []string
	for _, s := range samples {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+d.gw.Addr()+s.path, nil)
		if err != nil {
			return err
		}
		resp, err := hc.Do(req)
		if err != nil {
			return fmt.Errorf("GET %s: %w", s.path, err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		id := resp.Header.Get("X-Kong-Request-Id")
		traceID := resp.Header.Get("X-Trace-Id")
		if traceID == "" {
			traceID = "(not known to the client: no access phase ran)"
		}
		d.say("  GET %-20s -> %d  %s; trace %s\n", s.path, resp.StatusCode, s.label, traceID)
		if id != "" {
			d.printer.expect(id, s.label)
			ids = append(ids, id)
		}
	}
	d.say("\nTheir traces, as the backend received them:\n\n")
	waitCtx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	if missing := d.printer.waitPrinted(waitCtx, ids); len(missing) > 0 {
		if ctx.Err() != nil {
			return nil
		}
		return fmt.Errorf("the traces of %d sample requests were not printed within 20 s: %s", len(missing), strings.Join(missing, ", "))
	}
	return nil
}

// shutdown stops everything started, gateway first so the plugin flushes
// its queue (SIGTERM) while the backend still listens.
func (d *demo) shutdown() error {
	var errs []error
	if d.gw != nil {
		d.gw.Close()
	}
	if d.stopPoll != nil {
		// Give the last flushed spans a moment to arrive and be printed.
		time.Sleep(d.cfg.Quiet + 300*time.Millisecond)
		if d.jaeger != nil {
			time.Sleep(700 * time.Millisecond) // one more poll of the query API
		}
		d.stopPoll()
		<-d.pollDone
	}
	if d.sink != nil {
		d.sink.Close()
	}
	if d.jaeger != nil {
		if err := d.jaeger.Stop(); err != nil {
			errs = append(errs, err)
		}
	}
	if d.echo != nil && d.echo.Process != nil {
		_ = d.echo.Process.Signal(syscall.SIGTERM)
		select {
		case <-d.echoEnd:
		case <-time.After(10 * time.Second):
			_ = d.echo.Process.Kill()
			<-d.echoEnd
			errs = append(errs, fmt.Errorf("the echo upstream ignored SIGTERM; killed"))
		}
	}
	if d.tmpDir != "" {
		os.RemoveAll(d.tmpDir)
	}
	if d.gw != nil {
		d.say("stopped: gateway, plugin (flushed), backend, upstream\n")
	}
	if len(errs) > 0 {
		return fmt.Errorf("shutdown: %v", errs)
	}
	return nil
}

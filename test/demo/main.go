// Command demo is `make demo`: the trace-exporter plugin under the Kong
// emulator proxying real HTTP with the repository's kong.yml, and every
// trace printed as a text waterfall as it reaches the backend.
//
// It builds the echo upstream (docker/echo) and starts it on 127.0.0.1:9000,
// starts the backend, runs the emulated Kong gateway on 127.0.0.1:8000 with
// the plugin binary (bin/trace-exporter, built by `make build`; built here
// when missing), sends a few sample requests (a success, an upstream error,
// a retried upstream, an unknown route), prints their traces, then keeps
// serving until Ctrl-C and shuts everything down cleanly (the plugin gets
// SIGTERM and flushes its queue first).
//
// Backends:
//
//	-backend sink     (default) an OTLP/HTTP receiver on 127.0.0.1:4318 inside
//	                  this process; a trace is printed once no new span arrived
//	                  for it for -quiet (default 700 ms)
//	-backend jaeger   a real Jaeger v2 on its usual ports (4318 OTLP/HTTP,
//	                  16686 query/UI, ...), built from the Go module proxy on
//	                  first use; traces are read back from its query API
//
// Every port can be moved with a flag (tests do); each is checked before
// anything starts, with an error naming the flag when one is taken.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/trace-exporter/trace-exporter/test/jaegertest"
)

// config is everything run needs; main fills it from flags.
type config struct {
	Root        string // repository root (kong.yml, docker/echo)
	Backend     string // "sink" or "jaeger"
	KongYML     string
	Plugin      string // plugin binary; built from Root when missing
	Echo        string // echo binary; built from Root/docker/echo when empty
	KongVersion string

	ProxyPort    int // the gateway (kong.yml's clients: 8000)
	UpstreamPort int // the echo upstream (kong.yml: 9000)
	DeadPort     int // the refusing balancer target (kong.yml: 9001)
	OTLPPort     int // OTLP/HTTP receiver, the sink's or Jaeger's (kong.yml: 4318)
	Jaeger       jaegertest.Ports

	Quiet   time.Duration // sink: print a trace once it had no new span for this long
	Samples bool          // send the sample requests
	// ExitAfterSamples stops once the samples' traces are printed, instead
	// of serving until interrupted (tests, CI).
	ExitAfterSamples bool
	ASCII            bool
	Verbose          bool
}

// kong.yml's fixed addresses, moved when a port flag says so.
const (
	ymlUpstream = "127.0.0.1:9000"
	ymlDead     = "127.0.0.1:9001"
	ymlOTLP     = "127.0.0.1:4318"
)

func main() {
	var c config
	flag.StringVar(&c.Backend, "backend", "sink", "where spans go: sink (printed by this process) or jaeger")
	flag.StringVar(&c.KongYML, "config", "", "declarative config (default: kong.yml at the repository root)")
	flag.StringVar(&c.Plugin, "plugin", "", "plugin binary (default: bin/trace-exporter, built when missing)")
	flag.StringVar(&c.Echo, "echo", "", "echo upstream binary (default: built from docker/echo)")
	flag.StringVar(&c.KongVersion, "kong-version", "3.9", "emulated Kong version, 3.3 to 3.16")
	flag.IntVar(&c.ProxyPort, "proxy-port", 8000, "gateway port on 127.0.0.1")
	flag.IntVar(&c.UpstreamPort, "upstream-port", 9000, "echo upstream port on 127.0.0.1")
	flag.IntVar(&c.DeadPort, "dead-port", 9001, "port of kong.yml's dead balancer target (nothing may listen there)")
	flag.IntVar(&c.OTLPPort, "otlp-port", 4318, "OTLP/HTTP port of the backend on 127.0.0.1")
	flag.IntVar(&c.Jaeger.OTLPGRPC, "jaeger-otlp-grpc-port", 4317, "jaeger: OTLP/gRPC port")
	flag.IntVar(&c.Jaeger.Zipkin, "jaeger-zipkin-port", 9411, "jaeger: Zipkin port")
	flag.IntVar(&c.Jaeger.QueryHTTP, "jaeger-query-port", 16686, "jaeger: query API (and UI) port")
	flag.IntVar(&c.Jaeger.QueryGRPC, "jaeger-query-grpc-port", 16685, "jaeger: query gRPC port")
	flag.IntVar(&c.Jaeger.Health, "jaeger-health-port", 13133, "jaeger: health check port")
	flag.DurationVar(&c.Quiet, "quiet", 700*time.Millisecond, "sink: print a trace once no span arrived for it for this long")
	flag.BoolVar(&c.Samples, "samples", true, "send the sample requests at start")
	flag.BoolVar(&c.ExitAfterSamples, "exit-after-samples", false, "stop once the sample traces are printed")
	flag.BoolVar(&c.ASCII, "ascii", false, "draw waterfalls with ASCII only")
	flag.BoolVar(&c.Verbose, "v", false, "also print the plugin's, the emulator's and Jaeger's logs")
	flag.Parse()

	root, err := jaegertest.RepoRoot()
	if err != nil {
		fatal(err)
	}
	c.Root = root
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, c, os.Stdout, os.Stderr); err != nil {
		fatal(err)
	}
}

func fatal(err error) {
	fmt.Fprintln(os.Stderr, "demo:", err)
	os.Exit(1)
}

// withDefaults fills what main's flags would.
func (c config) withDefaults() config {
	if c.Backend == "" {
		c.Backend = "sink"
	}
	if c.KongYML == "" {
		c.KongYML = filepath.Join(c.Root, "kong.yml")
	}
	if c.Plugin == "" {
		c.Plugin = filepath.Join(c.Root, "bin", "trace-exporter")
	}
	if c.KongVersion == "" {
		c.KongVersion = "3.9"
	}
	if c.Quiet <= 0 {
		c.Quiet = 700 * time.Millisecond
	}
	if c.Jaeger.OTLPGRPC == 0 {
		d := jaegertest.DefaultPorts
		c.Jaeger.OTLPGRPC, c.Jaeger.Zipkin, c.Jaeger.QueryHTTP, c.Jaeger.QueryGRPC, c.Jaeger.Health =
			d.OTLPGRPC, d.Zipkin, d.QueryHTTP, d.QueryGRPC, d.Health
	}
	c.Jaeger.OTLPHTTP = c.OTLPPort
	return c
}

// run is the whole demo; it returns when ctx ends (Ctrl-C) or, with
// ExitAfterSamples, once the samples' traces are printed.
func run(ctx context.Context, c config, stdout, stderr io.Writer) (err error) {
	c = c.withDefaults()
	if c.Backend != "sink" && c.Backend != "jaeger" {
		return fmt.Errorf("-backend %q: want sink or jaeger", c.Backend)
	}
	if err := checkPorts(c); err != nil {
		return err
	}
	d := &demo{cfg: c, out: stdout, errOut: stderr}
	defer func() {
		if serr := d.shutdown(); err == nil {
			err = serr
		}
	}()
	if err := d.start(ctx); err != nil {
		return err
	}
	if c.Samples {
		if err := d.sendSamples(ctx); err != nil {
			return err
		}
	}
	if c.ExitAfterSamples {
		return nil
	}
	d.say("\nServing on http://127.0.0.1:%d until Ctrl-C. Try:\n", c.ProxyPort)
	for _, ex := range []string{"/echo/hello", "/orders?status=503", "/orders?delay_ms=800", "/flaky", "/nothing"} {
		d.say("  curl -i 'localhost:%d%s'\n", c.ProxyPort, ex)
	}
	if c.Backend == "jaeger" {
		d.say("Jaeger query API: http://127.0.0.1:%d/api/traces?service=kong\n", c.Jaeger.QueryHTTP)
	}
	<-ctx.Done()
	d.say("\nStopping...\n")
	return nil
}

var errPortTaken = errors.New("port already in use")

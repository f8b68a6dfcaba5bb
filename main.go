// Command trace-exporter is a Kong Gateway external plugin (go-pdk embedded
// server, ProtoBuf protocol) that exports a trace of every proxied request.
//
// Kong starts it with `trace-exporter -kong-prefix <prefix>` and asks for
// its description with `trace-exporter -dump`.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/Kong/go-pdk/server"
	"google.golang.org/grpc/grpclog"

	"github.com/trace-exporter/trace-exporter/exporter"
	_ "github.com/trace-exporter/trace-exporter/exporter/builtin" // the backends that ship with the plugin
	"github.com/trace-exporter/trace-exporter/metrics"
	"github.com/trace-exporter/trace-exporter/plugin"
	"github.com/trace-exporter/trace-exporter/schema"
)

// Environment knobs of the plugin server process. Kong's nginx worker starts
// the plugin server and nginx clears its workers' environment, so each
// variable must be declared to nginx (KONG_NGINX_MAIN_ENV) to reach us.
const (
	envLogLevel        = "TRACE_EXPORTER_LOG_LEVEL"        // debug, info (default), warn, error
	envShutdownTimeout = "TRACE_EXPORTER_SHUTDOWN_TIMEOUT" // Go duration; default 5s
)

// metricsListen opts in to the Prometheus endpoint, metricsRequests to the
// request metrics on it. Registered on the default flag set at package
// initialisation, before go-pdk parses it.
var (
	metricsListen = flag.String("metrics-listen", "",
		"serve Prometheus metrics at http://ADDR/metrics; a bare port listens on loopback only (default from "+metrics.EnvListen+")")
	metricsRequests = flag.Bool("metrics-requests", false,
		"also serve the request metrics of the plugin configs' metrics record on /metrics, with exemplars in OpenMetrics (default from "+metrics.EnvRequests+")")
)

func main() {
	configureLogging()
	// go-pdk registers -kong-prefix, -dump and -help on the default flag set
	// and parses it again in StartServer; parsing here first lets us answer
	// -dump ourselves.
	flag.Parse()
	if dumpRequested() {
		if err := writeDump(os.Stdout); err != nil {
			fmt.Fprintln(os.Stderr, "trace-exporter: -dump:", err)
			os.Exit(1)
		}
		return
	}
	// grpc-go prints every reconnection attempt of the OTLP/gRPC backend at
	// warning level, and Kong logs each line the plugin server prints;
	// export failures are reported by the pipelines' throttled logs instead.
	grpclog.SetLoggerV2(grpclog.NewLoggerV2(io.Discard, io.Discard, os.Stderr))
	// Every instance go-pdk starts shares one environment: the pipelines
	// (flushed on SIGTERM) and the counters /metrics reads.
	env := plugin.NewEnv(exporter.NewRegistry(exporter.RegistryOptions{}))
	env.LogOnly = plugin.IsLogOnly(pluginName())
	startMetrics(env)
	go flushOnSignal(env, shutdownTimeout())
	// Memory stays near what the queues may hold (queue.max_bytes).
	env.Pipelines.BoundMemory()
	env.StartLogWorker()
	constructor := func() any { return plugin.NewWithEnv(env) }
	if err := server.StartServer(constructor, plugin.Version, plugin.Priority); err != nil {
		slog.Error("plugin server stopped", "error", err)
		os.Exit(1)
	}
}

// startMetrics serves /metrics when -metrics-listen or
// TRACE_EXPORTER_METRICS_LISTEN asks for it. A bad address disables metrics
// with an error in the log; the plugin itself keeps working.
func startMetrics(env *plugin.Env) {
	v := *metricsListen
	if v == "" {
		v = os.Getenv(metrics.EnvListen)
	}
	if v == "" {
		return
	}
	addr, err := metrics.ListenAddress(v)
	if err != nil {
		slog.Error("metrics disabled", "error", err)
		return
	}
	fromEnv, _ := strconv.ParseBool(os.Getenv(metrics.EnvRequests))
	requests := *metricsRequests || fromEnv
	reg := metrics.NewRegistry(metrics.NewCollector(env))
	metrics.RegisterRequestMetrics(reg, env.RequestMetrics, requests)
	env.RequestMetrics.SetServed(requests)
	metrics.StartOptions(addr, reg, slog.Default(), metrics.ServeOptions{OpenMetrics: requests})
}

func dumpRequested() bool {
	f := flag.Lookup("dump")
	return f != nil && f.Value.String() == "true"
}

// writeDump prints the plugin description Kong reads through query_cmd. We
// answer -dump ourselves because go-pdk derives the schema by reflection,
// with types only: no defaults, enums or ranges. Kong would then neither fill
// defaults nor refuse bad values when a config is written. The shape is
// go-pdk's (Protocol, SocketPath, Plugins[{Name, Phases, Version, Priority,
// Schema}]) so Kong 3.0–3.9 read it unchanged.
func writeDump(w *os.File) error {
	name := pluginName()
	prefix := "/usr/local/kong"
	if f := flag.Lookup("kong-prefix"); f != nil {
		prefix = f.Value.String()
	}
	info := map[string]any{
		"Protocol":   "ProtoBuf:1",
		"SocketPath": filepath.Join(prefix, name+".socket"),
		"Plugins": []any{map[string]any{
			"Name":     name,
			"Phases":   plugin.Phases(name),
			"Version":  plugin.Version,
			"Priority": plugin.Priority,
			"Schema":   schema.KongSchema(name, exporter.Names()),
		}},
	}
	enc := json.NewEncoder(w)
	return enc.Encode(info)
}

// pluginName is the executable's base name, as go-pdk names the plugin and
// its socket.
func pluginName() string {
	exe, err := os.Executable()
	if err != nil {
		return "trace-exporter"
	}
	return filepath.Base(exe)
}

// flushOnSignal flushes every pipeline when Kong stops or reloads (both send
// SIGTERM; go-pdk installs no handler, so the default would drop everything
// queued), then exits 0. Request metrics are pushed first, into the
// pipelines that flush next.
func flushOnSignal(env *plugin.Env, timeout time.Duration) {
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
	sig := <-sigs
	slog.Info("flushing spans before exit", "signal", sig.String(), "deadline", timeout)
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	env.DrainLogWork()
	env.RequestMetrics.Flush()
	if err := env.Pipelines.ShutdownAll(ctx); err != nil {
		slog.Warn("shutdown did not complete", "error", err)
	}
	os.Exit(0)
}

func shutdownTimeout() time.Duration {
	if v := os.Getenv(envShutdownTimeout); v != "" {
		if d, err := time.ParseDuration(v); err == nil && d > 0 {
			return d
		}
		slog.Warn("ignoring invalid "+envShutdownTimeout, "value", v)
	}
	return 5 * time.Second
}

func configureLogging() {
	level := slog.LevelInfo
	switch strings.ToLower(os.Getenv(envLogLevel)) {
	case "debug":
		level = slog.LevelDebug
	case "warn", "warning":
		level = slog.LevelWarn
	case "error":
		level = slog.LevelError
	}
	// Kong logs each line of the plugin server's output at info level
	// prefixed with the plugin name and pid; keep lines single and textual.
	slog.SetDefault(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level})))
}

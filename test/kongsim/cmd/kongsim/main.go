// Command kongsim is a small Kong 3.x gateway for go-pdk plugins: it loads a
// declarative config (kong.yml), runs the plugin binary as Kong does and
// proxies HTTP through it until interrupted.
//
//	go run ./test/kongsim/cmd/kongsim -config kong.yml -plugin ./trace-exporter -listen 127.0.0.1:8000
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/trace-exporter/trace-exporter/test/kongsim"
)

func main() {
	config := flag.String("config", "kong.yml", "declarative config file (_format_version 3.0)")
	plugin := flag.String("plugin", "", "go-pdk plugin executable (its base name is the plugin name)")
	listen := flag.String("listen", "127.0.0.1:8000", "proxy listen address")
	version := flag.String("kong-version", "3.9", "emulated Kong version, 3.3 to 3.16")
	prefix := flag.String("prefix", "", "Kong prefix for the plugin socket (default: a temporary directory)")
	quiet := flag.Bool("quiet", false, "do not print the plugin's output")
	verbose := flag.Bool("v", false, "debug logging")
	flag.Parse()

	level := slog.LevelInfo
	if *verbose {
		level = slog.LevelDebug
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	slog.SetDefault(logger)
	if *plugin == "" {
		fmt.Fprintln(os.Stderr, "kongsim: -plugin is required")
		flag.Usage()
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	opts := kongsim.GatewayOptions{
		Options:    kongsim.Options{Binary: *plugin, KongVersion: *version, Prefix: *prefix, Logger: logger},
		ConfigPath: *config,
		Listen:     *listen,
		MaxRecords: 1000,
	}
	if !*quiet {
		opts.Output = os.Stderr
	}
	gw, err := kongsim.StartGateway(ctx, opts)
	if err != nil {
		logger.Error("kongsim: start failed", "err", err)
		os.Exit(1)
	}
	info := gw.Sim().Info()
	logger.Info("kongsim: proxy listening", "url", gw.URL(), "plugin", info.Name, "version", info.Version,
		"phases", info.Phases, "kong", gw.Sim().Version().String(), "plugin_entities", len(gw.Plugins()))
	<-ctx.Done()
	logger.Info("kongsim: stopping")
	gw.Close()
}

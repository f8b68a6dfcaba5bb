// Package harness starts the real parts of an end-to-end test and shares
// the expensive ones within one test binary:
//
//   - the trace-exporter plugin binary, built once per test binary from the
//     repository (the file is named trace-exporter: go-pdk names the plugin
//     after its executable);
//   - one Jaeger v2 (test/jaegertest) on free loopback ports, started on
//     first use; tests keep apart by unique trace ids;
//   - an upstream that records every request it received (headers
//     included) and answers ?status= and ?delay_ms= like docker/echo;
//   - the Kong emulator gateway (test/kongsim) running the plugin binary
//     over its unix socket, from a declarative config written as Go values.
//
// A test binary using it calls Main from TestMain so the shared parts are
// stopped and removed at the end:
//
//	func TestMain(m *testing.M) { os.Exit(harness.Main(m)) }
//
// TRACE_EXPORTER_BIN=/path/to/trace-exporter makes the tests use that
// binary instead of building one (a release build, or a known-good build
// while the working tree is half edited).
package harness

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/trace-exporter/trace-exporter/test/jaegertest"
	"github.com/trace-exporter/trace-exporter/test/kongsim"
	"github.com/trace-exporter/trace-exporter/test/testutil"
)

// PluginName is the plugin's name: the binary's base name and the name in
// declarative configs.
const PluginName = testutil.PluginName

var shared struct {
	jaegerMu  sync.Mutex
	jaeger    *jaegertest.Jaeger
	jaegerErr error
}

// Main runs the tests, then stops the shared Jaeger and removes the built
// plugin. It returns the exit code for os.Exit.
func Main(m *testing.M) int {
	code := m.Run()
	shared.jaegerMu.Lock()
	if j := shared.jaeger; j != nil {
		if err := j.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, "harness: stopping Jaeger:", err)
			if code == 0 {
				code = 1
			}
		}
	}
	shared.jaegerMu.Unlock()
	testutil.Cleanup()
	return code
}

// BuildPlugin builds the plugin from the repository at root into out, the
// way `make build` does (CGO off, -trimpath, so both share the Go build
// cache and the build after `make build` is a cache hit).
func BuildPlugin(ctx context.Context, root, out string) error {
	return testutil.Build(ctx, root, ".", out)
}

// EnvPluginBinary names a prebuilt plugin binary to use instead of building
// one (its base name must be trace-exporter), e.g. to test a release build.
const EnvPluginBinary = testutil.EnvPluginBinary

// PluginBinary returns the plugin built for this test binary (once; later
// calls return the same file or the same error), or $TRACE_EXPORTER_BIN.
func PluginBinary(tb testing.TB) string {
	tb.Helper()
	return testutil.PluginBinary(tb)
}

// Jaeger returns the Jaeger shared by the test binary, starting it on the
// first call. Main stops it. Tests must keep apart by trace id (or by
// service name), never by assuming an empty store.
func Jaeger(tb testing.TB) *jaegertest.Jaeger {
	tb.Helper()
	shared.jaegerMu.Lock()
	defer shared.jaegerMu.Unlock()
	if shared.jaeger == nil && shared.jaegerErr == nil {
		// Covers a cold build of the binary on a fresh clone (~3.5 min).
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
		defer cancel()
		shared.jaeger, shared.jaegerErr = jaegertest.StartProcess(ctx, jaegertest.Options{})
	}
	if shared.jaegerErr != nil {
		tb.Fatalf("start Jaeger: %v", shared.jaegerErr)
	}
	select {
	case <-shared.jaeger.Exited():
		tb.Fatalf("the shared Jaeger died; log tail:\n%s", shared.jaeger.Log())
	default:
	}
	return shared.jaeger
}

// GatewayOptions configure StartGateway.
type GatewayOptions struct {
	// KongVersion is the emulated release ("3.3" … "3.16"; default 3.9).
	KongVersion string
	// Config is the declarative configuration as Go values (maps and
	// slices as in kong.yml); "_format_version" is added when missing.
	Config map[string]any
	// Logger receives the emulator's messages; default: discarded unless
	// the test runs with -v.
	Logger *slog.Logger
	// Output receives the plugin server's output; default: os.Stderr with
	// -v, else nothing (the emulator keeps it for Sim().Output()).
	Output io.Writer
	// Binary is the plugin server to run; default PluginBinary (a copy
	// under another name is another plugin, e.g. trace-exporter-log).
	Binary string
}

// StartGateway starts the emulated Kong with the plugin binary and the
// config, proxying on a free loopback port; it is closed at test cleanup
// (the plugin server gets SIGTERM, as when Kong stops).
func StartGateway(tb testing.TB, opts GatewayOptions) *kongsim.Gateway {
	tb.Helper()
	decl := Declarative(tb, opts.Config)
	logger := opts.Logger
	if logger == nil {
		logger = TestLogger()
	}
	out := opts.Output
	if out == nil && testing.Verbose() {
		out = os.Stderr
	}
	bin := opts.Binary
	if bin == "" {
		bin = PluginBinary(tb)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	g, err := kongsim.StartGateway(ctx, kongsim.GatewayOptions{
		Options: kongsim.Options{Binary: bin, KongVersion: opts.KongVersion,
			Logger: logger, Output: out},
		Config: decl,
		Listen: "127.0.0.1:0",
	})
	if err != nil {
		tb.Fatalf("start gateway: %v", err)
	}
	tb.Cleanup(func() { g.Close() })
	return g
}

// Declarative turns a config written as Go values into the emulator's
// entities (through JSON, which its YAML loader reads).
func Declarative(tb testing.TB, cfg map[string]any) *kongsim.Declarative {
	tb.Helper()
	c := make(map[string]any, len(cfg)+1)
	for k, v := range cfg {
		c[k] = v
	}
	if _, ok := c["_format_version"]; !ok {
		c["_format_version"] = "3.0"
	}
	data, err := json.Marshal(c)
	if err != nil {
		tb.Fatalf("declarative config: %v", err)
	}
	d, err := kongsim.ParseDeclarative(data)
	if err != nil {
		tb.Fatalf("declarative config: %v\n%s", err, data)
	}
	return d
}

// TestLogger discards the emulator's log unless the test runs with -v.
func TestLogger() *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	return slog.New(slog.DiscardHandler)
}

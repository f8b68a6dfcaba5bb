package testutil

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
	"time"
)

// PluginName is the plugin's name: go-pdk names the plugin and its socket
// after the executable, so the binary must carry it.
const PluginName = "trace-exporter"

// EnvPluginBinary names a prebuilt plugin binary to use instead of building
// one (its base name must be trace-exporter): a release build, or a
// known-good build while the working tree is half edited.
const EnvPluginBinary = "TRACE_EXPORTER_BIN"

const modulePath = "module github.com/trace-exporter/trace-exporter\n"

// RepoRoot returns the repository root: the nearest directory above the
// working directory (or, failing that, above this source file) whose go.mod
// declares the project's module.
func RepoRoot() (string, error) {
	var starts []string
	if wd, err := os.Getwd(); err == nil {
		starts = append(starts, wd)
	}
	// The source path serves `go run` from elsewhere; it is absent under
	// -trimpath, hence only a fallback.
	if _, file, _, ok := runtime.Caller(0); ok {
		starts = append(starts, filepath.Dir(file))
	}
	for _, dir := range starts {
		for {
			if b, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil && len(b) >= len(modulePath) && string(b[:len(modulePath)]) == modulePath {
				return dir, nil
			}
			parent := filepath.Dir(dir)
			if parent == dir {
				break
			}
			dir = parent
		}
	}
	return "", errors.New("testutil: cannot find the repository root (no go.mod of the project above the working directory)")
}

// Build compiles the package pkg (a path relative to dir, e.g. ".") into
// out the way `make build` does: CGO off and -trimpath, so builds share the
// Go build cache with it. $GO, when set, is the go command (as in the
// Makefile).
//
// flags go to go build before the package (e.g. -overlay FILE).
func Build(ctx context.Context, dir, pkg, out string, flags ...string) error {
	goTool := os.Getenv("GO")
	if goTool == "" {
		goTool = "go"
	}
	args := append(append([]string{"build", "-trimpath", "-o", out}, flags...), pkg)
	cmd := exec.CommandContext(ctx, goTool, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build %s in %s: %v\n%s", pkg, dir, err, b)
	}
	return nil
}

var plugin struct {
	once sync.Once
	dir  string // the build's directory, removed by Cleanup
	bin  string
	err  error
}

// Plugin returns the trace-exporter binary for this test binary: the file
// named by $TRACE_EXPORTER_BIN, or one built from the repository on the
// first call (later calls return the same file or the same error). For use
// in TestMain; tests call PluginBinary.
func Plugin() (string, error) {
	plugin.once.Do(func() {
		if bin := os.Getenv(EnvPluginBinary); bin != "" {
			if filepath.Base(bin) != PluginName {
				plugin.err = fmt.Errorf("%s=%s: the file must be named %s (go-pdk names the plugin after it)", EnvPluginBinary, bin, PluginName)
			}
			plugin.bin = bin
			return
		}
		root, err := RepoRoot()
		if err != nil {
			plugin.err = err
			return
		}
		// Short: keep temporary paths well under the unix socket limit.
		if plugin.dir, err = os.MkdirTemp("", "plugin-bin-"); err != nil {
			plugin.err = err
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		bin := filepath.Join(plugin.dir, PluginName)
		if err := Build(ctx, root, ".", bin); err != nil {
			plugin.err = err
			return
		}
		plugin.bin = bin
	})
	return plugin.bin, plugin.err
}

// PluginBinary is Plugin for a test: it fails the test when there is no
// binary.
func PluginBinary(tb testing.TB) string {
	tb.Helper()
	bin, err := Plugin()
	if err != nil {
		tb.Fatalf("plugin binary: %v", err)
	}
	return bin
}

// Cleanup removes the plugin built for this test binary, if any (never a
// $TRACE_EXPORTER_BIN file). Call it at the end of TestMain; Main does.
func Cleanup() {
	if plugin.dir != "" {
		os.RemoveAll(plugin.dir)
	}
}

// Main runs the tests and then Cleanup, returning the exit code for
// os.Exit: func TestMain(m *testing.M) { os.Exit(testutil.Main(m)) }.
func Main(m *testing.M) int {
	code := m.Run()
	Cleanup()
	return code
}

// LogOnlyPluginBinary returns the plugin binary installed under its log-only
// name (trace-exporter-log): the same binary, which then declares only the
// log phase to Kong.
func LogOnlyPluginBinary(tb testing.TB) string {
	tb.Helper()
	return InstallAs(tb, PluginBinary(tb), PluginName+"-log")
}

// InstallAs links (or copies) the executable src under the file name name
// in a directory of the test's own, and returns its path: go-pdk names the
// plugin after its executable.
func InstallAs(tb testing.TB, src, name string) string {
	tb.Helper()
	dst := filepath.Join(tb.TempDir(), name)
	if os.Link(src, dst) == nil {
		return dst
	}
	// Another file system: copy.
	b, err := os.ReadFile(src)
	if err != nil {
		tb.Fatal(err)
	}
	if err := os.WriteFile(dst, b, 0o755); err != nil {
		tb.Fatal(err)
	}
	return dst
}

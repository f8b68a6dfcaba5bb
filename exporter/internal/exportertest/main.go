package exportertest

import (
	"flag"
	"log/slog"
	"os"
	"testing"

	"go.uber.org/goleak"
)

// Main runs a package's tests, then fails when a goroutine is left behind:
// every pipeline goroutine (workers, janitor, HTTP and gRPC connections)
// must be gone once the tests' registries are shut down. Pipeline logs are
// shown with -v only. Use it from TestMain:
//
//	func TestMain(m *testing.M) { exportertest.Main(m) }
func Main(m *testing.M) {
	flag.Parse()
	if !testing.Verbose() {
		slog.SetDefault(slog.New(slog.DiscardHandler))
	}
	if code := m.Run(); code != 0 {
		os.Exit(code)
	}
	if err := goleak.Find(goleak.IgnoreTopFunction("internal/poll.runtime_pollWait")); err != nil {
		os.Stderr.WriteString("goleak: " + err.Error() + "\n")
		os.Exit(1)
	}
	os.Exit(0)
}

// MainIgnoring is Main with goroutines the leak check ignores: those a
// third-party test double leaves behind after it is closed.
func MainIgnoring(m *testing.M, ignore ...goleak.Option) {
	flag.Parse()
	if !testing.Verbose() {
		slog.SetDefault(slog.New(slog.DiscardHandler))
	}
	if code := m.Run(); code != 0 {
		os.Exit(code)
	}
	if err := goleak.Find(append(ignore, goleak.IgnoreTopFunction("internal/poll.runtime_pollWait"))...); err != nil {
		os.Stderr.WriteString("goleak: " + err.Error() + "\n")
		os.Exit(1)
	}
	os.Exit(0)
}

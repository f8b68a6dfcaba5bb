package exporter

import (
	"flag"
	"log/slog"
	"os"
	"testing"

	"go.uber.org/goleak"
)

// Every pipeline goroutine (batcher, workers, janitor, HTTP connections)
// must be gone once the tests' registries are shut down. Pipeline logs are
// shown with -v only.
func TestMain(m *testing.M) {
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
}

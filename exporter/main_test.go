package exporter

import (
	"testing"

	"go.uber.org/goleak"
)

// Every pipeline goroutine (batcher, workers, janitor, HTTP connections)
// must be gone once the tests' registries are shut down.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.IgnoreTopFunction("internal/poll.runtime_pollWait"))
}

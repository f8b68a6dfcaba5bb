// Package e2e holds the end-to-end tests: real HTTP through the Kong
// emulator gateway (test/kongsim) running the real trace-exporter binary
// over its unix socket, a local upstream that records what it received, and
// the traces read back from a real Jaeger's query API (or, for the PDK
// budget and SIGTERM tests, from an in-process OTLP receiver).
//
// One plugin build and one Jaeger serve the whole test binary (see
// test/harness); every test works on its own trace ids and service names.
package e2e

import (
	"os"
	"testing"

	"github.com/trace-exporter/trace-exporter/test/harness"
	"github.com/trace-exporter/trace-exporter/test/jaegertest"
)

func TestMain(m *testing.M) { os.Exit(harness.Main(m)) }

// baseJaegerConfig reads tools/jaeger/config.yaml, for a test that runs
// Jaeger with pipelines added to it: its path (for messages) and its text.
func baseJaegerConfig(t *testing.T) (path, config string) {
	t.Helper()
	path, err := jaegertest.ConfigPath()
	if err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return path, string(raw)
}

// Package testutil holds the helpers that tests across the repository
// share: a goroutine-safe buffer for a child process's output, free
// loopback ports, the repository root, and the plugin binary built once per
// test binary (or taken from $TRACE_EXPORTER_BIN). It imports nothing of
// the project, so every test package may use it.
package testutil

// Package bench holds the side-by-side benchmarks of issue 7 (run by
// `make bench`, results in BENCHMARKS.md): the log path, the export path and
// the plugin server, each next to its peers (the OpenTelemetry Go SDK,
// json.Valid, the official OTLP structs, an empty go-pdk plugin), plus the
// gateway load run and the memory bound under overload. Everything is in
// its _test.go files; the peers are test dependencies only.
package bench

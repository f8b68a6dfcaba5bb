package exporter_test

// The pipeline tests run the shipped backends.
import _ "github.com/trace-exporter/trace-exporter/exporter/builtin"

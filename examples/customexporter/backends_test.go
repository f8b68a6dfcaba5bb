package customexporter

// The tests start pipelines of the shipped backends, as the plugin server does.
import _ "github.com/trace-exporter/trace-exporter/exporter/builtin"

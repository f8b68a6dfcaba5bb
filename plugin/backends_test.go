package plugin

// The tests start plugin instances with the shipped backends, as the
// plugin server does.
import _ "github.com/trace-exporter/trace-exporter/exporter/builtin"

package plugin

import (
	"log/slog"

	"github.com/trace-exporter/trace-exporter/schema"
)

// warnNotExported logs, once per instance, each configured Kong field whose
// data this plugin does not export, so that nothing set is silently
// ignored. Kong starts an instance per config (and again after a config
// change or a plugin server restart): one warning per instance start.
func warnNotExported(cfg *schema.Config) {
	for _, n := range notExported(cfg) {
		slog.Warn(n.message, "field", n.field)
	}
}

type notice struct{ field, message string }

func notExported(cfg *schema.Config) []notice {
	var out []notice
	if len(cfg.AccessLogs.CustomAttributesByLua) > 0 {
		out = append(out, notice{"access_logs.custom_attributes_by_lua", "access_logs.custom_attributes_by_lua is Lua code, " +
			"which a Go plugin cannot run: it is never run; set static_attributes, capture_request_headers or " +
			"capture_response_headers, or register a Go log processor (exporter.RegisterLogProcessor)"})
	}
	return out
}

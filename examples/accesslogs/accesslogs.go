// Package accesslogs is the README's access log processor example: in Go,
// what Kong's access_logs.custom_attributes_by_lua does in Lua.
package accesslogs

import (
	"github.com/trace-exporter/trace-exporter/exporter"
	"github.com/trace-exporter/trace-exporter/schema"
)

func init() {
	exporter.RegisterLogProcessor("tenant", newTenant)
}

type tenant struct{}

func newTenant(cfg *schema.Config) (exporter.LogProcessor, error) {
	return tenant{}, nil // return nil, nil to stay off for this config
}

// HeadersRead names the request headers the processor reads.
func (tenant) HeadersRead() (request, response []string) { return []string{"x-tenant"}, nil }

// ProcessLog drops health checks' records and sets tenant, as
// custom_attributes_by_lua: {tenant: 'return kong.request.get_header("x-tenant") or "unknown"'}.
func (tenant) ProcessLog(r *exporter.LogRecord, req *exporter.Request) bool {
	if v, ok := exporter.FindAttribute(r.Attributes, "url.path"); ok && v.AsString() == "/health" {
		return false
	}
	name := "unknown"
	if v := req.RequestHeader("x-tenant"); len(v) > 0 {
		name = v[0]
	}
	r.Attributes = append(r.Attributes, exporter.String("tenant", name))
	return true
}

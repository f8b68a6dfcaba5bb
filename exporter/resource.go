package exporter

import (
	"crypto/rand"
	"fmt"
	"sort"
	"sync"

	"github.com/trace-exporter/trace-exporter/schema"
)

// Version is the plugin's version, reported as the instrumentation scope
// version, telemetry.sdk.version and to Kong by -dump.
const Version = "0.1.0"

// SchemaURL names the version of the OpenTelemetry semantic conventions the
// exported data follows (OTLP schema_url of resources and scopes).
const SchemaURL = "https://opentelemetry.io/schemas/1.43.0"

// ScopeName is the instrumentation scope of every span we export.
const ScopeName = "trace-exporter"

// DefaultServiceName is service.name when resource_attributes has none, as
// Kong's opentelemetry plugin does.
const DefaultServiceName = "kong"

// NewScope returns the instrumentation scope reported with every batch.
func NewScope() Scope { return Scope{Name: ScopeName, Version: Version, SchemaURL: SchemaURL} }

// NewResource builds a pipeline's resource: the user's resource_attributes
// (sorted by key, so equal configs encode equally), service.name defaulting
// to "kong", service.instance.id identifying this process, and the
// telemetry.sdk.* attributes that say who produced the spans. A key the user
// set wins over a default: every key appears once.
func NewResource(cfg *schema.Config) *Resource {
	keys := make([]string, 0, len(cfg.ResourceAttributes))
	for k := range cfg.ResourceAttributes {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	attrs := make([]Attribute, 0, len(keys)+5)
	addDefault := func(k, v string) {
		if _, set := cfg.ResourceAttributes[k]; !set {
			attrs = append(attrs, String(k, v))
		}
	}
	addDefault("service.name", DefaultServiceName)
	addDefault("service.instance.id", processInstanceID())
	for _, k := range keys {
		attrs = append(attrs, String(k, cfg.ResourceAttributes[k]))
	}
	addDefault("telemetry.sdk.name", ScopeName)
	addDefault("telemetry.sdk.language", "go")
	addDefault("telemetry.sdk.version", Version)
	return &Resource{Attributes: attrs, SchemaURL: SchemaURL}
}

var (
	instanceIDOnce sync.Once
	instanceID     string
)

// processInstanceID is a random UUID v4 per process, as the semantic
// conventions recommend for service.instance.id: a restarted plugin server is
// a new instance. The Kong node id would need a PDK call per request.
func processInstanceID() string {
	instanceIDOnce.Do(func() {
		var b [16]byte
		_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on Linux (Go ≥1.24 panics instead)
		b[6] = b[6]&0x0f | 0x40
		b[8] = b[8]&0x3f | 0x80
		instanceID = fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
	})
	return instanceID
}

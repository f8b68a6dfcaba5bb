package exporter

import (
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"sync"

	"github.com/trace-exporter/trace-exporter/schema"
)

// Settings is what a Factory receives besides the plugin config.
type Settings struct {
	// Logger is tagged with the pipeline; exporters log through it.
	Logger *slog.Logger
}

// Factory builds an Exporter for one pipeline. It validates what only the
// exporter understands (reads TLS files, opens the output file...) and
// returns an error naming the config field at fault. Each pipeline gets its
// own Exporter; the pipeline calls Shutdown on it when the pipeline ends.
type Factory func(cfg *schema.Config, set Settings) (Exporter, error)

var factories = struct {
	sync.RWMutex
	byName map[string]Factory
}{byName: map[string]Factory{}}

// Register makes a backend available under name, the value of the config
// field `exporter` that selects it. A factory registered as
// "<exporter>/<protocol>" (e.g. "otlp/grpc") takes precedence over
// "<exporter>" for that protocol, so a transport can live in its own file.
// The name (without "/<protocol>") becomes an allowed value of `exporter`
// in the schema the binary dumps for Kong and at StartInstance. Call it from
// an init function; registering a name twice panics, as it is a
// programming error.
func Register(name string, f Factory) {
	if name == "" || f == nil {
		panic("exporter: Register needs a name and a factory")
	}
	factories.Lock()
	defer factories.Unlock()
	if _, dup := factories.byName[name]; dup {
		panic(fmt.Sprintf("exporter: %q registered twice", name))
	}
	factories.byName[name] = f
	// The config field `exporter` names the backend without the protocol.
	base, _, _ := strings.Cut(name, "/")
	schema.RegisterExporterName(base)
}

// Registered lists the registered names, sorted.
func Registered() []string {
	factories.RLock()
	defer factories.RUnlock()
	names := make([]string, 0, len(factories.byName))
	for n := range factories.byName {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

func lookupFactory(cfg *schema.Config) (Factory, error) {
	factories.RLock()
	defer factories.RUnlock()
	if cfg.Protocol != "" {
		if f, ok := factories.byName[string(cfg.Exporter)+"/"+string(cfg.Protocol)]; ok {
			return instrumented(f), nil
		}
	}
	if f, ok := factories.byName[string(cfg.Exporter)]; ok {
		return instrumented(f), nil
	}
	return nil, &schema.FieldError{Field: "exporter", Reason: fmt.Sprintf("%q is not available in this build", cfg.Exporter)}
}

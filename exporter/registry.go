package exporter

import (
	"fmt"
	"log/slog"
	"net/url"
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
// returns an error naming the config field at fault (*schema.FieldError).
// Each pipeline gets its own Exporter; the pipeline calls Shutdown on it
// when the pipeline ends.
type Factory func(cfg *schema.Config, set Settings) (Exporter, error)

// RegisterOption refines a registration.
type RegisterOption func(*backend)

// DescribeEndpoint gives the function that names a config's destination
// in logs and in the pipeline's `backend` metric label, when the default
// (traces_endpoint without credentials or query) would be wrong: a file
// path, a gRPC target with its TLS default, a list of brokers. It must
// never return credentials.
func DescribeEndpoint(f func(cfg *schema.Config) string) RegisterOption {
	return func(b *backend) { b.endpoint = f }
}

type backend struct {
	factory  Factory
	endpoint func(cfg *schema.Config) string
}

var backends = struct {
	sync.RWMutex
	byName map[string]backend
}{byName: map[string]backend{}}

// Register makes a backend available under name, the value of the config
// field `exporter` that selects it. A factory registered as
// "<exporter>/<protocol>" (e.g. "otlp/grpc") takes precedence over
// "<exporter>" for that protocol, so a transport can live in its own
// package. Names (without "/<protocol>") are allowed values of `exporter`
// in the schema the binary dumps for Kong (see Names). Call it from an init
// function; registering a name twice panics, as it is a programming error.
func Register(name string, f Factory, opts ...RegisterOption) {
	if name == "" || f == nil {
		panic("exporter: Register needs a name and a factory")
	}
	b := backend{factory: f}
	for _, o := range opts {
		o(&b)
	}
	backends.Lock()
	defer backends.Unlock()
	if _, dup := backends.byName[name]; dup {
		panic(fmt.Sprintf("exporter: %q registered twice", name))
	}
	backends.byName[name] = b
}

// Registered lists the registered names, sorted.
func Registered() []string {
	backends.RLock()
	defer backends.RUnlock()
	names := make([]string, 0, len(backends.byName))
	for n := range backends.byName {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Names lists the values the config field `exporter` accepts in this
// build: the built-in backends first, in schema order, then the others
// registered, sorted.
func Names() []string {
	seen := map[string]bool{}
	var out []string
	for _, n := range schema.BuiltinExporters {
		seen[string(n)] = true
		out = append(out, string(n))
	}
	for _, n := range Registered() {
		base, _, _ := strings.Cut(n, "/")
		if !seen[base] {
			seen[base] = true
			out = append(out, base)
		}
	}
	return out
}

func lookupBackend(cfg *schema.Config) (backend, error) {
	backends.RLock()
	defer backends.RUnlock()
	if cfg.Protocol != "" {
		if b, ok := backends.byName[string(cfg.Exporter)+"/"+string(cfg.Protocol)]; ok {
			return b, nil
		}
	}
	if b, ok := backends.byName[string(cfg.Exporter)]; ok {
		return b, nil
	}
	return backend{}, &schema.FieldError{Field: "exporter", Reason: fmt.Sprintf("%q is not available in this build", cfg.Exporter)}
}

// describe names a pipeline in logs and stats: the exporter (with the
// protocol for OTLP) and its destination; never a header value, never URL
// credentials or query.
func (b backend) describe(cfg *schema.Config) string {
	name := string(cfg.Exporter)
	if cfg.Exporter == schema.ExporterOTLP {
		name += "+" + string(cfg.Protocol)
	}
	var target string
	if b.endpoint != nil {
		target = b.endpoint(cfg)
	} else {
		target = RedactedURL(cfg.TracesURL())
	}
	return name + " " + target
}

// RedactedURL is raw without credentials, query or fragment, for logs and
// labels; "(unparsed endpoint)" when raw is not a URL with a host.
func RedactedURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return "(unparsed endpoint)"
	}
	u.User, u.RawQuery, u.Fragment = nil, "", ""
	return u.String()
}

// New builds the Exporter cfg selects, outside any pipeline: for tests and
// tools that drive a backend directly. The caller shuts it down.
func New(cfg *schema.Config, set Settings) (Exporter, error) {
	b, err := lookupBackend(cfg)
	if err != nil {
		return nil, err
	}
	return b.factory(cfg, set)
}

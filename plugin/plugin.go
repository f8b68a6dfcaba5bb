// Package plugin holds the Kong phase handlers: Access picks the request's
// trace context and propagates it, Log turns kong.log.serialize() into spans
// and hands them to the exporter.
package plugin

import (
	"log/slog"
	"reflect"
	"strings"

	"github.com/Kong/go-pdk"

	"github.com/trace-exporter/trace-exporter/exporter"
	"github.com/trace-exporter/trace-exporter/schema"
)

// Version and Priority are reported to Kong by -dump. The version is the
// exporter's (the scope version on every span), so both always agree.
// Priority 14 is the bundled opentelemetry plugin's, so plugin ordering is
// unchanged for users switching from it.
var Version = exporter.Version

// Priority is reported to Kong by -dump.
const Priority = 14

// Plugin is one Kong plugin instance: the configuration Kong sent at
// StartInstance plus what was compiled from it. go-pdk calls the phase
// methods concurrently on the same value, so nothing here changes after
// UnmarshalJSON.
type Plugin struct {
	schema.Config
	env *Env
	rt  *runtime
}

// New is go-pdk's constructor: it must return a pointer for json.Unmarshal.
// Its instances share a default Env (exporter.DefaultRegistry); the plugin
// server builds its own and uses NewWithEnv.
func New() interface{} { return NewWithEnv(nil) }

// NewWithEnv returns an instance that will share env with the others built
// from it: go-pdk's constructor is func() any { return NewWithEnv(env) }.
// A nil env means the default one.
func NewWithEnv(env *Env) *Plugin { return &Plugin{env: env} }

func (p *Plugin) environment() *Env {
	if p.env == nil {
		p.env = defaultEnv()
	}
	return p.env
}

// UnmarshalJSON is go-pdk's only hook at StartInstance: it decodes and
// validates the config (an error refuses the instance, naming the field) and
// prepares the instance, including the shared export pipeline.
func (p *Plugin) UnmarshalJSON(data []byte) error {
	if err := p.Config.UnmarshalJSON(data); err != nil {
		slog.Error("plugin config refused", "error", err)
		return err
	}
	rt, err := newScopedRuntime(&p.Config, p.environment(), pluginID(data))
	if err == nil {
		err = rt.attachRequestMetrics(data)
	}
	if err != nil {
		slog.Error("plugin instance not started", "error", err)
		return err
	}
	p.rt = rt
	return nil
}

// Access runs in Kong's access phase with the live request.
func (p *Plugin) Access(kong *pdk.PDK) {
	defer p.recoverHandler("access")
	p.rt.access(newKongCaller(kong.Log.PdkBridge))
}

// Log runs in Kong's log timer, after the response, against saved data.
func (p *Plugin) Log(kong *pdk.PDK) {
	defer p.recoverHandler("log")
	p.rt.log(newKongCaller(kong.Log.PdkBridge))
}

// LogOnlySuffix ends the name of the log-only plugin: the same binary
// installed as trace-exporter-log (go-pdk names a plugin after its
// executable) declares only the log phase, so Kong sends no access event
// at all: no propagation from Kong, one round trip less per request.
const LogOnlySuffix = "-log"

// IsLogOnly reports whether the plugin named name is the log-only one.
func IsLogOnly(name string) bool { return strings.HasSuffix(name, LogOnlySuffix) }

// Phases lists the phases Kong must send events for to the plugin named
// name: for the full plugin, found as go-pdk finds them (the constructor's
// method set, in go-pdk's order), so -dump and the handlers go-pdk
// dispatches cannot disagree; for the log-only plugin, log alone.
func Phases(name string) []string {
	if IsLogOnly(name) {
		return []string{"log"}
	}
	t := reflect.TypeOf(New())
	var phases []string
	for _, m := range []string{"Certificate", "Rewrite", "Access", "Response", "Preread", "Log"} {
		if _, ok := t.MethodByName(m); ok {
			phases = append(phases, strings.ToLower(m))
		}
	}
	return phases
}

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
	rt *runtime
}

// New is go-pdk's constructor: it must return a pointer for json.Unmarshal.
func New() interface{} { return &Plugin{} }

// UnmarshalJSON is go-pdk's only hook at StartInstance: it decodes and
// validates the config (an error refuses the instance, naming the field) and
// prepares the instance, including the shared export pipeline.
func (p *Plugin) UnmarshalJSON(data []byte) error {
	if err := p.Config.UnmarshalJSON(data); err != nil {
		slog.Error("plugin config refused", "error", err)
		return err
	}
	rt, err := newScopedRuntime(&p.Config, pluginID(data))
	if err != nil {
		slog.Error("plugin instance not started", "error", err)
		return err
	}
	p.rt = rt
	return nil
}

// Access runs in Kong's access phase with the live request.
func (p *Plugin) Access(kong *pdk.PDK) {
	defer recoverHandler("access")
	p.rt.access(kong.Log.PdkBridge)
}

// Log runs in Kong's log timer, after the response, against saved data.
func (p *Plugin) Log(kong *pdk.PDK) {
	defer recoverHandler("log")
	p.rt.log(kong.Log.PdkBridge)
}

// Phases lists the phases Kong must send events for, found as go-pdk finds
// them (the constructor's method set, in go-pdk's order), so -dump and the
// handlers go-pdk dispatches cannot disagree.
func Phases() []string {
	t := reflect.TypeOf(New())
	var phases []string
	for _, m := range []string{"Certificate", "Rewrite", "Access", "Response", "Preread", "Log"} {
		if _, ok := t.MethodByName(m); ok {
			phases = append(phases, strings.ToLower(m))
		}
	}
	return phases
}

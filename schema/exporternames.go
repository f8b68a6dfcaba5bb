package schema

import (
	"slices"
	"sync"
)

// builtinExporters always ship with the plugin; they are listed first, in
// this order, wherever the allowed values of `exporter` appear.
var builtinExporters = []ExporterName{ExporterOTLP, ExporterZipkin, ExporterHTTPJSON, ExporterFile, ExporterStdout}

// registeredExporters are backends added by code built into the binary.
// The exporter package reports each name it registers here (schema cannot
// import exporter: exporter imports schema), so the `exporter` field accepts
// it both in the schema -dump prints for Kong and at StartInstance.
var registeredExporters struct {
	sync.RWMutex
	names []string
}

// RegisterExporterName makes name an allowed value of the `exporter` field.
// exporter.Register calls it; call it from an init function so the name is
// known before Kong asks for the schema. Registering a name twice, or a
// built-in name, is harmless.
func RegisterExporterName(name string) {
	if name == "" || slices.Contains(builtinExporters, ExporterName(name)) {
		return
	}
	registeredExporters.Lock()
	defer registeredExporters.Unlock()
	if !slices.Contains(registeredExporters.names, name) {
		registeredExporters.names = append(registeredExporters.names, name)
		slices.Sort(registeredExporters.names)
	}
}

// ExporterNames lists the allowed values of `exporter`: the built-in
// backends, then the registered ones, sorted.
func ExporterNames() []string {
	registeredExporters.RLock()
	defer registeredExporters.RUnlock()
	out := make([]string, 0, len(builtinExporters)+len(registeredExporters.names))
	for _, n := range builtinExporters {
		out = append(out, string(n))
	}
	return append(out, registeredExporters.names...)
}

func exporterOneOf() []any {
	names := ExporterNames()
	out := make([]any, len(names))
	for i, n := range names {
		out[i] = n
	}
	return out
}

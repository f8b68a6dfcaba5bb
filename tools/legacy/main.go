// Command legacy is the plugin built for Kong 2.x's go-pluginserver
// (`go build -buildmode=plugin`, see `make legacy`): a shared object
// exporting New, Version and Priority, the three symbols go-pluginserver
// looks up, from the same plugin code as the standalone binary.
//
// go-pluginserver and its MsgPack protocol were removed in Kong 3.0; use it
// for Kong 2.x only. A Go plugin .so must be built with the exact Go
// toolchain and module versions (go-pdk included) of the go-pluginserver
// that loads it, or plugin.Open refuses it: rebuild this package inside that
// server's module when deploying. For Kong 3.x run the standalone binary.
package main

import "github.com/trace-exporter/trace-exporter/plugin"

// New returns a new instance configuration, as go-pluginserver expects.
func New() interface{} { return plugin.New() }

// Version is read by go-pluginserver's GetPluginInfo.
var Version = plugin.Version

// Priority is read by go-pluginserver's GetPluginInfo.
var Priority = plugin.Priority

// main is required by -buildmode=plugin's package main and never runs.
func main() {}

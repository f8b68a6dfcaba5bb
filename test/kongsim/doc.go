// Package kongsim runs a real go-pdk plugin binary the way Kong Gateway 3.x
// does, for tests, demos, load generation and PDK budget checks, where Kong
// itself cannot run. Every behaviour below is Kong's (3.3 to 3.16, as its
// Lua sources and go-pdk behave) unless a comment says otherwise.
//
// # Two levels
//
// Sim is the Kong side of one plugin server: it runs `<bin> -dump`
// (QueryPlugin), validates configs against the dumped schema (Schema),
// spawns `<bin> -kong-prefix P` with its output captured, respawns it no
// sooner than 1 s after the last spawn, sends StartInstance with Kong's
// extra keys (route_id, service_id, consumer_id, __plugin_id, __ws_id in
// 3.9, __key__, a global __seq__ from 1), replaces an instance whose config
// changed (start new, close old), pools connections with one RPC in flight
// each (dropped when the server exits, as nginx's keepalive pool drops a
// connection its peer closed) and Kong's sequence numbers (2, 3, ...),
// serves the PDK loop with Kong's value wrapping (replies are written byte
// for byte, so protobuf-go's UTF-8 check fails in the plugin as it does
// with Kong), resets and retries an event whose connection closed, and
// never answers kong.response.exit.
// RunPhase runs rewrite/access/response against a live Exchange; RunLog runs
// the log handler from saved LogData only, as Kong's log timer does: calls
// Kong fails there close the connection and are recorded as Violations.
//
// Gateway is a small Kong on top of a Sim: services, routes, upstreams and
// plugins from a `_format_version: "3.0"` declarative file; it proxies HTTP,
// retries refused targets as balancer tries, runs the plugin's phases (the
// log phase asynchronously after the response, from saved data), builds
// kong.log.serialize for the chosen Kong version ("3.3" to "3.16"; the shape
// changes at 3.5, 3.6, 3.7 and 3.8; 3.10 and later behave as 3.9) and records
// every PDK call per request and phase. The command ./cmd/kongsim serves it
// on a port.
//
// Schemas: Validate applies a dumped schema as Kong does when a config is
// written: types, defaults, nulls, empty strings, one_of, between, gt, eq,
// ne, Lua match, match_none and match_any patterns, the record's entity
// checks (at_least_one_of, only_one_of, distinct, conditional,
// conditional_at_least_one_of, mutually_required, mutually_exclusive,
// mutually_exclusive_sets) and vault references in referenceable fields,
// which Configure then resolves from the env vault into the config and its
// "$refs" (vault.go). The plugin entity's protocols are checked against the
// schema's protocols field and against its route's.
//
// # Example
//
//	gw, err := kongsim.StartGateway(ctx, kongsim.GatewayOptions{
//		Options:    kongsim.Options{Binary: pluginPath, KongVersion: "3.9"},
//		ConfigPath: "kong.yml", // or Config: a *Declarative
//	})
//	if err != nil { ... }
//	defer gw.Close()
//	resp, _ := http.Get(gw.URL() + "/echo")
//	gw.WaitIdle(ctx) // the log phase runs after the response
//	rec := gw.Record(resp.Header.Get("X-Kong-Request-Id"))
//	// rec.Calls("log") == []string{"kong.log.serialize"}; rec.Violations() == nil
//
// Driving one instance directly, without HTTP (load benchmarks):
//
//	sim, _ := kongsim.New(ctx, kongsim.Options{Binary: pluginPath})
//	defer sim.Close()
//	p, _ := sim.Configure(kongsim.PluginEntity{Config: map[string]any{"traces_endpoint": url}})
//	res := sim.RunLog(p, &kongsim.LogData{Serialize: payload})
//	// res.Calls, res.Violations, res.Err
//
// # Deviations from Kong, on purpose
//
//   - One worker: __seq__ is global and starts at 1 in every version (Kong
//     3.3–3.5 used per-worker counters); one Rpc object per plugin.
//   - Reset-and-retry stops after Options.MaxEventAttempts (Kong retries
//     without bound), so a broken plugin cannot hang a test.
//   - Consumer-scoped plugin entities are ignored (with a warning); route,
//     service and global scopes follow Kong's precedence.
//   - HTTP/1.1 only on the proxy side (services may be https): routes of
//     protocol grpc/grpcs can be declared and plugins checked against them,
//     but gRPC calls (HTTP/2 with trailers) are not proxied; no certificate,
//     preread or stream phases; no TLS fields in serialize.
//   - Kong's error bodies are compact JSON ({"message":...,"request_id":...}
//     from 3.5 on); Kong pretty-prints them. Parse them as JSON.
//   - Readiness is checked by connecting to the socket, so go-pdk logs one
//     "EOF" line at start (Kong 3.3–3.4 did the same check).
package kongsim

// Package sampling takes the gateway's head sampling decision: how a
// caller's decision is treated (sampling_strategy), rules tried in order,
// Jaeger remote strategies polled in the background, token-bucket rate
// limits, and the trace-id probability of OpenTelemetry's consistent
// probability sampling (a 56-bit rejection threshold against the trace's
// randomness, with the `ot` tracestate entry's th and rv honoured).
//
// The decision is split by what Kong's phases can see without an extra PDK
// call. The access phase has the incoming trace context and, when the
// plugin reads them, the request headers: [Decider.Decide] decides from
// those, and that decision is what the upstream is told. The route, the
// service, the method, the path, and so the root span's name (the Jaeger
// "operation"), are known only from kong.log.serialize in the log phase:
// [Decider.Refine] applies the rules and per-operation strategies that need
// them to the gateway's own spans.
//
// Nothing on the request path takes a lock: strategies are swapped
// atomically by their poller, token buckets are a compare-and-swap on one
// word.
package sampling

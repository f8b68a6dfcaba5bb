// Package propagation reads and writes trace context headers in the formats
// Kong's tracing plugins support (w3c, b3, b3-single, jaeger, ot, aws, gcp,
// datadog, instana) and resolves Kong's propagation configuration. The head
// sampling decision is package sampling's.
//
// It is pure and allocation-conscious: the Kong access handler calls it on
// every proxied request. Nothing here talks to Kong; the caller reads the
// headers named by [Config.Headers] with one PDK call, passes them through a
// [Getter], and sets the headers [Config.Inject] returns.
//
// A typical access phase:
//
//	in, found := cfg.Extract(headers)            // first matching format wins
//	traceID := in.TraceID                         // or a new random id when !found or invalid
//	sampled := decider.Decide(...).Sampled        // package sampling
//	out := in.Child(traceID, clientSpanID, rootSpanID, sampled)
//	set := cfg.Inject(buf[:0], out)               // headers to set upstream
//
// Malformed headers never fail a request: they are skipped (the next
// configured format is tried) and reported to the caller, which counts them
// (see [ExtractChecked]).
// The W3C baggage header and the vendor baggage headers (uberctx-*,
// ot-baggage-*) are never read or written: they reach the upstream untouched.
package propagation

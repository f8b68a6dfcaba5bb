package propagation_test

import (
	"fmt"

	"github.com/trace-exporter/trace-exporter/exporter"
	"github.com/trace-exporter/trace-exporter/plugin/propagation"
	"github.com/trace-exporter/trace-exporter/schema"
)

// The access phase for one request: read the context, decide, pick ids,
// write the headers upstream.
func Example() {
	cfg, err := propagation.Resolve(schema.Propagation{DefaultFormat: "w3c"}, "preserve")
	if err != nil {
		panic(err)
	}
	// What kong.request.get_headers returned (cfg.Headers() lists the
	// names that matter).
	headers := propagation.HeaderMap{
		"uber-trace-id": {"4bf92f3577b34da6a3ce929d0e0e4736:00f067aa0ba902b7:0:1"},
	}
	in, found := cfg.Extract(headers)
	traceID := in.TraceID
	if !traceID.IsValid() {
		traceID = exporter.TraceID{15: 1} // a new random id in real code
	}
	sampled := in.IsSampled()              // the head decision: package sampling takes it
	rootSpan := exporter.SpanID{7: 0x0a}   // the gateway's server span
	clientSpan := exporter.SpanID{7: 0x0b} // its last balancer try: the upstream's parent
	out := in.Child(traceID, clientSpan, rootSpan, sampled)

	fmt.Println(found, in.Format, in.SpanID, sampled)
	for _, h := range cfg.Inject(nil, out) { // preserve: jaeger in, jaeger out
		fmt.Printf("%s: %s\n", h.Name, h.Value)
	}
	// Output:
	// true jaeger 00f067aa0ba902b7 true
	// uber-trace-id: 4bf92f3577b34da6a3ce929d0e0e4736:000000000000000b:000000000000000a:1
}

package plugin

import (
	"slices"

	"github.com/trace-exporter/trace-exporter/exporter"
	"github.com/trace-exporter/trace-exporter/plugin/sampling"
)

// refineSampling completes the sampling decision with what only the log
// phase knows (route, service, method, path, the root span's name) and
// returns it with the remote sampler that kept the request, if any. The
// upstream keeps the access phase's decision (the flag it was sent); ids
// get the tracestate the spans are exported with.
func (rt *runtime) refineSampling(e *logEntry, ids *traceIDs, sampled bool, pending string, a *arena) (bool, sampling.SamplerTag) {
	path, _ := splitQuery(e.uri)
	line := sampling.RequestLine{
		RouteName:   e.routeName,
		ServiceName: e.serviceName,
		Method:      e.method,
		Path:        path,
		Operation:   rt.operationName(e, path, a),
	}
	r := rt.sampler.Refine(pending, sampled, ids.trace, ids.traceState, ids.flags&flagRandom != 0, &line)
	ids.traceState = r.TraceState
	return r.Sampled, r.Tag
}

// operationName is the Jaeger operation of a request: its root span's
// name, built exactly as the root span builds it.
func (rt *runtime) operationName(e *logEntry, path string, a *arena) string {
	r := newRequestFacts(e, &rt.spanOpts, a)
	return rootSpanName(rt.spanOpts.spanName, r.spanMethod, r.route, path, a)
}

// tagSampler adds Jaeger's sampler.type and sampler.param to the root span
// of a request a remote strategy kept: Jaeger's adaptive sampling counts an
// operation's throughput from them. The attributes are copied, as spans
// of one request may share one attribute array.
func (rt *runtime) tagSampler(spans []exporter.Span, tag sampling.SamplerTag) {
	if tag.Type == "" || len(spans) == 0 {
		return
	}
	root := &spans[0]
	root.Attributes = append(slices.Clip(root.Attributes),
		exporter.String("sampler.type", tag.Type), exporter.Float("sampler.param", tag.Param))
	limitAttributes(root, &rt.spanOpts)
}

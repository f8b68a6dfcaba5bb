package plugin

import (
	"math/rand/v2"

	"github.com/trace-exporter/trace-exporter/exporter"
	"github.com/trace-exporter/trace-exporter/plugin/propagation"
	"github.com/trace-exporter/trace-exporter/plugin/sampling"
	"github.com/trace-exporter/trace-exporter/schema"
)

// runtime is what an instance compiles from its config at StartInstance, so
// the handlers do no per-request set-up.
type runtime struct {
	env       *Env
	stats     *Stats // env.Stats
	cfg       *schema.Config
	pipe      *exporter.Handle
	procs     *exporter.Processors // nil: no span processor applies (nothing to do per request)
	prop      *propagation.Config
	sampler   *sampling.Decider
	tail      schema.TailSampling
	wants     parseWants
	spanOpts  spanOptions
	decisions decisionStats
	// accessOff: nothing to read, write or hand over in the access phase
	// (log-only mode): the Access handler returns without a PDK call.
	accessOff bool
	// resources builds the resource of the instance's spans (resource.go);
	// node is the Kong node they describe.
	resources *resources
	node      *kongNode
	// procHeaders, when set, are the request headers the processors asked
	// for, fewer than the parser keeps.
	procHeaders []string
	accessLog   *accessLogger   // nil: access logs off (accesslog.go)
	metrics     *requestMetrics // nil: request metrics off (requestmetrics.go)
}

func newRuntime(cfg *schema.Config, env *Env) (*runtime, error) {
	return newScopedRuntime(cfg, env, "")
}

// newScopedRuntime compiles cfg for the plugin entity scope (Kong's plugin
// id; "" for none): instances of one entity share their rate limits.
func newScopedRuntime(cfg *schema.Config, env *Env, scope string) (*runtime, error) {
	prop, err := propagation.ResolveConfig(cfg)
	if err != nil {
		return nil, err
	}
	res, err := newResources(cfg, env)
	if err != nil {
		return nil, err
	}
	// The pipeline and the sampler see the resource attributes every span
	// has (the environment's and the static ones): a template's text is
	// never a value, and spans carry their own rendered resource.
	shared := *cfg
	shared.ResourceAttributes = res.pipelineAttributes()
	sampler, err := sampling.NewDecider(&shared, samplingScope(cfg, scope), env.Sampling)
	if err != nil {
		return nil, err
	}
	procs, err := exporter.NewProcessors(cfg, env.Processors)
	if err != nil {
		return nil, err
	}
	pipe, err := env.Pipelines.Acquire(&shared)
	if err != nil {
		return nil, err
	}
	// Headers are parsed out of the payload only for the processors that
	// read them (capture_*_headers is the built-in one). The chain never
	// lists a credential or redacted header.
	var requestHeaders, responseHeaders []string
	if procs != nil {
		requestHeaders, responseHeaders = procs.Headers()
	}
	warnNotExported(cfg)
	rt := &runtime{
		env:     env,
		stats:   env.Stats,
		cfg:     cfg,
		pipe:    pipe,
		procs:   procs,
		prop:    prop,
		sampler: sampler,
		tail:    cfg.TailSampling,
		wants: parseWants{
			handoffKey:       handoffKey,
			captureRequest:   requestHeaders,
			captureResponse:  responseHeaders,
			propagationNames: prop.Headers(),
		},
		spanOpts: spanOptions{
			spanName:     cfg.SpanName,
			redactQuery:  cfg.RedactQueryParams,
			knownMethods: cfg.HTTPKnownMethods,
			maxAttrs:     cfg.MaxAttributes,
			maxValueLen:  cfg.MaxAttributeValueLength,
			newSpanID:    newSpanID,
			clampedTries: &env.Stats.TryStartClamped,
		},
		resources: res,
		node:      &env.node,
		accessOff: len(prop.ExtractFormats) == 0 && len(prop.InjectFormats) == 0 && len(prop.ClearHeaders) == 0 &&
			cfg.HTTPResponseHeaderForTraceID == "" && cfg.SamplingRate >= 1 && sampler.Trivial(),
	}
	if procs != nil && len(res.needs.Headers) > 0 {
		// The parser also keeps the templates' headers.
		rt.procHeaders = append([]string{}, requestHeaders...)
	}
	res.want(&rt.wants)
	// Until the access phase has seen traffic, expect what the rate says;
	// without access events there is no hand-off to probe for.
	rt.decisions.probe.Store(cfg.SamplingRate < 0.8 && !env.LogOnly)
	if err := rt.startAccessLogs(); err != nil {
		return nil, err
	}
	return rt, nil
}

// process runs the instance's span processors on a request's spans, then
// the attribute limits again: processors may have added attributes.
func (rt *runtime) process(spans []exporter.Span, e *logEntry) []exporter.Span {
	req := exporter.Request{
		RequestHeaders:  toHeaders(e.capturedRequest, rt.procHeaders),
		ResponseHeaders: toHeaders(e.capturedResponse, nil),
	}
	spans = rt.procs.Process(spans, &req)
	for i := range spans {
		limitAttributes(&spans[i], &rt.spanOpts)
	}
	return spans
}

// toHeaders converts captured headers for the processors: only those in
// only, unless it is nil.
func toHeaders(hs []capturedHeader, only []string) []exporter.Header {
	if len(hs) == 0 {
		return nil
	}
	out := make([]exporter.Header, 0, len(hs))
	for _, h := range hs {
		if only == nil || containsString(only, h.name) {
			out = append(out, exporter.Header{Name: h.name, Values: h.values})
		}
	}
	return out
}

// Ids come from the runtime's per-goroutine generator: W3C asks for random
// trace ids (the low 56 bits at least), which head sampling relies on.
func newTraceID() exporter.TraceID {
	var id exporter.TraceID
	for !id.IsValid() {
		putUint64(id[:8], rand.Uint64())
		putUint64(id[8:], rand.Uint64())
	}
	return id
}

func newSpanID() exporter.SpanID {
	var id exporter.SpanID
	for !id.IsValid() {
		putUint64(id[:], rand.Uint64())
	}
	return id
}

func putUint64(b []byte, v uint64) {
	for i := 7; i >= 0; i-- {
		b[i] = byte(v)
		v >>= 8
	}
}

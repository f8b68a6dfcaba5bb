package plugin

import (
	"log/slog"
	"math/rand/v2"
	"slices"
	"sync"

	"github.com/trace-exporter/trace-exporter/exporter"
	"github.com/trace-exporter/trace-exporter/plugin/propagation"
	"github.com/trace-exporter/trace-exporter/schema"
)

// runtime is what an instance compiles from its config at StartInstance, so
// the handlers do no per-request set-up.
type runtime struct {
	cfg       *schema.Config
	pipe      *exporter.Handle
	prop      *propagation.Config
	sampler   propagation.Sampler
	tail      schema.TailSampling
	wants     parseWants
	spanOpts  spanOptions
	decisions decisionStats
	// accessOff: nothing to read, write or hand over in the access phase
	// (log-only mode): the Access handler returns without a PDK call.
	accessOff bool
}

func newRuntime(cfg *schema.Config) (*runtime, error) {
	prop, err := propagation.ResolveConfig(cfg)
	if err != nil {
		return nil, err
	}
	pipe, err := exporter.Acquire(cfg)
	if err != nil {
		return nil, err
	}
	if cfg.LogsEndpoint != "" {
		warnOnce(&logsEndpointWarning, "logs_endpoint is ignored: this plugin exports traces only")
	}
	rt := &runtime{
		cfg:     cfg,
		pipe:    pipe,
		prop:    prop,
		sampler: propagation.NewSampler(cfg.SamplingRate),
		tail:    cfg.TailSampling,
		wants: parseWants{
			handoffKey:       handoffKey,
			captureRequest:   withoutRedacted(cfg.CaptureRequestHeaders, cfg.RedactHeaders),
			captureResponse:  withoutRedacted(cfg.CaptureResponseHeaders, cfg.RedactHeaders),
			propagationNames: prop.Headers(),
		},
		spanOpts: spanOptions{
			spanName:    cfg.SpanName,
			redactQuery: cfg.RedactQueryParams,
			maxAttrs:    cfg.MaxAttributes,
			maxValueLen: cfg.MaxAttributeValueLength,
			staticAttrs: staticAttributes(cfg.StaticAttributes),
			newSpanID:   newSpanID,
		},
		accessOff: len(prop.ExtractFormats) == 0 && len(prop.InjectFormats) == 0 && len(prop.ClearHeaders) == 0 &&
			cfg.HTTPResponseHeaderForTraceID == "" && cfg.SamplingRate >= 1,
	}
	// Until the access phase has seen traffic, expect what the rate says.
	rt.decisions.probe = cfg.SamplingRate < 0.8
	return rt, nil
}

// withoutRedacted drops header names that must never be exported.
func withoutRedacted(names, redact []string) []string {
	var out []string
	for _, n := range names {
		if !schema.IsAlwaysRedacted(n) && !slices.Contains(redact, n) {
			out = append(out, n)
		}
	}
	return out
}

func staticAttributes(m map[string]string) []exporter.Attribute {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	out := make([]exporter.Attribute, 0, len(keys))
	for _, k := range keys {
		out = append(out, exporter.String(k, m[k]))
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

var logsEndpointWarning sync.Once

func warnOnce(once *sync.Once, msg string) { once.Do(func() { slog.Warn(msg) }) }

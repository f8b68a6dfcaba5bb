package propagation

import (
	"encoding/binary"

	"github.com/trace-exporter/trace-exporter/exporter"
)

// Sampler takes the gateway's head sampling decision: parent-based, with a
// trace-id ratio for requests that carry no decision.
//
// The ratio follows OpenTelemetry's TraceIdRatioBased as the Go SDK
// implements it: the low 8 bytes of the trace id, big-endian, shifted right
// by one, are compared with rate × 2^63. So a trace id is sampled here
// exactly when an OpenTelemetry Go service with the same rate samples it,
// and a trace kept at rate r is kept at every higher rate.
//
// Kong reads the first 8 bytes instead (native-endian). Those are zero for
// every 64-bit id padded to 128 bits (b3, jaeger, ot, datadog callers), so
// Kong samples all of them or none of them, and they hold the timestamp of
// AWS X-Ray ids, so its decision follows the clock. The low bytes are random
// in every format (W3C level 2 guarantees the low 56 bits with its random
// flag), hence this choice.
type Sampler struct {
	bound uint64 // sample when (low 64 bits >> 1) < bound
	all   bool   // rate >= 1: no comparison (bound cannot express 2^63 inclusive)
}

// NewSampler returns a sampler for rate in [0, 1]; values outside are
// clamped (NaN samples nothing).
func NewSampler(rate float64) Sampler {
	switch {
	case rate >= 1:
		return Sampler{all: true}
	case rate > 0:
		return Sampler{bound: uint64(rate * (1 << 63))}
	}
	return Sampler{}
}

// ShouldSample decides for a request whose incoming context is parent (the
// zero SpanContext when nothing was extracted) and whose trace id is
// traceID, the final one: the extracted id, or the new id when the gateway
// starts the trace (sampling a provisional id was Kong bug #13275).
//
//   - parent Sampled (or b3/jaeger debug): kept, whatever the rate (Kong
//     re-sampled such traces and broke them, PR #13015);
//   - parent NotSampled: dropped, never sampled up;
//   - no decision: the ratio on traceID.
func (s Sampler) ShouldSample(parent SpanContext, traceID exporter.TraceID) bool {
	switch {
	case parent.Debug || parent.Sampling == Sampled:
		return true
	case parent.Sampling == NotSampled:
		return false
	}
	return s.SampleTraceID(traceID)
}

// SampleTraceID is the ratio decision alone.
func (s Sampler) SampleTraceID(traceID exporter.TraceID) bool {
	if s.all {
		return true
	}
	return binary.BigEndian.Uint64(traceID[8:])>>1 < s.bound
}

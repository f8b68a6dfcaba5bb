package propagation

import (
	"encoding/binary"
	"strconv"
	"strings"
)

// Datadog (https://docs.datadoghq.com/tracing/trace_collection/trace_context_propagation/):
//
//	x-datadog-trace-id:          low 64 bits of the trace id, decimal
//	x-datadog-parent-id:         the caller's span id, decimal
//	x-datadog-sampling-priority: -1 user drop, 0 auto drop, 1 auto keep, 2 user keep
//	x-datadog-tags:              k=v list; _dd.p.tid={16 hex} is the upper 64 bits
//
// The parent id may be missing or 0 (a trace started by RUM or synthetics):
// the trace id alone still joins the trace. x-datadog-origin and other tags
// pass through untouched.
const (
	headerDatadogTraceID  = "x-datadog-trace-id"
	headerDatadogParentID = "x-datadog-parent-id"
	headerDatadogPriority = "x-datadog-sampling-priority"
	headerDatadogTags     = "x-datadog-tags"

	datadogTIDTag = "_dd.p.tid="
)

func extractDatadog(h Getter) (SpanContext, outcome) {
	traceID := trimOWS(h.Get(headerDatadogTraceID))
	parentID := trimOWS(h.Get(headerDatadogParentID))
	priority := trimOWS(h.Get(headerDatadogPriority))
	if traceID == "" && parentID == "" && priority == "" {
		return SpanContext{}, absent
	}
	sc := SpanContext{Format: Datadog}
	low, ok := parseDecimalUint64(traceID)
	if !ok || low == 0 {
		return SpanContext{}, malformed
	}
	binary.BigEndian.PutUint64(sc.TraceID[8:], low)
	if parentID != "" {
		span, ok := parseDecimalUint64(parentID)
		if !ok {
			return SpanContext{}, malformed
		}
		binary.BigEndian.PutUint64(sc.SpanID[:], span)
	}
	if priority != "" {
		// Datadog reads any priority > 0 as keep and ≤ 0 as drop.
		p, err := strconv.ParseInt(priority, 10, 32)
		if err != nil {
			return SpanContext{}, malformed
		}
		sc.Sampling = NotSampled
		if p > 0 {
			sc.Sampling = Sampled
		}
	}
	// A bad _dd.p.tid only loses the upper half, as in Datadog's tracers.
	if tags := h.Get(headerDatadogTags); tags != "" {
		if tid, ok := datadogTID(tags); ok {
			decodeHex(sc.TraceID[:8], tid, &hexAny)
		}
	}
	return sc, found
}

// datadogTID finds a well-formed _dd.p.tid value in the comma-separated tags.
func datadogTID(tags string) (string, bool) {
	for len(tags) > 0 {
		var tag string
		if i := strings.IndexByte(tags, ','); i >= 0 {
			tag, tags = tags[:i], tags[i+1:]
		} else {
			tag, tags = tags, ""
		}
		if v, ok := strings.CutPrefix(trimOWS(tag), datadogTIDTag); ok {
			var upper [8]byte
			return v, decodeHex(upper[:], v, &hexAny)
		}
	}
	return "", false
}

// injectDatadog writes the low 64 bits as the trace id and, for a 128-bit
// id, the upper half in x-datadog-tags (Kong truncates to 64 bits and the
// upstream's spans then land in another trace). When the context came from
// Datadog headers the incoming x-datadog-tags, which already carries that
// upper half and the caller's other propagated tags, is left as it is.
func injectDatadog(dst []Header, sc SpanContext) []Header {
	dst = append(dst,
		Header{headerDatadogTraceID, decimal64(sc.TraceID[8:])},
		Header{headerDatadogParentID, decimal64(sc.SpanID[:])},
		Header{headerDatadogPriority, sampledDigit(sc)})
	if binary.BigEndian.Uint64(sc.TraceID[:8]) != 0 && sc.Format != Datadog {
		var tags [len(datadogTIDTag) + 16]byte
		b := append(tags[:0], datadogTIDTag...)
		b = appendHex(b, sc.TraceID[:8])
		dst = append(dst, Header{headerDatadogTags, string(b)})
	}
	return dst
}

package plugin

import (
	"strings"
	"time"

	"google.golang.org/protobuf/types/known/structpb"

	"github.com/trace-exporter/trace-exporter/plugin/propagation"
	"github.com/trace-exporter/trace-exporter/plugin/sampling"
)

// W3C trace flags carried in traceIDs.flags.
const (
	flagSampled = 0x01
	flagRandom  = 0x02
)

// access is the Access handler: read the incoming context, decide sampling,
// choose the root and upstream span ids, propagate, and hand the ids to the
// log phase. Its PDK budget (the README's table; TestPDKBudgetPerMode):
//  1. read: one kong.request.get_header when one header carries the
//     configured formats, else one kong.request.get_headers (none when
//     nothing is extracted);
//  2. write: one kong.service.request.set_headers for every injected
//     header (plus one clear_header per propagation.clear entry);
//  3. hand-off: one kong.log.set_serialize_value;
//
// and one kong.response.set_header when http_response_header_for_traceid is
// set.
func (rt *runtime) access(k kongCaller) {
	if rt.accessOff {
		return
	}
	in, headers, err := rt.readIncoming(k)
	if err != nil {
		rt.stats.PDKErrors.Add(1)
		return
	}
	traceID, newTrace := in.TraceID, !in.TraceID.IsValid()
	traceState := in.TraceState
	if newTrace {
		traceID = newTraceID()
		traceState = "" // the caller's describes another trace
	}
	dec := rt.sampler.Decide(&sampling.Head{Parent: in, TraceID: traceID, NewTrace: newTrace,
		TraceState: traceState, Headers: headers})
	sampled := dec.Sampled
	rt.decisions.record(sampled)

	ids := traceIDs{trace: traceID, root: newSpanID(), upstream: newSpanID()}
	if !newTrace {
		ids.parent = in.SpanID
	}
	out := in.Child(traceID, ids.upstream, ids.root, sampled)
	if newTrace {
		out.Random = true // our ids are random: W3C level 2 lets samplers rely on it
	}
	out.TraceStateChanged = dec.TraceState != out.TraceState
	out.TraceState = dec.TraceState
	if sampled {
		ids.flags |= flagSampled
	}
	if out.Random {
		ids.flags |= flagRandom
	}
	ids.traceState = out.TraceState

	for _, name := range rt.prop.ClearHeaders {
		if err := callClearUpstreamHeader(k, name); err != nil {
			rt.stats.PDKErrors.Add(1)
			return
		}
	}
	var buf [8]propagation.Header
	if headers := rt.prop.Inject(buf[:0], out); len(headers) > 0 {
		if err := callSetUpstreamHeaders(k, headerStruct(headers)); err != nil {
			rt.stats.PDKErrors.Add(1)
			return
		}
	}
	h := handoff{ids: ids, accessUnixMs: time.Now().UnixMilli(), pending: dec.Pending}
	if err := callSetSerializeValue(k, handoffKey, h.encode()); err != nil {
		rt.stats.PDKErrors.Add(1)
		return
	}
	if name := rt.cfg.HTTPResponseHeaderForTraceID; name != "" {
		if err := callSetResponseHeader(k, name, traceID.String()); err != nil {
			rt.stats.PDKErrors.Add(1)
		}
	}
}

// readIncoming extracts the caller's context with at most one PDK call, and
// returns the request headers when that call read them all (nil when it
// read one or none). Sampling rules on headers make it read them all: the
// same single call as for multi-header formats.
func (rt *runtime) readIncoming(k kongCaller) (propagation.SpanContext, propagation.Getter, error) {
	needAll := rt.sampler.NeedsHeaders()
	if len(rt.prop.Headers()) == 0 && !needAll {
		return propagation.SpanContext{}, nil, nil
	}
	if name, ok := rt.prop.SingleHeader(); ok && !needAll {
		v, err := callGetHeader(k, name)
		if err != nil {
			return propagation.SpanContext{}, nil, err
		}
		return rt.extract(propagation.SingleHeader{Name: name, Value: v}), nil, nil
	}
	s, err := callGetHeaders(k)
	if err != nil {
		return propagation.SpanContext{}, nil, err
	}
	h := propagation.StructHeaders{S: s}
	return rt.extract(h), h, nil
}

// extract reads the incoming context and counts a request whose
// trace-context headers were malformed, once whatever the number of bad
// formats. Each request is extracted once: in the access phase, or in the
// log phase when access did not run.
func (rt *runtime) extract(h propagation.Getter) propagation.SpanContext {
	in, _, bad := rt.prop.ExtractChecked(h)
	if bad != 0 {
		rt.stats.HeaderInvalid.Add(1)
	}
	return in
}

func headerStruct(headers []propagation.Header) *structpb.Struct {
	fields := make(map[string]*structpb.Value, len(headers))
	for _, h := range headers {
		fields[h.Name] = structpb.NewStringValue(h.Value)
	}
	return &structpb.Struct{Fields: fields}
}

// resolveIDs returns the request's ids, head decision, and what sampling
// still has to decide in the log phase: those the access phase handed
// over, or, when it did not run (no route matched, or a plugin with a
// higher priority ended the request), ones chosen now from the incoming
// headers saved in the payload, with the same sampling rules (a header
// condition matches only the trace-context headers saved there).
func (rt *runtime) resolveIDs(e *logEntry) (traceIDs, bool, string) {
	if e.handoff != "" {
		h, err := decodeHandoff(e.handoff)
		if err == nil {
			return h.ids, h.sampled(), h.pending
		}
		rt.stats.HandoffInvalid.Add(1)
	}
	var in propagation.SpanContext
	saved := savedHeaders(e.propagationHeaders)
	if len(saved) > 0 {
		in = rt.extract(saved)
	}
	ids := traceIDs{trace: in.TraceID, root: newSpanID()}
	newTrace := !ids.trace.IsValid()
	traceState := in.TraceState
	if newTrace {
		ids.trace = newTraceID()
		traceState = ""
		ids.flags |= flagRandom // our ids are random, as in the access phase
	} else {
		ids.parent = in.SpanID
		if in.Random {
			ids.flags |= flagRandom // the caller's promise holds for its trace id
		}
	}
	dec := rt.sampler.Decide(&sampling.Head{Parent: in, TraceID: ids.trace, NewTrace: newTrace,
		TraceState: traceState, Headers: saved})
	ids.traceState = dec.TraceState
	if dec.Sampled {
		ids.flags |= flagSampled
	}
	return ids, dec.Sampled, dec.Pending
}

// savedHeaders reads headers kept from the serialize payload.
type savedHeaders []capturedHeader

func (s savedHeaders) Get(name string) string {
	for _, h := range s {
		if h.name == name {
			if len(h.values) == 1 {
				return h.values[0]
			}
			return strings.Join(h.values, ",")
		}
	}
	return ""
}

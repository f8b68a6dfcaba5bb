package plugin

import (
	"sync/atomic"
	"time"

	"github.com/trace-exporter/trace-exporter/exporter"
	"github.com/trace-exporter/trace-exporter/plugin/sampling"
)

// log is the Log handler. Its PDK budget: one call (kong.log.serialize) for
// every request that becomes spans. When most requests are unsampled (see
// decisionStats) it first makes one small call for the hand-off instead, so
// a dropped request never costs a serialize:
//   - unsampled, no tail rule: 1 small call;
//   - unsampled, status rule on: 2 small calls (the status is not in the
//     hand-off: it is unknown in the access phase);
//   - sampled in that mode: the small call, then serialize;
//   - request metrics or access logs on: serialize for every request,
//     sampled or not, no probe.
//
// On top: kong.node.get_id once per process (node.go), and for an exported
// request the calls its resource templates need (resources.fetch). Every
// call it makes is one Kong serves from saved data in its log timer.
func (rt *runtime) log(k kongCaller) {
	rt.stats.Requests.Add(1)
	// Sampling decided in the log phase needs serialize for every request:
	// the small probe would only add a call. So do request metrics, which
	// count every request, and access logs, which log every request.
	if rt.metrics == nil && rt.accessLog == nil && rt.decisions.probeFirst() && !rt.sampler.LogPhaseActive() && rt.dropUnsampled(k) {
		return
	}
	payload, err := callSerialize(k)
	if err != nil {
		rt.stats.PDKErrors.Add(1)
		return
	}
	if rt.node.ensureID(k) {
		rt.stats.PDKErrors.Add(1)
	}
	if w := rt.env.logs; w != nil && !rt.resources.callsKong() && w.offer(rt, payload) {
		return // processed by the log worker, after Kong has its answer
	}
	rt.logPayload(payload, k)
}

// LogPayload runs what the Log handler does once it has the serialize
// payload: parse, resolve ids, build spans, enqueue. It exists for
// benchmarks and tools outside this package (test/bench measures the log
// path with it); Kong's requests go through Log. Without Kong to ask,
// templates that read URI captures or kong.ctx.shared render them empty.
func (p *Plugin) LogPayload(payload string) { p.rt.logPayload(payload, nil) }

// logPayload turns one serialize payload into spans and queues them. k
// (nil: none) serves the calls resource templates need, made only for a
// request whose spans are exported.
func (rt *runtime) logPayload(payload string, k kongCaller) {
	rt.node.learnVersion(payload)
	a := newArena(arenaSize(len(payload)))
	var e logEntry
	if err := e.parse(payload, &rt.wants, &a); err != nil {
		rt.countPayloadError(err)
		return
	}
	ids, sampled, pending := rt.resolveIDs(&e)
	var tag sampling.SamplerTag
	if pending != "" {
		sampled, tag = rt.refineSampling(&e, &ids, sampled, pending, &a)
	}
	exported := false
	if rt.metrics != nil {
		defer func() { rt.metrics.record(&e, &ids, exported) }()
	}
	if !sampled {
		if !rt.tailKeeps(e.status, e.latRequest) {
			rt.stats.Unsampled.Add(1)
			rt.logAccess(&e, &ids, nil, k, &a)
			return
		}
		rt.stats.TailKept.Add(1)
		// Recorded and exported: the spans say sampled (OTLP flags, Zipkin's
		// sampled), although the upstream was told otherwise.
		ids.flags |= flagSampled
	}
	res := rt.resourceFor(&e, k)
	if rt.procs == nil {
		// The queue copies the spans it takes: a root and up to three tries
		// are built on the stack (processors may keep theirs).
		var buf [4]exporter.Span
		spans := appendSpans(buf[:0], &e, &ids, &rt.spanOpts, &a)
		rt.logAccessWith(&e, &ids, res, k, &a, &spans[0])
		rt.tagSampler(spans, tag)
		setResource(spans, res)
		rt.stats.SpansBuilt.Add(int64(len(spans)))
		exported = rt.enqueue(spans)
		return
	}
	spans := buildSpans(&e, &ids, &rt.spanOpts, &a)
	rt.logAccessWith(&e, &ids, res, k, &a, &spans[0])
	rt.tagSampler(spans, tag)
	setResource(spans, res)
	rt.stats.SpansBuilt.Add(int64(len(spans)))
	if spans = rt.process(spans, &e); len(spans) == 0 {
		return // dropped by a processor (counted there)
	}
	exported = rt.enqueue(spans)
}

// resourceFor is the resource of an exported request's spans, after the
// calls its templates need (failed ones render empty and are counted).
func (rt *runtime) resourceFor(e *logEntry, k kongCaller) *exporter.Resource {
	var pv pdkValues
	if k != nil {
		var failed int
		if pv, failed = rt.resources.fetch(k); failed > 0 {
			rt.stats.PDKErrors.Add(int64(failed))
		}
	}
	return rt.resources.forRequest(e, pv)
}

// setResource gives every span of a request its resource: processors see
// it and may replace it.
func setResource(spans []exporter.Span, res *exporter.Resource) {
	for i := range spans {
		spans[i].Resource = res
	}
}

func (rt *runtime) enqueue(spans []exporter.Span) bool {
	if !rt.pipe.Enqueue(spans) {
		rt.stats.QueueRejected.Add(1)
		return false
	}
	return true
}

// arenaSize is the first arena chunk for a payload: what spans keep of it
// (ids, names, URLs, a few headers) grows much slower than the payload
// (most of which is headers and entity fields that are skipped).
func arenaSize(payloadLen int) int { return 512 + payloadLen/8 }

func (rt *runtime) countPayloadError(err error) {
	switch err {
	case errStream:
		rt.stats.PayloadStream.Add(1)
	case errTooLarge:
		rt.stats.PayloadTooLarge.Add(1)
	default:
		rt.stats.PayloadInvalid.Add(1)
	}
}

// dropUnsampled reads the hand-off with one small call and reports whether
// the request is unsampled and kept by no tail rule.
func (rt *runtime) dropUnsampled(k kongCaller) bool {
	v, err := callGetSerializeValues(k)
	if err != nil {
		// The same data feeds serialize: it would fail too.
		rt.stats.PDKErrors.Add(1)
		return true
	}
	s, ok := handoffFromSerializeValues(v)
	if !ok {
		return false // access did not run: decide from the payload
	}
	h, err := decodeHandoff(s)
	if err != nil || h.sampled() || h.pending != "" && rt.sampler.LogPhaseActive() {
		return false // kept, or the log phase may still keep it
	}
	// The log timer runs right after the response, so the time since the
	// access phase bounds the request's latency from below.
	if lat := rt.tail.LatencyMs; lat > 0 && time.Now().UnixMilli()-h.accessUnixMs >= int64(lat) {
		return false
	}
	if min := rt.tail.StatusCodeMin; min > 0 {
		status, err := callGetStatus(k)
		if err != nil || status >= min {
			return false
		}
	}
	rt.stats.Unsampled.Add(1)
	return true
}

func (rt *runtime) tailKeeps(status int, latencyMs float64) bool {
	t := rt.tail
	return (t.StatusCodeMin > 0 && status >= t.StatusCodeMin) ||
		(t.LatencyMs > 0 && latencyMs >= float64(t.LatencyMs))
}

// decisionStats tracks the share of unsampled requests an instance's access
// phase decided, to choose the log handler's first call: serialize when most
// requests are kept, the small hand-off probe when most are dropped. The
// probe answers with the hand-off alone instead of the whole payload, so it
// is far cheaper than a serialize; taking it first pays once more than a
// fifth of the requests are unsampled (a sampled request then pays both).
type decisionStats struct {
	seen      atomic.Uint32 // decisions in the current window
	unsampled atomic.Uint32
	probe     atomic.Bool
}

const decisionWindow = 256

// record counts one access-phase decision without a lock (it runs on every
// request). The goroutine that completes a window judges it; decisions that
// race with the reset are simply not counted, which an estimate tolerates.
func (d *decisionStats) record(sampled bool) {
	if !sampled {
		d.unsampled.Add(1)
	}
	if d.seen.Add(1) == decisionWindow {
		u := d.unsampled.Swap(0)
		d.seen.Store(0)
		d.probe.Store(u*5 > decisionWindow)
	}
}

func (d *decisionStats) probeFirst() bool { return d.probe.Load() }

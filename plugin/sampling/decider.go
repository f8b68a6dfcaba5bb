package sampling

import (
	"strconv"
	"strings"

	"github.com/trace-exporter/trace-exporter/exporter"
	"github.com/trace-exporter/trace-exporter/plugin/propagation"
	"github.com/trace-exporter/trace-exporter/schema"
)

// Decider is one plugin instance's sampling configuration, compiled at
// StartInstance. Its methods are safe for concurrent use and take no lock.
//
// The order of a decision: sampling_strategy on the caller's decision;
// then sampling_rules in order, the first that matches deciding with its
// rate and limit; then the default: the remote strategy once one has
// arrived, else sampling_rate, under max_traces_per_second.
type Decider struct {
	stats       *Stats
	parentDrop  bool
	rate        Ratio
	limit       *Limiter
	rules       []rule
	remote      *Remote
	headerRules bool // a rule reads a header: the access phase must read them all
	lineRules   bool // a rule needs the log phase
}

// NewDecider compiles cfg's sampling fields. scope names the plugin entity
// (Kong's plugin id, else anything that identifies the config): instances
// of one scope share their token buckets in proc.
func NewDecider(cfg *schema.Config, scope string, proc *Process) (*Decider, error) {
	d := &Decider{
		stats:      &proc.Stats,
		parentDrop: cfg.SamplingStrategy == schema.SamplingParentDropProbabilityFallback,
		rate:       NewRatio(cfg.SamplingRate),
		limit:      proc.SharedLimiter(scope, cfg.MaxTracesPerSecond),
	}
	for i, rc := range cfg.SamplingRules {
		r := rule{cfg: rc, ratio: NewRatio(rc.SamplingRate), requestLine: rc.HasRequestLineCondition(),
			limit: proc.SharedLimiter(scope+"\x00rule "+strconv.Itoa(i), rc.MaxTracesPerSecond)}
		d.headerRules = d.headerRules || rc.HeaderName != ""
		d.lineRules = d.lineRules || r.requestLine
		d.rules = append(d.rules, r)
	}
	if rs := cfg.RemoteSampling; rs.Endpoint != "" {
		r, err := proc.AcquireRemote(rs.Endpoint, cfg.RemoteSamplingService(), rs.PollEvery())
		if err != nil {
			return nil, err
		}
		d.remote = r
	}
	return d, nil
}

// NeedsHeaders reports whether a rule reads a request header: the access
// phase must then read all headers (one kong.request.get_headers, the same
// single call as for multi-header trace contexts).
func (d *Decider) NeedsHeaders() bool { return d.headerRules }

// Trivial reports whether nothing but sampling_rate and sampling_strategy
// is configured, so that sampling_rate 1 keeps every request.
func (d *Decider) Trivial() bool {
	return d.limit == nil && len(d.rules) == 0 && d.remote == nil
}

// LogPhaseActive reports whether the log phase may change decisions now:
// a rule needs the request line, or the remote strategy is per operation.
// The log handler then reads serialize for every request.
func (d *Decider) LogPhaseActive() bool {
	if d.lineRules {
		return true
	}
	if d.remote != nil {
		s := d.remote.current()
		return s != nil && s.Kind == PerOperation
	}
	return false
}

// Head is what the access phase knows of a request.
type Head struct {
	Parent     propagation.SpanContext // the caller's context, zero when none was extracted
	TraceID    exporter.TraceID        // the trace's id: the caller's, or the gateway's new one
	NewTrace   bool                    // TraceID was generated here (its low 56 bits are random)
	TraceState string                  // the W3C tracestate going upstream (the caller's, same trace)
	Headers    propagation.Getter      // the request headers, nil when they were not read
}

// Decision is the access phase's decision.
type Decision struct {
	Sampled bool
	// TraceState is the tracestate to propagate and export: the caller's,
	// with the ot entry's th set to the threshold the trace was sampled
	// with, or removed where the probability is unknown.
	TraceState string
	// Pending tells Refine what the log phase still has to decide; "" when
	// the decision is final. It contains neither ";" nor line breaks.
	Pending string
}

// Pending stages: the default decided, or rule n; then ":" and the rules
// whose header conditions held but whose request-line conditions the log
// phase must check, in order.
const (
	stageDefault = "d"
	stageRule    = "r"
)

// Decide takes the head decision in the access phase.
func (d *Decider) Decide(h *Head) Decision {
	ts := h.TraceState
	rnd, known := randomness(h.TraceID, ts, h.NewTrace || h.Parent.Random)
	switch {
	case h.Parent.Sampling == propagation.NotSampled:
		return Decision{Sampled: false, TraceState: ts}
	case (h.Parent.Sampling == propagation.Sampled || h.Parent.Debug) && !d.parentDrop:
		return Decision{Sampled: true, TraceState: consistentParentTh(ts, rnd)}
	}
	var cands []int
	for i := range d.rules {
		r := &d.rules[i]
		if !r.headersMatch(h.Headers) {
			continue
		}
		if r.requestLine {
			cands = append(cands, i)
			continue
		}
		keep, ts := d.sample(r.ratio, r.limit, rnd, known, ts)
		return Decision{Sampled: keep, TraceState: ts, Pending: pending(stageRule+strconv.Itoa(i), cands)}
	}
	keep, ts := d.sampleDefault(rnd, known, ts)
	stage := ""
	if d.remote != nil || len(cands) > 0 {
		stage = stageDefault
	}
	return Decision{Sampled: keep, TraceState: ts, Pending: pending(stage, cands)}
}

func pending(stage string, cands []int) string {
	if len(cands) == 0 {
		if stage == stageDefault {
			return stage
		}
		return ""
	}
	var b strings.Builder
	b.WriteString(stage)
	b.WriteByte(':')
	for i, c := range cands {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.Itoa(c))
	}
	return b.String()
}

// sampleDefault applies the remote strategy (per-operation ones with their
// default probability: the operation is unknown here), else sampling_rate,
// under max_traces_per_second.
func (d *Decider) sampleDefault(rnd Randomness, known bool, ts string) (bool, string) {
	if d.remote != nil {
		if s := d.remote.current(); s != nil && s.Kind == RateLimiting {
			if !s.limiter.Allow() {
				d.stats.RateLimited.Add(1)
				return false, ts
			}
			if d.limit != nil && !d.limit.Allow() {
				d.stats.RateLimited.Add(1)
				return false, ts
			}
			return true, withTh(ts, "") // a rate limit's probability is unknown
		} else if s != nil {
			return d.sample(s.ratio, d.limit, rnd, known, ts)
		}
	}
	return d.sample(d.rate, d.limit, rnd, known, ts)
}

// sample is a probability decision under an optional token bucket.
func (d *Decider) sample(ratio Ratio, limit *Limiter, rnd Randomness, known bool, ts string) (bool, string) {
	if !ratio.Keeps(rnd) {
		return false, ts
	}
	if limit != nil && !limit.Allow() {
		d.stats.RateLimited.Add(1)
		return false, ts
	}
	return true, thAfterProbability(ts, ratio, known && limit == nil)
}

// thAfterProbability records the threshold a trace was kept with. Where it
// is not a pure probability (randomness unknown, or a token bucket also
// decided) the threshold is erased, as the specification requires of
// stages whose probability is unknown. Probability 1 writes th:0 only into
// an existing ot entry: no tracestate is added to every request.
func thAfterProbability(ts string, ratio Ratio, exact bool) string {
	if !exact {
		return withTh(ts, "")
	}
	if ratio.Always() {
		if _, ok := otValue(ts); !ok {
			return ts
		}
	}
	if ts == "" {
		return ratio.alone // a new trace's: no allocation
	}
	return withTh(ts, ratio.tvalue)
}

// randomness is the trace's 56 random bits: rv from the ot entry, else the
// trace id's low bits. known says whether they are known to be random (an
// rv, the W3C random flag, or an id generated here).
func randomness(id exporter.TraceID, ts string, randomID bool) (Randomness, bool) {
	if ts != "" {
		if st := parseOT(ts); st.hasRv {
			return st.rv, true
		}
	}
	return RandomnessOf(id), randomID
}

// consistentParentTh keeps a sampled caller's threshold unless it
// contradicts the decision (randomness below it): then it is erased.
func consistentParentTh(ts string, rnd Randomness) string {
	if ts == "" {
		return ts
	}
	if st := parseOT(ts); st.hasTh && !st.th.Keeps(rnd) {
		return withTh(ts, "")
	}
	return ts
}

// SamplerTag says which remote sampler kept a trace: the root span carries
// it as sampler.type and sampler.param, which Jaeger's adaptive sampling
// counts throughput from. Type "" means no tag.
type SamplerTag struct {
	Type  string // probabilistic, lowerbound, ratelimiting
	Param float64
}

// Refined is the log phase's decision.
type Refined struct {
	Sampled    bool
	TraceState string
	Tag        SamplerTag
}

// Refine completes a decision in the log phase from what only serialize
// holds: rules with route, service, method or path conditions, and the
// remote strategy's per-operation probabilities and lower bounds. It
// changes what the gateway exports; the upstream was told the access
// phase's decision (README, "Sampling in the log phase").
func (d *Decider) Refine(p string, sampled bool, id exporter.TraceID, ts string, random bool, line *RequestLine) Refined {
	out := Refined{Sampled: sampled, TraceState: ts}
	if p == "" {
		return out
	}
	stage, list, _ := strings.Cut(p, ":")
	rnd, known := randomness(id, ts, random)
	for list != "" {
		var s string
		s, list, _ = strings.Cut(list, ",")
		i, err := strconv.Atoi(s)
		if err != nil || i < 0 || i >= len(d.rules) {
			return out // from another config: keep the access phase's decision
		}
		if r := &d.rules[i]; r.lineMatches(line) {
			keep, ts := d.sample(r.ratio, r.limit, rnd, known, ts)
			return d.changed(out, keep, ts, SamplerTag{})
		}
	}
	if stage != stageDefault || d.remote == nil {
		return out
	}
	s := d.remote.current()
	switch {
	case s == nil:
		// Decided by sampling_rate until the first strategy arrives.
		out.Tag = SamplerTag{"probabilistic", d.rate.Threshold().Probability()}
		return out
	case s.Kind == RateLimiting:
		out.Tag = SamplerTag{"ratelimiting", s.MaxTracesPerSecond}
		return out
	case s.Kind == Probabilistic:
		out.Tag = SamplerTag{"probabilistic", s.Probability}
		return out
	}
	ratio, ok := s.ops[line.Operation]
	p0 := s.Operations[line.Operation]
	if !ok {
		ratio, p0 = s.ratio, s.Probability
	}
	lower := d.remote.st.lower.limiter(line.Operation)
	if ratio.Keeps(rnd) {
		if lower != nil {
			lower.Allow() // Jaeger's guaranteed throughput counts every kept trace
		}
		keep := sampled || d.limit == nil || d.limit.Allow()
		if !keep {
			d.stats.RateLimited.Add(1)
			return d.changed(out, false, ts, SamplerTag{})
		}
		return d.changed(out, true, thAfterProbability(ts, ratio, known && d.limit == nil), SamplerTag{"probabilistic", p0})
	}
	if lower != nil && lower.Allow() {
		return d.changed(out, true, withTh(ts, ""), SamplerTag{"lowerbound", p0})
	}
	return d.changed(out, false, ts, SamplerTag{})
}

func (d *Decider) changed(out Refined, keep bool, ts string, tag SamplerTag) Refined {
	switch {
	case keep && !out.Sampled:
		d.stats.LogPhaseKept.Add(1)
	case !keep && out.Sampled:
		d.stats.LogPhaseDropped.Add(1)
	}
	if !keep {
		return Refined{Sampled: false, TraceState: out.TraceState}
	}
	return Refined{Sampled: true, TraceState: ts, Tag: tag}
}

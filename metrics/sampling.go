package metrics

import (
	"sync/atomic"

	"github.com/trace-exporter/trace-exporter/plugin/sampling"
)

// newSamplingCollector exposes sampling.Stats.
func newSamplingCollector(s *sampling.Stats) *counterCollector[sampling.Stats] {
	c := &counterCollector[sampling.Stats]{stats: s}
	add := func(name, help string, value func(*sampling.Stats) *atomic.Int64) {
		c.add(Namespace+"_sampling_"+name, help, func(s *sampling.Stats) float64 { return float64(value(s).Load()) })
	}
	add("remote_polls_total", "Requests for a remote sampling strategy.", func(s *sampling.Stats) *atomic.Int64 { return &s.RemotePolls })
	add("remote_poll_failures_total", "Remote strategy requests that failed; the last strategy (or sampling_rate until the first) stayed in force.", func(s *sampling.Stats) *atomic.Int64 { return &s.RemotePollFailures })
	add("rate_limited_total", "Traces a token bucket refused (max_traces_per_second, a rule's limit, a rate-limiting remote strategy).", func(s *sampling.Stats) *atomic.Int64 { return &s.RateLimited })
	add("log_phase_kept_total", "Requests the log phase kept (request-line rule, per-operation strategy) although the upstream was told not sampled.", func(s *sampling.Stats) *atomic.Int64 { return &s.LogPhaseKept })
	add("log_phase_dropped_total", "Requests the log phase dropped although the upstream was told sampled.", func(s *sampling.Stats) *atomic.Int64 { return &s.LogPhaseDropped })
	return c
}

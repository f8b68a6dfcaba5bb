package metrics

import (
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/trace-exporter/trace-exporter/plugin/sampling"
)

// samplingCollector exposes sampling.Counters.
type samplingCollector struct {
	counters *sampling.Stats
	metrics  []samplingCounter
}

type samplingCounter struct {
	desc  *prometheus.Desc
	value func(*sampling.Stats) *atomic.Int64
}

func newSamplingCollector(s *sampling.Stats) *samplingCollector {
	c := &samplingCollector{counters: s}
	add := func(name, help string, value func(*sampling.Stats) *atomic.Int64) {
		c.metrics = append(c.metrics, samplingCounter{prometheus.NewDesc(Namespace+"_sampling_"+name, help, nil, nil), value})
	}
	add("remote_polls_total", "Requests for a remote sampling strategy.", func(s *sampling.Stats) *atomic.Int64 { return &s.RemotePolls })
	add("remote_poll_failures_total", "Remote strategy requests that failed; the last strategy (or sampling_rate until the first) stayed in force.", func(s *sampling.Stats) *atomic.Int64 { return &s.RemotePollFailures })
	add("rate_limited_total", "Traces a token bucket refused (max_traces_per_second, a rule's limit, a rate-limiting remote strategy).", func(s *sampling.Stats) *atomic.Int64 { return &s.RateLimited })
	add("log_phase_kept_total", "Requests the log phase kept (request-line rule, per-operation strategy) although the upstream was told not sampled.", func(s *sampling.Stats) *atomic.Int64 { return &s.LogPhaseKept })
	add("log_phase_dropped_total", "Requests the log phase dropped although the upstream was told sampled.", func(s *sampling.Stats) *atomic.Int64 { return &s.LogPhaseDropped })
	return c
}

func (c *samplingCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, m := range c.metrics {
		ch <- m.desc
	}
}

func (c *samplingCollector) Collect(ch chan<- prometheus.Metric) {
	for _, m := range c.metrics {
		ch <- prometheus.MustNewConstMetric(m.desc, prometheus.CounterValue, float64(m.value(c.counters).Load()))
	}
}

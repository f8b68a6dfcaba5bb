package metrics

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/trace-exporter/trace-exporter/plugin"
)

// accessLogCollector exposes plugin.AccessLogStats: what the access logs
// did before their pipelines (whose series carry signal="logs").
type accessLogCollector struct {
	stats   *plugin.AccessLogStats
	metrics []accessLogCounter
}

type accessLogCounter struct {
	desc  *prometheus.Desc
	value func(*plugin.AccessLogStats) uint64
}

func newAccessLogCollector(s *plugin.AccessLogStats) *accessLogCollector {
	c := &accessLogCollector{stats: s}
	add := func(name, help string, value func(*plugin.AccessLogStats) uint64) {
		c.metrics = append(c.metrics, accessLogCounter{prometheus.NewDesc(Namespace+"_access_logs_"+name, help, nil, nil), value})
	}
	add("built_total", "Access log records built and handed to their logs pipeline (pipeline_spans_*{signal=\"logs\"} say what became of them).",
		func(s *plugin.AccessLogStats) uint64 { return uint64(s.Built.Load()) })
	add("sampled_out_total", "Requests access_logs.sampling_rate left without a record.",
		func(s *plugin.AccessLogStats) uint64 { return uint64(s.SampledOut.Load()) })
	add("queue_rejected_total", "Access log records the logs pipeline refused (pipeline_spans_dropped_total{signal=\"logs\"} says why).",
		func(s *plugin.AccessLogStats) uint64 { return uint64(s.QueueRejected.Load()) })
	add("processor_dropped_total", "Access log records dropped by log processors (a processor panic included).",
		func(s *plugin.AccessLogStats) uint64 { return s.Processors.Dropped.Load() })
	add("processor_panics_total", "Log processor panics (the record was dropped).",
		func(s *plugin.AccessLogStats) uint64 { return s.Processors.Panics.Load() })
	return c
}

func (c *accessLogCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, m := range c.metrics {
		ch <- m.desc
	}
}

func (c *accessLogCollector) Collect(ch chan<- prometheus.Metric) {
	for _, m := range c.metrics {
		ch <- prometheus.MustNewConstMetric(m.desc, prometheus.CounterValue, float64(m.value(c.stats)))
	}
}

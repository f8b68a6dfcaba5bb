package metrics

import "github.com/trace-exporter/trace-exporter/plugin"

// newAccessLogCollector exposes plugin.AccessLogStats: what the access
// logs did before their pipelines (whose series carry signal="logs").
func newAccessLogCollector(s *plugin.AccessLogStats) *counterCollector[plugin.AccessLogStats] {
	c := &counterCollector[plugin.AccessLogStats]{stats: s}
	add := func(name, help string, value func(*plugin.AccessLogStats) uint64) {
		c.add(Namespace+"_access_logs_"+name, help, func(s *plugin.AccessLogStats) float64 { return float64(value(s)) })
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

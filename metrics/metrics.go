// Package metrics exposes the plugin server's own health in the Prometheus
// text format: per pipeline, what was queued, exported, retried and lost
// (by reason), the queue's depth, batch sizes and export latency; process
// wide, what the Kong handlers did and what span processors dropped.
//
// Nothing is counted twice: the collector reads the counters the exporter
// and plugin packages keep anyway, at scrape time, so the request path pays
// nothing for metrics that nobody scrapes.
package metrics

import (
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/trace-exporter/trace-exporter/exporter"
	"github.com/trace-exporter/trace-exporter/plugin"
	"github.com/trace-exporter/trace-exporter/plugin/sampling"
)

// Namespace prefixes every metric name.
const Namespace = "trace_exporter"

// pipelineLabels identify a pipeline: its id (a short hash of the backend
// config), its backend (exporter and endpoint, never credentials) and its
// signal (traces, logs, metrics).
var pipelineLabels = []string{"pipeline", "backend", "signal"}

func pipelineDesc(name, help string, extra ...string) *prometheus.Desc {
	return prometheus.NewDesc(prometheus.BuildFQName(Namespace, "pipeline", name), help, append(append([]string(nil), pipelineLabels...), extra...), nil)
}

// pluginCounter maps one plugin.Stats counter to a metric.
type pluginCounter struct {
	desc  *prometheus.Desc
	value func(*plugin.Stats) *atomic.Int64
	label string // value of the desc's single label, if it has one
}

// Collector is a prometheus.Collector over the process's pipelines and
// plugin counters.
type Collector struct {
	pipelines  func() []exporter.PipelineStats
	histograms func(pipelineID string) (exporter.ExportHistograms, bool)
	counters   *plugin.Stats
	processors *exporter.ProcessorStats
	sampling   *sampling.Stats

	enqueued, exported, dropped, retries, batches *prometheus.Desc
	queueSpans, queueBytes                        *prometheus.Desc
	spooled, replayed, spoolCorrupt               *prometheus.Desc
	spoolSpans, spoolBytes, spoolOpen             *prometheus.Desc
	circuitOpen, exporterPanics                   *prometheus.Desc
	batchSpans, exportSeconds                     *prometheus.Desc

	plugin                            []pluginCounter
	processorDropped, processorPanics *prometheus.Desc
	buildInfo                         *prometheus.Desc
}

// NewCollector reads the pipelines of reg and the handlers' counters of
// stats: those of the plugin.Env the plugin server runs with.
func NewCollector(env *plugin.Env) *Collector {
	c := newCollector(env.Pipelines.Stats, env.Pipelines.Histograms, env.Stats)
	c.processors, c.sampling = env.Processors, &env.Sampling.Stats
	return c
}

func newCollector(pipelines func() []exporter.PipelineStats, histograms func(string) (exporter.ExportHistograms, bool), counters *plugin.Stats) *Collector {
	c := &Collector{
		pipelines:  pipelines,
		histograms: histograms,
		counters:   counters,
		processors: &exporter.ProcessorStats{},
		sampling:   &sampling.Stats{},

		enqueued: pipelineDesc("spans_enqueued_total", "Spans accepted into the pipeline's queue."),
		exported: pipelineDesc("spans_exported_total", "Spans the backend acknowledged."),
		dropped: pipelineDesc("spans_dropped_total",
			"Spans lost, by reason: queue_full_entries and queue_full_bytes (refused at enqueue), shutdown, retry_exhausted, permanent_error (the backend refused the batch), rejected (OTLP partial success), spool_full, spool_corrupt, circuit_open (shed while the circuit breaker was open).",
			"reason"),
		retries: pipelineDesc("export_retries_total", "Export attempts after the first one of a batch."),
		batches: pipelineDesc("batches_total", "Batches by outcome: exported (fully or partially) or failed (given up).", "result"),

		queueSpans: pipelineDesc("queue_spans", "Spans held in memory: waiting or being exported."),
		queueBytes: pipelineDesc("queue_bytes", "Estimated bytes of the spans held in memory."),

		spooled:      pipelineDesc("spool_spans_written_total", "Spans written to the disk spool."),
		replayed:     pipelineDesc("spool_spans_replayed_total", "Spans found in the spool when it was opened (left by an earlier process)."),
		spoolCorrupt: pipelineDesc("spool_records_corrupt_total", "Spool records skipped as corrupt."),
		spoolSpans:   pipelineDesc("spool_spans", "Spans on disk, waiting or being exported."),
		spoolBytes:   pipelineDesc("spool_bytes", "Bytes of the spool's records."),
		spoolOpen:    pipelineDesc("spool_open", "1 when the pipeline's spool file is open, 0 while another process holds it."),

		circuitOpen:    pipelineDesc("circuit_open", "1 while the circuit breaker sheds batches (queue.failure_threshold), else 0."),
		exporterPanics: pipelineDesc("exporter_panics_total", "Exporter panics recovered (their batches were dropped as permanent_error)."),

		batchSpans:    pipelineDesc("export_batch_spans", "Spans per export attempt (a retried batch counts once per attempt)."),
		exportSeconds: pipelineDesc("export_duration_seconds", "Duration of export attempts, successful or not."),

		processorDropped: prometheus.NewDesc(Namespace+"_processor_spans_dropped_total", "Spans dropped by span processors (including requests dropped because a processor panicked).", nil, nil),
		processorPanics:  prometheus.NewDesc(Namespace+"_processor_panics_total", "Span processor panics (the request's spans were dropped).", nil, nil),
		buildInfo:        prometheus.NewDesc(Namespace+"_build_info", "Always 1; the plugin version is a label.", []string{"version"}, nil),
	}
	counter := func(name, help string, value func(*plugin.Stats) *atomic.Int64) {
		c.plugin = append(c.plugin, pluginCounter{desc: prometheus.NewDesc(Namespace+"_"+name, help, nil, nil), value: value})
	}
	payloadErrors := prometheus.NewDesc(Namespace+"_payload_errors_total",
		"Log payloads skipped, by reason: invalid (not a Kong serialize object), stream (TCP/UDP routes, not traced), too_large.", []string{"reason"}, nil)
	labelled := func(desc *prometheus.Desc, label string, value func(*plugin.Stats) *atomic.Int64) {
		c.plugin = append(c.plugin, pluginCounter{desc: desc, value: value, label: label})
	}
	counter("requests_total", "Log events handled (requests seen by the log phase).", func(s *plugin.Stats) *atomic.Int64 { return &s.Requests })
	counter("spans_built_total", "Spans built from log payloads (before span processors).", func(s *plugin.Stats) *atomic.Int64 { return &s.SpansBuilt })
	counter("requests_unsampled_total", "Requests not traced: head sampling said no and no tail rule kept them.", func(s *plugin.Stats) *atomic.Int64 { return &s.Unsampled })
	counter("requests_tail_kept_total", "Requests head sampling dropped that a tail rule (status, latency) kept.", func(s *plugin.Stats) *atomic.Int64 { return &s.TailKept })
	counter("pdk_errors_total", "PDK calls that failed (the request was not traced).", func(s *plugin.Stats) *atomic.Int64 { return &s.PDKErrors })
	labelled(payloadErrors, "invalid", func(s *plugin.Stats) *atomic.Int64 { return &s.PayloadInvalid })
	labelled(payloadErrors, "stream", func(s *plugin.Stats) *atomic.Int64 { return &s.PayloadStream })
	labelled(payloadErrors, "too_large", func(s *plugin.Stats) *atomic.Int64 { return &s.PayloadTooLarge })
	counter("handoff_invalid_total", "Malformed access-to-log hand-offs (ids were chosen again in the log phase).", func(s *plugin.Stats) *atomic.Int64 { return &s.HandoffInvalid })
	counter("trace_headers_invalid_total", "Requests whose incoming trace-context headers were malformed (once per request; other configured formats were still read, else a new trace was started).", func(s *plugin.Stats) *atomic.Int64 { return &s.HeaderInvalid })
	counter("handler_panics_total", "Recovered panics in the Kong phase handlers.", func(s *plugin.Stats) *atomic.Int64 { return &s.Panics })
	counter("try_start_clamped_total", "Upstream tries whose start Kong reported before the request's start (Kong's clocks differ): the try span starts with its parent.", func(s *plugin.Stats) *atomic.Int64 { return &s.TryStartClamped })
	counter("log_worker_full_total", "Requests whose log path ran in the Log handler, before Kong had its answer, because the log worker held its maximum (1024 payloads or 4 MiB): the plugin server is at the limit of what it processes.", func(s *plugin.Stats) *atomic.Int64 { return &s.LogWorkerFull })
	counter("requests_queue_rejected_total", "Requests whose spans the pipeline refused (see pipeline_spans_dropped_total for why).", func(s *plugin.Stats) *atomic.Int64 { return &s.QueueRejected })
	return c
}

// Describe sends every metric's description.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{
		c.enqueued, c.exported, c.dropped, c.retries, c.batches, c.queueSpans, c.queueBytes,
		c.spooled, c.replayed, c.spoolCorrupt, c.spoolSpans, c.spoolBytes, c.spoolOpen, c.circuitOpen, c.exporterPanics,
		c.batchSpans, c.exportSeconds, c.processorDropped, c.processorPanics, c.buildInfo,
	} {
		ch <- d
	}
	seen := map[*prometheus.Desc]bool{}
	for _, p := range c.plugin {
		if !seen[p.desc] {
			seen[p.desc] = true
			ch <- p.desc
		}
	}
}

// Collect reads the counters as they are now.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	for _, p := range c.pipelines() {
		l := []string{p.ID, p.Name, p.Signal}
		s := p.Stats
		counter := func(d *prometheus.Desc, v uint64, extra ...string) {
			ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), append(l, extra...)...)
		}
		gauge := func(d *prometheus.Desc, v float64) {
			ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, l...)
		}
		counter(c.enqueued, s.Enqueued)
		counter(c.exported, s.Exported)
		for _, r := range exporter.DropReasons() {
			counter(c.dropped, s.DroppedBy(r), r.String())
		}
		counter(c.retries, s.Retries)
		counter(c.batches, s.Batches, "exported")
		counter(c.batches, s.FailedBatches, "failed")
		gauge(c.queueSpans, float64(s.QueueSpans))
		gauge(c.queueBytes, float64(s.QueueBytes))
		counter(c.spooled, s.Spooled)
		counter(c.replayed, s.Replayed)
		counter(c.spoolCorrupt, s.SpoolCorrupt)
		gauge(c.spoolSpans, float64(s.SpoolSpans))
		gauge(c.spoolBytes, float64(s.SpoolBytes))
		open := 0.0
		if s.SpoolOpen {
			open = 1
		}
		gauge(c.spoolOpen, open)
		circuit := 0.0
		if s.CircuitOpen {
			circuit = 1
		}
		gauge(c.circuitOpen, circuit)
		counter(c.exporterPanics, s.Panics)
		if h, ok := c.histograms(p.ID); ok {
			ch <- constHistogram(c.batchSpans, h.BatchSpans, l)
			ch <- constHistogram(c.exportSeconds, h.ExportSeconds, l)
		}
	}
	for _, p := range c.plugin {
		var labels []string
		if p.label != "" {
			labels = []string{p.label}
		}
		ch <- prometheus.MustNewConstMetric(p.desc, prometheus.CounterValue, float64(p.value(c.counters).Load()), labels...)
	}
	ch <- prometheus.MustNewConstMetric(c.processorDropped, prometheus.CounterValue, float64(c.processors.Dropped.Load()))
	ch <- prometheus.MustNewConstMetric(c.processorPanics, prometheus.CounterValue, float64(c.processors.Panics.Load()))
	ch <- prometheus.MustNewConstMetric(c.buildInfo, prometheus.GaugeValue, 1, exporter.Version)
}

func constHistogram(d *prometheus.Desc, h exporter.Histogram, labels []string) prometheus.Metric {
	return prometheus.MustNewConstHistogram(d, h.Count, h.Sum, h.Cumulative(), labels...)
}

// NewRegistry returns a registry with the collector and the Go runtime and
// process collectors (memory, goroutines, GC, file descriptors, CPU).
func NewRegistry(c *Collector) *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(c, newSamplingCollector(c.sampling), newAccessLogCollector(&c.counters.AccessLogs),
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return reg
}

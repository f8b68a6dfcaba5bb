package plugin

import (
	"log/slog"
	"time"

	"github.com/trace-exporter/trace-exporter/exporter"
	"github.com/trace-exporter/trace-exporter/plugin/reqmetrics"
	"github.com/trace-exporter/trace-exporter/schema"
)

// requestMetrics is an instance's request metrics (Kong's metrics record):
// the families its enable_* flags turn on, recorded from every request the
// instance logs, sampled or not, into the aggregator of its destination,
// which every instance sending there shares.
type requestMetrics struct {
	agg          *reqmetrics.Aggregator
	families     reqmetrics.Families
	consumer     bool
	knownMethods []string
}

// attachRequestMetrics sets up the instance's request metrics from the
// config JSON Kong sent (the metrics destination reads the environment's
// OTLP metrics variables where the config is silent). An error refuses
// the instance.
func (rt *runtime) attachRequestMetrics(data []byte) error {
	m, err := newRequestMetrics(data, rt.cfg, rt.env, rt.resources.pipelineAttributes())
	if err != nil || m == nil {
		return err
	}
	rt.metrics = m
	rt.wants.ai = m.families&reqmetrics.AI != 0
	return nil
}

func newRequestMetrics(data []byte, cfg *schema.Config, env *Env, resource map[string]string) (*requestMetrics, error) {
	mc := &cfg.Metrics
	families := metricFamilies(mc)
	noticeUnseen(cfg, env.RequestMetrics)
	if families == 0 {
		if mc.Endpoint != "" {
			slog.Warn("metrics.endpoint is set, but no metrics.enable_* flag is: no request metric is exported", "field", "metrics")
		}
		return nil, nil
	}
	dest, err := schema.MetricsDestination(data)
	if err != nil {
		return nil, err
	}
	delta, err := schema.MetricsDeltaTemporality()
	if err != nil {
		return nil, err
	}
	target := reqmetrics.Target{Delta: delta, Interval: time.Duration(mc.PushInterval * float64(time.Second))}
	switch {
	case dest != nil:
		// A template's text is never a value: the metrics' resource is the
		// static part of the spans'.
		dest.ResourceAttributes = resource
		id, err := exporter.MetricsDestinationID(dest)
		if err != nil {
			return nil, err
		}
		d, err := newMetricsDestination(dest, env)
		if err != nil {
			return nil, err
		}
		temporality := "cumulative"
		if delta {
			temporality = "delta"
		}
		target.Key, target.Name = "otlp "+id+" "+temporality, d.name
		target.Dest = func() reqmetrics.Destination { return d }
	case env.RequestMetrics.Served():
		target.Key, target.Name = "metrics-listen", "/metrics"
	default:
		slog.Warn("metrics.enable_* is set, but there is no metrics endpoint (metrics.endpoint, "+schema.EnvMetricsEndpoint+
			" or OTEL_EXPORTER_OTLP_ENDPOINT) and /metrics does not serve request metrics: no request metric is exported",
			"field", "metrics.endpoint")
		return nil, nil
	}
	return &requestMetrics{agg: env.RequestMetrics.Acquire(target), families: families,
		consumer: mc.EnableConsumerAttribute, knownMethods: cfg.HTTPKnownMethods}, nil
}

func metricFamilies(mc *schema.Metrics) reqmetrics.Families {
	var f reqmetrics.Families
	for _, on := range []struct {
		set    bool
		family reqmetrics.Families
	}{
		{mc.EnableRequestMetrics, reqmetrics.Requests},
		{mc.EnableLatencyMetrics, reqmetrics.Latency},
		{mc.EnableBandwidthMetrics, reqmetrics.Bandwidth},
		{mc.EnableAIMetrics, reqmetrics.AI},
	} {
		if on.set {
			f |= on.family
		}
	}
	return f
}

// noticeUnseen says, once per process, which of the metrics a config asks
// for an external plugin cannot see: they come from Kong's internals, not
// from the serialize payload.
func noticeUnseen(cfg *schema.Config, reg *reqmetrics.Registry) {
	mc := &cfg.Metrics
	if mc.Endpoint != "" {
		reg.Notice("node", "Kong's node-level metrics (kong.shared_dict.*, kong.memory.*, kong.nginx.*, kong.db.*, kong.cp.*, license) "+
			"are not visible to an external plugin: only request metrics are exported", "field", "metrics.endpoint")
	}
	if mc.EnableUpstreamHealthMetrics {
		reg.Notice("upstream_health", "kong.upstream.target.status is not exported: upstream health checks are not visible to an external plugin",
			"field", "metrics.enable_upstream_health_metrics")
	}
	if mc.EnablePrincipalAttribute {
		reg.Notice("principal", "kong.auth.principal.* attributes are not added: the serialize payload carries no principal",
			"field", "metrics.enable_principal_attribute")
	}
	if mc.EnableAIMetrics {
		reg.Notice("ai", "AI metrics come from the statistics Kong's AI plugins put in the serialize payload; not exported: "+
			"gen_ai.server.time_to_first_token, kong.gen_ai.rag.*, kong.gen_ai.aws.guardrails.*, mcp.*, kong.gen_ai.mcp.*, kong.gen_ai.a2a.* "+
			"and the gen_ai.operation.name and kong.gen_ai.request.mode attributes", "field", "metrics.enable_ai_metrics")
	}
}

// record adds a logged request to the instance's metrics. exported says
// the request's spans were accepted for export: its trace becomes the
// exemplar of the histogram buckets it lands in.
func (m *requestMetrics) record(e *logEntry, ids *traceIDs, exported bool) {
	r := reqmetrics.Request{
		Service: e.serviceName, Route: e.routeName, Workspace: e.workspaceName,
		Status: e.status, Source: e.source,
		RequestBytes: e.requestSize, ResponseBytes: e.responseSize,
		TotalMs: e.latRequest, KongMs: e.latKong, UpstreamMs: e.latProxy,
		AI: e.ai,
	}
	r.Method, _ = normalizeMethod(e.method, m.knownMethods)
	path, _ := splitQuery(e.uri)
	r.HTTPRoute = matchedRoute(e, path)
	r.Scheme, _, _ = splitURL(e.url)
	if m.consumer {
		r.Consumer = e.consumerUsername
		if r.Consumer == "" {
			r.Consumer = e.consumerCustomID
		}
	}
	if exported {
		r.TraceID, r.SpanID = ids.trace, ids.root
	}
	m.agg.Record(m.families, &r)
}

package plugin

import (
	"context"
	"errors"
	"log/slog"
	"maps"
	"sync"

	"github.com/trace-exporter/trace-exporter/exporter"
	"github.com/trace-exporter/trace-exporter/schema"
)

// metricsDestination pushes an aggregator's metrics into the metrics
// pipeline of its OTLP destination. Its resource is the spans' (static
// resource attributes over Kong's node id as service.instance.id and Kong's
// version as service.version), so it follows the node once it is known.
type metricsDestination struct {
	env  *Env
	cfg  schema.Config // ResourceAttributes: the static ones
	name string

	mu            sync.Mutex
	handle        *exporter.MetricsHandle
	nodeID, kongV string // what handle's resource names
}

// newMetricsDestination checks that cfg's backend can be built (TLS files
// readable...), so a config that cannot push is refused when the instance
// starts; the pipeline itself starts with the first push.
func newMetricsDestination(cfg *schema.Config, env *Env) (*metricsDestination, error) {
	exp, err := exporter.New(cfg, exporter.Settings{Logger: slog.Default()})
	if err != nil {
		return nil, metricsFieldError(err)
	}
	_ = exp.Shutdown(context.Background())
	name := string(cfg.Protocol) + " " + exporter.RedactedURL(cfg.TracesURL())
	return &metricsDestination{env: env, cfg: *cfg, name: name}, nil
}

// metricsFieldError names metrics.endpoint where a backend names the URL
// field it reads.
func metricsFieldError(err error) error {
	var fe *schema.FieldError
	if errors.As(err, &fe) && (fe.Field == "traces_endpoint" || fe.Field == "endpoint") {
		return &schema.FieldError{Field: "metrics.endpoint", Reason: fe.Reason}
	}
	return err
}

// Push hands a collection to the pipeline; the pipeline batches, retries
// and counts what it drops, as for spans.
func (d *metricsDestination) Push(metrics []exporter.Metric) {
	d.mu.Lock()
	defer d.mu.Unlock()
	id, v := d.env.node.ID(), d.env.node.Version()
	if d.handle == nil || id != d.nodeID || v != d.kongV {
		cfg := d.cfg
		cfg.ResourceAttributes = maps.Clone(d.cfg.ResourceAttributes)
		if cfg.ResourceAttributes == nil {
			cfg.ResourceAttributes = map[string]string{}
		}
		for k, val := range map[string]string{"service.instance.id": id, "service.version": v} {
			if _, set := cfg.ResourceAttributes[k]; !set && val != "" {
				cfg.ResourceAttributes[k] = val
			}
		}
		h, err := d.env.Pipelines.AcquireMetrics(&cfg)
		if err != nil {
			slog.Warn("request metrics not pushed", "destination", d.name, "error", err)
			return
		}
		d.handle, d.nodeID, d.kongV = h, id, v
	}
	d.handle.Enqueue(metrics)
}

package exporter

import (
	"encoding/hex"

	"github.com/trace-exporter/trace-exporter/schema"
)

// MetricsDestinationID identifies the metrics pipeline cfg selects without
// building it: configs that would share a pipeline (same backend,
// endpoint, headers, resource, queue, TLS...) have the same id, and no
// others. It reveals nothing of the config.
func MetricsDestinationID(cfg *schema.Config) (string, error) {
	key, err := pipelineKey(metricSignal.name, cfg)
	if err != nil {
		return "", err
	}
	sum := hashKey(key)
	return hex.EncodeToString(sum[:16]), nil
}

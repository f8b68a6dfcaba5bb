package schema

import (
	"encoding/json"
	"fmt"
	"strings"
	"sync"
)

// Environment variables of the metrics signal (OTLP exporter
// specification): each OTEL_EXPORTER_OTLP_METRICS_* variant goes before its
// generic OTEL_EXPORTER_OTLP_* variable, as TRACES_ does for traces.
const (
	EnvMetricsEndpoint    = "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT"
	EnvMetricsTemporality = "OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE"
)

var (
	metricsEnvOnce   sync.Once
	metricsEnvCached otlpEnv
	metricsDelta     bool
	metricsEnvErr    error
)

// processMetricsEnv reads the metrics signal's variables once.
func processMetricsEnv() (otlpEnv, bool, error) {
	metricsEnvOnce.Do(func() {
		if metricsEnvCached, metricsEnvErr = readOTLPEnv(lookupEnv, "METRICS", "/v1/metrics"); metricsEnvErr != nil {
			return
		}
		metricsDelta, metricsEnvErr = readTemporality(lookupEnv)
	})
	return metricsEnvCached, metricsDelta, metricsEnvErr
}

// resetMetricsEnvForTest makes the next call read the environment again.
func resetMetricsEnvForTest(lookup func(string) (string, bool)) {
	lookupEnv = lookup
	metricsEnvOnce = sync.Once{}
}

// readTemporality reads the temporality preference: cumulative (the
// default) or delta; lowmemory is delta for the synchronous counters and
// histograms request metrics are.
func readTemporality(lookup func(string) (string, bool)) (bool, error) {
	v, _ := lookup(EnvMetricsTemporality)
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "", "cumulative":
		return false, nil
	case "delta", "lowmemory":
		return true, nil
	}
	return false, fmt.Errorf("%s: must be cumulative, delta or lowmemory, got %q", EnvMetricsTemporality, v)
}

// MetricsDeltaTemporality reports whether the plugin server's environment
// asks for delta temporality (OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE);
// cumulative otherwise.
func MetricsDeltaTemporality() (bool, error) {
	_, delta, err := processMetricsEnv()
	return delta, err
}

// MetricsDestination decodes, from the config JSON Kong sent, the backend
// request metrics go to: always OTLP, over the config's protocol, with its
// headers, TLS, compression, timeouts and queue, at metrics.endpoint (held
// in TracesEndpoint, where the OTLP backends read their URL). Fields the
// config leaves out take their defaults from OTEL_EXPORTER_OTLP_METRICS_*,
// then OTEL_EXPORTER_OTLP_*; without metrics.endpoint the endpoint is
// OTEL_EXPORTER_OTLP_METRICS_ENDPOINT as it is, or OTEL_EXPORTER_OTLP_ENDPOINT
// with /v1/metrics appended (as it is for OTLP/gRPC). It returns nil when
// none of them names an endpoint. Call it with a config UnmarshalJSON
// accepted: only what comes from the environment is checked here.
func MetricsDestination(data []byte) (*Config, error) {
	env, _, err := processMetricsEnv()
	if err != nil {
		return nil, err
	}
	type plain Config
	c := Defaults()
	env.applyScalars(&c)
	if err := json.Unmarshal(data, (*plain)(&c)); err != nil {
		return nil, decodeError(err)
	}
	if c.Headers == nil && len(env.headers) > 0 {
		c.Headers = env.headers
	}
	c.normalize()
	// metrics.endpoint is OTLP whatever backend takes the spans.
	c.Exporter = ExporterOTLP
	endpoint := c.Metrics.Endpoint
	if endpoint == "" {
		var from string
		if endpoint, from = metricsEndpoint(env, c.Protocol); endpoint == "" {
			return nil, nil
		}
		if p := endpointProblem(endpoint); p != "" {
			return nil, fmt.Errorf("%s: %s", from, p)
		}
		if c.Protocol != ProtocolGRPC && !validURL(endpoint) {
			return nil, fmt.Errorf("%s: %q is host:port, for OTLP/gRPC only: protocol %s needs an http:// or https:// URL", from, endpoint, c.Protocol)
		}
	}
	c.TracesEndpoint, c.Endpoint = endpoint, ""
	env.applyInsecure(&c)
	return &c, nil
}

// metricsEndpoint is the environment's metrics endpoint and the variable
// it comes from.
func metricsEndpoint(e otlpEnv, p Protocol) (string, string) {
	if e.signalURL != "" {
		return e.signalURL, e.signalVar
	}
	return e.endpoint(p), "OTEL_EXPORTER_OTLP_ENDPOINT"
}

package schema

import (
	"encoding/json"
	"errors"
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
	envTracesPrefix       = "OTEL_EXPORTER_OTLP_TRACES_"
	envMetricsPrefix      = "OTEL_EXPORTER_OTLP_METRICS_"
)

var (
	metricsEnvOnce   sync.Once
	metricsEnvCached envDefaults
	metricsDelta     bool
	metricsEnvErr    error
)

// processMetricsEnv reads the metrics signal's variables once: readEnv
// with every TRACES_ variable looked up as its METRICS_ variant.
func processMetricsEnv() (envDefaults, bool, error) {
	metricsEnvOnce.Do(func() {
		lookup := func(name string) (string, bool) {
			if rest, ok := strings.CutPrefix(name, envTracesPrefix); ok {
				return lookupEnv(envMetricsPrefix + rest)
			}
			return lookupEnv(name)
		}
		metricsEnvCached, metricsEnvErr = readEnv(lookup)
		if metricsEnvErr != nil {
			// readEnv names the variable it read by its TRACES_ spelling.
			metricsEnvErr = errors.New(strings.ReplaceAll(metricsEnvErr.Error(), envTracesPrefix, envMetricsPrefix))
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
		if endpoint, from = env.metricsEndpoint(c.Protocol); endpoint == "" {
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
// it comes from (readEnv read the METRICS_ variant into tracesURL).
func (e envDefaults) metricsEndpoint(p Protocol) (string, string) {
	switch {
	case e.tracesURL != "":
		return e.tracesURL, EnvMetricsEndpoint
	case e.baseURL == "":
		return "", ""
	case p == ProtocolGRPC:
		return e.baseURL, "OTEL_EXPORTER_OTLP_ENDPOINT"
	}
	return strings.TrimRight(e.baseURL, "/") + "/v1/metrics", "OTEL_EXPORTER_OTLP_ENDPOINT"
}

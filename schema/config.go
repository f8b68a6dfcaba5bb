// Package schema owns the plugin's configuration: the Config type Kong sends
// at StartInstance, its defaults, its validation and the Kong schema the
// binary prints for `-dump`.
//
// Field names follow Kong's bundled opentelemetry plugin (3.4 to 3.16) so an
// existing opentelemetry config works after renaming the plugin. Units follow
// Kong: timeouts in milliseconds, queue delays in seconds.
//
// JSON tags are plain names: go-pdk derives a schema from them by reflection
// and would take ",omitempty" literally.
package schema

import (
	"encoding/json"
	"time"
)

// Config is one plugin instance's configuration.
type Config struct {
	// Kong opentelemetry plugin fields.
	TracesEndpoint               string            `json:"traces_endpoint"`
	Endpoint                     string            `json:"endpoint"`             // deprecated alias of traces_endpoint
	LogsEndpoint                 string            `json:"logs_endpoint"`        // Kong's runtime logs: never visible to an external plugin
	AccessLogsEndpoint           string            `json:"access_logs_endpoint"` // Kong 3.13 spelling of access_logs.endpoint
	AccessLogs                   AccessLogs        `json:"access_logs"`
	Metrics                      Metrics           `json:"metrics"`
	Headers                      map[string]string `json:"headers"`
	ResourceAttributes           map[string]string `json:"resource_attributes"`
	Queue                        Queue             `json:"queue"`
	BatchSpanCount               *int              `json:"batch_span_count"`  // deprecated: queue.max_batch_size; nil: not set
	BatchFlushDelay              *int              `json:"batch_flush_delay"` // deprecated: queue.max_coalescing_delay; nil: not set
	ConnectTimeout               int               `json:"connect_timeout"`
	SendTimeout                  int               `json:"send_timeout"`
	ReadTimeout                  int               `json:"read_timeout"`
	HTTPResponseHeaderForTraceID string            `json:"http_response_header_for_traceid"`
	HeaderType                   string            `json:"header_type"` // deprecated: propagation
	SamplingRate                 float64           `json:"sampling_rate"`
	SamplingStrategy             SamplingStrategy  `json:"sampling_strategy"` // Kong 3.11
	Propagation                  Propagation       `json:"propagation"`

	// Backend selection and transport (ours).
	Exporter          ExporterName      `json:"exporter"`
	Protocol          Protocol          `json:"protocol"`
	Compression       Compression       `json:"compression"`
	TLSVerify         bool              `json:"tls_verify"`
	TLSCAFile         string            `json:"tls_ca_file"`
	TLSClientCertFile string            `json:"tls_client_cert_file"`
	TLSClientKeyFile  string            `json:"tls_client_key_file"`
	TLSServerName     string            `json:"tls_server_name"`
	FilePath          string            `json:"file_path"`
	FileMaxBytes      int               `json:"file_max_bytes"`
	FileMaxFiles      int               `json:"file_max_files"`
	StdoutFormat      StdoutFormat      `json:"stdout_format"`
	SpoolDir          string            `json:"spool_dir"`
	SpoolMaxBytes     int               `json:"spool_max_bytes"`
	StaticAttributes  map[string]string `json:"static_attributes"`
	Kafka             Kafka             `json:"kafka"`

	// What spans contain (ours).
	SpanName                SpanName     `json:"span_name"`
	TailSampling            TailSampling `json:"tail_sampling"`
	RedactHeaders           []string     `json:"redact_headers"`
	RedactQueryParams       []string     `json:"redact_query_params"`
	CaptureRequestHeaders   []string     `json:"capture_request_headers"`
	CaptureResponseHeaders  []string     `json:"capture_response_headers"`
	MaxAttributes           int          `json:"max_attributes"`
	MaxAttributeValueLength int          `json:"max_attribute_value_length"`
	HTTPKnownMethods        []string     `json:"http_known_methods"`

	// Sampling beyond Kong's (ours): a rate limit, rules and remote
	// strategies, applied after sampling_strategy.
	MaxTracesPerSecond float64        `json:"max_traces_per_second"`
	SamplingRules      []SamplingRule `json:"sampling_rules"`
	RemoteSampling     RemoteSampling `json:"remote_sampling"`

	// accessLogs is where access log records go, as UnmarshalJSON found it
	// (nil: access logs off). See AccessLogsDestination.
	accessLogs *Config
}

// Queue mirrors Kong's generic queue record (kong/tools/queue_schema.lua).
type Queue struct {
	MaxBatchSize       int     `json:"max_batch_size"`
	MaxCoalescingDelay float64 `json:"max_coalescing_delay"` // seconds
	MaxEntries         int     `json:"max_entries"`
	MaxBytes           int     `json:"max_bytes"`
	InitialRetryDelay  float64 `json:"initial_retry_delay"` // seconds
	MaxRetryTime       float64 `json:"max_retry_time"`      // seconds
	MaxRetryDelay      float64 `json:"max_retry_delay"`     // seconds
	ConcurrencyLimit   int     `json:"concurrency_limit"`
	// FailureThreshold consecutive failed batches open the pipeline's
	// circuit breaker (0: never); BreakerCooldown seconds later one batch
	// probes the backend.
	FailureThreshold int     `json:"failure_threshold"`
	BreakerCooldown  float64 `json:"breaker_cooldown"` // seconds
}

// Metrics mirrors Kong's metrics record (3.13+).
type Metrics struct {
	Endpoint                    string  `json:"endpoint"`
	PushInterval                float64 `json:"push_interval"` // seconds
	EnableRequestMetrics        bool    `json:"enable_request_metrics"`
	EnableLatencyMetrics        bool    `json:"enable_latency_metrics"`
	EnableBandwidthMetrics      bool    `json:"enable_bandwidth_metrics"`
	EnableUpstreamHealthMetrics bool    `json:"enable_upstream_health_metrics"`
	EnableConsumerAttribute     bool    `json:"enable_consumer_attribute"`
	EnablePrincipalAttribute    bool    `json:"enable_principal_attribute"`
	EnableAIMetrics             bool    `json:"enable_ai_metrics"`
}

// AccessLogs mirrors Kong's access_logs record (3.14+), with fields of
// ours for destinations other than an OTLP URL and for sampling.
type AccessLogs struct {
	Endpoint              string            `json:"endpoint"`
	CustomAttributesByLua map[string]string `json:"custom_attributes_by_lua"`
	Enabled               bool              `json:"enabled"`       // to the backend's own logs destination
	SamplingRate          float64           `json:"sampling_rate"` // share of requests logged
	FilePath              string            `json:"file_path"`     // exporter file: where records go (else file_path)
}

// Propagation mirrors Kong's propagation record. A nil Extract or Inject
// means "not configured": header_type then decides, as Kong does.
type Propagation struct {
	Extract       []string `json:"extract"`
	Inject        []string `json:"inject"`
	Clear         []string `json:"clear"`
	DefaultFormat string   `json:"default_format"`
}

// TailSampling keeps requests by outcome even when the head decision said
// "not sampled".
type TailSampling struct {
	StatusCodeMin int `json:"status_code_min"` // 0 = off
	LatencyMs     int `json:"latency_ms"`      // 0 = off
}

// SamplingRule samples the requests matching every condition it sets with
// its own rate; the first matching rule of sampling_rules decides.
type SamplingRule struct {
	RouteName          string  `json:"route_name"`
	ServiceName        string  `json:"service_name"`
	Method             string  `json:"method"`
	PathPrefix         string  `json:"path_prefix"`
	HeaderName         string  `json:"header_name"`
	HeaderValue        string  `json:"header_value"` // empty: the header is present
	SamplingRate       float64 `json:"sampling_rate"`
	MaxTracesPerSecond float64 `json:"max_traces_per_second"` // 0: no limit
}

// DefaultSamplingRule is what Kong fills into a rule's left-out fields:
// a rule keeps every request it matches unless it says otherwise.
func DefaultSamplingRule() SamplingRule { return SamplingRule{SamplingRate: 1} }

// UnmarshalJSON fills the rule's defaults first, so a rule decoded from a
// config that did not pass through Kong means the same.
func (r *SamplingRule) UnmarshalJSON(data []byte) error {
	type plain SamplingRule
	*r = DefaultSamplingRule()
	return json.Unmarshal(data, (*plain)(r))
}

// HasRequestLineCondition reports whether the rule needs more than the
// request headers: the route, the service, the method or the path.
func (r *SamplingRule) HasRequestLineCondition() bool {
	return r.RouteName != "" || r.ServiceName != "" || r.Method != "" || r.PathPrefix != ""
}

// RemoteSampling points at a Jaeger remote sampling endpoint.
type RemoteSampling struct {
	Endpoint     string  `json:"endpoint"`      // empty: off
	ServiceName  string  `json:"service_name"`  // empty: the resource's service.name
	PollInterval float64 `json:"poll_interval"` // seconds
}

// RemoteSamplingService is the service name strategies are asked for:
// remote_sampling.service_name, else the resource's service.name, else
// "kong" (the resource default).
func (c *Config) RemoteSamplingService() string {
	if n := c.RemoteSampling.ServiceName; n != "" {
		return n
	}
	if n := c.ResourceAttributes["service.name"]; n != "" {
		return n
	}
	return "kong"
}

// PollEvery converts poll_interval (s).
func (r *RemoteSampling) PollEvery() time.Duration { return seconds(r.PollInterval) }

// ExporterName selects the backend.
type ExporterName string

// Backends shipped with the plugin. Code may register more (exporter registry).
const (
	ExporterOTLP     ExporterName = "otlp"
	ExporterZipkin   ExporterName = "zipkin"
	ExporterHTTPJSON ExporterName = "http_json"
	ExporterFile     ExporterName = "file"
	ExporterStdout   ExporterName = "stdout"
)

// BuiltinExporters always ship with the plugin, in the order the schema
// lists them; code may register more (package exporter).
var BuiltinExporters = []ExporterName{ExporterOTLP, ExporterZipkin, ExporterHTTPJSON, ExporterFile, ExporterStdout, ExporterKafka}

// Protocol is the OTLP transport and encoding.
type Protocol string

// OTLP protocols, named as OTEL_EXPORTER_OTLP_PROTOCOL names them.
const (
	ProtocolHTTPProtobuf Protocol = "http/protobuf"
	ProtocolHTTPJSON     Protocol = "http/json"
	ProtocolGRPC         Protocol = "grpc"
)

// Compression of request bodies sent to a backend.
type Compression string

// Supported compressions.
const (
	CompressionNone Compression = "none"
	CompressionGzip Compression = "gzip"
)

// StdoutFormat selects how the stdout backend prints spans.
type StdoutFormat string

// Stdout formats.
const (
	StdoutText     StdoutFormat = "text"
	StdoutOTLPJSON StdoutFormat = "otlp_json"
)

// SpanName selects how the root span is named.
type SpanName string

// Root span naming schemes.
const (
	SpanNameMethodRoute SpanName = "method_route" // "GET /users" (route path), "GET" without route
	SpanNameMethodPath  SpanName = "method_path"  // "GET /users/42" (request path: high cardinality)
	SpanNameMethod      SpanName = "method"       // "GET"
)

// SamplingStrategy says how an incoming sampling decision is treated
// (Kong 3.11's sampling_strategy).
type SamplingStrategy string

// Sampling strategies, as Kong names them.
const (
	// SamplingParentProbabilityFallback honours a caller's sampled and
	// not-sampled flag; the probability decides only without one. This
	// plugin's default.
	SamplingParentProbabilityFallback SamplingStrategy = "parent_probability_fallback"
	// SamplingParentDropProbabilityFallback honours only a caller's
	// not-sampled flag; otherwise the probability decides, even for a
	// sampled caller. Kong's default.
	SamplingParentDropProbabilityFallback SamplingStrategy = "parent_drop_probability_fallback"
)

// Propagation formats, as Kong names them.
const (
	FormatW3C      = "w3c"
	FormatB3       = "b3"
	FormatB3Single = "b3-single"
	FormatJaeger   = "jaeger"
	FormatOT       = "ot"
	FormatAWS      = "aws"
	FormatGCP      = "gcp"
	FormatDatadog  = "datadog"
	FormatInstana  = "instana"
	FormatPreserve = "preserve" // inject only: the format that was extracted
	FormatIgnore   = "ignore"   // header_type only
)

// TracesURL is the effective OTLP traces endpoint: traces_endpoint, else the
// deprecated endpoint.
func (c *Config) TracesURL() string {
	if c.TracesEndpoint != "" {
		return c.TracesEndpoint
	}
	return c.Endpoint
}

// ConnectTimeoutDuration converts connect_timeout (ms).
func (c *Config) ConnectTimeoutDuration() time.Duration { return ms(c.ConnectTimeout) }

// SendTimeoutDuration converts send_timeout (ms).
func (c *Config) SendTimeoutDuration() time.Duration { return ms(c.SendTimeout) }

// ReadTimeoutDuration converts read_timeout (ms).
func (c *Config) ReadTimeoutDuration() time.Duration { return ms(c.ReadTimeout) }

// CoalescingDelay converts max_coalescing_delay (s).
func (q *Queue) CoalescingDelay() time.Duration { return seconds(q.MaxCoalescingDelay) }

// InitialRetry converts initial_retry_delay (s).
func (q *Queue) InitialRetry() time.Duration { return seconds(q.InitialRetryDelay) }

// MaxRetry converts max_retry_delay (s).
func (q *Queue) MaxRetry() time.Duration { return seconds(q.MaxRetryDelay) }

// BreakerCooldownDuration converts breaker_cooldown (s).
func (q *Queue) BreakerCooldownDuration() time.Duration { return seconds(q.BreakerCooldown) }

// RetryBudget converts max_retry_time (s).
func (q *Queue) RetryBudget() time.Duration { return seconds(q.MaxRetryTime) }

func ms(v int) time.Duration { return time.Duration(v) * time.Millisecond }

func seconds(v float64) time.Duration { return time.Duration(v * float64(time.Second)) }

// Package schema owns the plugin's configuration: the Config type Kong sends
// at StartInstance, its defaults, its validation and the Kong schema the
// binary prints for `-dump`.
//
// Field names follow Kong's bundled opentelemetry plugin (3.9) so an existing
// opentelemetry config works after renaming the plugin. Units follow Kong:
// timeouts in milliseconds, queue delays in seconds.
//
// JSON tags are plain names: go-pdk derives a schema from them by reflection
// and would take ",omitempty" literally.
package schema

import "time"

// Config is one plugin instance's configuration.
type Config struct {
	// Kong opentelemetry plugin fields.
	TracesEndpoint               string            `json:"traces_endpoint"`
	Endpoint                     string            `json:"endpoint"`      // deprecated alias of traces_endpoint
	LogsEndpoint                 string            `json:"logs_endpoint"` // accepted for compatibility; logs are not exported
	Headers                      map[string]string `json:"headers"`
	ResourceAttributes           map[string]string `json:"resource_attributes"`
	Queue                        Queue             `json:"queue"`
	BatchSpanCount               int               `json:"batch_span_count"`  // deprecated: queue.max_batch_size
	BatchFlushDelay              int               `json:"batch_flush_delay"` // deprecated: queue.max_coalescing_delay
	ConnectTimeout               int               `json:"connect_timeout"`
	SendTimeout                  int               `json:"send_timeout"`
	ReadTimeout                  int               `json:"read_timeout"`
	HTTPResponseHeaderForTraceID string            `json:"http_response_header_for_traceid"`
	HeaderType                   string            `json:"header_type"` // deprecated: propagation
	SamplingRate                 float64           `json:"sampling_rate"`
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

// RetryBudget converts max_retry_time (s).
func (q *Queue) RetryBudget() time.Duration { return seconds(q.MaxRetryTime) }

func ms(v int) time.Duration { return time.Duration(v) * time.Millisecond }

func seconds(v float64) time.Duration { return time.Duration(v * float64(time.Second)) }

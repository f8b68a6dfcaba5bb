package schema

import (
	"encoding/json"
	"reflect"
	"strings"
)

// Field describes one configuration field for Kong's schema and for the
// configuration reference. Constraints here are checked twice: by Kong when
// the config is written (they are dumped) and by Validate at StartInstance.
type Field struct {
	Name     string
	Type     string // Kong types: string, integer, number, boolean, array, map, record
	OneOf    []any
	Between  *[2]float64
	Gt       *float64
	Ne       *float64 // Kong's ne: the one value refused
	Elements *Field
	Keys     *Field
	Values   *Field
	Fields   []Field
	Required bool // records: Kong then fills nested defaults when the record is absent
	// Match is a Lua pattern every string value must match (Kong's `match`);
	// MatchNone lists patterns no value may match (Kong's `match_none`);
	// MatchAny lists patterns of which a value must match one (Kong's
	// `match_any`). goCheck is the same rule in Go, applied by Validate;
	// tests check both agree through the emulator, which applies Kong's Lua
	// pattern rules.
	Match     string
	MatchNone []MatchRule
	MatchAny  *MatchAnyRule
	goCheck   func(string) string // "" or the problem
	// Referenceable: Kong resolves a {vault://...} reference written in this
	// field before the plugin sees the config (Kong's `referenceable`).
	Referenceable bool
	// EnvVar names the OTEL_* variable that supplies this field's default for
	// the whole process. Such fields carry no default in the Kong schema, or
	// Kong would always send it and the variable could never apply.
	EnvVar     string
	Deprecated string // what replaces it
	// Since is the first Kong release whose opentelemetry plugin has this
	// field ("3.4" stands for 3.4 and older); empty: a trace-exporter field.
	Since string
	Doc   string
	// Default is filled from Defaults() by Fields(); never set it by hand.
	Default any
	// Extensible: OneOf lists the built-in values and code may add more
	// (exporter names registered in the binary). The dump lists the values
	// KongSchema is given; at StartInstance the registry, not Validate,
	// refuses an unknown one.
	Extensible bool
	// Checks are a record's rules across its fields in Kong's entity_checks
	// form, dumped with the record; Validate applies their Go twin.
	Checks []any
}

func between(lo, hi float64) *[2]float64 { return &[2]float64{lo, hi} }
func gt(v float64) *float64              { return &v }

// MatchRule is one Kong match_none entry: a Lua pattern and its message.
type MatchRule struct {
	Pattern string `json:"pattern"`
	Err     string `json:"err"`
}

// MatchAnyRule is Kong's match_any: a value must match one of the Lua
// patterns, else Err is the message.
type MatchAnyRule struct {
	Patterns []string `json:"patterns"`
	Err      string   `json:"err"`
}

func ne(v float64) *float64 { return &v }

var stringType = &Field{Type: "string"}

// luaHeaderName is an RFC 9110 token as a Lua pattern (Kong's own
// header-name validator is a Lua function and cannot be dumped).
const luaHeaderName = "^[%w!#$%%&'*+%-.^_`|~]+$"

// luaMethod is an HTTP method in upper case (Kong's route methods use the
// same pattern); luaPathPrefix a path.
const (
	luaMethod     = "^%u+$"
	luaPathPrefix = "^/"
)

var (
	headerName = &Field{Type: "string", Match: luaHeaderName, goCheck: headerNameProblem}
	// httpMethod is an RFC 9110 method: a token, like a header name.
	httpMethod = &Field{Type: "string", Match: luaHeaderName, Doc: "an HTTP method token", goCheck: methodTokenProblem}
	// capturableHeader refuses, whatever their case, the headers that are
	// never exported, so Kong refuses them when the config is written
	// instead of the plugin refusing the instance on every request.
	capturableHeader = &Field{Type: "string", Match: luaHeaderName, MatchNone: credentialHeaderRules(), goCheck: capturableHeaderProblem}
	// headerValue: a line break would split the header on the wire.
	headerValue = &Field{Type: "string", Referenceable: true,
		MatchNone: []MatchRule{{Pattern: "[\r\n]", Err: "header values must not contain line breaks"}}, goCheck: headerValueProblem}
	// resourceValue: a static value, or templates of variables the plugin
	// can read (resourcetemplate.go).
	resourceValue = &Field{Type: "string", MatchNone: resourceTemplateRules(), goCheck: ResourceTemplateProblem}
)

func credentialHeaderRules() []MatchRule {
	rules := make([]MatchRule, len(AlwaysRedactedHeaders))
	for i, h := range AlwaysRedactedHeaders {
		rules[i] = MatchRule{Pattern: "^" + luaCaseless(h) + "$", Err: h + " carries credentials and is never exported"}
	}
	return rules
}

// luaCaseless writes a Lua pattern matching s in any letter case.
func luaCaseless(s string) string {
	var b strings.Builder
	for _, c := range s {
		switch {
		case c >= 'a' && c <= 'z':
			b.WriteString("[" + string(c-32) + string(c) + "]")
		case c >= 'A' && c <= 'Z':
			b.WriteString("[" + string(c) + string(c+32) + "]")
		case strings.ContainsRune("^$()%.[]*+-?", c):
			b.WriteString("%" + string(c))
		default:
			b.WriteRune(c)
		}
	}
	return b.String()
}

func oneOf[T ~string](vs ...T) []any {
	out := make([]any, len(vs))
	for i, v := range vs {
		out[i] = string(v)
	}
	return out
}

var extractFormats = oneOf(FormatW3C, FormatB3, FormatJaeger, FormatOT, FormatDatadog, FormatAWS, FormatGCP, FormatInstana)
var injectFormats = oneOf(FormatW3C, FormatB3, FormatB3Single, FormatJaeger, FormatOT, FormatDatadog, FormatAWS, FormatGCP, FormatInstana)

const maxInt32 = 2147483647

var configFields = []Field{
	// Kong opentelemetry plugin fields, as Kong 3.4 to 3.16 name them.
	{Name: "traces_endpoint", Type: "string", Since: "3.8", Referenceable: true, EnvVar: "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
		MatchAny: endpointRule, MatchNone: badEscapeRules, goCheck: endpointProblem,
		Doc: "Backend URL. OTLP/HTTP: the full traces URL (http://collector:4318/v1/traces). OTLP/gRPC: http://host:port (plaintext), https://host:port (TLS) or host:port (TLS, or plaintext when OTEL_EXPORTER_OTLP_INSECURE=true); a path is ignored; a missing port is 80/443. zipkin: the /api/v2/spans URL. http_json: the webhook URL. Without it (exporter otlp only), OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, else OTEL_EXPORTER_OTLP_ENDPOINT (+ /v1/traces for HTTP). A vault reference ({vault://env/NAME}) is resolved by Kong."},
	{Name: "endpoint", Type: "string", Since: "3.4", Referenceable: true, Deprecated: "traces_endpoint",
		MatchAny: endpointRule, MatchNone: badEscapeRules, goCheck: endpointProblem,
		Doc: "Deprecated alias of traces_endpoint (required by Kong 3.4 to 3.7): used when traces_endpoint is not set, as Kong 3.8+ does."},
	{Name: "logs_endpoint", Type: "string", Since: "3.8", Referenceable: true,
		MatchAny: urlRule, MatchNone: badEscapeRules, goCheck: urlProblem,
		Doc: "Kong sends its runtime logs (kong.log.* of every plugin, nginx error log lines) here; an external plugin never sees them. When access_logs sets no endpoint, this plugin sends its access log records here instead (one per request, see access_logs), and each instance that sets it logs one warning saying so. Collect Kong's error log with the OpenTelemetry Collector's filelog receiver."},
	{Name: "access_logs_endpoint", Type: "string", Since: "3.13", Referenceable: true, Deprecated: "access_logs.endpoint",
		MatchAny: urlRule, MatchNone: badEscapeRules, goCheck: urlProblem,
		Doc: "Kong 3.13 spelling of access_logs.endpoint; set one of the two."},
	{Name: "access_logs", Type: "record", Since: "3.14", Required: true, Doc: "Access logs: one OTLP log record per request, sampled or not, correlated with its trace (Kong 3.14+; the README's \"Access logs\").", Fields: []Field{
		{Name: "endpoint", Type: "string", Since: "3.14", Referenceable: true, MatchAny: urlRule, MatchNone: badEscapeRules, goCheck: urlProblem,
			Doc: "OTLP logs URL; setting it turns access logs on. Records go there over OTLP whatever exporter sends the spans, with the instance's protocol (http://collector:4318/v1/logs for http/protobuf and http/json; http(s)://host:4317 for grpc), headers, compression, TLS, timeouts, queue and spool settings. For the fields the config leaves out, OTEL_EXPORTER_OTLP_LOGS_* then OTEL_EXPORTER_OTLP_* apply, as for spans."},
		{Name: "custom_attributes_by_lua", Type: "map", Since: "3.14", Keys: stringType, Values: stringType,
			Doc: "Lua code Kong runs to set access log attributes. A Go plugin cannot run Lua: accepted so configurations load, never run (one warning per instance). static_attributes, capture_request_headers, capture_response_headers and Go log processors cover the same need."},
		{Name: "enabled", Type: "boolean",
			Doc: "Turn access logs on without an endpoint: records go to the backend's own logs destination. otlp: OTEL_EXPORTER_OTLP_LOGS_ENDPOINT, else OTEL_EXPORTER_OTLP_ENDPOINT (+ /v1/logs for HTTP); file: access_logs.file_path, else file_path; stdout: stdout; kafka: kafka.logs_topic. zipkin and http_json take no logs. An endpoint (access_logs.endpoint, access_logs_endpoint, logs_endpoint) turns them on whatever this says."},
		{Name: "sampling_rate", Type: "number", Between: between(0, 1),
			Doc: "Share of requests that get an access log record, decided from the trace id, independently of trace sampling (a request whose trace was kept at rate r is logged at any rate from r up). 1: every request."},
		{Name: "file_path", Type: "string",
			Doc: "exporter file: the file access log records are written to, one OTLP/JSON ExportLogsServiceRequest per line, rotated like file_path. Left out: file_path itself, records and spans on separate lines (the Collector's otlpjsonfile receiver reads both)."},
	}},
	{Name: "metrics", Type: "record", Since: "3.13", Required: true, Doc: "OTLP request metrics pushed every push_interval (Kong 3.13+); the README lists them (Request metrics).", Fields: []Field{
		{Name: "endpoint", Type: "string", Since: "3.13", Referenceable: true, MatchAny: urlRule, MatchNone: badEscapeRules, goCheck: urlProblem,
			EnvVar: "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT",
			Doc:    "OTLP metrics URL (OTLP/HTTP: .../v1/metrics; OTLP/gRPC: http(s)://host:port). Request metrics go there over protocol, with the headers, TLS, compression, timeouts and queue of traces, whatever exporter takes the spans. Left out: OTEL_EXPORTER_OTLP_METRICS_ENDPOINT, else OTEL_EXPORTER_OTLP_ENDPOINT with /v1/metrics. Kong's node-level metrics (shared dicts, memory, nginx, database, control plane) are not visible to an external plugin (one warning per process)."},
		{Name: "push_interval", Type: "number", Since: "3.13", Gt: gt(0),
			Doc: "Seconds between two pushes (at least 0.1); instances sharing a destination push together, at the latest instance's interval. SIGTERM (Kong stop and reload) pushes once more."},
		{Name: "enable_request_metrics", Type: "boolean", Since: "3.13", Doc: "http.server.request.count, from every request (sampled or not), and http.server.request.duration."},
		{Name: "enable_latency_metrics", Type: "boolean", Since: "3.13", Doc: "kong.latency.total, kong.latency.internal, kong.latency.upstream (seconds), and http.server.request.duration; with enable_ai_metrics, gen_ai.server.request.duration."},
		{Name: "enable_bandwidth_metrics", Type: "boolean", Since: "3.13", Doc: "http.server.request.size, http.server.response.size (bytes)."},
		{Name: "enable_upstream_health_metrics", Type: "boolean", Since: "3.13", Doc: "kong.upstream.target.status. Upstream health checks are not visible to an external plugin: accepted, nothing exported (one warning per process)."},
		{Name: "enable_consumer_attribute", Type: "boolean", Since: "3.13", Doc: "kong.auth.consumer.name (the consumer's username, else its custom_id) on the request count, the sizes and the AI metrics."},
		{Name: "enable_principal_attribute", Type: "boolean", Since: "3.16", Doc: "kong.auth.principal.* attributes. The serialize payload carries no principal: accepted, no attribute added (one warning per process)."},
		{Name: "enable_ai_metrics", Type: "boolean", Since: "3.14", Doc: "gen_ai.client.token.usage, kong.gen_ai.llm.cost, gen_ai.client.operation.duration, gen_ai.server.time_per_output_token and kong.gen_ai.cache.*.latency, from the statistics Kong's AI plugins put in the serialize payload (their logging.log_statistics); Kong's other AI, MCP and A2A metrics are not visible (one warning per process)."},
	}},
	{Name: "headers", Type: "map", Since: "3.4", Keys: headerName, Values: headerValue, EnvVar: "OTEL_EXPORTER_OTLP_HEADERS",
		Doc: "Headers sent with every export request (backend credentials); gRPC metadata for OTLP/gRPC; not sent to Kafka (use kafka.sasl). Values are never logged; a value may be a vault reference ({vault://env/OTEL_TOKEN}), resolved by Kong."},
	{Name: "resource_attributes", Type: "map", Since: "3.4", Keys: stringType, Values: resourceValue,
		Doc: "Resource attributes of every span, over OTEL_RESOURCE_ATTRIBUTES and OTEL_SERVICE_NAME (config over environment over defaults: service.name \"kong\", service.instance.id = Kong's node id, service.version = Kong's version). A value may hold templates (Kong 3.10+), rendered per request: $(headers.NAME) or $(headers[\"x-name\"]), $(query_params.NAME), $(uri_captures.NAME) or $(uri_captures[N]), $(shared.NAME), $(kong.route.id|name), $(kong.service.id|name), $(kong.consumer.id|username|custom_id), also written ${...}. Other variables and Lua expressions are refused."},
	{Name: "queue", Type: "record", Since: "3.4", Required: true, Doc: "Batching, memory bounds and retries (Kong's queue record).", Fields: []Field{
		{Name: "max_batch_size", Type: "integer", Since: "3.4", Between: between(1, 1000000), Doc: "Spans per export request."},
		{Name: "max_coalescing_delay", Type: "number", Since: "3.4", Between: between(0, 3600), Doc: "Seconds to wait for a batch to fill before sending it."},
		{Name: "max_entries", Type: "integer", Since: "3.4", Between: between(1, 1000000), Doc: "Spans held in memory per pipeline; beyond it new spans are dropped and counted."},
		{Name: "max_bytes", Type: "integer", Since: "3.4", Between: between(1, maxInt32), Doc: "Bytes of spans held in memory per pipeline (estimated encoded size); beyond it new spans are dropped and counted."},
		{Name: "initial_retry_delay", Type: "number", Since: "3.4", Gt: gt(0), Doc: "Seconds before the first retry; doubled on each retry, with jitter."},
		{Name: "max_retry_time", Type: "number", Since: "3.4", Gt: gt(0), Doc: "Seconds a batch may be retried before it is dropped and counted."},
		{Name: "max_retry_delay", Type: "number", Since: "3.4", Gt: gt(0), Doc: "Upper bound in seconds of one retry delay."},
		{Name: "concurrency_limit", Type: "integer", Since: "3.8", Between: between(-1, 64), Ne: ne(0),
			Doc: "Batches exported at once per pipeline. Kong's values -1 (\"unlimited\": here 8) and 1 keep their meaning; 2 to 64 are ours."},
		{Name: "failure_threshold", Type: "integer", Since: "3.16", Between: between(0, 1000000),
			Doc: "Consecutive failed batches (given up after their retries, or refused) after which the pipeline's circuit breaker opens: batches are then shed without trying the backend (counted as circuit_open), or wait on disk with a spool. 0: off."},
		{Name: "breaker_cooldown", Type: "number", Since: "3.16", Between: between(0, 1000000),
			Doc: "Seconds the circuit breaker stays open before it lets one batch through to probe the backend."},
	}},
	{Name: "batch_span_count", Type: "integer", Since: "3.4", Deprecated: "queue.max_batch_size", Between: between(1, 1000000),
		Doc: "Deprecated: queue.max_batch_size. As in Kong, any value but 200 replaces queue.max_batch_size, even one written explicitly."},
	{Name: "batch_flush_delay", Type: "integer", Since: "3.4", Deprecated: "queue.max_coalescing_delay", Between: between(0, 3600),
		Doc: "Deprecated: queue.max_coalescing_delay. As in Kong, any value but 3 replaces queue.max_coalescing_delay, even one written explicitly."},
	{Name: "connect_timeout", Type: "integer", Since: "3.4", Between: between(1, maxInt32), Doc: "Milliseconds to establish a connection to the backend."},
	{Name: "send_timeout", Type: "integer", Since: "3.4", Between: between(1, maxInt32), EnvVar: "OTEL_EXPORTER_OTLP_TIMEOUT", Doc: "Milliseconds to write one export request."},
	{Name: "read_timeout", Type: "integer", Since: "3.4", Between: between(1, maxInt32), EnvVar: "OTEL_EXPORTER_OTLP_TIMEOUT", Doc: "Milliseconds to wait for the backend's response."},
	{Name: "http_response_header_for_traceid", Type: "string", Since: "3.4", Match: luaHeaderName, goCheck: headerNameProblem,
		Doc: "If set, the response to the client carries the trace id (hex) in this header."},
	{Name: "header_type", Type: "string", Since: "3.4", Deprecated: "propagation",
		OneOf: oneOf("preserve", FormatIgnore, FormatB3, FormatB3Single, FormatW3C, FormatJaeger, FormatOT, FormatAWS, FormatGCP, FormatDatadog, FormatInstana),
		Doc:   "Deprecated: propagation. Used, as Kong does, only when none of propagation.extract, inject and clear is set."},
	{Name: "sampling_rate", Type: "number", Since: "3.6", Between: between(0, 1), Doc: "Head sampling probability for requests without an incoming sampling decision (decided from the trace id)."},
	{Name: "sampling_strategy", Type: "string", Since: "3.11", OneOf: oneOf(SamplingParentProbabilityFallback, SamplingParentDropProbabilityFallback),
		Doc: "How a caller's sampling decision is treated. parent_probability_fallback: a caller's sampled or not-sampled flag is kept; the probability (sampling_rate, rules, remote sampling) decides only when there is none. parent_drop_probability_fallback: only a not-sampled caller is honoured; otherwise the probability decides, even for a caller that sampled. Kong's default is parent_drop_probability_fallback; this plugin's default differs on purpose, because re-sampling a caller's sampled trace breaks it (Kong/kong#13015). A configuration that names either value gets Kong's meaning."},
	{Name: "propagation", Type: "record", Since: "3.7", Required: true, Doc: "Trace context formats read from and written to requests (Kong's propagation record).", Fields: []Field{
		{Name: "extract", Type: "array", Since: "3.7", Elements: &Field{Type: "string", OneOf: extractFormats}, Doc: "Formats read from the incoming request, in order; the first found wins. Empty: always start a new trace."},
		{Name: "inject", Type: "array", Since: "3.7", Elements: &Field{Type: "string", OneOf: append([]any{FormatPreserve}, injectFormats...)}, Doc: "Formats written to the upstream request; preserve = the extracted one (else default_format). Empty: inject nothing."},
		{Name: "clear", Type: "array", Since: "3.7", Elements: headerName, Doc: "Header names removed from the upstream request after extraction."},
		{Name: "default_format", Type: "string", Since: "3.7", OneOf: injectFormats, Doc: "Format injected for preserve when nothing was extracted."},
	}},

	// Backend selection and transport (ours).
	{Name: "exporter", Type: "string", OneOf: oneOf(BuiltinExporters...), Extensible: true,
		Doc: "Backend: otlp, zipkin (v2 JSON), http_json (plain JSON array webhook), file (NDJSON of OTLP/JSON), stdout, kafka (OTLP messages to a Kafka topic: the kafka record), or a backend registered in code (exporter.Register), which the allowed values of this binary's schema then list."},
	{Name: "protocol", Type: "string", OneOf: oneOf(ProtocolHTTPProtobuf, ProtocolHTTPJSON, ProtocolGRPC), EnvVar: "OTEL_EXPORTER_OTLP_PROTOCOL",
		Doc: "OTLP transport: http/protobuf, http/json or grpc."},
	{Name: "compression", Type: "string", OneOf: oneOf(CompressionNone, CompressionGzip), EnvVar: "OTEL_EXPORTER_OTLP_COMPRESSION",
		Doc: "Request body compression for every network backend (otlp over HTTP or gRPC, zipkin, http_json; kafka: gzip record batches unless kafka.compression names a codec). none by default (the OTLP default; most Kong deployments send to a collector next to them); gzip for remote backends."},
	{Name: "tls_verify", Type: "boolean", Doc: "Verify the backend's TLS certificate. Turning it off is logged as a warning."},
	{Name: "tls_ca_file", Type: "string", EnvVar: "OTEL_EXPORTER_OTLP_CERTIFICATE", Doc: "PEM file of CA certificates trusted for the backend (else the system roots)."},
	{Name: "tls_client_cert_file", Type: "string", EnvVar: "OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE", Doc: "PEM client certificate for mTLS; set together with tls_client_key_file."},
	{Name: "tls_client_key_file", Type: "string", EnvVar: "OTEL_EXPORTER_OTLP_CLIENT_KEY", Doc: "PEM client key for mTLS; set together with tls_client_cert_file."},
	{Name: "tls_server_name", Type: "string", Doc: "Server name checked in the backend's certificate, when it differs from the endpoint host."},
	{Name: "file_path", Type: "string", Doc: "file exporter: the file written, one OTLP/JSON ExportTraceServiceRequest per line (NDJSON). Required with exporter=file; its directory must exist."},
	{Name: "file_max_bytes", Type: "integer", Between: between(1024, maxInt32), Doc: "file exporter: a write that would take the file past this size first rotates it (file_path becomes file_path.1, .1 becomes .2 ...). A batch is never split across files."},
	{Name: "file_max_files", Type: "integer", Between: between(1, 1000), Doc: "file exporter: rotated files kept besides file_path; the oldest beyond this are deleted."},
	{Name: "stdout_format", Type: "string", OneOf: oneOf(StdoutText, StdoutOTLPJSON), Doc: "stdout exporter: text (one line per span) or otlp_json (one OTLP/JSON request per line)."},
	{Name: "spool_dir", Type: "string", Doc: "Directory of the persistent spool. Leave it out to keep spans in memory only (Kong refuses an empty string)."},
	{Name: "spool_max_bytes", Type: "integer", Between: between(1<<20, maxInt32), Doc: "Spool size cap; beyond it the oldest batches are dropped and counted."},
	{Name: "static_attributes", Type: "map", Keys: stringType, Values: stringType, Doc: "Attributes added to every span of a request, root and tries (like the zipkin plugin's static_tags), and to its access log record; they count towards max_attributes."},
	kafkaField,

	// What spans contain (ours).
	{Name: "span_name", Type: "string", OneOf: oneOf(SpanNameMethodRoute, SpanNameMethodPath, SpanNameMethod),
		Doc: "Root span name: method_route (\"GET /users\", the route's path), method_path (the request path: high cardinality) or method."},
	{Name: "tail_sampling", Type: "record", Required: true, Doc: "Keep requests by outcome even when head sampling said no. The upstream's own spans are then missing from the trace (it was told \"not sampled\").", Fields: []Field{
		{Name: "status_code_min", Type: "integer", Between: between(0, 599), Doc: "Keep every request answered with at least this status. 0: off."},
		{Name: "latency_ms", Type: "integer", Between: between(0, maxInt32), Doc: "Keep every request slower than this many milliseconds. 0: off."},
	}},
	{Name: "redact_headers", Type: "array", Elements: headerName, Doc: "Header names never exported, besides authorization, proxy-authorization, cookie and set-cookie which never are."},
	{Name: "redact_query_params", Type: "array", Elements: stringType, Doc: "Query parameters whose values are replaced by REDACTED in url.query and url.full (case-insensitive), and in resource_attributes templates."},
	{Name: "capture_request_headers", Type: "array", Elements: capturableHeader, Doc: "Request headers recorded as http.request.header.<name> attributes of the root span and the access log record (redacted ones never are)."},
	{Name: "capture_response_headers", Type: "array", Elements: capturableHeader, Doc: "Response headers recorded as http.response.header.<name> attributes of the root span and the access log record (redacted ones never are)."},
	{Name: "max_attributes", Type: "integer", Between: between(1, 1000), Doc: "Attributes per span and per access log record; more are dropped and counted."},
	{Name: "max_attribute_value_length", Type: "integer", Between: between(16, 1<<20), Doc: "Characters per string attribute value; longer values are truncated."},
	{Name: "http_known_methods", Type: "array", Elements: httpMethod,
		Doc: "HTTP methods exported as they are (case-sensitive; the list replaces the default, as OTEL_INSTRUMENTATION_HTTP_KNOWN_METHODS does in OpenTelemetry SDKs). Any other method is exported as http.request.method _OTHER with http.request.method_original, and names the span HTTP."},

	{Name: "max_traces_per_second", Type: "number", Between: between(0, 1e6),
		Doc: "At most this many new traces per second are sampled by this plugin (per plugin entity, per Kong node: one token bucket in the plugin server, shared by all workers), on top of sampling_rate or the remote strategy. Requests a caller decided (see sampling_strategy), sampling_rules and Jaeger's per-operation lower bounds are not limited by it. 0: no limit."},
	{Name: "sampling_rules", Type: "array", Elements: &Field{Type: "record", Checks: samplingRuleChecks(), Fields: []Field{
		{Name: "route_name", Type: "string", Doc: "Matches the name of the route that served the request."},
		{Name: "service_name", Type: "string", Doc: "Matches the name of the Kong service."},
		{Name: "method", Type: "string", Match: luaMethod, goCheck: upperCaseMethodProblem, Doc: "Matches the request method (upper case)."},
		{Name: "path_prefix", Type: "string", Match: luaPathPrefix, goCheck: pathPrefixProblem, Doc: "Matches request paths starting with this prefix."},
		{Name: "header_name", Type: "string", Match: luaHeaderName, goCheck: headerNameProblem, Doc: "Matches requests carrying this header."},
		{Name: "header_value", Type: "string", Doc: "With header_name: the header must have exactly this value (any of its values)."},
		{Name: "sampling_rate", Type: "number", Between: between(0, 1), Doc: "Probability for matching requests (decided from the trace id)."},
		{Name: "max_traces_per_second", Type: "number", Between: between(0, 1e6), Doc: "At most this many traces per second sampled by this rule. 0: no limit."},
	}}, Doc: "Rules tried in order before the default (sampling_rate or the remote strategy) for requests without a caller's decision; the first rule whose conditions all match decides with its own rate. A rule needs at least one condition. Header conditions are decided in the access phase and propagated upstream; route, service, method and path conditions are known only in the log phase (see the README, \"Sampling rules\")."},
	{Name: "remote_sampling", Type: "record", Required: true, Doc: "Sampling strategies polled from a Jaeger remote sampling endpoint (one poller per endpoint and service per plugin server). Until the first answer sampling_rate applies; when the endpoint fails the last strategy stays in force.", Fields: []Field{
		{Name: "endpoint", Type: "string", MatchAny: urlRule, MatchNone: append(append([]MatchRule{}, badEscapeRules...), serviceParamRules...), goCheck: remoteSamplingEndpointProblem,
			Doc: "Jaeger sampling URL, polled as GET <endpoint>?service=<service_name> (Jaeger v2's remote_sampling extension: http://jaeger:5778/sampling). Leave it out for no remote sampling."},
		{Name: "service_name", Type: "string", Doc: "Service whose strategy is asked for. Left out: the resource's service.name (\"kong\" by default)."},
		{Name: "poll_interval", Type: "number", Between: between(1, 86400), Doc: "Seconds between polls."},
	}},
}

// Fields returns the configuration's field tree with defaults filled in from
// Defaults().
func Fields() []Field {
	d := Defaults()
	return withDefaults(configFields, reflect.ValueOf(d))
}

func withDefaults(fields []Field, v reflect.Value) []Field {
	out := make([]Field, len(fields))
	for i, f := range fields {
		fv, ok := fieldByJSONName(v, f.Name)
		if !ok {
			panic("schema: no Config field for " + f.Name)
		}
		if f.Type == "record" {
			f.Fields = withDefaults(f.Fields, fv)
		} else if f.Type == "array" && f.Elements.Type == "record" {
			// Kong fills the defaults of each element record.
			elem := *f.Elements
			elem.Fields = withDefaults(elem.Fields, elementDefaults(fv.Type().Elem()))
			f.Elements = &elem
		} else if !fv.IsZero() || f.Type == "boolean" || (f.Deprecated == "" && (f.Type == "integer" || f.Type == "number")) {
			// Zero is a real default for numbers (0 = off), except for
			// deprecated fields, where it means "not set".
			f.Default = fv.Interface()
			// Kong's schema must see plain JSON types, not our named ones.
			if fv.Kind() == reflect.String {
				f.Default = fv.String()
			}
		}
		out[i] = f
	}
	return out
}

// elementDefaults is an array element's defaults: what decoding "{}" into
// the element type gives (such types fill their defaults in UnmarshalJSON).
func elementDefaults(t reflect.Type) reflect.Value {
	v := reflect.New(t)
	if err := json.Unmarshal([]byte("{}"), v.Interface()); err != nil {
		panic("schema: element defaults of " + t.String() + ": " + err.Error())
	}
	return v.Elem()
}

// fieldByJSONName finds the struct field whose json tag is name.
func fieldByJSONName(v reflect.Value, name string) (reflect.Value, bool) {
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		tag, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
		if tag == name {
			return v.Field(i), true
		}
	}
	return reflect.Value{}, false
}

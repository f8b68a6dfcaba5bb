package schema

import (
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
	Elements *Field
	Keys     *Field
	Values   *Field
	Fields   []Field
	Required bool // records: Kong then fills nested defaults when the record is absent
	// Match is a Lua pattern every string value must match (Kong's `match`);
	// MatchNone lists patterns no value may match (Kong's `match_none`).
	// Validate enforces the same rules in Go (validHeaderName,
	// IsAlwaysRedacted); a test checks both agree through the emulator.
	Match     string
	MatchNone []MatchRule
	// EnvVar names the OTEL_* variable that supplies this field's default for
	// the whole process. Such fields carry no default in the Kong schema, or
	// Kong would always send it and the variable could never apply.
	EnvVar     string
	Deprecated string // what replaces it
	Doc        string
	// Default is filled from Defaults() by Fields(); never set it by hand.
	Default any
	// Extensible: OneOf lists the built-in values and code may add more
	// (exporter names registered in the binary). The dump lists the values
	// KongSchema is given; at StartInstance the registry, not Validate,
	// refuses an unknown one.
	Extensible bool
}

func between(lo, hi float64) *[2]float64 { return &[2]float64{lo, hi} }
func gt(v float64) *float64              { return &v }

// MatchRule is one Kong match_none entry: a Lua pattern and its message.
type MatchRule struct {
	Pattern string `json:"pattern"`
	Err     string `json:"err"`
}

var stringType = &Field{Type: "string"}

// luaHeaderName is an RFC 9110 token as a Lua pattern (Kong's own
// header-name validator is a Lua function and cannot be dumped).
const luaHeaderName = "^[%w!#$%%&'*+%-.^_`|~]+$"

var (
	headerName = &Field{Type: "string", Match: luaHeaderName}
	// capturableHeader refuses, whatever their case, the headers that are
	// never exported, so Kong refuses them when the config is written
	// instead of the plugin refusing the instance on every request.
	capturableHeader = &Field{Type: "string", Match: luaHeaderName, MatchNone: credentialHeaderRules()}
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
	{Name: "traces_endpoint", Type: "string", EnvVar: "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
		Doc: "Backend URL. OTLP/HTTP: the full traces URL (http://collector:4318/v1/traces). OTLP/gRPC: http://host:port (plaintext), https://host:port (TLS) or host:port (TLS, or plaintext when OTEL_EXPORTER_OTLP_INSECURE=true); a path is ignored; a missing port is 80/443. zipkin: the /api/v2/spans URL. http_json: the webhook URL. Without it (exporter otlp only), OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, else OTEL_EXPORTER_OTLP_ENDPOINT (+ /v1/traces for HTTP)."},
	{Name: "endpoint", Type: "string", Deprecated: "traces_endpoint", Doc: "Deprecated alias of traces_endpoint (Kong < 3.8)."},
	{Name: "logs_endpoint", Type: "string", Doc: "Accepted so Kong opentelemetry configs load unchanged; this plugin exports traces only and ignores it."},
	{Name: "headers", Type: "map", Keys: headerName, Values: stringType, EnvVar: "OTEL_EXPORTER_OTLP_HEADERS",
		Doc: "Headers sent with every export request (backend credentials); gRPC metadata for OTLP/gRPC; not sent to Kafka (use kafka.sasl). Values are never logged."},
	{Name: "resource_attributes", Type: "map", Keys: stringType, Values: stringType,
		Doc: "Resource attributes added to every span; service.name defaults to \"kong\"."},
	{Name: "queue", Type: "record", Required: true, Doc: "Batching, memory bounds and retries (Kong's queue record).", Fields: []Field{
		{Name: "max_batch_size", Type: "integer", Between: between(1, 1000000), Doc: "Spans per export request."},
		{Name: "max_coalescing_delay", Type: "number", Between: between(0, 3600), Doc: "Seconds to wait for a batch to fill before sending it."},
		{Name: "max_entries", Type: "integer", Between: between(1, 1000000), Doc: "Spans held in memory per pipeline; beyond it new spans are dropped and counted."},
		{Name: "max_bytes", Type: "integer", Between: between(1, maxInt32), Doc: "Bytes of spans held in memory per pipeline (estimated encoded size); beyond it new spans are dropped and counted."},
		{Name: "initial_retry_delay", Type: "number", Gt: gt(0), Doc: "Seconds before the first retry; doubled on each retry, with jitter."},
		{Name: "max_retry_time", Type: "number", Gt: gt(0), Doc: "Seconds a batch may be retried before it is dropped and counted."},
		{Name: "max_retry_delay", Type: "number", Gt: gt(0), Doc: "Upper bound in seconds of one retry delay."},
		{Name: "concurrency_limit", Type: "integer", Between: between(-1, 64), Doc: "Batches exported at once per pipeline; -1 (Kong's \"no queueing\") means 8. 0 is refused."},
	}},
	{Name: "batch_span_count", Type: "integer", Deprecated: "queue.max_batch_size", Between: between(1, 1000000), Doc: "Deprecated: queue.max_batch_size."},
	{Name: "batch_flush_delay", Type: "integer", Deprecated: "queue.max_coalescing_delay", Between: between(0, 3600), Doc: "Deprecated: queue.max_coalescing_delay."},
	{Name: "connect_timeout", Type: "integer", Between: between(1, maxInt32), Doc: "Milliseconds to establish a connection to the backend."},
	{Name: "send_timeout", Type: "integer", Between: between(1, maxInt32), EnvVar: "OTEL_EXPORTER_OTLP_TIMEOUT", Doc: "Milliseconds to write one export request."},
	{Name: "read_timeout", Type: "integer", Between: between(1, maxInt32), EnvVar: "OTEL_EXPORTER_OTLP_TIMEOUT", Doc: "Milliseconds to wait for the backend's response."},
	{Name: "http_response_header_for_traceid", Type: "string", Match: luaHeaderName, Doc: "If set, the response to the client carries the trace id (hex) in this header."},
	{Name: "header_type", Type: "string", Deprecated: "propagation",
		OneOf: oneOf("preserve", FormatIgnore, FormatB3, FormatB3Single, FormatW3C, FormatJaeger, FormatOT, FormatAWS, FormatGCP, FormatDatadog, FormatInstana),
		Doc:   "Deprecated: propagation. Used, as Kong does, only when propagation.extract and propagation.inject are unset."},
	{Name: "sampling_rate", Type: "number", Between: between(0, 1), Doc: "Head sampling probability for requests without an incoming sampling decision (decided from the trace id)."},
	{Name: "propagation", Type: "record", Required: true, Doc: "Trace context formats read from and written to requests (Kong's propagation record).", Fields: []Field{
		{Name: "extract", Type: "array", Elements: &Field{Type: "string", OneOf: extractFormats}, Doc: "Formats read from the incoming request, in order; the first found wins. Empty: always start a new trace."},
		{Name: "inject", Type: "array", Elements: &Field{Type: "string", OneOf: append([]any{FormatPreserve}, injectFormats...)}, Doc: "Formats written to the upstream request; preserve = the extracted one (else default_format). Empty: inject nothing."},
		{Name: "clear", Type: "array", Elements: headerName, Doc: "Header names removed from the upstream request after extraction."},
		{Name: "default_format", Type: "string", OneOf: injectFormats, Doc: "Format injected for preserve when nothing was extracted."},
	}},

	{Name: "exporter", Type: "string", OneOf: oneOf(BuiltinExporters...), Extensible: true,
		Doc: "Backend: otlp, zipkin (v2 JSON), http_json (plain JSON array webhook), file (NDJSON of OTLP/JSON), stdout, kafka (OTLP messages to a Kafka topic: the kafka record), or a backend registered in code (exporter.Register), which the allowed values of this binary's schema then list."},
	{Name: "protocol", Type: "string", OneOf: oneOf(ProtocolHTTPProtobuf, ProtocolHTTPJSON, ProtocolGRPC), EnvVar: "OTEL_EXPORTER_OTLP_PROTOCOL",
		Doc: "OTLP transport: http/protobuf, http/json or grpc."},
	{Name: "compression", Type: "string", OneOf: oneOf(CompressionNone, CompressionGzip), EnvVar: "OTEL_EXPORTER_OTLP_COMPRESSION",
		Doc: "Request body compression for every network backend (otlp over HTTP or gRPC, zipkin, http_json; kafka: gzip record batches unless kafka.compression names a codec). none by default (the OTLP default; most Kong deployments send to a collector next to them); gzip for remote backends."},
	{Name: "tls_verify", Type: "boolean", Doc: "Verify the backend's TLS certificate. Turning it off is logged as a warning."},
	{Name: "tls_ca_file", Type: "string", EnvVar: "OTEL_EXPORTER_OTLP_CERTIFICATE", Doc: "PEM file of CA certificates trusted for the backend (else the system roots)."},
	{Name: "tls_client_cert_file", Type: "string", EnvVar: "OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE", Doc: "PEM client certificate for mTLS (with tls_client_key_file)."},
	{Name: "tls_client_key_file", Type: "string", EnvVar: "OTEL_EXPORTER_OTLP_CLIENT_KEY", Doc: "PEM client key for mTLS (with tls_client_cert_file)."},
	{Name: "tls_server_name", Type: "string", Doc: "Server name checked in the backend's certificate, when it differs from the endpoint host."},
	{Name: "file_path", Type: "string", Doc: "file exporter: the file written, one OTLP/JSON ExportTraceServiceRequest per line (NDJSON). Required with exporter=file; its directory must exist."},
	{Name: "file_max_bytes", Type: "integer", Between: between(1024, maxInt32), Doc: "file exporter: a write that would take the file past this size first rotates it (file_path becomes file_path.1, .1 becomes .2 ...). A batch is never split across files."},
	{Name: "file_max_files", Type: "integer", Between: between(1, 1000), Doc: "file exporter: rotated files kept besides file_path; the oldest beyond this are deleted."},
	{Name: "stdout_format", Type: "string", OneOf: oneOf(StdoutText, StdoutOTLPJSON), Doc: "stdout exporter: text (one line per span) or otlp_json (one OTLP/JSON request per line)."},
	{Name: "spool_dir", Type: "string", Doc: "Directory of the persistent spool. Empty: off (spans live in memory only)."},
	{Name: "spool_max_bytes", Type: "integer", Between: between(1<<20, maxInt32), Doc: "Spool size cap; beyond it the oldest batches are dropped and counted."},
	{Name: "static_attributes", Type: "map", Keys: stringType, Values: stringType, Doc: "Attributes added to every span of a request, root and tries (like the zipkin plugin's static_tags); they count towards max_attributes."},
	kafkaField,

	{Name: "span_name", Type: "string", OneOf: oneOf(SpanNameMethodRoute, SpanNameMethodPath, SpanNameMethod),
		Doc: "Root span name: method_route (\"GET /users\", the route's path), method_path (the request path: high cardinality) or method."},
	{Name: "tail_sampling", Type: "record", Required: true, Doc: "Keep requests by outcome even when head sampling said no. The upstream's own spans are then missing from the trace (it was told \"not sampled\").", Fields: []Field{
		{Name: "status_code_min", Type: "integer", Between: between(0, 599), Doc: "Keep every request answered with at least this status. 0: off."},
		{Name: "latency_ms", Type: "integer", Between: between(0, maxInt32), Doc: "Keep every request slower than this many milliseconds. 0: off."},
	}},
	{Name: "redact_headers", Type: "array", Elements: headerName, Doc: "Header names never exported, besides authorization, proxy-authorization, cookie and set-cookie which never are."},
	{Name: "redact_query_params", Type: "array", Elements: stringType, Doc: "Query parameters whose values are replaced by REDACTED in url.query and url.full (case-insensitive)."},
	{Name: "capture_request_headers", Type: "array", Elements: capturableHeader, Doc: "Request headers recorded as http.request.header.<name> attributes (redacted ones never are)."},
	{Name: "capture_response_headers", Type: "array", Elements: capturableHeader, Doc: "Response headers recorded as http.response.header.<name> attributes (redacted ones never are)."},
	{Name: "max_attributes", Type: "integer", Between: between(1, 1000), Doc: "Attributes per span; more are dropped and counted."},
	{Name: "max_attribute_value_length", Type: "integer", Between: between(16, 1<<20), Doc: "Characters per string attribute value; longer values are truncated."},
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

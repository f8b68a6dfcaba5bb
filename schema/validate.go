package schema

import (
	"errors"
	"fmt"
	"reflect"
	"sort"
	"strings"
)

// FieldError names the configuration field that is wrong and why.
type FieldError struct {
	Field  string // dotted path, e.g. "queue.max_batch_size"
	Reason string
}

func (e *FieldError) Error() string { return fmt.Sprintf("config.%s: %s", e.Field, e.Reason) }

// Validate checks every constraint of the field tree, then the rules that
// span several fields (configChecks, as Kong's entity checks say them). All
// problems are reported, each naming its field.
func (c *Config) Validate() error {
	var errs []error
	add := func(field, format string, args ...any) {
		errs = append(errs, &FieldError{Field: field, Reason: fmt.Sprintf(format, args...)})
	}
	checkTree(configFields, reflect.ValueOf(c).Elem(), "", add)
	checkCrossField(c, add)
	checkSampling(c, add)
	checkKafka(c, add)
	checkAccessLogs(c, add)
	if len(errs) == 0 {
		return nil
	}
	return errors.Join(errs...)
}

// checkCrossField applies configChecks, plus the rules Kong cannot check
// when a config is written because they depend on the plugin server's
// environment: an OTLP endpoint may come from OTEL_EXPORTER_OTLP_*, and the
// protocol (which decides whether a bare host:port is an endpoint) from
// OTEL_EXPORTER_OTLP_PROTOCOL.
func checkCrossField(c *Config, add func(string, string, ...any)) {
	urlRequired := c.Exporter == ExporterZipkin || c.Exporter == ExporterHTTPJSON ||
		c.Protocol == ProtocolHTTPProtobuf || c.Protocol == ProtocolHTTPJSON
	for _, f := range []struct {
		name, value string
	}{{"traces_endpoint", c.TracesEndpoint}, {"endpoint", c.Endpoint}} {
		// A value that is no endpoint at all was reported by checkTree.
		if urlRequired && validEndpoint(f.value) && !validURL(f.value) {
			add(f.name, "%q is host:port, for OTLP/gRPC only: exporter %s with protocol %s needs an http:// or https:// URL", f.value, c.Exporter, c.Protocol)
		}
	}
	switch c.Exporter {
	case ExporterZipkin, ExporterHTTPJSON:
		if c.TracesURL() == "" {
			add("traces_endpoint", "required for exporter %q", c.Exporter)
		}
	case ExporterOTLP:
		if c.TracesURL() == "" {
			add("traces_endpoint", "required for exporter %q (or set OTEL_EXPORTER_OTLP_TRACES_ENDPOINT / OTEL_EXPORTER_OTLP_ENDPOINT in the plugin server's environment)", c.Exporter)
		}
	case ExporterFile:
		if c.FilePath == "" {
			add("file_path", "required when exporter is \"file\"")
		}
	}
	switch {
	case c.TLSClientCertFile != "" && c.TLSClientKeyFile == "":
		add("tls_client_key_file", "required with tls_client_cert_file (set both or neither)")
	case c.TLSClientCertFile == "" && c.TLSClientKeyFile != "":
		add("tls_client_cert_file", "required with tls_client_key_file (set both or neither)")
	}
	if c.AccessLogsEndpoint != "" && c.AccessLogs.Endpoint != "" {
		add("access_logs_endpoint", "set access_logs.endpoint or its 3.13 spelling access_logs_endpoint, not both")
	}
}

// configChecks are the cross-field rules in Kong's entity_checks form, dumped
// with the schema so Kong refuses what cannot work when the config is
// written; checkCrossField is the same rules in Go. Kong skips a check when
// one of its fields holds a vault reference; the plugin then checks the
// resolved value. A conditional's if_field must always be present (Kong
// refuses the config otherwise), so only fields with a default serve.
func configChecks() []any {
	urlExporters := []any{string(ExporterZipkin), string(ExporterHTTPJSON)}
	urlFor := func(then string) any {
		return map[string]any{"conditional": map[string]any{
			"if_field": "exporter", "if_match": map[string]any{"one_of": urlExporters},
			"then_field": then, "then_match": map[string]any{"match_any": urlRule},
		}}
	}
	return []any{
		urlFor("traces_endpoint"),
		urlFor("endpoint"),
		map[string]any{"conditional_at_least_one_of": map[string]any{
			"if_field": "exporter", "if_match": map[string]any{"one_of": urlExporters},
			"then_at_least_one_of": []any{"traces_endpoint", "endpoint"},
		}},
		map[string]any{"conditional": map[string]any{
			"if_field": "exporter", "if_match": map[string]any{"eq": string(ExporterFile)},
			"then_field": "file_path", "then_match": map[string]any{"required": true},
		}},
		map[string]any{"mutually_required": []any{"tls_client_cert_file", "tls_client_key_file"}},
		map[string]any{"mutually_exclusive": []any{"access_logs_endpoint", "access_logs.endpoint"}},
		accessLogsChecks()[0],
	}
}

// crossFieldRules describes configChecks for the configuration reference.
var crossFieldRules = []string{
	"`traces_endpoint` (or the deprecated `endpoint`) is required with `exporter: zipkin` or `http_json`, and must then be a full http(s) URL.",
	"`file_path` is required with `exporter: file`.",
	"`tls_client_cert_file` and `tls_client_key_file` are set together.",
	"`access_logs_endpoint` (Kong 3.13) and `access_logs.endpoint` (3.14+) are two spellings of one field: set one.",
	accessLogsRule,
	"Each of `sampling_rules` sets at least one condition (`route_name`, `service_name`, `method`, `path_prefix` or `header_name`), and `header_value` only with `header_name`.",
	"Kong refuses an empty string in every string field: leave a field out to use its default.",
}

// pluginOnlyRules are the rules that depend on the plugin server's
// environment or on resolved vault references, which only the plugin sees:
// it checks them when the instance starts.
var pluginOnlyRules = []string{
	"With `exporter: otlp`, `traces_endpoint` may come from `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` / `OTEL_EXPORTER_OTLP_ENDPOINT`; without either, the instance is refused.",
	"A bare `host:port` endpoint is for OTLP/gRPC only, and the protocol's default may come from `OTEL_EXPORTER_OTLP_PROTOCOL`: with an HTTP protocol the endpoint must be a full URL.",
	"`OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE` and `…_CLIENT_KEY` complete the config's TLS client files; the pair must still be complete.",
	"Access logs over OTLP without an endpoint in the config (`access_logs.enabled`, `exporter: otlp`) take it from `OTEL_EXPORTER_OTLP_LOGS_ENDPOINT` / `OTEL_EXPORTER_OTLP_ENDPOINT`; without either, the instance is refused. `access_logs.enabled` with `exporter: zipkin` or `http_json` (which take no logs) and no endpoint is refused; a backend registered in code says itself whether it takes logs.",
	"A vault reference is checked once resolved (an unresolvable one resolves to an empty string, refused); a bracketed host must be an IPv6 address; the files named must be readable.",
}

// IsAlwaysRedacted reports whether a header is one that is never exported.
func IsAlwaysRedacted(name string) bool {
	for _, h := range AlwaysRedactedHeaders {
		if strings.EqualFold(h, name) {
			return true
		}
	}
	return false
}

// validHeaderName: an RFC 9110 token, the Go side of luaHeaderName.
func validHeaderName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0:
		default:
			return false
		}
	}
	return true
}

func headerNameProblem(s string) string {
	if validHeaderName(s) {
		return ""
	}
	return fmt.Sprintf("%q is not a valid header name", s)
}

func capturableHeaderProblem(s string) string {
	if p := headerNameProblem(s); p != "" {
		return p
	}
	if IsAlwaysRedacted(s) {
		return fmt.Sprintf("%q carries credentials and is never exported", s)
	}
	return ""
}

func headerValueProblem(s string) string {
	if strings.ContainsAny(s, "\r\n") {
		return "header values must not contain line breaks"
	}
	return ""
}

// checkTree applies the dumped constraints (one_of, between, gt, ne and the
// Lua pattern rules, through their Go twins) to the decoded values, so
// StartInstance refuses what Kong's schema would.
func checkTree(fields []Field, v reflect.Value, prefix string, add func(string, string, ...any)) {
	for _, f := range fields {
		fv, _ := fieldByJSONName(v, f.Name)
		path := prefix + f.Name
		switch {
		case f.Type == "record":
			checkTree(f.Fields, fv, path+".", add)
		case f.Type == "array" && f.Elements != nil && f.Elements.Type == "record":
			for i := 0; i < fv.Len(); i++ {
				checkTree(f.Elements.Fields, fv.Index(i), fmt.Sprintf("%s[%d].", path, i+1), add)
			}
		case f.Type == "array" && f.Elements != nil:
			for i := 0; i < fv.Len(); i++ {
				checkScalar(*f.Elements, fv.Index(i), fmt.Sprintf("%s[%d]", path, i), add)
			}
		case f.Type == "map":
			checkMap(f, fv, path, add)
		case f.Deprecated != "" && fv.IsZero():
			// unset deprecated field
		default:
			checkScalar(f, fv, path, add)
		}
	}
}

func checkMap(f Field, m reflect.Value, path string, add func(string, string, ...any)) {
	keys := m.MapKeys()
	sort.Slice(keys, func(i, j int) bool { return keys[i].String() < keys[j].String() })
	for _, k := range keys {
		if f.Keys != nil && f.Keys.goCheck != nil {
			if p := f.Keys.goCheck(k.String()); p != "" {
				add(path, "%s", p)
			}
		}
		if f.Values != nil && f.Values.goCheck != nil {
			if p := f.Values.goCheck(m.MapIndex(k).String()); p != "" {
				add(path, "value of %q: %s", k.String(), p)
			}
		}
	}
}

func checkScalar(f Field, v reflect.Value, path string, add func(string, string, ...any)) {
	if v.Kind() == reflect.Pointer {
		if v.IsNil() {
			return
		}
		v = v.Elem()
	}
	if v.Kind() == reflect.String {
		s := v.String()
		if oneOf := f.OneOf; len(oneOf) > 0 {
			if f.Extensible {
				return // the exporter registry refuses an unknown name
			}
			// Every enum has a default, so an empty value was written by the user.
			ok := false
			for _, o := range oneOf {
				if o == s {
					ok = true
					break
				}
			}
			if !ok {
				add(path, "must be one of %s, got %q", enumList(oneOf), s)
			}
			return
		}
		if s != "" && f.goCheck != nil {
			if p := f.goCheck(s); p != "" {
				add(path, "%s", p)
			}
		}
		return
	}
	var n float64
	switch v.Kind() {
	case reflect.Int:
		n = float64(v.Int())
	case reflect.Float64:
		n = v.Float()
	default:
		return
	}
	if f.Between != nil && (n < f.Between[0] || n > f.Between[1]) {
		add(path, "must be between %v and %v, got %v", f.Between[0], f.Between[1], n)
	}
	if f.Gt != nil && !(n > *f.Gt) {
		add(path, "must be greater than %v, got %v", *f.Gt, n)
	}
	if f.Ne != nil && n == *f.Ne {
		add(path, "must not be %v", n)
	}
}

func enumList(vs []any) string {
	parts := make([]string, len(vs))
	for i, v := range vs {
		parts[i] = fmt.Sprintf("%q", v)
	}
	return strings.Join(parts, ", ")
}

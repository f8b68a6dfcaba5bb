package schema

import (
	"errors"
	"fmt"
	"net/url"
	"reflect"
	"strings"
)

// FieldError names the configuration field that is wrong and why.
type FieldError struct {
	Field  string // dotted path, e.g. "queue.max_batch_size"
	Reason string
}

func (e *FieldError) Error() string { return fmt.Sprintf("config.%s: %s", e.Field, e.Reason) }

// Validate checks every constraint of the field tree, then the rules that
// span several fields. All problems are reported, each naming its field.
func (c *Config) Validate() error {
	var errs []error
	add := func(field, format string, args ...any) {
		errs = append(errs, &FieldError{Field: field, Reason: fmt.Sprintf(format, args...)})
	}
	checkTree(configFields, reflect.ValueOf(c).Elem(), "", add)

	switch c.Exporter {
	case ExporterOTLP, ExporterZipkin, ExporterHTTPJSON:
		checkEndpoint(c, add)
	case ExporterFile:
		if c.FilePath == "" {
			add("file_path", "required when exporter is \"file\"")
		}
	}
	checkKafka(c, add)
	if (c.TLSClientCertFile == "") != (c.TLSClientKeyFile == "") {
		add("tls_client_cert_file", "tls_client_cert_file and tls_client_key_file must be set together")
	}
	if c.Queue.ConcurrencyLimit == 0 {
		add("queue.concurrency_limit", "must be -1 or between 1 and 64, got 0")
	}
	for k, v := range c.Headers {
		if !validHeaderName(k) {
			add("headers", "%q is not a valid header name", k)
		}
		if strings.ContainsAny(v, "\r\n") {
			add("headers", "value of %q contains a line break", k)
		}
	}
	for k, v := range c.ResourceAttributes {
		if k == "" || v == "" {
			add("resource_attributes", "keys and values must be non-empty strings (%q)", k)
		}
	}
	for k := range c.StaticAttributes {
		if k == "" {
			add("static_attributes", "keys must be non-empty")
		}
	}
	if h := c.HTTPResponseHeaderForTraceID; h != "" && !validHeaderName(h) {
		add("http_response_header_for_traceid", "%q is not a valid header name", h)
	}
	checkHeaderList("propagation.clear", c.Propagation.Clear, false, add)
	checkHeaderList("redact_headers", c.RedactHeaders, false, add)
	checkHeaderList("capture_request_headers", c.CaptureRequestHeaders, true, add)
	checkHeaderList("capture_response_headers", c.CaptureResponseHeaders, true, add)
	if len(errs) == 0 {
		return nil
	}
	return errors.Join(errs...)
}

func checkEndpoint(c *Config, add func(string, string, ...any)) {
	raw := c.TracesURL()
	field := "traces_endpoint"
	if c.TracesEndpoint == "" && c.Endpoint != "" {
		field = "endpoint"
	}
	if raw == "" {
		add(field, "required for exporter %q (or set OTEL_EXPORTER_OTLP_TRACES_ENDPOINT / OTEL_EXPORTER_OTLP_ENDPOINT)", c.Exporter)
		return
	}
	if c.Exporter == ExporterOTLP && c.Protocol == ProtocolGRPC && !strings.Contains(raw, "://") {
		// gRPC targets are often written host:port.
		raw = "http://" + raw
	}
	u, err := url.Parse(raw)
	switch {
	case err != nil:
		add(field, "not a valid URL: %v", err)
	case u.Scheme != "http" && u.Scheme != "https":
		add(field, "scheme must be http or https, got %q", u.Scheme)
	case u.Host == "":
		add(field, "URL %q has no host", raw)
	}
}

func checkHeaderList(field string, names []string, noSecrets bool, add func(string, string, ...any)) {
	for _, n := range names {
		if !validHeaderName(n) {
			add(field, "%q is not a valid header name", n)
			continue
		}
		if noSecrets && IsAlwaysRedacted(n) {
			add(field, "%q carries credentials and is never exported", n)
		}
	}
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

// validHeaderName: an RFC 9110 token.
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

// checkTree applies the dumped constraints (one_of, between, gt) to the
// decoded values, so StartInstance refuses what Kong's schema would.
func checkTree(fields []Field, v reflect.Value, prefix string, add func(string, string, ...any)) {
	for _, f := range fields {
		fv, _ := fieldByJSONName(v, f.Name)
		path := prefix + f.Name
		if f.Type == "record" {
			checkTree(f.Fields, fv, path+".", add)
			continue
		}
		if f.Type == "array" && f.Elements != nil {
			for i := 0; i < fv.Len(); i++ {
				checkScalar(*f.Elements, fv.Index(i), fmt.Sprintf("%s[%d]", path, i), add)
			}
			continue
		}
		if f.Deprecated != "" && fv.IsZero() {
			continue // unset deprecated field
		}
		checkScalar(f, fv, path, add)
	}
}

func checkScalar(f Field, v reflect.Value, path string, add func(string, string, ...any)) {
	if oneOf := f.OneOf; len(oneOf) > 0 && !f.Extensible && v.Kind() == reflect.String {
		// Every enum has a default, so an empty value was written by the user.
		s := v.String()
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
}

func enumList(vs []any) string {
	parts := make([]string, len(vs))
	for i, v := range vs {
		parts[i] = fmt.Sprintf("%q", v)
	}
	return strings.Join(parts, ", ")
}

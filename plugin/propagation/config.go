package propagation

import (
	"fmt"

	"github.com/trace-exporter/trace-exporter/schema"
)

// Config is a resolved propagation configuration: what Kong's
// propagation.get_plugin_params makes of a plugin's propagation record and
// deprecated header_type. Build it once per plugin instance with [Resolve].
type Config struct {
	// ExtractFormats lists the formats read, in order (B3 reads b3 and
	// X-B3-*). Empty: never extract; every request starts a new trace.
	ExtractFormats []Format
	// InjectFormats lists the formats written upstream; may contain
	// Preserve. Empty: inject nothing.
	InjectFormats []Format
	// ClearHeaders lists lowercase header names to remove from the upstream
	// request after extraction (before injection).
	ClearHeaders []string
	// DefaultFormat is injected for Preserve when nothing was extracted.
	DefaultFormat Format

	headers []string // what Extract reads, computed once
}

// legacyExtract is the order Kong's old propagation module tried formats in,
// which get_plugin_params keeps for header_type (instana was appended when
// Kong added it, after 3.9).
var legacyExtract = []Format{B3, W3C, Jaeger, OT, Datadog, AWS, GCP, Instana}

// Resolve maps a plugin's propagation record and header_type to a Config
// exactly as Kong's get_plugin_params does:
//
//   - if extract, inject or clear is set (non-nil, even empty), the record
//     is used as it is and header_type is ignored;
//   - else header_type "preserve": extract b3, w3c, jaeger, ot, datadog,
//     aws, gcp, instana; inject preserve;
//   - "ignore": extract nothing; inject default_format;
//   - a format X: extract as for preserve; inject preserve and X;
//   - "" (unset): extract and inject nothing.
//
// An unset default_format means w3c. Unknown names are an error naming the
// field (schema validation refuses them first; this guards other callers).
func Resolve(p schema.Propagation, headerType string) (*Config, error) {
	c := &Config{DefaultFormat: W3C}
	if p.DefaultFormat != "" {
		f, err := ParseFormat(p.DefaultFormat)
		if err != nil || f == Preserve {
			return nil, fmt.Errorf("propagation.default_format: unknown format %q", p.DefaultFormat)
		}
		c.DefaultFormat = f
	}
	if p.Extract != nil || p.Inject != nil || p.Clear != nil {
		var err error
		if c.ExtractFormats, err = parseFormats("propagation.extract", p.Extract, false); err != nil {
			return nil, err
		}
		if c.InjectFormats, err = parseFormats("propagation.inject", p.Inject, true); err != nil {
			return nil, err
		}
		c.ClearHeaders = append([]string(nil), p.Clear...)
	} else {
		switch headerType {
		case "":
		case schema.FormatPreserve:
			c.ExtractFormats = legacyExtract
			c.InjectFormats = []Format{Preserve}
		case schema.FormatIgnore:
			c.InjectFormats = []Format{c.DefaultFormat}
		default:
			f, err := ParseFormat(headerType)
			if err != nil || f == Preserve {
				return nil, fmt.Errorf("header_type: unknown value %q", headerType)
			}
			c.ExtractFormats = legacyExtract
			c.InjectFormats = []Format{Preserve, f}
		}
	}
	c.headers = extractHeaders(c.ExtractFormats)
	return c, nil
}

// ResolveConfig is Resolve applied to a plugin configuration.
func ResolveConfig(cfg *schema.Config) (*Config, error) {
	return Resolve(cfg.Propagation, cfg.HeaderType)
}

func parseFormats(field string, names []string, inject bool) ([]Format, error) {
	out := make([]Format, 0, len(names))
	var seen uint32
	for i, n := range names {
		f, err := ParseFormat(n)
		if err != nil || (!inject && f == Preserve) {
			return nil, fmt.Errorf("%s[%d]: unknown format %q", field, i+1, n)
		}
		if !inject {
			f = f.extractor()
		}
		// A repeated format would be read or written twice for nothing.
		if seen&(1<<f) != 0 {
			continue
		}
		seen |= 1 << f
		out = append(out, f)
	}
	return out, nil
}

// formatHeaders lists, per extractor, every header it may read.
var formatHeaders = [formatCount][]string{
	W3C:     {headerTraceparent, headerTracestate},
	B3:      {headerB3, headerB3TraceID, headerB3SpanID, headerB3ParentSpanID, headerB3Sampled, headerB3Flags},
	Jaeger:  {headerJaeger},
	OT:      {headerOTTraceID, headerOTSpanID, headerOTSampled},
	AWS:     {headerAWS},
	GCP:     {headerGCP},
	Datadog: {headerDatadogTraceID, headerDatadogParentID, headerDatadogPriority, headerDatadogTags},
	Instana: {headerInstanaTraceID, headerInstanaSpanID, headerInstanaLevel},
}

func extractHeaders(formats []Format) []string {
	var names []string
	for _, f := range formats {
		names = append(names, formatHeaders[f.extractor()]...)
	}
	return names
}

// Headers returns the lowercase names of every request header Extract may
// read under this config, in extraction order; empty when nothing is
// extracted (the access handler then reads no header at all). The slice is
// shared: do not modify it.
func (c *Config) Headers() []string { return c.headers }

// SingleHeader reports the header to read when one suffices (extract lists
// only jaeger, aws or gcp): the caller can then use one
// kong.request.get_header call and a [SingleHeader] getter instead of
// kong.request.get_headers. W3C needs two (traceparent, tracestate).
func (c *Config) SingleHeader() (string, bool) {
	if len(c.headers) == 1 {
		return c.headers[0], true
	}
	return "", false
}

// Extract reads the incoming context with the configured formats; see the
// package-level [Extract].
func (c *Config) Extract(h Getter) (SpanContext, bool) { return Extract(h, c.ExtractFormats) }

// ExtractChecked is [Config.Extract] that also reports malformed formats;
// see the package-level [ExtractChecked].
func (c *Config) ExtractChecked(h Getter) (SpanContext, bool, FormatSet) {
	return ExtractChecked(h, c.ExtractFormats)
}

// Inject appends the headers carrying sc in the configured inject formats;
// see the package-level [Inject].
func (c *Config) Inject(dst []Header, sc SpanContext) []Header {
	return Inject(dst, sc, c.InjectFormats, c.DefaultFormat)
}

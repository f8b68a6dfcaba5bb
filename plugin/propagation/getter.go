package propagation

import "strings"

// Getter reads request headers for the extractors.
//
// Get returns the value of the header with the given lowercase name, or ""
// when it is absent. A header sent more than once must be returned as its
// values joined with "," (RFC 9110 §5.3): list headers (tracestate,
// x-datadog-tags) then read correctly, and a repeated single-value header
// (two traceparents) no longer parses, so it is ignored as the W3C spec
// requires. Get must not keep or modify its argument.
type Getter interface {
	Get(name string) string
}

// HeaderMap is a Getter over lowercase header names, the shape go-pdk's
// kong.Request.GetHeaders returns. It allocates only to join a repeated
// header.
type HeaderMap map[string][]string

// Get implements Getter.
func (m HeaderMap) Get(name string) string {
	switch v := m[name]; len(v) {
	case 0:
		return ""
	case 1:
		return v[0]
	default:
		return strings.Join(v, ",")
	}
}

// SingleHeader is a Getter holding one header, for the case where
// [Config.SingleHeader] lets the caller read the context with one
// kong.request.get_header call.
type SingleHeader struct {
	Name  string // lowercase
	Value string
}

// Get implements Getter.
func (h SingleHeader) Get(name string) string {
	if name == h.Name {
		return h.Value
	}
	return ""
}

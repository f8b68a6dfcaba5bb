// Package resourcetmpl compiles the templates of resource_attributes values
// (Kong 3.10+: "$(headers.x_tenant)", "${kong.service.name}") when a plugin
// instance starts, and renders them for each request from what the request
// offers. The grammar, and the rules Kong checks when a config is written,
// are the schema package's (schema.ParseResourceTemplate); this package turns
// a valid value into a plan and runs it.
//
// Rendering is a pure function of the compiled set and the request: nothing
// rendered for one request is kept for another.
package resourcetmpl

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/trace-exporter/trace-exporter/schema"
)

// Attr is one rendered resource attribute.
type Attr struct {
	Key, Value string
}

// Request is what one request offers the templates. Header names are lower
// case; a missing value is reported as not found.
type Request interface {
	// Header returns a request header's values as Kong saved them.
	Header(name string) ([]string, bool)
	// Query returns a query parameter's values ("true" for a parameter
	// without value, as Kong's get_query gives it).
	Query(name string) ([]string, bool)
	// URICapture returns a regex route's capture, by name or by number.
	URICapture(key string, index bool) (string, bool)
	// Shared returns a kong.ctx.shared value.
	Shared(key string) (string, bool)
	// Kong returns route.id, route.name, service.id, service.name,
	// consumer.id, consumer.username or consumer.custom_id.
	Kong(field string) (string, bool)
}

// Options say how values are redacted.
type Options struct {
	// RedactHeaders are header names (lower case) never exported: a template
	// reading one renders empty.
	RedactHeaders []string
	// RedactQuery are query parameter names (lower case, compared without
	// case) whose values render as "REDACTED".
	RedactQuery []string
}

// Redacted replaces the value of a redacted query parameter.
const Redacted = "REDACTED"

// Set is a compiled resource_attributes map: the attributes with templates,
// in key order, and what rendering them needs.
type Set struct {
	attrs []template
	opts  Options
	needs Needs
}

type template struct {
	key   string
	parts []schema.TemplatePart
}

// Needs says which request data the templates read, so a caller fetches
// only that: headers and query parameters come with the serialize payload,
// URI captures and shared values cost a call to Kong each.
type Needs struct {
	Headers     []string // lower case
	Query       []string
	URICaptures bool
	Shared      []string
}

// Compile splits attrs into static values (returned as is) and templates
// (compiled). An invalid template is an error naming the attribute (schema
// validation refuses it first).
func Compile(attrs map[string]string, opts Options) (static map[string]string, set *Set, err error) {
	keys := make([]string, 0, len(attrs))
	for k := range attrs {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	s := &Set{opts: opts}
	for _, k := range keys {
		v := attrs[k]
		parts, problem := schema.ParseResourceTemplate(v)
		if problem != "" {
			return nil, nil, fmt.Errorf("value of %q: %s", k, problem)
		}
		if !hasVariable(parts) {
			if static == nil {
				static = make(map[string]string, len(attrs))
			}
			static[k] = v
			continue
		}
		s.attrs = append(s.attrs, template{key: k, parts: parts})
		s.needs.add(parts)
	}
	if len(s.attrs) == 0 {
		return static, nil, nil
	}
	// A redacted header renders empty: it is never read.
	s.needs.Headers = slices.DeleteFunc(s.needs.Headers, func(h string) bool { return slices.Contains(opts.RedactHeaders, h) })
	return static, s, nil
}

func hasVariable(parts []schema.TemplatePart) bool {
	for _, p := range parts {
		if p.Source != "" {
			return true
		}
	}
	return false
}

func (n *Needs) add(parts []schema.TemplatePart) {
	for _, p := range parts {
		switch p.Source {
		case "headers":
			if !slices.Contains(n.Headers, p.Key) {
				n.Headers = append(n.Headers, p.Key)
			}
		case "query_params":
			if !slices.Contains(n.Query, p.Key) {
				n.Query = append(n.Query, p.Key)
			}
		case "uri_captures":
			n.URICaptures = true
		case "shared":
			if !slices.Contains(n.Shared, p.Key) {
				n.Shared = append(n.Shared, p.Key)
			}
		}
	}
}

// Needs reports what rendering reads.
func (s *Set) Needs() Needs { return s.needs }

// Keys lists the templated attribute keys, in order.
func (s *Set) Keys() []string {
	out := make([]string, len(s.attrs))
	for i, a := range s.attrs {
		out[i] = a.key
	}
	return out
}

// Render appends the request's rendered attributes to dst, in key order. An
// attribute whose template renders empty is left out: the caller's lower
// precedence value (environment, default) then stands.
func (s *Set) Render(r Request, dst []Attr) []Attr {
	var b strings.Builder
	for _, a := range s.attrs {
		b.Reset()
		for _, p := range a.parts {
			if p.Source == "" {
				b.WriteString(p.Literal)
				continue
			}
			b.WriteString(s.read(r, p))
		}
		if b.Len() > 0 {
			dst = append(dst, Attr{Key: a.key, Value: b.String()})
		}
	}
	return dst
}

func (s *Set) read(r Request, p schema.TemplatePart) string {
	switch p.Source {
	case "headers":
		if slices.Contains(s.opts.RedactHeaders, p.Key) {
			return ""
		}
		vs, _ := r.Header(p.Key)
		return strings.Join(vs, ", ")
	case "query_params":
		vs, ok := r.Query(p.Key)
		if !ok {
			return ""
		}
		if containsFold(s.opts.RedactQuery, p.Key) {
			return Redacted
		}
		return strings.Join(vs, ",")
	case "uri_captures":
		v, _ := r.URICapture(p.Key, p.Index)
		return v
	case "shared":
		v, _ := r.Shared(p.Key)
		return v
	case "kong":
		v, _ := r.Kong(p.Key)
		return v
	}
	return ""
}

func containsFold(list []string, s string) bool {
	for _, e := range list {
		if strings.EqualFold(e, s) {
			return true
		}
	}
	return false
}

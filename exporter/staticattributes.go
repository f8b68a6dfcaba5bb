package exporter

import (
	"slices"

	"github.com/trace-exporter/trace-exporter/schema"
)

// staticAttributes adds the config's static_attributes to every span of a
// request, as the zipkin plugin's static_tags do. An attribute the span
// already has keeps its value: the request's own data wins.
type staticAttributes struct {
	attrs []Attribute // sorted by key, so every span lists them alike
}

func newStaticAttributes(cfg *schema.Config) (SpanProcessor, error) {
	if p := staticAttributesOf(cfg); p != nil {
		return p, nil
	}
	return nil, nil
}

func newStaticLogAttributes(cfg *schema.Config) (LogProcessor, error) {
	if p := staticAttributesOf(cfg); p != nil {
		return p, nil
	}
	return nil, nil
}

// staticAttributesOf is nil when the config has none.
func staticAttributesOf(cfg *schema.Config) *staticAttributes {
	if len(cfg.StaticAttributes) == 0 {
		return nil
	}
	p := &staticAttributes{}
	for k, v := range cfg.StaticAttributes {
		p.attrs = append(p.attrs, String(k, v))
	}
	slices.SortFunc(p.attrs, func(a, b Attribute) int {
		switch {
		case a.Key < b.Key:
			return -1
		case a.Key > b.Key:
			return 1
		}
		return 0
	})
	return p
}

// Process gives every span a new attribute slice, all carved from one
// allocation per request.
func (p *staticAttributes) Process(spans []Span, _ *Request) []Span {
	total := 0
	for i := range spans {
		total += len(spans[i].Attributes) + len(p.attrs)
	}
	buf := make([]Attribute, 0, total)
	for i := range spans {
		s := &spans[i]
		start := len(buf)
		buf = append(buf, s.Attributes...)
		for _, a := range p.attrs {
			if _, dup := FindAttribute(s.Attributes, a.Key); !dup {
				buf = append(buf, a)
			}
		}
		s.Attributes = buf[start:len(buf):len(buf)]
	}
	return spans
}

// ProcessLog adds the attributes to an access log record, as to a span.
func (p *staticAttributes) ProcessLog(r *LogRecord, _ *Request) bool {
	for _, a := range p.attrs {
		if _, dup := FindAttribute(r.Attributes, a.Key); !dup {
			r.Attributes = append(r.Attributes, a)
		}
	}
	return true
}

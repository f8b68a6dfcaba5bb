package sampling

import (
	"strings"

	"github.com/trace-exporter/trace-exporter/plugin/propagation"
	"github.com/trace-exporter/trace-exporter/schema"
)

// rule is a compiled sampling rule.
type rule struct {
	cfg   schema.SamplingRule
	ratio Ratio
	limit *Limiter
	// requestLine: the rule has a route, service, method or path condition,
	// known only in the log phase.
	requestLine bool
}

// headersMatch reports whether the rule's header condition holds (true
// without one). h nil means the headers are unknown: the condition fails.
func (r *rule) headersMatch(h propagation.Getter) bool {
	name := r.cfg.HeaderName
	if name == "" {
		return true
	}
	if h == nil {
		return false
	}
	v := h.Get(name)
	if v == "" {
		return false
	}
	want := r.cfg.HeaderValue
	if want == "" {
		return true
	}
	// A repeated header arrives joined with ","; any of its values matches.
	for v != "" {
		var one string
		one, v, _ = strings.Cut(v, ",")
		if strings.TrimSpace(one) == want {
			return true
		}
	}
	return false
}

// RequestLine is what the log phase knows of a request that the access
// phase did not: from kong.log.serialize.
type RequestLine struct {
	RouteName   string
	ServiceName string
	Method      string
	Path        string // without the query
	// Operation is the root span's name, the operation Jaeger's
	// per-operation strategies are keyed by.
	Operation string
}

// lineMatches reports whether the rule's route, service, method and path
// conditions hold.
func (r *rule) lineMatches(l *RequestLine) bool {
	c := &r.cfg
	return (c.RouteName == "" || c.RouteName == l.RouteName) &&
		(c.ServiceName == "" || c.ServiceName == l.ServiceName) &&
		(c.Method == "" || c.Method == l.Method) &&
		(c.PathPrefix == "" || strings.HasPrefix(l.Path, c.PathPrefix))
}

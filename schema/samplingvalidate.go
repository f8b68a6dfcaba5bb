package schema

import (
	"fmt"
	"net/url"
	"strings"
)

// checkSampling checks what the field tree cannot say about the sampling
// rules and the remote sampling endpoint.
func checkSampling(c *Config, add func(string, string, ...any)) {
	for i, r := range c.SamplingRules {
		field := fmt.Sprintf("sampling_rules[%d]", i+1)
		if !r.HasRequestLineCondition() && r.HeaderName == "" {
			add(field, "needs at least one condition (route_name, service_name, method, path_prefix or header_name); the default sampler already covers every request")
		}
		if r.HeaderValue != "" && r.HeaderName == "" {
			add(field+".header_value", "needs header_name")
		}
		if r.HeaderName != "" && !validHeaderName(r.HeaderName) {
			add(field+".header_name", "%q is not a valid header name", r.HeaderName)
		}
		if strings.ContainsFunc(r.Method, func(c rune) bool { return c < 'A' || c > 'Z' }) {
			add(field+".method", "%q is not an upper-case method name", r.Method)
		}
		if r.PathPrefix != "" && r.PathPrefix[0] != '/' {
			add(field+".path_prefix", "%q does not start with /", r.PathPrefix)
		}
	}
	if ep := c.RemoteSampling.Endpoint; ep != "" {
		u, err := url.Parse(ep)
		switch {
		case err != nil:
			add("remote_sampling.endpoint", "not a valid URL: %v", err)
		case u.Scheme != "http" && u.Scheme != "https":
			add("remote_sampling.endpoint", "scheme must be http or https, got %q", u.Scheme)
		case u.Host == "":
			add("remote_sampling.endpoint", "URL %q has no host", ep)
		case u.Query().Has("service"):
			add("remote_sampling.endpoint", "leave the service parameter out: it is remote_sampling.service_name")
		}
	}
}

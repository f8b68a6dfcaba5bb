// Package semconv checks a span against the OpenTelemetry HTTP semantic
// conventions' tables (http-spans.md: span names, required and
// conditionally required attributes per span kind, statuses per kind), for
// the conformance tests of the plugin's spans, built in process or read
// back from a backend.
package semconv

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Span is what the check reads of a span, whatever model it came from.
// Attribute values are string, int64, float64, bool or []string.
type Span struct {
	Name  string
	Kind  string // "server" or "client"
	Error bool   // status ERROR
	Attrs map[string]any
}

// DefaultKnownMethods are the conventions' default known methods.
var DefaultKnownMethods = []string{"CONNECT", "DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT", "QUERY", "TRACE"}

// Check returns every way s departs from the HTTP span conventions (empty
// when it conforms). known lists the methods the instrumentation treats as
// known (http.request.method is one of them or _OTHER).
func Check(s Span, known []string) []string {
	c := checker{s: s}
	method := c.str("http.request.method", true)
	if method != "" && method != "_OTHER" && !slices.Contains(known, method) {
		c.fail("http.request.method %q is neither a known method nor _OTHER", method)
	}
	if orig, ok := s.Attrs["http.request.method_original"]; method == "_OTHER" {
		if o := c.str("http.request.method_original", true); o == "_OTHER" || o == "" {
			c.fail("http.request.method_original %q must hold the method sent", o)
		}
	} else if ok {
		c.fail("http.request.method_original %v without http.request.method _OTHER", orig)
	}
	nameMethod := method
	if method == "_OTHER" {
		nameMethod = "HTTP"
	}
	status, hasStatus := c.int("http.response.status_code", false)
	if hasStatus && (status < 100 || status > 599) {
		c.fail("http.response.status_code %d is not an HTTP status", status)
	}
	errType := c.str("error.type", false)
	switch s.Kind {
	case "server":
		c.str("url.path", true)
		if scheme := c.str("url.scheme", true); scheme != "" && scheme != "http" && scheme != "https" {
			c.fail("url.scheme %q", scheme)
		}
		route := c.str("http.route", false)
		want := nameMethod
		if route != "" {
			want += " " + route
		}
		if s.Name != want {
			c.fail("name %q, want %q ({method} {http.route}, or {method} without a route)", s.Name, want)
		}
		if _, ok := s.Attrs["server.address"]; ok {
			c.int("server.port", true) // conditionally required with server.address
		}
		// A server span is an error for 5xx, never for 4xx.
		wantError := hasStatus && status >= 500
		if !hasStatus && errType != "" {
			wantError = true
		}
		c.status(wantError, hasStatus, status, errType)
	case "client":
		c.str("server.address", true)
		c.int("server.port", true)
		if u := c.str("url.full", true); u != "" {
			if !strings.Contains(u, "://") {
				c.fail("url.full %q is not absolute", u)
			} else if host, _, _ := strings.Cut(strings.SplitN(u, "://", 2)[1], "/"); strings.Contains(host, "@") {
				c.fail("url.full %q carries credentials", u)
			}
		}
		want := nameMethod
		if tmpl := c.str("url.template", false); tmpl != "" {
			want += " " + tmpl
		}
		if s.Name != want {
			c.fail("name %q, want %q ({method}, or {method} {url.template} with a template)", s.Name, want)
		}
		if n, ok := c.int("http.request.resend_count", false); ok && n < 1 {
			c.fail("http.request.resend_count %d: only a resend carries it (1, 2, ...)", n)
		}
		// A client span is an error for 4xx and 5xx, and without a response.
		wantError := !hasStatus || status >= 400
		if !hasStatus && errType == "" {
			c.fail("a client span without a response needs error.type")
		}
		c.status(wantError, hasStatus, status, errType)
	default:
		c.fail("kind %q is not server or client", s.Kind)
	}
	return c.problems
}

type checker struct {
	s        Span
	problems []string
}

func (c *checker) fail(format string, args ...any) {
	c.problems = append(c.problems, fmt.Sprintf("%s span %q: ", c.s.Kind, c.s.Name)+fmt.Sprintf(format, args...))
}

func (c *checker) str(key string, required bool) string {
	v, ok := c.s.Attrs[key]
	if !ok {
		if required {
			c.fail("%s is required", key)
		}
		return ""
	}
	s, isStr := v.(string)
	if !isStr || s == "" {
		c.fail("%s = %v (%T), want a non-empty string", key, v, v)
	}
	return s
}

func (c *checker) int(key string, required bool) (int64, bool) {
	v, ok := c.s.Attrs[key]
	if !ok {
		if required {
			c.fail("%s is required", key)
		}
		return 0, false
	}
	n, isInt := v.(int64)
	if !isInt {
		c.fail("%s = %v (%T), want an integer", key, v, v)
	}
	return n, isInt
}

// status checks the span status and error.type together: ERROR exactly
// when wantError, and then error.type, the status code when there is one.
func (c *checker) status(wantError, hasStatus bool, status int64, errType string) {
	switch {
	case wantError && !c.s.Error:
		c.fail("status must be ERROR (status code %d, error.type %q)", status, errType)
	case !wantError && c.s.Error:
		c.fail("status ERROR for status code %d", status)
	case wantError && errType == "":
		c.fail("an error without error.type")
	case !wantError && errType != "":
		c.fail("error.type %q on a span that is not an error", errType)
	case wantError && hasStatus && errType != strconv.FormatInt(status, 10):
		c.fail("error.type %q, want the status code %d", errType, status)
	}
}

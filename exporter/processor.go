package exporter

import (
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/trace-exporter/trace-exporter/schema"
)

// SpanProcessor changes a request's spans after the plugin built them and
// before they are queued: the Go counterpart of the span_processor of Kong's
// custom-exporter guide (clone the span, transform it, add tags). The
// spans are the request's own copies, so a processor changes them in place.
//
// Process receives the request's spans — spans[0] is the SERVER span of the
// request, then one CLIENT span per upstream try — and returns those to
// queue: spans itself, a subslice of it (some dropped) or an empty slice
// (the request dropped). It may rename spans, change their status and add,
// change or remove attributes; appending to a span's Attributes is safe
// (no two spans share spare capacity). Attribute limits (max_attributes,
// max_attribute_value_length) are applied after the last processor.
//
// Process runs in Kong's log handler for every traced request, concurrently
// for different requests: it must be fast, must not block, and must not
// keep spans or req after returning. A panic drops the request's spans
// (counted); the plugin keeps running.
type SpanProcessor interface {
	Process(spans []Span, req *Request) []Span
}

// HeaderReader is implemented by a SpanProcessor that reads request or
// response headers: only the headers some processor lists are taken from
// Kong's log payload, so list lowercase names. Headers that carry
// credentials (authorization, proxy-authorization, cookie, set-cookie) and
// those in redact_headers are never handed over.
type HeaderReader interface {
	HeadersRead() (request, response []string)
}

// Request is what a processor may read about the request its spans
// describe, besides the spans' own attributes.
type Request struct {
	// RequestHeaders and ResponseHeaders hold the headers processors asked
	// for (HeaderReader) that the request had, with lowercase names.
	RequestHeaders  []Header
	ResponseHeaders []Header
}

// Header is one header and its values, in the order Kong saw them.
type Header struct {
	Name   string
	Values []string
}

// RequestHeader returns the values of a request header (lowercase name).
func (r *Request) RequestHeader(name string) []string { return findHeader(r.RequestHeaders, name) }

// ResponseHeader returns the values of a response header (lowercase name).
func (r *Request) ResponseHeader(name string) []string { return findHeader(r.ResponseHeaders, name) }

func findHeader(hs []Header, name string) []string {
	for i := range hs {
		if hs[i].Name == name {
			return hs[i].Values
		}
	}
	return nil
}

// ProcessorFactory builds a plugin instance's processor from its config. It
// returns a nil processor when the config does not ask for it: a plugin
// instance without processors pays nothing per request. An error refuses
// the instance; name the config field at fault (*schema.FieldError).
type ProcessorFactory func(cfg *schema.Config) (SpanProcessor, error)

// The built-in processors, config-driven, run first and in this order.
func init() {
	RegisterProcessor("static_attributes", newStaticAttributes)
	RegisterProcessor("capture_headers", newHeaderCapture)
}

var spanProcessors = processorRegistry[SpanProcessor]{kind: "processor"}

// RegisterProcessor adds a processor to every plugin instance of this build
// whose config its factory accepts. Processors run in registration order,
// after the built-in ones (static_attributes, then capture_headers). Call
// it from an init function, next to your exporter's Register; registering
// a name twice panics, as it is a programming error.
func RegisterProcessor(name string, f ProcessorFactory) { spanProcessors.register(name, f) }

// Processors is the processor chain of one plugin instance.
type Processors struct {
	stats *ProcessorStats
	processorChain[SpanProcessor]
}

// NewProcessors builds the chain cfg asks for, counting into stats. It
// returns nil, and no error, when no processor applies.
func NewProcessors(cfg *schema.Config, stats *ProcessorStats) (*Processors, error) {
	chain, err := spanProcessors.build(cfg, "span processor")
	if err != nil || len(chain.list) == 0 {
		return nil, err
	}
	return &Processors{stats: stats, processorChain: chain}, nil
}

// processorRegistry holds the registered processors of one kind, in
// registration order.
type processorRegistry[P any] struct {
	kind string // in panics: "processor", "log processor"
	mu   sync.RWMutex
	list []registeredProcessor[P]
}

type registeredProcessor[P any] struct {
	name    string
	factory func(*schema.Config) (P, error)
}

func (r *processorRegistry[P]) register(name string, f func(*schema.Config) (P, error)) {
	if name == "" || f == nil {
		panic(fmt.Sprintf("exporter: registering a %s needs a name and a factory", r.kind))
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, p := range r.list {
		if p.name == name {
			panic(fmt.Sprintf("exporter: %s %q registered twice", r.kind, name))
		}
	}
	r.list = append(r.list, registeredProcessor[P]{name, f})
}

// build asks every factory for cfg's processor; errors name the processor
// (what: "span processor", "log processor").
func (r *processorRegistry[P]) build(cfg *schema.Config, what string) (processorChain[P], error) {
	r.mu.RLock()
	registered := slices.Clone(r.list)
	r.mu.RUnlock()
	var c processorChain[P]
	for _, reg := range registered {
		p, err := reg.factory(cfg)
		if err != nil {
			return processorChain[P]{}, fmt.Errorf("%s %s: %w", what, reg.name, err)
		}
		if any(p) == nil {
			continue
		}
		c.list = append(c.list, namedProcessor[P]{reg.name, p})
		if hr, ok := any(p).(HeaderReader); ok {
			req, resp := hr.HeadersRead()
			c.requestHeaders = appendReadable(c.requestHeaders, req, cfg.RedactHeaders)
			c.responseHeaders = appendReadable(c.responseHeaders, resp, cfg.RedactHeaders)
		}
	}
	return c, nil
}

// processorChain is the processors of one kind a plugin instance runs.
type processorChain[P any] struct {
	list            []namedProcessor[P]
	requestHeaders  []string
	responseHeaders []string
}

type namedProcessor[P any] struct {
	name string
	p    P
}

// appendReadable adds the names a processor may read: lowercase, once,
// never a header that carries credentials or is redacted.
func appendReadable(dst, names, redact []string) []string {
	for _, n := range names {
		n = strings.ToLower(n)
		if n == "" || schema.IsAlwaysRedacted(n) || slices.Contains(redact, n) || slices.Contains(dst, n) {
			continue
		}
		dst = append(dst, n)
	}
	return dst
}

// Headers lists the request and response headers the chain reads.
func (c *processorChain[P]) Headers() (request, response []string) {
	return c.requestHeaders, c.responseHeaders
}

// Names lists the chain's processors in the order they run.
func (c *processorChain[P]) Names() []string {
	out := make([]string, len(c.list))
	for i, p := range c.list {
		out[i] = p.name
	}
	return out
}

// ProcessorStats counts what span processors did; the plugin's chains
// of one process share one (NewProcessors).
type ProcessorStats struct {
	Dropped atomic.Uint64 // spans dropped by a processor
	Panics  atomic.Uint64 // processor panics (the request's spans were dropped)

	// panicLog is built on first use, with the logger the process has set
	// by then.
	panicLog sync.Once
	panics   *ThrottledLog
}

func (s *ProcessorStats) logPanic(processor string, r any) {
	s.panicLog.Do(func() {
		s.panics = NewThrottledLog(slog.Default(), slog.LevelError, "span processor panicked; the request's spans were dropped", 10*time.Second)
	})
	s.panics.Log(slog.String("processor", processor), slog.Any("panic", r))
}

// Process runs the chain. A panicking processor drops the request's spans:
// a half-processed request may lack a redaction or a rename the processor
// promised.
func (c *Processors) Process(spans []Span, req *Request) (out []Span) {
	n := len(spans)
	current := ""
	defer func() {
		if r := recover(); r != nil {
			c.stats.Panics.Add(1)
			c.stats.Dropped.Add(uint64(n))
			c.stats.logPanic(current, r)
			out = nil
		}
	}()
	for _, p := range c.list {
		current = p.name
		spans = p.p.Process(spans, req)
		if len(spans) == 0 {
			break
		}
	}
	if d := n - len(spans); d > 0 {
		c.stats.Dropped.Add(uint64(d))
	}
	return spans
}

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

type registeredProcessor struct {
	name    string
	factory ProcessorFactory
}

var processorFactories struct {
	sync.RWMutex
	list []registeredProcessor
}

// RegisterProcessor adds a processor to every plugin instance of this build
// whose config its factory accepts. Processors run in registration order,
// after the built-in ones (static_attributes, then capture_headers). Call
// it from an init function, next to your exporter's Register; registering
// a name twice panics, as it is a programming error.
func RegisterProcessor(name string, f ProcessorFactory) {
	if name == "" || f == nil {
		panic("exporter: RegisterProcessor needs a name and a factory")
	}
	processorFactories.Lock()
	defer processorFactories.Unlock()
	for _, p := range processorFactories.list {
		if p.name == name {
			panic(fmt.Sprintf("exporter: processor %q registered twice", name))
		}
	}
	processorFactories.list = append(processorFactories.list, registeredProcessor{name, f})
}

// Processors is the processor chain of one plugin instance.
type Processors struct {
	stats           *ProcessorStats
	list            []namedProcessor
	requestHeaders  []string
	responseHeaders []string
}

type namedProcessor struct {
	name string
	SpanProcessor
}

// NewProcessors builds the chain cfg asks for, counting into stats. It
// returns nil, and no error, when no processor applies.
func NewProcessors(cfg *schema.Config, stats *ProcessorStats) (*Processors, error) {
	processorFactories.RLock()
	registered := slices.Clone(processorFactories.list)
	processorFactories.RUnlock()
	c := &Processors{stats: stats}
	for _, r := range registered {
		p, err := r.factory(cfg)
		if err != nil {
			return nil, fmt.Errorf("span processor %s: %w", r.name, err)
		}
		if p == nil {
			continue
		}
		c.list = append(c.list, namedProcessor{r.name, p})
		if hr, ok := p.(HeaderReader); ok {
			req, resp := hr.HeadersRead()
			c.requestHeaders = appendReadable(c.requestHeaders, req, cfg.RedactHeaders)
			c.responseHeaders = appendReadable(c.responseHeaders, resp, cfg.RedactHeaders)
		}
	}
	if len(c.list) == 0 {
		return nil, nil
	}
	return c, nil
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
func (c *Processors) Headers() (request, response []string) {
	return c.requestHeaders, c.responseHeaders
}

// Names lists the chain's processors in the order they run.
func (c *Processors) Names() []string {
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
		spans = p.Process(spans, req)
		if len(spans) == 0 {
			break
		}
	}
	if d := n - len(spans); d > 0 {
		c.stats.Dropped.Add(uint64(d))
	}
	return spans
}

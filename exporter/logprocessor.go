package exporter

import (
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/trace-exporter/trace-exporter/schema"
)

// LogProcessor changes a request's access log record after the plugin
// built it and before it is queued: the Go counterpart of Kong's
// access_logs.custom_attributes_by_lua, whose Lua an external plugin cannot
// run.
//
// ProcessLog receives the request's own record — its attributes are the
// root span's, plus Kong's access log names where they differ — and the
// request's headers the processor asked for (HeaderReader), and reports
// whether to keep the record: false drops it. It may change the body, the
// severity and the attributes in place; appending to r.Attributes is safe.
// Attribute limits (max_attributes, max_attribute_value_length) are applied
// after the last processor.
//
// ProcessLog runs in Kong's log handler for every request that gets an
// access log record, sampled or not, concurrently for different requests:
// it must be fast, must not block, and must not keep r or req after
// returning. A panic drops the record (counted); the plugin keeps running.
type LogProcessor interface {
	ProcessLog(r *LogRecord, req *Request) bool
}

// LogProcessorFactory builds a plugin instance's log processor from its
// config, as ProcessorFactory does for spans: nil when the config does not
// ask for it; an error (naming the config field) refuses the instance.
type LogProcessorFactory func(cfg *schema.Config) (LogProcessor, error)

var logProcessors = processorRegistry[LogProcessor]{kind: "log processor"}

// The built-in log processors are the span processors' config applied to
// the access log record: static_attributes, then capture_headers.
func init() {
	RegisterLogProcessor("static_attributes", newStaticLogAttributes)
	RegisterLogProcessor("capture_headers", newLogHeaderCapture)
}

// RegisterLogProcessor adds a log processor to every plugin instance of
// this build that writes access logs and whose config its factory accepts.
// Log processors run in registration order, after the built-in ones. Call
// it from an init function; registering a name twice panics, as it is a
// programming error.
func RegisterLogProcessor(name string, f LogProcessorFactory) { logProcessors.register(name, f) }

// LogProcessors is the log processor chain of one plugin instance.
type LogProcessors struct {
	stats *LogProcessorStats
	processorChain[LogProcessor]
}

// NewLogProcessors builds the chain cfg asks for, counting into stats. It
// returns nil, and no error, when no log processor applies.
func NewLogProcessors(cfg *schema.Config, stats *LogProcessorStats) (*LogProcessors, error) {
	chain, err := logProcessors.build(cfg, "log processor")
	if err != nil || len(chain.list) == 0 {
		return nil, err
	}
	return &LogProcessors{stats: stats, processorChain: chain}, nil
}

// LogProcessorStats counts what log processors did; the chains of one
// process share one.
type LogProcessorStats struct {
	Dropped atomic.Uint64 // records a processor dropped (a panic included)
	Panics  atomic.Uint64 // processor panics

	panicLog sync.Once
	panics   *ThrottledLog
}

func (s *LogProcessorStats) logPanic(processor string, r any) {
	s.panicLog.Do(func() {
		s.panics = NewThrottledLog(slog.Default(), slog.LevelError, "log processor panicked; the access log record was dropped", 10*time.Second)
	})
	s.panics.Log(slog.String("processor", processor), slog.Any("panic", r))
}

// Process runs the chain and reports whether the record is kept. A
// panicking processor drops the record: half processed, it may lack a
// redaction the processor promised.
func (c *LogProcessors) Process(r *LogRecord, req *Request) (keep bool) {
	current := ""
	defer func() {
		if p := recover(); p != nil {
			c.stats.Panics.Add(1)
			c.stats.Dropped.Add(1)
			c.stats.logPanic(current, p)
			keep = false
		}
	}()
	for _, p := range c.list {
		current = p.name
		if !p.p.ProcessLog(r, req) {
			c.stats.Dropped.Add(1)
			return false
		}
	}
	return true
}

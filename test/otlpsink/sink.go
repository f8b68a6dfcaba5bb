// Package otlpsink is a small in-process OTLP/HTTP trace receiver for tests
// and the demo: POST /v1/traces with application/x-protobuf or
// application/json (hex ids), optionally gzip, decoded with the official
// OTLP types. It stores what it accepts, counts everything, and can answer
// with injected faults (status codes, Retry-After, delays, partial success,
// connection resets).
//
//	sink := otlpsink.Start(t)                       // closed at cleanup
//	sink.SetResponder(otlpsink.FailFirst(2, otlpsink.Response{Status: 503, RetryAfter: "1"}))
//	export to sink.TracesURL() ...
//	spans, err := sink.WaitTrace(ctx, traceIDHex, 3)
package otlpsink

import (
	"net/http"
	"net/http/httptest"
	"testing"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/protobuf/proto"
)

// TracesPath is the OTLP/HTTP traces path.
const TracesPath = "/v1/traces"

// DefaultMaxBodyBytes bounds a request body, compressed and decompressed.
const DefaultMaxBodyBytes = 32 << 20

// Options configure a Sink. The zero value suits tests.
type Options struct {
	// Responder picks each answer; nil answers plain successes.
	Responder Responder
	// OnRequest is called after each request was answered (from the
	// handler's goroutine; keep it quick). The demo prints traces here.
	OnRequest func(*Request)
	// Discard keeps counters only: no requests or spans are retained (for
	// long runs and load). WaitTrace, Spans, Traces then see nothing.
	Discard bool
	// MaxBodyBytes defaults to DefaultMaxBodyBytes.
	MaxBodyBytes int64
}

// Sink is a running OTLP/HTTP receiver.
type Sink struct {
	receiver[*Request, *coltracepb.ExportTraceServiceRequest]

	// Guarded by mu.
	spans      []Span
	byTrace    map[string][]int // trace id (hex) → indexes into spans
	traceOrder []string
}

// Start runs a sink on a free loopback port, closed at test cleanup.
func Start(t testing.TB) *Sink { return StartOptions(t, Options{}) }

// StartOptions is Start with options.
func StartOptions(t testing.TB, opts Options) *Sink {
	t.Helper()
	return startOn(t, func(addr string) (*Sink, error) { return Listen(addr, opts) })
}

// StartTLS runs a sink over HTTPS with a self-signed certificate; use
// Client or Certificate to trust it. Closed at test cleanup.
func StartTLS(t testing.TB, opts Options) *Sink {
	t.Helper()
	s := newSink(opts)
	s.srv = httptest.NewUnstartedServer(s)
	s.srv.StartTLS()
	t.Cleanup(s.Close)
	return s
}

// Listen runs a sink on addr (host:port; port 0 picks a free one). Only
// loopback addresses are accepted: the sink is a test and demo tool and
// must not be reachable from the network. The caller must Close it.
func Listen(addr string, opts Options) (*Sink, error) {
	s := newSink(opts)
	if err := s.listen(addr); err != nil {
		return nil, err
	}
	return s, nil
}

func newSink(opts Options) *Sink {
	s := &Sink{byTrace: map[string][]int{}}
	s.path, s.decode, s.success, s.store = TracesPath, decodeExport, traceSuccess, s.storeSpans
	s.finish = func(r *Request, export *coltracepb.ExportTraceServiceRequest) *Request {
		r.Export = export
		return r
	}
	s.init(opts.Responder, opts.OnRequest, opts.Discard, opts.MaxBodyBytes)
	return s
}

// traceSuccess is the 2xx answer to a trace export.
func traceSuccess(resp Response) proto.Message {
	out := &coltracepb.ExportTraceServiceResponse{}
	if resp.RejectedSpans != 0 || resp.PartialMessage != "" {
		out.PartialSuccess = &coltracepb.ExportTracePartialSuccess{
			RejectedSpans: resp.RejectedSpans,
			ErrorMessage:  resp.PartialMessage,
		}
	}
	return out
}

// TracesURL is the endpoint to export to: URL() + "/v1/traces".
func (s *Sink) TracesURL() string { return s.srv.URL + TracesPath }

// Client is an HTTP client that trusts the sink (for StartTLS).
func (s *Sink) Client() *http.Client { return s.srv.Client() }

// Server exposes the underlying test server (its Certificate for TLS tests).
func (s *Sink) Server() *httptest.Server { return s.srv }

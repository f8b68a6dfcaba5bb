package otlpsink

import (
	"context"
	"encoding/hex"
	"fmt"
	"net/http"
	"time"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
)

// DefaultWaitTimeout bounds the Wait methods when their context has no deadline.
const DefaultWaitTimeout = 10 * time.Second

// Request is one POST /v1/traces as the sink saw and answered it. It is
// not changed after the handler finishes.
type Request struct {
	Seq         int // 1-based arrival number
	Received    time.Time
	Header      http.Header
	ContentType string
	Encoding    Encoding // "" when the Content-Type was not supported
	Gzip        bool
	WireBytes   int64 // body bytes as sent (compressed if gzip)
	BodyBytes   int64 // decoded payload bytes (after gunzip)
	// Export is the decoded payload; nil when it was not read or not valid.
	Export *coltracepb.ExportTraceServiceRequest
	// Err says why the request was refused (bad media type, bad gzip, bad
	// protobuf/JSON, bad ids, too large), or that the client gave up.
	Err error
	// Response is what the Responder chose; Status is what was sent (0 when
	// the connection was reset instead).
	Response Response
	Status   int
	Accepted bool // its spans were stored

	invalid bool // refused for its payload (counted in Stats.Invalid)
}

// SpanCount is the number of spans in the decoded payload.
func (r *Request) SpanCount() int {
	n := 0
	for _, rs := range r.Export.GetResourceSpans() {
		for _, ss := range rs.GetScopeSpans() {
			n += len(ss.GetSpans())
		}
	}
	return n
}

// Span is one received span with the resource and scope it came with.
type Span struct {
	*tracepb.Span
	Resource   *resourcepb.Resource
	Scope      *commonpb.InstrumentationScope
	RequestSeq int // which Request carried it
}

// TraceID is the span's trace id in hex.
func (s Span) TraceID() string { return hex.EncodeToString(s.GetTraceId()) }

// SpanID is the span's id in hex.
func (s Span) SpanID() string { return hex.EncodeToString(s.GetSpanId()) }

// ParentSpanID is the parent's span id in hex ("" for a root span).
func (s Span) ParentSpanID() string { return hex.EncodeToString(s.GetParentSpanId()) }

// ServiceName is the resource's service.name ("" if absent).
func (s Span) ServiceName() string {
	if v, ok := findAttr(s.Resource.GetAttributes(), "service.name"); ok {
		return v.GetStringValue()
	}
	return ""
}

// Attr returns the span attribute named key.
func (s Span) Attr(key string) (*commonpb.AnyValue, bool) {
	return findAttr(s.GetAttributes(), key)
}

func findAttr(kvs []*commonpb.KeyValue, key string) (*commonpb.AnyValue, bool) {
	for _, kv := range kvs {
		if kv.GetKey() == key {
			return kv.GetValue(), true
		}
	}
	return nil, false
}

// Trace is the stored spans of one trace id, in arrival order.
type Trace struct {
	TraceID string
	Spans   []Span
}

// Stats are the sink's counters since start (or the last Clear).
type Stats struct {
	Requests  int64 // every POST to /v1/traces, whatever the answer
	Accepted  int64 // answered 2xx, spans stored
	Refused   int64 // answered non-2xx, reset, or abandoned by the client
	Invalid   int64 // refused because the payload could not be read or decoded
	Spans     int64 // spans stored
	WireBytes int64 // request body bytes received, as sent
	BodyBytes int64 // the same, decompressed
}

// flatten lists the spans of an export request with their resource and scope.
func flatten(seq int, req *coltracepb.ExportTraceServiceRequest) []Span {
	var out []Span
	for _, rs := range req.GetResourceSpans() {
		for _, ss := range rs.GetScopeSpans() {
			for _, sp := range ss.GetSpans() {
				out = append(out, Span{Span: sp, Resource: rs.GetResource(), Scope: ss.GetScope(), RequestSeq: seq})
			}
		}
	}
	return out
}

// storeSpans keeps an accepted request's spans, indexed by trace, and
// returns how many it carried (receiver.store, under mu).
func (s *Sink) storeSpans(r *Request) int64 {
	spans := flatten(r.Seq, r.Export)
	if !s.discard {
		for _, sp := range spans {
			id := sp.TraceID()
			if _, ok := s.byTrace[id]; !ok {
				s.traceOrder = append(s.traceOrder, id)
			}
			s.byTrace[id] = append(s.byTrace[id], len(s.spans))
			s.spans = append(s.spans, sp)
		}
	}
	return int64(len(spans))
}

// Stats returns the counters.
func (s *Sink) Stats() Stats { return s.counters() }

// Requests returns every request received, in arrival order.
func (s *Sink) Requests() []*Request { return s.requestList() }

// Spans returns every stored span, in arrival order.
func (s *Sink) Spans() []Span {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Span(nil), s.spans...)
}

// TraceSpans returns the stored spans of one trace (hex id).
func (s *Sink) TraceSpans(traceID string) []Span {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.traceSpansLocked(traceID)
}

func (s *Sink) traceSpansLocked(traceID string) []Span {
	idx := s.byTrace[traceID]
	out := make([]Span, len(idx))
	for i, j := range idx {
		out[i] = s.spans[j]
	}
	return out
}

// Traces returns the stored spans grouped by trace, traces in the order
// their first span arrived.
func (s *Sink) Traces() []Trace {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Trace, len(s.traceOrder))
	for i, id := range s.traceOrder {
		out[i] = Trace{TraceID: id, Spans: s.traceSpansLocked(id)}
	}
	return out
}

// Clear forgets stored requests and spans and zeroes the counters.
// Arrival numbers (Seq) keep counting.
func (s *Sink) Clear() {
	s.clear(func() {
		s.spans, s.traceOrder = nil, nil
		s.byTrace = map[string][]int{}
	})
}

// WaitSpans waits until at least n spans are stored and returns them all.
func (s *Sink) WaitSpans(ctx context.Context, n int) ([]Span, error) {
	err := s.waitUntil(ctx, func() bool { return s.stats.Spans >= int64(n) },
		func() string { return fmt.Sprintf("%d spans stored, want %d", s.stats.Spans, n) })
	return s.Spans(), err
}

// WaitTrace waits until at least n spans of the trace (hex id) are stored.
func (s *Sink) WaitTrace(ctx context.Context, traceID string, n int) ([]Span, error) {
	err := s.waitUntil(ctx, func() bool { return len(s.byTrace[traceID]) >= n },
		func() string {
			return fmt.Sprintf("trace %s: %d spans stored, want %d", traceID, len(s.byTrace[traceID]), n)
		})
	return s.TraceSpans(traceID), err
}

// WaitRequests waits until at least n requests were handled (whatever the
// answer) and returns them all.
func (s *Sink) WaitRequests(ctx context.Context, n int) ([]*Request, error) {
	return s.waitRequests(ctx, n)
}

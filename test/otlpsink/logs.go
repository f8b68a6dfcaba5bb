package otlpsink

import (
	"context"
	"encoding/hex"
	"fmt"
	"net/http"
	"testing"
	"time"

	collogspb "go.opentelemetry.io/proto/otlp/collector/logs/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	logspb "go.opentelemetry.io/proto/otlp/logs/v1"
	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"
	"google.golang.org/protobuf/proto"
)

// LogsPath is the OTLP/HTTP logs path.
const LogsPath = "/v1/logs"

// LogSink is the logs counterpart of Sink: an in-process OTLP/HTTP receiver
// of POST /v1/logs (protobuf or JSON with hex ids, optionally gzip),
// decoded with the official OTLP types, storing the log records it accepts
// and answering with the same injected faults (a Responder sees the
// request's Seq, Header and ContentType).
//
//	logs := otlpsink.StartLogs(t)
//	export to logs.LogsURL() ...
//	recs, err := logs.WaitRecords(ctx, 3)
type LogSink struct {
	receiver[*LogRequest, *collogspb.ExportLogsServiceRequest]

	records []LogRecord // guarded by mu
}

// LogOptions configure a LogSink. The zero value suits tests.
type LogOptions struct {
	Responder Responder
	// OnRequest is called after each request was answered.
	OnRequest func(*LogRequest)
	// Discard keeps counters only.
	Discard      bool
	MaxBodyBytes int64
}

// LogRequest is one POST /v1/logs as the sink saw and answered it.
type LogRequest struct {
	Seq         int
	Received    time.Time
	Header      http.Header
	ContentType string
	Encoding    Encoding
	Gzip        bool
	WireBytes   int64
	BodyBytes   int64
	// Export is the decoded payload; nil when it was not read or not valid.
	Export   *collogspb.ExportLogsServiceRequest
	Err      error
	Response Response
	Status   int
	Accepted bool // its records were stored
}

// RecordCount is the number of log records in the decoded payload.
func (r *LogRequest) RecordCount() int {
	n := 0
	for _, rl := range r.Export.GetResourceLogs() {
		for _, sl := range rl.GetScopeLogs() {
			n += len(sl.GetLogRecords())
		}
	}
	return n
}

// LogRecord is one received log record with the resource and scope it
// came with.
type LogRecord struct {
	*logspb.LogRecord
	Resource   *resourcepb.Resource
	Scope      *commonpb.InstrumentationScope
	RequestSeq int
}

// TraceID is the record's trace id in hex ("" when it has none).
func (r LogRecord) TraceID() string { return hex.EncodeToString(r.GetTraceId()) }

// SpanID is the record's span id in hex ("" when it has none).
func (r LogRecord) SpanID() string { return hex.EncodeToString(r.GetSpanId()) }

// Attr returns the record attribute named key.
func (r LogRecord) Attr(key string) (*commonpb.AnyValue, bool) {
	return findAttr(r.GetAttributes(), key)
}

// ResourceAttr returns the resource attribute named key.
func (r LogRecord) ResourceAttr(key string) (*commonpb.AnyValue, bool) {
	return findAttr(r.Resource.GetAttributes(), key)
}

// LogStats are the log sink's counters since start (or the last Clear).
type LogStats struct {
	Requests  int64
	Accepted  int64
	Refused   int64
	Invalid   int64
	Records   int64 // log records stored
	WireBytes int64
	BodyBytes int64
}

// StartLogs runs a log sink on a free loopback port, closed at test cleanup.
func StartLogs(t testing.TB) *LogSink { return StartLogsOptions(t, LogOptions{}) }

// StartLogsOptions is StartLogs with options.
func StartLogsOptions(t testing.TB, opts LogOptions) *LogSink {
	t.Helper()
	return startOn(t, func(addr string) (*LogSink, error) { return ListenLogs(addr, opts) })
}

// ListenLogs runs a log sink on addr (loopback only; port 0 picks a free
// one). The caller must Close it.
func ListenLogs(addr string, opts LogOptions) (*LogSink, error) {
	s := &LogSink{}
	s.path, s.decode, s.success, s.finish, s.store = LogsPath, decodeLogs, logsSuccess, logRequestOf, s.storeRecords
	s.init(opts.Responder, opts.OnRequest, opts.Discard, opts.MaxBodyBytes)
	if err := s.listen(addr); err != nil {
		return nil, err
	}
	return s, nil
}

// LogsURL is the endpoint to export to: URL() + "/v1/logs".
func (s *LogSink) LogsURL() string { return s.srv.URL + LogsPath }

// logsSuccess is the 2xx answer to a logs export; Response.RejectedSpans
// counts rejected log records here.
func logsSuccess(resp Response) proto.Message {
	out := &collogspb.ExportLogsServiceResponse{}
	if resp.RejectedSpans != 0 || resp.PartialMessage != "" {
		out.PartialSuccess = &collogspb.ExportLogsPartialSuccess{
			RejectedLogRecords: resp.RejectedSpans,
			ErrorMessage:       resp.PartialMessage,
		}
	}
	return out
}

// logRequestOf is the LogRequest of a finished request.
func logRequestOf(r *Request, export *collogspb.ExportLogsServiceRequest) *LogRequest {
	return &LogRequest{
		Seq: r.Seq, Received: r.Received, Header: r.Header, ContentType: r.ContentType,
		Encoding: r.Encoding, Gzip: r.Gzip, WireBytes: r.WireBytes, BodyBytes: r.BodyBytes,
		Export: export, Err: r.Err, Response: r.Response, Status: r.Status, Accepted: r.Accepted,
	}
}

// decodeLogs parses a logs export request and checks its ids.
func decodeLogs(body []byte, enc Encoding) (*collogspb.ExportLogsServiceRequest, error) {
	return decodeChecked(body, enc, &collogspb.ExportLogsServiceRequest{}, validateLogIDs)
}

// validateLogIDs: a log record's trace and span ids are optional, but
// never of the wrong length or all zeros when present.
func validateLogIDs(req *collogspb.ExportLogsServiceRequest) error {
	for ri, rl := range req.GetResourceLogs() {
		for si, sl := range rl.GetScopeLogs() {
			for i, lr := range sl.GetLogRecords() {
				if err := checkID("traceId", lr.GetTraceId(), 16, true); err != nil {
					return fmt.Errorf("resourceLogs[%d].scopeLogs[%d].logRecords[%d]: %w", ri, si, i, err)
				}
				if err := checkID("spanId", lr.GetSpanId(), 8, true); err != nil {
					return fmt.Errorf("resourceLogs[%d].scopeLogs[%d].logRecords[%d]: %w", ri, si, i, err)
				}
			}
		}
	}
	return nil
}

// storeRecords keeps an accepted request's records and returns how many it
// carried (receiver.store, under mu).
func (s *LogSink) storeRecords(r *LogRequest) int64 {
	var n int64
	for _, rl := range r.Export.GetResourceLogs() {
		for _, sl := range rl.GetScopeLogs() {
			for _, lr := range sl.GetLogRecords() {
				n++
				if !s.discard {
					s.records = append(s.records, LogRecord{LogRecord: lr, Resource: rl.GetResource(), Scope: sl.GetScope(), RequestSeq: r.Seq})
				}
			}
		}
	}
	return n
}

// Stats returns the counters.
func (s *LogSink) Stats() LogStats {
	st := s.counters()
	return LogStats{Requests: st.Requests, Accepted: st.Accepted, Refused: st.Refused, Invalid: st.Invalid,
		Records: st.Spans, WireBytes: st.WireBytes, BodyBytes: st.BodyBytes}
}

// Requests returns every request received, in arrival order.
func (s *LogSink) Requests() []*LogRequest { return s.requestList() }

// Records returns every stored log record, in arrival order.
func (s *LogSink) Records() []LogRecord {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]LogRecord(nil), s.records...)
}

// Clear forgets stored requests and records and zeroes the counters.
func (s *LogSink) Clear() { s.clear(func() { s.records = nil }) }

// WaitRecords waits until at least n records are stored and returns them all.
func (s *LogSink) WaitRecords(ctx context.Context, n int) ([]LogRecord, error) {
	err := s.waitUntil(ctx, func() bool { return s.stats.Spans >= int64(n) },
		func() string { return fmt.Sprintf("%d log records stored, want %d", s.stats.Spans, n) })
	return s.Records(), err
}

// WaitRequests waits until at least n requests were handled.
func (s *LogSink) WaitRequests(ctx context.Context, n int) ([]*LogRequest, error) {
	return s.waitRequests(ctx, n)
}

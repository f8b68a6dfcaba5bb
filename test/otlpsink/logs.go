package otlpsink

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"

	collogspb "go.opentelemetry.io/proto/otlp/collector/logs/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	logspb "go.opentelemetry.io/proto/otlp/logs/v1"
	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"
	statuspb "google.golang.org/genproto/googleapis/rpc/status"
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
	srv     *httptest.Server
	opts    LogOptions
	closing chan struct{}
	closeMu sync.Once

	mu        sync.Mutex
	responder Responder
	seq       int
	stats     LogStats
	requests  []*LogRequest
	records   []LogRecord
	changed   chan struct{}
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

	invalid bool
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
	s, err := ListenLogs("127.0.0.1:0", opts)
	if err != nil {
		t.Fatalf("otlpsink: %v", err)
	}
	t.Cleanup(s.Close)
	return s
}

// ListenLogs runs a log sink on addr (loopback only; port 0 picks a free
// one). The caller must Close it.
func ListenLogs(addr string, opts LogOptions) (*LogSink, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("listen address %q: %w", addr, err)
	}
	if !isLoopback(host) {
		return nil, fmt.Errorf("listen address %q: only loopback hosts (127.0.0.1, ::1, localhost) are allowed", addr)
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	if opts.MaxBodyBytes <= 0 {
		opts.MaxBodyBytes = DefaultMaxBodyBytes
	}
	s := &LogSink{opts: opts, responder: opts.Responder, closing: make(chan struct{}), changed: make(chan struct{})}
	s.srv = &httptest.Server{Listener: l, Config: &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second}}
	s.srv.Start()
	return s, nil
}

// URL is the base URL.
func (s *LogSink) URL() string { return s.srv.URL }

// LogsURL is the endpoint to export to: URL() + "/v1/logs".
func (s *LogSink) LogsURL() string { return s.srv.URL + LogsPath }

// Addr is the listening host:port.
func (s *LogSink) Addr() string { return s.srv.Listener.Addr().String() }

// SetResponder replaces the Responder for requests arriving from now on.
func (s *LogSink) SetResponder(r Responder) {
	s.mu.Lock()
	s.responder = r
	s.mu.Unlock()
}

// Close stops the sink; safe to call more than once.
func (s *LogSink) Close() {
	s.closeMu.Do(func() {
		close(s.closing)
		s.srv.CloseClientConnections()
		s.srv.Close()
	})
}

// ServeHTTP handles one request; every POST to LogsPath is recorded.
func (s *LogSink) ServeHTTP(w http.ResponseWriter, hr *http.Request) {
	if hr.URL.Path != LogsPath {
		http.Error(w, "otlpsink serves only "+LogsPath, http.StatusNotFound)
		return
	}
	if hr.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "use POST", http.StatusMethodNotAllowed)
		return
	}
	s.mu.Lock()
	s.seq++
	r := &LogRequest{Seq: s.seq, Received: time.Now(), Header: hr.Header.Clone(), ContentType: hr.Header.Get("Content-Type")}
	responder := s.responder
	s.mu.Unlock()
	recorded := false
	defer func() {
		if !recorded {
			s.record(r)
		}
		if s.opts.OnRequest != nil {
			s.opts.OnRequest(r)
		}
	}()
	if responder != nil {
		r.Response = responder(&Request{Seq: r.Seq, Received: r.Received, Header: r.Header, ContentType: r.ContentType})
	}
	if r.Response.Reset == ResetBeforeBody {
		r.Err = errors.New("connection reset before the body by the responder")
		resetConn(w)
		return
	}
	enc, err := encodingOf(r.ContentType)
	if err == nil {
		r.Encoding = enc
		r.Gzip, err = isGzip(hr.Header.Get("Content-Encoding"))
	}
	if err != nil {
		recorded = s.answerLogs(w, r, http.StatusUnsupportedMediaType, err)
		return
	}
	body, wire, err := readBody(hr.Body, r.Gzip, s.opts.MaxBodyBytes)
	r.WireBytes, r.BodyBytes = wire, int64(len(body))
	if err != nil {
		status := http.StatusBadRequest
		if errors.Is(err, errTooLarge) {
			status = http.StatusRequestEntityTooLarge
		}
		recorded = s.answerLogs(w, r, status, err)
		return
	}
	if r.Export, err = decodeLogs(body, enc); err != nil {
		recorded = s.answerLogs(w, r, http.StatusBadRequest, err)
		return
	}
	if r.Response.Reset == ResetAfterBody {
		r.Err = errors.New("connection reset after the body by the responder")
		resetConn(w)
		return
	}
	if d := r.Response.Delay; d > 0 {
		t := time.NewTimer(d)
		select {
		case <-t.C:
		case <-hr.Context().Done():
			t.Stop()
			r.Err = fmt.Errorf("client gave up during the %v delay: %w", d, hr.Context().Err())
			return
		case <-s.closing:
			t.Stop()
			r.Err = errors.New("sink closed during the delay")
			return
		}
	}
	recorded = s.answerLogs(w, r, 0, nil)
}

// answerLogs sends a refusal (refused set: the payload could not be read)
// or the Responder's answer, recording the request before the answer goes
// out so a client that saw the 200 also sees the records stored.
func (s *LogSink) answerLogs(w http.ResponseWriter, r *LogRequest, refused int, refusal error) bool {
	status, msg := refused, ""
	if refusal != nil {
		r.Err, r.invalid, msg = refusal, true, refusal.Error()
	} else {
		for k, vs := range r.Response.Header {
			for _, v := range vs {
				w.Header().Add(k, v)
			}
		}
		if r.Response.RetryAfter != "" {
			w.Header().Set("Retry-After", r.Response.RetryAfter)
		}
		status = r.Response.Status
		if status == 0 {
			status = http.StatusOK
		}
		msg = r.Response.Message
		if msg == "" {
			msg = "otlpsink: injected " + strconv.Itoa(status)
		}
	}
	var m proto.Message = &statuspb.Status{Code: grpcCodeFor(status), Message: msg}
	if status >= 200 && status <= 299 {
		out := &collogspb.ExportLogsServiceResponse{}
		if r.Response.RejectedSpans != 0 || r.Response.PartialMessage != "" {
			out.PartialSuccess = &collogspb.ExportLogsPartialSuccess{
				RejectedLogRecords: r.Response.RejectedSpans, ErrorMessage: r.Response.PartialMessage}
		}
		m, r.Accepted = out, true
	}
	var body []byte
	var err error
	if r.Encoding == JSON {
		body, err = MarshalJSON(m)
	} else {
		body, err = proto.Marshal(m)
	}
	if err != nil {
		status, r.Accepted, r.Err = http.StatusInternalServerError, false, fmt.Errorf("encode answer: %w", err)
		body = []byte("otlpsink: " + r.Err.Error())
	}
	r.Status = status
	s.record(r)
	w.Header().Set("Content-Type", r.Encoding.ContentType())
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	w.Write(body)
	return true
}

// decodeLogs parses an export request and checks its ids: a log record's
// trace and span ids are optional, but never of the wrong length or all
// zeros when present.
func decodeLogs(body []byte, enc Encoding) (*collogspb.ExportLogsServiceRequest, error) {
	req := &collogspb.ExportLogsServiceRequest{}
	var err error
	if enc == JSON {
		err = UnmarshalJSON(body, req)
	} else {
		err = proto.Unmarshal(body, req)
	}
	if err != nil {
		return nil, fmt.Errorf("decode OTLP %s: %w", enc, err)
	}
	for ri, rl := range req.GetResourceLogs() {
		for si, sl := range rl.GetScopeLogs() {
			for i, lr := range sl.GetLogRecords() {
				if err := checkID("traceId", lr.GetTraceId(), 16, true); err != nil {
					return nil, fmt.Errorf("resourceLogs[%d].scopeLogs[%d].logRecords[%d]: %w", ri, si, i, err)
				}
				if err := checkID("spanId", lr.GetSpanId(), 8, true); err != nil {
					return nil, fmt.Errorf("resourceLogs[%d].scopeLogs[%d].logRecords[%d]: %w", ri, si, i, err)
				}
			}
		}
	}
	return req, nil
}

func (s *LogSink) record(r *LogRequest) {
	s.mu.Lock()
	s.stats.Requests++
	s.stats.WireBytes += r.WireBytes
	s.stats.BodyBytes += r.BodyBytes
	switch {
	case r.Accepted:
		s.stats.Accepted++
	case r.invalid:
		s.stats.Invalid++
		s.stats.Refused++
	default:
		s.stats.Refused++
	}
	if r.Accepted {
		for _, rl := range r.Export.GetResourceLogs() {
			for _, sl := range rl.GetScopeLogs() {
				for _, lr := range sl.GetLogRecords() {
					s.stats.Records++
					if !s.opts.Discard {
						s.records = append(s.records, LogRecord{LogRecord: lr, Resource: rl.GetResource(), Scope: sl.GetScope(), RequestSeq: r.Seq})
					}
				}
			}
		}
	}
	if !s.opts.Discard {
		s.requests = append(s.requests, r)
	}
	close(s.changed)
	s.changed = make(chan struct{})
	s.mu.Unlock()
}

// Stats returns the counters.
func (s *LogSink) Stats() LogStats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stats
}

// Requests returns every request received, in arrival order.
func (s *LogSink) Requests() []*LogRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]*LogRequest(nil), s.requests...)
}

// Records returns every stored log record, in arrival order.
func (s *LogSink) Records() []LogRecord {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]LogRecord(nil), s.records...)
}

// Clear forgets stored requests and records and zeroes the counters.
func (s *LogSink) Clear() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests, s.records, s.stats = nil, nil, LogStats{}
}

// WaitRecords waits until at least n records are stored and returns them all.
func (s *LogSink) WaitRecords(ctx context.Context, n int) ([]LogRecord, error) {
	err := s.waitUntil(ctx, func() bool { return s.stats.Records >= int64(n) },
		func() string { return fmt.Sprintf("%d log records stored, want %d", s.stats.Records, n) })
	return s.Records(), err
}

// WaitRequests waits until at least n requests were handled.
func (s *LogSink) WaitRequests(ctx context.Context, n int) ([]*LogRequest, error) {
	err := s.waitUntil(ctx, func() bool { return int(s.stats.Requests) >= n },
		func() string { return fmt.Sprintf("%d requests handled, want %d", s.stats.Requests, n) })
	return s.Requests(), err
}

func (s *LogSink) waitUntil(ctx context.Context, cond func() bool, state func() string) error {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, DefaultWaitTimeout)
		defer cancel()
	}
	start := time.Now()
	for {
		s.mu.Lock()
		ok := cond()
		changed := s.changed
		s.mu.Unlock()
		if ok {
			return nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			s.mu.Lock()
			msg := state()
			s.mu.Unlock()
			return fmt.Errorf("otlpsink: after %v: %s: %w", time.Since(start).Round(time.Millisecond), msg, ctx.Err())
		}
	}
}

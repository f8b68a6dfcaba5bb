package harness

import (
	"context"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/trace-exporter/trace-exporter/test/jaegertest"
)

// Traceparent is a parsed W3C traceparent header.
type Traceparent struct {
	TraceID, ParentID string // lowercase hex
	Flags             byte
}

// Sampled reports the sampled flag.
func (t Traceparent) Sampled() bool { return t.Flags&1 == 1 }

// ParseTraceparent parses a version-00 traceparent strictly.
func ParseTraceparent(v string) (Traceparent, error) {
	parts := strings.Split(strings.TrimSpace(v), "-")
	if len(parts) != 4 || parts[0] != "00" || len(parts[1]) != 32 || len(parts[2]) != 16 || len(parts[3]) != 2 {
		return Traceparent{}, fmt.Errorf("traceparent %q: want 00-<32 hex>-<16 hex>-<2 hex>", v)
	}
	for _, p := range parts[1:] {
		if _, err := hex.DecodeString(p); err != nil || strings.ToLower(p) != p {
			return Traceparent{}, fmt.Errorf("traceparent %q: not lowercase hex", v)
		}
	}
	f, _ := hex.DecodeString(parts[3])
	return Traceparent{TraceID: parts[1], ParentID: parts[2], Flags: f[0]}, nil
}

// Response is a finished client request.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// Do sends one request and reads the whole answer (bounded by 30 s).
func Do(tb testing.TB, method, url string, header http.Header) Response {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, url, nil)
	if err != nil {
		tb.Fatal(err)
	}
	for k, vs := range header {
		req.Header[k] = vs
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		tb.Fatalf("%s %s: reading the body: %v", method, url, err)
	}
	return Response{Status: resp.StatusCode, Header: resp.Header, Body: body}
}

// RawTrace fetches a trace's JSON exactly as Jaeger's query API returns it
// (to search it for text that must never be exported).
func RawTrace(ctx context.Context, j *jaegertest.Jaeger, traceID string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, j.QueryURL()+"/api/traces/"+traceID+"?raw=true", nil)
	if err != nil {
		return "", err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("GET trace %s: HTTP %d: %.200s", traceID, resp.StatusCode, b)
	}
	return string(b), nil
}

// LogRecorder is a slog.Handler that keeps every record, so a test can wait
// for what the emulator logged (a plugin server's exit status, say).
type LogRecorder struct {
	mu      sync.Mutex
	records []LogRecord
	changed chan struct{}
	next    slog.Handler // optional copy (verbose runs)
}

// LogRecord is one kept record with its attributes rendered as text.
type LogRecord struct {
	Level   slog.Level
	Message string
	Attrs   map[string]string
}

// NewLogRecorder returns a recorder; next, if not nil, also gets each record.
func NewLogRecorder(next slog.Handler) *LogRecorder {
	return &LogRecorder{changed: make(chan struct{}), next: next}
}

func (l *LogRecorder) Enabled(context.Context, slog.Level) bool { return true }

func (l *LogRecorder) Handle(ctx context.Context, r slog.Record) error {
	rec := LogRecord{Level: r.Level, Message: r.Message, Attrs: map[string]string{}}
	r.Attrs(func(a slog.Attr) bool {
		rec.Attrs[a.Key] = a.Value.String()
		return true
	})
	l.mu.Lock()
	l.records = append(l.records, rec)
	close(l.changed)
	l.changed = make(chan struct{})
	l.mu.Unlock()
	if l.next != nil && l.next.Enabled(ctx, r.Level) {
		return l.next.Handle(ctx, r)
	}
	return nil
}

// WithAttrs and WithGroup are not used by the emulator's logging; records
// keep only their own attributes.
func (l *LogRecorder) WithAttrs([]slog.Attr) slog.Handler { return l }
func (l *LogRecorder) WithGroup(string) slog.Handler      { return l }

// Wait returns the first record that match accepts, waiting until ctx ends.
func (l *LogRecorder) Wait(ctx context.Context, match func(LogRecord) bool) (LogRecord, error) {
	for {
		l.mu.Lock()
		for _, r := range l.records {
			if match(r) {
				l.mu.Unlock()
				return r, nil
			}
		}
		ch := l.changed
		l.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return LogRecord{}, ctx.Err()
		}
	}
}

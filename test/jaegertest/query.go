package jaegertest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// ErrTraceNotFound is returned (wrapped) when Jaeger does not know a trace id.
var ErrTraceNotFound = errors.New("trace not found")

// DefaultWaitTimeout bounds WaitTrace when its context has no deadline.
const DefaultWaitTimeout = 10 * time.Second

// pollInterval is how often WaitTrace asks again: Jaeger's reads are
// eventually consistent (batch processor at 20 ms in our config).
const pollInterval = 20 * time.Millisecond

// maxResponseBytes bounds what one query answer may hold.
const maxResponseBytes = 64 << 20

// Client reads traces from Jaeger's JSON query API (/api/traces).
type Client struct {
	// QueryURL is the query server's base URL, e.g. http://127.0.0.1:16686.
	QueryURL string
	// HTTP defaults to a client with a 10 s timeout.
	HTTP *http.Client
	// Adjusted asks Jaeger to apply its UI adjusters (clock skew correction,
	// span deduplication, moving library attributes). Off by default so tests
	// see the spans exactly as they were exported.
	Adjusted bool
}

// NewClient returns a client for the query server at queryURL.
func NewClient(queryURL string) *Client {
	return &Client{QueryURL: strings.TrimRight(queryURL, "/"), HTTP: &http.Client{Timeout: 10 * time.Second}}
}

// Trace fetches one trace by hex id. An unknown id gives ErrTraceNotFound.
func (c *Client) Trace(ctx context.Context, traceID string) (*Trace, error) {
	id := normalizeID(traceID, 32)
	if !isHex(id) || len(id) != 32 {
		return nil, fmt.Errorf("trace id %q: want 32 hex digits", traceID)
	}
	q := url.Values{}
	q.Set("raw", strconv.FormatBool(!c.Adjusted))
	body, status, err := c.get(ctx, "/api/traces/"+id, q)
	if err != nil {
		return nil, err
	}
	if status == http.StatusNotFound {
		return nil, fmt.Errorf("trace %s: %w", id, ErrTraceNotFound)
	}
	if status != http.StatusOK {
		return nil, fmt.Errorf("GET trace %s: HTTP %d: %s", id, status, snippet(body))
	}
	traces, err := decodeTraces(body)
	if err != nil {
		return nil, err
	}
	if len(traces) == 0 {
		return nil, fmt.Errorf("trace %s: %w (empty answer)", id, ErrTraceNotFound)
	}
	return traces[0], nil
}

// WaitTrace polls until the trace has at least wantSpans spans, and returns
// it. It gives up when ctx ends, or after DefaultWaitTimeout when ctx has no
// deadline; the error then says how many spans were seen, and the last trace
// read (if any) is returned with it so a test can show what did arrive.
func (c *Client) WaitTrace(ctx context.Context, traceID string, wantSpans int) (*Trace, error) {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, DefaultWaitTimeout)
		defer cancel()
	}
	start := time.Now()
	ticker := time.NewTicker(pollInterval)
	defer ticker.Stop()
	var last *Trace
	for {
		tr, err := c.Trace(ctx, traceID)
		switch {
		case err == nil:
			last = tr
			if len(tr.Spans) >= wantSpans {
				return tr, nil
			}
		case errors.Is(err, ErrTraceNotFound):
			// Not stored yet: keep polling.
		case ctx.Err() == nil:
			// A real failure (bad answer, Jaeger gone) will not heal by waiting.
			return last, err
		}
		select {
		case <-ctx.Done():
			have := 0
			if last != nil {
				have = len(last.Spans)
			}
			return last, fmt.Errorf("trace %s: %d spans after %v, want %d: %w",
				normalizeID(traceID, 32), have, time.Since(start).Round(time.Millisecond), wantSpans, ctx.Err())
		case <-ticker.C:
		}
	}
}

// FindTraces returns up to limit traces that have a span of service, in
// the order Jaeger gives them, whatever their timestamps.
func (c *Client) FindTraces(ctx context.Context, service string, limit int) ([]*Trace, error) {
	if service == "" {
		return nil, errors.New("FindTraces: service is required by Jaeger")
	}
	if limit <= 0 {
		return nil, fmt.Errorf("FindTraces: limit %d, want > 0", limit)
	}
	q := url.Values{}
	q.Set("service", service)
	q.Set("limit", strconv.Itoa(limit))
	// Jaeger searches the last hour by default; tests replaying fixed,
	// older timestamps must still find their traces.
	q.Set("start", "0")
	q.Set("end", strconv.FormatInt(time.Now().Add(24*time.Hour).UnixMicro(), 10))
	q.Set("raw", strconv.FormatBool(!c.Adjusted))
	body, status, err := c.get(ctx, "/api/traces", q)
	if err != nil {
		return nil, err
	}
	if status != http.StatusOK {
		return nil, fmt.Errorf("search service %q: HTTP %d: %s", service, status, snippet(body))
	}
	return decodeTraces(body)
}

// Services lists the service names Jaeger has seen.
func (c *Client) Services(ctx context.Context) ([]string, error) {
	body, status, err := c.get(ctx, "/api/services", nil)
	if err != nil {
		return nil, err
	}
	if status != http.StatusOK {
		return nil, fmt.Errorf("GET services: HTTP %d: %s", status, snippet(body))
	}
	var resp struct {
		Data []string `json:"data"`
	}
	if err := json.Unmarshal(body, &resp); err != nil {
		return nil, fmt.Errorf("decode services: %w", err)
	}
	return resp.Data, nil
}

func (c *Client) get(ctx context.Context, path string, q url.Values) ([]byte, int, error) {
	u := c.QueryURL + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, 0, err
	}
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, 0, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes+1))
	if err != nil {
		return nil, resp.StatusCode, fmt.Errorf("read %s: %w", path, err)
	}
	if len(body) > maxResponseBytes {
		return nil, resp.StatusCode, fmt.Errorf("read %s: answer larger than %d bytes", path, maxResponseBytes)
	}
	return body, resp.StatusCode, nil
}

func snippet(b []byte) string {
	const max = 300
	s := strings.TrimSpace(string(b))
	if len(s) > max {
		s = s[:max] + "…"
	}
	return s
}

func isHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

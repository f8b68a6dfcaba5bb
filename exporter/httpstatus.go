package exporter

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// HTTPError is a backend's non-success HTTP answer.
type HTTPError struct {
	StatusCode int
	Message    string // from the response body (google.rpc.Status message or text), may be empty
}

func (e *HTTPError) Error() string {
	if e.Message == "" {
		return fmt.Sprintf("HTTP %d", e.StatusCode)
	}
	return fmt.Sprintf("HTTP %d: %s", e.StatusCode, e.Message)
}

// ClassifyHTTPStatus turns a non-2xx status into an error per the OTLP/HTTP
// rules, which the other HTTP backends share: 429, 502, 503 and 504 are
// retryable, honouring Retry-After (seconds or an HTTP date); every other
// status (400, 401, 413, 500...) is permanent. now is the time the response
// arrived.
func ClassifyHTTPStatus(code int, header http.Header, message string, now time.Time) error {
	err := &HTTPError{StatusCode: code, Message: message}
	switch code {
	case http.StatusTooManyRequests, http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		after, _ := ParseRetryAfter(header.Get("Retry-After"), now)
		return Retryable(err, after)
	}
	return Permanent(err)
}

// maxRetryAfter keeps an absurd Retry-After from parking a batch for days;
// the retry layer gives up anyway when it exceeds queue.max_retry_time.
const maxRetryAfter = time.Hour

// ParseRetryAfter reads a Retry-After value: delay-seconds or an HTTP date.
func ParseRetryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		if secs < 0 {
			return 0, false
		}
		return min(time.Duration(min(secs, int64(maxRetryAfter/time.Second)))*time.Second, maxRetryAfter), true
	}
	if t, err := http.ParseTime(v); err == nil {
		d := t.Sub(now)
		if d <= 0 {
			// A date in the past means "now"; a tiny delay keeps the
			// server's request distinguishable from no request.
			return time.Millisecond, true
		}
		return min(d, maxRetryAfter), true
	}
	return 0, false
}

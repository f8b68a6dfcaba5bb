package exporter

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/trace-exporter/trace-exporter/exporter/internal/wire"
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

// MaxRetryAfter caps a server-requested delay (Retry-After, gRPC
// RetryInfo): an absurd one must not park a batch for days; the retry layer
// gives up anyway when it exceeds queue.max_retry_time.
const MaxRetryAfter = time.Hour

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
		return min(time.Duration(min(secs, int64(MaxRetryAfter/time.Second)))*time.Second, MaxRetryAfter), true
	}
	if t, err := http.ParseTime(v); err == nil {
		d := t.Sub(now)
		if d <= 0 {
			// A date in the past means "now"; a tiny delay keeps the
			// server's request distinguishable from no request.
			return time.Millisecond, true
		}
		return min(d, MaxRetryAfter), true
	}
	return 0, false
}

// maxErrorMessage bounds what a failure response contributes to our logs.
const maxErrorMessage = 512

// decodeStatusMessage extracts a failure response's message:
// google.rpc.Status.message (protobuf or JSON), else the body as text.
func decodeStatusMessage(body []byte, contentType string) string {
	var msg string
	switch {
	case len(body) == 0:
	case strings.HasPrefix(contentType, "application/x-protobuf"):
		wire.WalkProtoFields(body, func(num protowire.Number, typ protowire.Type, v []byte, _ uint64) {
			if num == 2 && typ == protowire.BytesType {
				msg = string(v)
			}
		})
	case strings.HasPrefix(contentType, "application/json"):
		var s struct {
			Message string `json:"message"`
		}
		if json.Unmarshal(body, &s) == nil && s.Message != "" {
			msg = s.Message
		} else {
			msg = string(body)
		}
	default:
		msg = string(body)
	}
	msg = strings.TrimSpace(strings.ToValidUTF8(msg, "\uFFFD"))
	if len(msg) > maxErrorMessage {
		cut := maxErrorMessage
		for cut > 0 && !utf8.RuneStart(msg[cut]) {
			cut--
		}
		msg = msg[:cut] + "…"
	}
	return msg
}

package otlpsink

import (
	"net/http"
	"strconv"
	"sync"
	"time"
)

// Response says how the sink answers one export request. The zero value is
// a plain success (200, empty partial success).
type Response struct {
	// Status is the HTTP status; 0 means 200. Spans are stored only for 2xx.
	Status int
	// RetryAfter, when set, is sent as the Retry-After header ("2" or an HTTP date).
	RetryAfter string
	// Message goes into the google.rpc.Status body of an error answer.
	Message string
	// RejectedSpans and PartialMessage make a 2xx answer an OTLP partial
	// success. The sink cannot tell which spans the server "rejected", so
	// it still stores them all; tests assert on what the exporter did.
	RejectedSpans  int64
	PartialMessage string
	// Header is added to the answer.
	Header http.Header
	// Delay holds the answer back (after the body was read). It ends early
	// when the client gives up or the sink closes, so tests stay bounded.
	Delay time.Duration
	// Reset drops the TCP connection with an RST instead of answering.
	Reset ResetMode
}

// ResetMode picks when a Response resets the connection.
type ResetMode int

// Reset modes.
const (
	NoReset ResetMode = iota
	// ResetBeforeBody hangs up right after the request headers, with the
	// body unread: the client sees a reset while (or right after) sending.
	ResetBeforeBody
	// ResetAfterBody reads and decodes the body (the request is recorded,
	// its spans are not stored), then hangs up without any answer.
	ResetAfterBody
)

// Responder decides the Response for a request. It runs when the request
// headers have arrived, before the body is read (so it can reset mid-body):
// it sees Seq, Header and ContentType, not the decoded spans. It may be
// called from several goroutines at once.
type Responder func(r *Request) Response

// Always answers every request with resp.
func Always(resp Response) Responder {
	return func(*Request) Response { return resp }
}

// Sequence answers the first request with resps[0], the second with
// resps[1], and so on; requests beyond the list get a plain success.
// Requests are counted in arrival order by the responder itself, so it
// works the same after Sink.Clear.
func Sequence(resps ...Response) Responder {
	var mu sync.Mutex
	n := 0
	return func(*Request) Response {
		mu.Lock()
		defer mu.Unlock()
		i := n
		n++
		if i < len(resps) {
			return resps[i]
		}
		return Response{}
	}
}

// FailFirst answers the first n requests with resp, then succeeds.
func FailFirst(n int, resp Response) Responder {
	resps := make([]Response, n)
	for i := range resps {
		resps[i] = resp
	}
	return Sequence(resps...)
}

func (m ResetMode) String() string {
	switch m {
	case NoReset:
		return "no-reset"
	case ResetBeforeBody:
		return "reset-before-body"
	case ResetAfterBody:
		return "reset-after-body"
	}
	return "reset-mode-" + strconv.Itoa(int(m))
}

// Package exporter moves finished spans from the Kong log handler to a
// backend: the span model, a bounded queue, one batcher per pipeline, retry,
// the optional disk spool and the Exporter interface with one file per
// backend.
//
// Flow: Acquire(cfg) returns a Handle on the pipeline for cfg's backend
// (shared by every plugin instance with the same backend, reaped when idle).
// Handle.Enqueue puts a request's spans in the pipeline's bounded queue
// without ever waiting; the pipeline's batcher cuts batches by size or
// delay and hands them to concurrency_limit workers, which call the
// Exporter through the retry layer. Every span accepted ends up exported or
// dropped with a reason (Stats). ShutdownAll flushes everything within a
// deadline. A backend is one Exporter and a Factory passed to Register
// (built in: otlphttp.go, otlpgrpc.go, zipkin.go, httpjson.go, file.go,
// stdout.go). Before Enqueue, the plugin runs the instance's span
// processors (SpanProcessor, RegisterProcessor) on a request's spans.
package exporter

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Exporter sends batches to one backend. The batcher calls Export from one
// goroutine at a time per pipeline (or up to queue.concurrency_limit when
// that is above 1), and never after Shutdown.
//
// Export must honour ctx (deadline and cancellation), must not keep the
// batch or its spans after returning, and reports the outcome:
//   - nil: the backend has the spans;
//   - an error wrapped by Permanent: never retry (bad request, auth, a batch
//     too large); the spans are dropped and counted;
//   - a *PartialError: the backend took some spans and refused the rest;
//     not retried, the refusals are counted;
//   - any other error (use Retryable to pass a server-requested delay):
//     transient; the retry layer backs off and tries again within
//     queue.max_retry_time.
//
// Shutdown releases connections and files; it is called once.
type Exporter interface {
	Export(ctx context.Context, batch Batch) error
	Shutdown(ctx context.Context) error
}

// PermanentError marks a failure that retrying cannot fix.
type PermanentError struct{ Err error }

func (e *PermanentError) Error() string { return "permanent: " + e.Err.Error() }
func (e *PermanentError) Unwrap() error { return e.Err }

// Permanent wraps err so the retry layer gives up at once.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return &PermanentError{Err: err}
}

// RetryableError is a transient failure, with the delay the server asked for
// (Retry-After, gRPC RetryInfo) when it gave one.
type RetryableError struct {
	Err        error
	RetryAfter time.Duration // 0: use the backoff
}

func (e *RetryableError) Error() string {
	if e.RetryAfter > 0 {
		return fmt.Sprintf("%v (retry after %s)", e.Err, e.RetryAfter)
	}
	return e.Err.Error()
}
func (e *RetryableError) Unwrap() error { return e.Err }

// Retryable wraps err with a server-requested delay.
func Retryable(err error, after time.Duration) error {
	return &RetryableError{Err: err, RetryAfter: after}
}

// PartialError reports an OTLP partial success: Rejected spans were refused
// and must not be sent again.
type PartialError struct {
	Rejected int64
	Message  string
}

func (e *PartialError) Error() string {
	return fmt.Sprintf("backend rejected %d spans: %s", e.Rejected, e.Message)
}

// IsPermanent reports whether err must not be retried.
func IsPermanent(err error) bool {
	var p *PermanentError
	var partial *PartialError
	return errors.As(err, &p) || errors.As(err, &partial)
}

// RetryDelay returns the server-requested delay carried by err, if any.
func RetryDelay(err error) (time.Duration, bool) {
	var r *RetryableError
	if errors.As(err, &r) && r.RetryAfter > 0 {
		return r.RetryAfter, true
	}
	return 0, false
}

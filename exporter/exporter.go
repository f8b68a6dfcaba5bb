// Package exporter is the contract between the plugin and the backends: the
// span model (Span, Batch, Resource), the Exporter interface and its error
// kinds (Permanent, Retryable, PartialError), the registries of backends
// (Register) and span processors (RegisterProcessor), the HTTPSender every
// HTTP backend shares, and the pipelines that move a request's spans from
// Kong's log handler to a backend (Registry, Handle, Stats).
//
// Flow: Registry.Acquire(cfg) returns a Handle on the pipeline for cfg's
// backend (shared by every plugin instance with the same backend, reaped
// when idle). Handle.Enqueue offers a request's spans to the pipeline's
// source — a bounded memory queue, or a disk spool in front of it — without
// ever waiting; concurrency_limit workers read batches from the source (by
// size or delay), export each through the retry layer and the circuit
// breaker, and settle it. Every span accepted ends up exported, dropped
// with one reason (Stats), or left in the spool for the next process.
// Registry.ShutdownAll flushes everything within a deadline.
//
// Layers: this package never imports a backend. Backends live one per
// package under exporter/ (otlphttp, otlpgrpc, zipkin, httpjson, file,
// stdout; package builtin registers them all) and import only this
// contract and the helpers under exporter/internal: queue (memory queue),
// spool (disk spool), retry (backoff, circuit breaker), wire (pools, gzip,
// JSON and UTF-8 writers) and otlpenc (OTLP encoding).
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

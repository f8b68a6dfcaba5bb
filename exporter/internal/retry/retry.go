// Package retry retries one export with exponential backoff within a time
// budget, and opens a circuit breaker after consecutive failed batches. It
// knows nothing of protocols: how to read an error (final or not, a delay
// the server asked for) is passed in by the caller, as the OpenTelemetry
// Go SDK's otlptracehttp retry does.
package retry

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"
)

// Policy is one pipeline's retry layer.
//
// Delay before retry n (n = 1, 2, ...): Initial·2^(n-1), capped at Max,
// then randomised to [0.5, 1.5)× (the Collector's randomization factor 0.5)
// so Kong nodes that failed together do not retry together; the result is
// capped at Max again. A delay the server asked for (Retry-After, gRPC
// RetryInfo) is used as is, even above Max: the server knows when it will
// be ready. A batch is given up when the next attempt would start after
// Budget from the first attempt.
type Policy struct {
	Initial time.Duration
	Max     time.Duration
	Budget  time.Duration
}

// Classify reads an attempt's error: whether retrying cannot help, and the
// delay the server asked for (0: use the backoff).
type Classify func(err error) (final bool, after time.Duration)

// ErrBudgetExhausted is returned (wrapping the last error) when retryable
// failures outlasted the budget.
var ErrBudgetExhausted = errors.New("max_retry_time exceeded")

// ErrStopped is returned (wrapping the last error) when the context ended
// or the stop channel closed before the attempt succeeded.
var ErrStopped = errors.New("stopped")

// Backoff returns the delay before retry n (1-based), jittered.
func (p Policy) Backoff(n int) time.Duration {
	initial := max(p.Initial, time.Millisecond)
	limit := max(p.Max, initial)
	d := initial
	for i := 1; i < n && d < limit; i++ {
		d *= 2
	}
	d = min(d, limit)
	d = time.Duration(float64(d) * (0.5 + rand.Float64()))
	return min(d, limit)
}

// Run calls attempt until it succeeds, fails for good (classify says
// final), the budget runs out, ctx ends, or stop closes while it waits to
// retry (an attempt under way is never cut short by stop). onRetry is told
// each retry before its delay. The error is nil, the final error as
// attempt returned it, or wraps ErrBudgetExhausted or ErrStopped together
// with the last failure.
func (p Policy) Run(ctx context.Context, stop <-chan struct{}, attempt func(context.Context) error, classify Classify, onRetry func(err error, delay time.Duration)) error {
	start := time.Now()
	var timer *time.Timer
	for n := 1; ; n++ {
		err := attempt(ctx)
		if err == nil {
			return nil
		}
		final, delay := classify(err)
		if final {
			return err
		}
		if ctx.Err() != nil {
			return fmt.Errorf("%w: %w", ErrStopped, err)
		}
		if delay <= 0 {
			delay = p.Backoff(n)
		}
		select {
		case <-stop:
			return fmt.Errorf("%w: %w", ErrStopped, err)
		default:
		}
		if time.Since(start)+delay > p.Budget {
			return fmt.Errorf("%w: %w", ErrBudgetExhausted, err)
		}
		onRetry(err, delay)
		if timer == nil {
			timer = time.NewTimer(delay)
			defer timer.Stop()
		} else {
			timer.Reset(delay)
		}
		select {
		case <-timer.C:
		case <-ctx.Done():
			return fmt.Errorf("%w: %w", ErrStopped, err)
		case <-stop:
			return fmt.Errorf("%w: %w", ErrStopped, err)
		}
	}
}

package exporter

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/trace-exporter/trace-exporter/schema"
)

// retryPolicy is the pipeline's retry layer, kept out of the exporters so
// every backend retries the same way. Only errors that are not permanent
// (see Exporter) are retried.
//
// Delay before retry n (n = 1, 2, ...): initial·2^(n-1), capped at max, then
// randomised to [0.5, 1.5)× (the Collector's randomization factor 0.5) so
// Kong nodes that failed together do not retry together; the result is
// capped at max again. A delay the server asked for (Retry-After) is used
// as is, even above max: the server knows when it will be ready.
// A batch is given up when the next attempt would start after budget
// (queue.max_retry_time) from the first attempt.
type retryPolicy struct {
	initial time.Duration
	max     time.Duration
	budget  time.Duration
}

func newRetryPolicy(q *schema.Queue) retryPolicy {
	p := retryPolicy{initial: q.InitialRetry(), max: q.MaxRetry(), budget: q.RetryBudget()}
	if p.initial <= 0 {
		p.initial = time.Millisecond
	}
	if p.max < p.initial {
		p.max = p.initial
	}
	return p
}

// backoff returns the delay before retry n (1-based), jittered.
func (p retryPolicy) backoff(n int) time.Duration {
	d := p.initial
	for i := 1; i < n && d < p.max; i++ {
		d *= 2
	}
	d = min(d, p.max)
	d = time.Duration(float64(d) * (0.5 + rand.Float64()))
	return min(d, p.max)
}

// errRetryBudgetExhausted is returned (wrapping the last error) when
// retryable failures outlasted queue.max_retry_time.
var errRetryBudgetExhausted = errors.New("max_retry_time exceeded")

// errStopped is returned (wrapping the last error) when ctx ended first:
// the pipeline is shutting down and its deadline passed.
var errStopped = errors.New("pipeline stopped")

// run calls attempt until it succeeds, fails permanently, the budget runs
// out, or ctx ends. onRetry is told each retry before its delay. The
// returned error is nil, a permanent error (see IsPermanent), or wraps
// errRetryBudgetExhausted or errStopped together with the last failure.
func (p retryPolicy) run(ctx context.Context, attempt func(context.Context) error, onRetry func(err error, delay time.Duration)) error {
	return p.runUntil(ctx, nil, attempt, onRetry)
}

// runUntil is run that also gives up (with errStopped) when stop is closed
// while it waits to retry: an attempt under way is never cut short by it.
// The spool uses it to leave a failing batch on disk at shutdown, and to
// move a failing in-memory batch to disk once the spool is open.
func (p retryPolicy) runUntil(ctx context.Context, stop <-chan struct{}, attempt func(context.Context) error, onRetry func(err error, delay time.Duration)) error {
	start := time.Now()
	var timer *time.Timer
	for n := 1; ; n++ {
		err := attempt(ctx)
		if err == nil || IsPermanent(err) {
			return err
		}
		if ctx.Err() != nil {
			return fmt.Errorf("%w: %w", errStopped, err)
		}
		delay, asked := RetryDelay(err)
		if !asked {
			delay = p.backoff(n)
		}
		select {
		case <-stop:
			return fmt.Errorf("%w: %w", errStopped, err)
		default:
		}
		if time.Since(start)+delay > p.budget {
			return fmt.Errorf("%w: %w", errRetryBudgetExhausted, err)
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
			return fmt.Errorf("%w: %w", errStopped, err)
		case <-stop:
			return fmt.Errorf("%w: %w", errStopped, err)
		}
	}
}

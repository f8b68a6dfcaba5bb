package exporter

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestRetryBackoffGrowsWithJitterAndCaps(t *testing.T) {
	p := retryPolicy{initial: 10 * time.Millisecond, max: 200 * time.Millisecond, budget: time.Minute}
	for n, base := range map[int]time.Duration{1: 10, 2: 20, 3: 40, 4: 80, 5: 160, 6: 200, 30: 200} {
		base *= time.Millisecond
		lo, hi := base/2, min(base*3/2, p.max)
		seen := map[time.Duration]bool{}
		for range 200 {
			d := p.backoff(n)
			if d < lo || d > hi {
				t.Fatalf("retry %d: %s outside [%s, %s]", n, d, lo, hi)
			}
			seen[d] = true
		}
		if n < 6 && len(seen) < 10 {
			t.Fatalf("retry %d: no jitter (%d distinct delays)", n, len(seen))
		}
	}
}

func TestRetryRunStopsOnPermanentBudgetAndContext(t *testing.T) {
	p := retryPolicy{initial: time.Millisecond, max: 5 * time.Millisecond, budget: 100 * time.Millisecond}
	noop := func(error, time.Duration) {}
	calls := 0
	err := p.run(context.Background(), func(context.Context) error { calls++; return Permanent(errors.New("bad")) }, noop)
	if !IsPermanent(err) || calls != 1 {
		t.Fatalf("permanent: %v after %d calls", err, calls)
	}
	calls = 0
	start := time.Now()
	err = p.run(context.Background(), func(context.Context) error { calls++; return errors.New("down") }, noop)
	if !errors.Is(err, errRetryBudgetExhausted) || calls < 5 || time.Since(start) > time.Second {
		t.Fatalf("budget: %v after %d calls in %s", err, calls, time.Since(start))
	}
	// A server delay beyond the budget gives up at once instead of waiting.
	calls = 0
	err = p.run(context.Background(), func(context.Context) error { calls++; return Retryable(errors.New("busy"), time.Hour) }, noop)
	if !errors.Is(err, errRetryBudgetExhausted) || calls != 1 {
		t.Fatalf("long Retry-After: %v after %d calls", err, calls)
	}
	ctx, cancel := context.WithCancel(context.Background())
	go func() { time.Sleep(20 * time.Millisecond); cancel() }()
	p.budget = 10 * time.Hour
	p.max = time.Hour
	p.initial = time.Hour
	err = p.run(ctx, func(context.Context) error { return errors.New("down") }, noop)
	if !errors.Is(err, errStopped) {
		t.Fatalf("cancelled: %v", err)
	}
}

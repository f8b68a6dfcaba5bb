package retry

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestRetryBackoffGrowsWithJitterAndCaps(t *testing.T) {
	p := Policy{Initial: 10 * time.Millisecond, Max: 200 * time.Millisecond, Budget: time.Minute}
	for n, base := range map[int]time.Duration{1: 10, 2: 20, 3: 40, 4: 80, 5: 160, 6: 200, 30: 200} {
		base *= time.Millisecond
		lo, hi := base/2, min(base*3/2, p.Max)
		seen := map[time.Duration]bool{}
		for range 200 {
			d := p.Backoff(n)
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
	p := Policy{Initial: time.Millisecond, Max: 5 * time.Millisecond, Budget: 100 * time.Millisecond}
	noop := func(error, time.Duration) {}
	calls := 0
	err := p.Run(context.Background(), nil, func(context.Context) error { calls++; return errPermanent }, classifyForTest, noop)
	if err != errPermanent || calls != 1 {
		t.Fatalf("permanent: %v after %d calls", err, calls)
	}
	calls = 0
	start := time.Now()
	err = p.Run(context.Background(), nil, func(context.Context) error { calls++; return errors.New("down") }, classifyForTest, noop)
	if !errors.Is(err, ErrBudgetExhausted) || calls < 5 || time.Since(start) > time.Second {
		t.Fatalf("budget: %v after %d calls in %s", err, calls, time.Since(start))
	}
	// A server delay beyond the budget gives up at once instead of waiting.
	calls = 0
	err = p.Run(context.Background(), nil, func(context.Context) error { calls++; return errBusyForAnHour }, classifyForTest, noop)
	if !errors.Is(err, ErrBudgetExhausted) || calls != 1 {
		t.Fatalf("long Retry-After: %v after %d calls", err, calls)
	}
	ctx, cancel := context.WithCancel(context.Background())
	go func() { time.Sleep(20 * time.Millisecond); cancel() }()
	p.Budget = 10 * time.Hour
	p.Max = time.Hour
	p.Initial = time.Hour
	err = p.Run(ctx, nil, func(context.Context) error { return errors.New("down") }, classifyForTest, noop)
	if !errors.Is(err, ErrStopped) {
		t.Fatalf("cancelled: %v", err)
	}
}

var (
	errPermanent     = errors.New("bad")
	errBusyForAnHour = errors.New("busy")
)

// classifyForTest is a protocol's reading of errors: errPermanent is
// final, errBusyForAnHour asks for an hour.
func classifyForTest(err error) (bool, time.Duration) {
	switch err {
	case errPermanent:
		return true, 0
	case errBusyForAnHour:
		return false, time.Hour
	}
	return false, 0
}

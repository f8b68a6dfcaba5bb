package retry

import (
	"sync"
	"time"
)

// Breaker is a pipeline's circuit breaker (Kong's queue.failure_threshold
// and queue.breaker_cooldown): after Threshold consecutive failed batches it
// opens, and the pipeline sheds batches without calling the backend for
// Cooldown; then it lets one batch through to probe: success closes it, a
// failure opens it again. A nil *Breaker never opens.
type Breaker struct {
	threshold int
	cooldown  time.Duration

	mu        sync.Mutex
	failures  int
	openUntil time.Time
	probing   bool // a probe batch is out (half-open)
}

// NewBreaker returns a breaker, or nil when threshold is 0 (off).
func NewBreaker(threshold int, cooldown time.Duration) *Breaker {
	if threshold <= 0 {
		return nil
	}
	return &Breaker{threshold: threshold, cooldown: cooldown}
}

// Allow reports whether a batch may be sent now. When it may not, wait is
// how long the breaker stays open (0 while a probe is out). A caller
// allowed through a half-open breaker is the probe: it must Record.
func (b *Breaker) Allow(now time.Time) (ok bool, wait time.Duration) {
	if b == nil {
		return true, 0
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.failures < b.threshold {
		return true, 0
	}
	if now.Before(b.openUntil) {
		return false, b.openUntil.Sub(now)
	}
	if b.probing {
		return false, 0
	}
	b.probing = true
	return true, 0
}

// Record reports a batch's outcome: delivered (fully or partly) or failed.
// It reports whether this outcome opened the breaker.
func (b *Breaker) Record(now time.Time, delivered bool) (opened bool) {
	if b == nil {
		return false
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.probing = false
	if delivered {
		b.failures = 0
		return false
	}
	b.failures++
	if b.failures >= b.threshold {
		opened = !now.Before(b.openUntil) // not already open
		b.openUntil = now.Add(b.cooldown)
	}
	return opened
}

// Open reports whether the breaker sheds batches at now.
func (b *Breaker) Open(now time.Time) bool {
	if b == nil {
		return false
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.failures >= b.threshold && (now.Before(b.openUntil) || b.probing)
}

// Remaining is how long the breaker stays open (0 when closed or when the
// cooldown is over).
func (b *Breaker) Remaining(now time.Time) time.Duration {
	if b == nil {
		return 0
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.failures < b.threshold || !now.Before(b.openUntil) {
		return 0
	}
	return b.openUntil.Sub(now)
}

// Threshold is the consecutive failed batches that open the breaker.
func (b *Breaker) Threshold() int {
	if b == nil {
		return 0
	}
	return b.threshold
}

// Cooldown is how long the breaker stays open.
func (b *Breaker) Cooldown() time.Duration {
	if b == nil {
		return 0
	}
	return b.cooldown
}

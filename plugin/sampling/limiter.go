package sampling

import (
	"math"
	"sync/atomic"
	"time"
)

// Limiter is a token bucket that refills at a fixed rate and holds up to
// max(1, rate) tokens (one second's worth, as Jaeger's rate-limiting
// sampler), starting full. It is the generic cell rate algorithm: one
// int64, the theoretical arrival time of the next token, advanced with a
// compare-and-swap, so Allow never takes a lock and concurrent callers
// never get more tokens than the bucket held.
type Limiter struct {
	rate      float64
	interval  int64 // nanoseconds per token
	tolerance int64 // how far the arrival time may run ahead of now: (burst-1) intervals
	tat       atomic.Int64
}

// NewLimiter returns a bucket of perSecond tokens per second, or nil (no
// limit) for a rate that is not positive.
func NewLimiter(perSecond float64) *Limiter {
	if !(perSecond > 0) {
		return nil
	}
	interval := max(1, int64(math.Round(float64(time.Second)/perSecond)))
	burst := max(1, perSecond)
	return &Limiter{
		rate:      perSecond,
		interval:  interval,
		tolerance: int64((burst - 1) * float64(interval)),
		tat:       atomic.Int64{},
	}
}

// Rate is the bucket's refill rate, tokens per second.
func (l *Limiter) Rate() float64 { return l.rate }

// Allow takes a token if one is there.
func (l *Limiter) Allow() bool { return l.allowAt(monotonicNow()) }

func (l *Limiter) allowAt(now int64) bool {
	for {
		old := l.tat.Load()
		tat := max(old, now)
		if tat-now > l.tolerance {
			return false
		}
		if l.tat.CompareAndSwap(old, tat+l.interval) {
			return true
		}
	}
}

var clockBase = time.Now()

// monotonicNow is nanoseconds on the monotonic clock, from an arbitrary
// origin far enough back that a new bucket (arrival time 0) starts full.
func monotonicNow() int64 { return int64(time.Since(clockBase)) + int64(24*time.Hour) }

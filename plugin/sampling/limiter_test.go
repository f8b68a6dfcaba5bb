package sampling

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestLimiterRefillsAtItsRate(t *testing.T) {
	const sec = int64(time.Second)
	l := NewLimiter(10)
	now := int64(1000 * sec)
	// Starts full: one second's worth.
	got := 0
	for range 100 {
		if l.allowAt(now) {
			got++
		}
	}
	if got != 10 {
		t.Fatalf("full bucket gave %d tokens, want 10", got)
	}
	// Then one token per 100 ms, never two at once.
	for i := range 50 {
		now += sec / 10
		if !l.allowAt(now) {
			t.Fatalf("step %d: no token after 100 ms", i)
		}
		if l.allowAt(now) {
			t.Fatalf("step %d: two tokens within 100 ms", i)
		}
	}
	// An idle bucket fills up to its size and no further.
	now += 60 * sec
	got = 0
	for range 100 {
		if l.allowAt(now) {
			got++
		}
	}
	if got != 10 {
		t.Errorf("after a minute idle: %d tokens, want 10", got)
	}
}

func TestLimiterFractionalRate(t *testing.T) {
	const sec = int64(time.Second)
	l := NewLimiter(1.0 / 60) // Jaeger's default per-operation lower bound
	now := int64(1000 * sec)
	if !l.allowAt(now) || l.allowAt(now) || l.allowAt(now+59*sec) {
		t.Fatal("1/60 per second: want one token, then none for a minute")
	}
	if !l.allowAt(now + 60*sec) {
		t.Fatal("1/60 per second: no token after a minute")
	}
	if NewLimiter(0) != nil || NewLimiter(-1) != nil {
		t.Error("a non-positive rate must mean no limiter")
	}
}

// Many goroutines hammering one bucket get exactly what it holds: the
// compare-and-swap never hands out a token twice (run with -race).
func TestLimiterConcurrent(t *testing.T) {
	l := NewLimiter(1000)
	now := int64(1000 * time.Second)
	var granted atomic.Int64
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 10_000 {
				if l.allowAt(now) {
					granted.Add(1)
				}
			}
		})
	}
	wg.Wait()
	if granted.Load() != 1000 {
		t.Errorf("granted %d tokens from a bucket of 1000", granted.Load())
	}
}

// Over one simulated second at a steady 100 µs between calls, a 200/s
// bucket grants its burst plus 200.
func TestLimiterOverTime(t *testing.T) {
	l := NewLimiter(200)
	now := int64(1000 * time.Second)
	got := 0
	for range 10_000 {
		if l.allowAt(now) {
			got++
		}
		now += int64(100 * time.Microsecond)
	}
	if got < 399 || got > 401 {
		t.Errorf("granted %d in one second at 200/s with a burst of 200, want 400 ± 1", got)
	}
}

func BenchmarkLimiterAllowParallel(b *testing.B) {
	l := NewLimiter(1e6)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			l.Allow()
		}
	})
}

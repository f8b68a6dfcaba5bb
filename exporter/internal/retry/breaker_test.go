package retry

import (
	"context"
	"errors"
	"testing"
	"time"
)

// Closed until threshold consecutive failures; open for the cooldown; then
// exactly one probe; its success closes, its failure opens again.
func TestBreakerOpensProbesAndCloses(t *testing.T) {
	b := NewBreaker(3, time.Minute)
	now := time.Unix(1000, 0)
	for i := range 2 {
		if ok, _ := b.Allow(now); !ok {
			t.Fatalf("closed breaker refused batch %d", i)
		}
		if b.Record(now, false) {
			t.Fatalf("opened after %d failures, threshold 3", i+1)
		}
	}
	if b.Record(now, true); b.Open(now) {
		t.Fatal("a success must reset the count")
	}
	for range 2 {
		b.Record(now, false)
	}
	if !b.Record(now, false) || !b.Open(now) {
		t.Fatal("3 failures in a row must open the breaker")
	}
	if ok, wait := b.Allow(now.Add(time.Second)); ok || wait != 59*time.Second {
		t.Fatalf("open breaker: allowed %v, wait %s", ok, wait)
	}
	if got := b.Remaining(now.Add(30 * time.Second)); got != 30*time.Second {
		t.Fatalf("remaining %s", got)
	}
	later := now.Add(time.Minute)
	if ok, _ := b.Allow(later); !ok {
		t.Fatal("after the cooldown one probe must pass")
	}
	if ok, wait := b.Allow(later); ok || wait != 0 || !b.Open(later) {
		t.Fatalf("a second batch while the probe is out: allowed %v wait %s", ok, wait)
	}
	if !b.Record(later, false) {
		t.Fatal("a failed probe opens the breaker again")
	}
	if ok, _ := b.Allow(later.Add(time.Second)); ok {
		t.Fatal("reopened breaker let a batch through")
	}
	end := later.Add(time.Minute)
	if ok, _ := b.Allow(end); !ok {
		t.Fatal("second probe refused")
	}
	b.Record(end, true)
	if b.Open(end) {
		t.Fatal("a successful probe must close the breaker")
	}
	if ok, _ := b.Allow(end); !ok {
		t.Fatal("closed breaker refused")
	}
}

// Threshold 0 is off: a nil breaker that always allows.
func TestBreakerOff(t *testing.T) {
	b := NewBreaker(0, time.Minute)
	if b != nil {
		t.Fatal("threshold 0 must give no breaker")
	}
	for range 100 {
		b.Record(time.Now(), false)
	}
	if ok, _ := b.Allow(time.Now()); !ok || b.Open(time.Now()) {
		t.Fatal("a nil breaker must never open")
	}
}

// stop ends the wait before a retry.
func TestRunStop(t *testing.T) {
	p := Policy{Initial: time.Hour, Max: time.Hour, Budget: 10 * time.Hour}
	stop := make(chan struct{})
	go func() { time.Sleep(20 * time.Millisecond); close(stop) }()
	start := time.Now()
	err := p.Run(t.Context(), stop, func(context.Context) error { return errors.New("down") }, classifyForTest, func(error, time.Duration) {})
	if !errors.Is(err, ErrStopped) || time.Since(start) > 5*time.Second {
		t.Fatalf("stop: %v after %s", err, time.Since(start))
	}
}

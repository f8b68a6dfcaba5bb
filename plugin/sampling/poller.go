package sampling

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"time"
)

// Remote is a plugin instance's handle on the poller of one Jaeger sampling
// endpoint and service. There is one poller per endpoint and service in the
// process, whatever the number of instances; it stops once no instance
// refers to it.
type Remote struct{ st *pollerState }

// remoteKey identifies a poller.
type remoteKey struct{ endpoint, service string }

// maxStrategyBytes bounds an answer: a strategy with thousands of
// operations is well below it.
const maxStrategyBytes = 1 << 20

// AcquireRemote returns the handle on the poller of endpoint for service,
// starting it (it polls at once, then every interval). An instance asking
// for a shorter interval than the running poller's shortens it.
func (p *Process) AcquireRemote(endpoint, service string, interval time.Duration) (*Remote, error) {
	u, err := strategyURL(endpoint, service)
	if err != nil {
		return nil, err
	}
	r := p.pollers.get(remoteKey{endpoint, service}, func() (*Remote, func()) {
		st := newPollerState(u, service, interval, &p.Stats)
		go st.run()
		return &Remote{st: st}, st.close
	})
	r.st.shorten(interval)
	return r, nil
}

func strategyURL(endpoint, service string) (string, error) {
	u, err := url.Parse(endpoint)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("remote_sampling.endpoint: %q is not an http(s) URL", endpoint)
	}
	q := u.Query()
	q.Set("service", service)
	u.RawQuery = q.Encode()
	return u.String(), nil
}

// current is the strategy in force, nil until the first good answer.
func (r *Remote) current() *remoteStrategy { return r.st.strategy.Load() }

// Strategy returns the strategy in force and whether one has arrived.
func (r *Remote) Strategy() (Strategy, bool) {
	if s := r.current(); s != nil {
		return s.Strategy, true
	}
	return Strategy{}, false
}

// pollerState is a poller's state, apart from the handle so that the
// handle can be collected while the goroutine still runs.
type pollerState struct {
	url      string
	service  string
	stats    *Stats
	interval atomic.Int64 // nanoseconds
	strategy atomic.Pointer[remoteStrategy]
	lower    lowerBounds
	client   *http.Client
	wake     chan struct{}
	done     chan struct{}
	stopOnce sync.Once

	// Only the polling goroutine touches these.
	failing  bool
	lastWarn time.Time
}

func newPollerState(u, service string, interval time.Duration, stats *Stats) *pollerState {
	st := &pollerState{
		url:     u,
		service: service,
		stats:   stats,
		client:  &http.Client{Transport: &http.Transport{Proxy: http.ProxyFromEnvironment, MaxIdleConns: 1, IdleConnTimeout: 2 * time.Minute}},
		wake:    make(chan struct{}, 1),
		done:    make(chan struct{}),
	}
	st.interval.Store(int64(interval))
	return st
}

func (st *pollerState) close() { st.stopOnce.Do(func() { close(st.done) }) }

// shorten makes the poller poll at least every d.
func (st *pollerState) shorten(d time.Duration) {
	for {
		cur := st.interval.Load()
		if int64(d) >= cur {
			return
		}
		if st.interval.CompareAndSwap(cur, int64(d)) {
			select {
			case st.wake <- struct{}{}:
			default:
			}
			return
		}
	}
}

// failureLogInterval spaces the warnings of an endpoint that keeps failing.
const failureLogInterval = 10 * time.Minute

func (st *pollerState) run() {
	defer st.client.CloseIdleConnections()
	for {
		st.poll()
		t := time.NewTimer(time.Duration(st.interval.Load()))
		select {
		case <-st.done:
			t.Stop()
			return
		case <-st.wake:
			t.Stop()
		case <-t.C:
		}
	}
}

func (st *pollerState) poll() {
	s, err := st.fetch()
	st.stats.RemotePolls.Add(1)
	if err != nil {
		st.stats.RemotePollFailures.Add(1)
		if !st.failing || time.Since(st.lastWarn) >= failureLogInterval {
			keeping := "sampling_rate applies until a strategy arrives"
			if st.strategy.Load() != nil {
				keeping = "the last strategy stays in force"
			}
			slog.Warn("remote sampling: poll failed; "+keeping, "service", st.service, "url", st.url, "error", err)
			st.lastWarn = time.Now()
		}
		st.failing = true
		return
	}
	if st.failing {
		slog.Info("remote sampling: endpoint answers again", "service", st.service, "url", st.url)
		st.failing = false
	}
	if cur := st.strategy.Load(); cur != nil && cur.Equal(&s) {
		return // unchanged: keep its token buckets
	}
	st.strategy.Store(compileStrategy(s, st.strategy.Load()))
	st.lower.reset(s.LowerBound)
	slog.Info("remote sampling: strategy in force", "service", st.service, "kind", s.Kind.String(),
		"probability", s.Probability, "max_traces_per_second", s.MaxTracesPerSecond,
		"operations", len(s.Operations), "lower_bound_per_second", s.LowerBound)
}

func (st *pollerState) fetch() (Strategy, error) {
	timeout := min(time.Duration(st.interval.Load()), 10*time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, st.url, nil)
	if err != nil {
		return Strategy{}, err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := st.client.Do(req)
	if err != nil {
		return Strategy{}, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxStrategyBytes+1))
	if err != nil {
		return Strategy{}, err
	}
	if resp.StatusCode != http.StatusOK {
		return Strategy{}, fmt.Errorf("HTTP %d: %.200s", resp.StatusCode, body)
	}
	if len(body) > maxStrategyBytes {
		return Strategy{}, fmt.Errorf("answer larger than %d bytes", maxStrategyBytes)
	}
	return ParseStrategy(body)
}

// remoteStrategy is a strategy compiled for decisions.
type remoteStrategy struct {
	Strategy
	ratio   Ratio            // Probability
	limiter *Limiter         // RateLimiting
	ops     map[string]Ratio // PerOperation
}

func compileStrategy(s Strategy, prev *remoteStrategy) *remoteStrategy {
	c := &remoteStrategy{Strategy: s, ratio: NewRatio(s.Probability)}
	switch s.Kind {
	case RateLimiting:
		if prev != nil && prev.limiter != nil && prev.limiter.Rate() == s.MaxTracesPerSecond {
			c.limiter = prev.limiter // same rate: the bucket goes on
		} else {
			c.limiter = NewLimiter(s.MaxTracesPerSecond)
		}
	case PerOperation:
		c.ops = make(map[string]Ratio, len(s.Operations))
		for op, p := range s.Operations {
			c.ops[op] = NewRatio(p)
		}
	}
	return c
}

// maxOperations bounds the operations that get their own lower-bound
// bucket (Jaeger's clients use the same bound); later ones get none.
const maxOperations = 2000

// lowerBounds holds one token bucket per operation at the strategy's lower
// bound, created on an operation's first request. The map is replaced, never
// changed, so lookups need no lock.
type lowerBounds struct {
	m    atomic.Pointer[lowerBoundMap]
	rate atomic.Uint64 // float64 bits
}

type lowerBoundMap map[string]*Limiter

func (lb *lowerBounds) reset(rate float64) {
	if old := lb.m.Load(); old != nil && float64frombits(lb.rate.Load()) == rate {
		return
	}
	lb.rate.Store(float64bits(rate))
	lb.m.Store(&lowerBoundMap{})
}

// limiter returns op's bucket, or nil without a lower bound or past
// maxOperations.
func (lb *lowerBounds) limiter(op string) *Limiter {
	for {
		cur := lb.m.Load()
		if cur == nil {
			return nil
		}
		if l, ok := (*cur)[op]; ok {
			return l
		}
		rate := float64frombits(lb.rate.Load())
		if !(rate > 0) || len(*cur) >= maxOperations {
			return nil
		}
		next := make(lowerBoundMap, len(*cur)+1)
		for k, v := range *cur {
			next[k] = v
		}
		l := NewLimiter(rate)
		next[op] = l
		if lb.m.CompareAndSwap(cur, &next) {
			return l
		}
	}
}

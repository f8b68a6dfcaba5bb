package sampling

import (
	"runtime"
	"sync"
	"weak"
)

// shared holds values that plugin instances share process-wide (pollers,
// token buckets), keyed by what makes them the same. Kong creates a plugin
// instance per config and drops it when the config changes, without a
// hook the plugin could use; so a shared value lives exactly as long as
// some instance refers to it: the map holds it weakly, and once the last
// instance is gone the garbage collector runs its release and the entry is
// forgotten. Lookups happen when an instance starts, never per request.
type shared[K comparable, V any] struct {
	mu sync.Mutex
	m  map[K]weak.Pointer[V]
}

// get returns the live value for k, or makes one with create, whose
// release (may be nil) runs once the value is unreachable. release must
// not refer to the value itself, or it would never be collected.
func (s *shared[K, V]) get(k K, create func() (v *V, release func())) *V {
	s.mu.Lock()
	defer s.mu.Unlock()
	if v := s.m[k].Value(); v != nil {
		return v
	}
	v, release := create()
	if s.m == nil {
		s.m = map[K]weak.Pointer[V]{}
	}
	s.m[k] = weak.Make(v)
	runtime.AddCleanup(v, func(k K) {
		if release != nil {
			release()
		}
		s.forget(k)
	}, k)
	return v
}

// forget drops k's entry if its value is gone (a new one may have taken
// its place meanwhile).
func (s *shared[K, V]) forget(k K) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if wp, ok := s.m[k]; ok && wp.Value() == nil {
		delete(s.m, k)
	}
}

// len counts the entries still mapped, for tests.
func (s *shared[K, V]) len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.m)
}

type limiterKey struct {
	scope string
	rate  float64
}

// SharedLimiter returns the process's token bucket for scope at perSecond
// (nil when perSecond is not positive). Instances of one plugin entity pass
// the same scope, so a new instance after a config change keeps the bucket
// (and its rate limit) of the one it replaces, and all of Kong's workers
// draw from it.
func (p *Process) SharedLimiter(scope string, perSecond float64) *Limiter {
	if !(perSecond > 0) {
		return nil
	}
	return p.limiters.get(limiterKey{scope, perSecond}, func() (*Limiter, func()) { return NewLimiter(perSecond), nil })
}

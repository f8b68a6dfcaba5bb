package reqmetrics

import (
	"sync"
	"sync/atomic"
)

// table maps attribute-set keys to series. Lookups, on every request, read
// an immutable map through an atomic pointer: no lock, no write to shared
// memory. A new attribute set copies the map under a lock; there are at
// most max of them, then every new set goes to the overflow series.
type table[S any] struct {
	m          atomic.Pointer[map[string]*S]
	mu         sync.Mutex
	max        int
	full       atomic.Bool // max reached: series are never removed, so it stays full
	overflow   *S
	overflowed atomic.Uint64 // recordings that went to the overflow series
}

func newTable[S any](max int, overflow *S) *table[S] {
	t := &table[S]{max: max, overflow: overflow}
	m := map[string]*S{}
	t.m.Store(&m)
	return t
}

// get returns key's series, made by create if the table has room, else the
// overflow series (and true).
func (t *table[S]) get(key []byte, create func() *S) (*S, bool) {
	if s := (*t.m.Load())[string(key)]; s != nil {
		return s, false
	}
	if t.full.Load() {
		t.overflowed.Add(1)
		return t.overflow, true
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	m := *t.m.Load()
	if s := m[string(key)]; s != nil {
		return s, false
	}
	if len(m) >= t.max {
		t.full.Store(true)
		t.overflowed.Add(1)
		return t.overflow, true
	}
	s := create()
	next := make(map[string]*S, len(m)+1)
	for k, v := range m {
		next[k] = v
	}
	next[string(key)] = s
	t.m.Store(&next)
	return s, false
}

// all returns every series, the overflow series last once it was used.
func (t *table[S]) all() []*S {
	m := *t.m.Load()
	out := make([]*S, 0, len(m)+1)
	for _, s := range m {
		out = append(out, s)
	}
	if t.overflowed.Load() > 0 {
		out = append(out, t.overflow)
	}
	return out
}

func (t *table[S]) size() int { return len(*t.m.Load()) }

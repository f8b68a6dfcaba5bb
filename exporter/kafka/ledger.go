package kafka

import (
	"hash/maphash"
	"sync"
	"time"
)

// ledger remembers, for batches that failed only in part, which of their
// messages the brokers already took (or refused for good), so that the
// pipeline's retry of the batch produces only the others: a retry does not
// duplicate what was delivered, and a refused message is counted once.
//
// Messages are recognised by a digest of their key and value: a batch
// encodes to the same messages on every attempt. Memory is bounded: at most
// max entries (the oldest go first) kept at most ttl. An entry that is gone
// when its batch is retried costs a duplicate, never a loss. A digest
// collision would take a message for delivered; with 128 bits it does not
// happen in practice.
type ledger struct {
	seeds [2]maphash.Seed
	max   int
	ttl   time.Duration

	mu      sync.Mutex
	entries map[digest]entry
	order   []digestAt // insertion order, for eviction
}

// digest identifies one message.
type digest struct{ a, b uint64 }

type entry struct {
	at      time.Time
	refused bool // refused for good; false: delivered
}

type digestAt struct {
	d  digest
	at time.Time
}

const (
	ledgerEntries = 16384
	ledgerTTL     = time.Hour
)

func newLedger(max int, ttl time.Duration) *ledger {
	return &ledger{seeds: [2]maphash.Seed{maphash.MakeSeed(), maphash.MakeSeed()}, max: max, ttl: ttl, entries: map[digest]entry{}}
}

func (l *ledger) digest(key, value []byte) digest {
	var h maphash.Hash
	var d [2]uint64
	for i, s := range l.seeds {
		h.SetSeed(s)
		h.Write(key)
		h.WriteByte(0)
		h.Write(value)
		d[i] = h.Sum64()
	}
	return digest{d[0], d[1]}
}

// empty reports whether nothing is remembered: Export then skips
// computing digests.
func (l *ledger) empty() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.entries) == 0
}

// lookup returns what is remembered of a message.
func (l *ledger) lookup(d digest, now time.Time) (entry, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	e, ok := l.entries[d]
	if ok && now.Sub(e.at) > l.ttl {
		delete(l.entries, d)
		return entry{}, false
	}
	return e, ok
}

// remember records a message's outcome.
func (l *ledger) remember(d digest, e entry) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.order = append(l.order, digestAt{d, e.at})
	l.entries[d] = e
	l.evict(e.at)
}

// forget drops what is remembered of a message (its batch is done).
func (l *ledger) forget(d digest) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.entries, d)
	if len(l.entries) == 0 {
		l.order = l.order[:0]
	}
}

// evict keeps at most max entries younger than ttl, oldest first. order
// may hold stale items (forgotten, or remembered again later): they are
// skipped, and compacted away when they outnumber the live ones.
func (l *ledger) evict(now time.Time) {
	drop := 0
	for drop < len(l.order) {
		o := l.order[drop]
		live := l.isCurrent(o)
		if live && len(l.entries) <= l.max && now.Sub(o.at) <= l.ttl {
			break
		}
		if live {
			delete(l.entries, o.d)
		}
		drop++
	}
	l.order = append(l.order[:0], l.order[drop:]...)
	if len(l.order) > 2*len(l.entries)+64 {
		kept := l.order[:0]
		for _, o := range l.order {
			if l.isCurrent(o) {
				kept = append(kept, o)
			}
		}
		l.order = kept
	}
}

// isCurrent reports whether o is the latest record of a live entry.
func (l *ledger) isCurrent(o digestAt) bool {
	e, ok := l.entries[o.d]
	return ok && e.at.Equal(o.at)
}

package exporter

import (
	"math"
	"os"
	"runtime/debug"
	"sync"
)

// Go's collector lets the heap grow to twice what is live before it
// collects (GOGC=100), so queues full to max_bytes would make the process
// take about twice max_bytes. With a memory bound the process's soft memory
// limit (runtime/debug.SetMemoryLimit) follows what the registry's live
// queues may hold, plus a margin for the rest of the process: the collector
// then works harder only when memory gets that high, and a server offered
// far more than its queues take stays near max_bytes + the margin.
type memoryBound struct {
	mu      sync.Mutex
	total   int64 // max_bytes of every live queue
	enabled bool
}

// memoryMargin is what the plugin server uses besides its queues: the
// runtime, go-pdk, HTTP clients, encoding buffers, requests in progress.
const memoryMargin = 16 << 20

// BoundMemory makes the process's soft memory limit the sum of this
// registry's live pipelines' queue.max_bytes plus a margin, kept up to date
// as pipelines come and go. The plugin server calls it for its registry; a
// GOMEMLIMIT in the environment takes precedence and turns it off.
//
// With memory bounded by the limit, the collector need not run each time
// the heap doubles: unless GOGC is set, it runs when the heap has grown
// fivefold (GOGC=400) or reached the limit, a quarter as often while the
// heap is small.
func (r *Registry) BoundMemory() {
	if _, set := os.LookupEnv("GOMEMLIMIT"); set {
		return
	}
	if _, set := os.LookupEnv("GOGC"); !set {
		debug.SetGCPercent(400)
	}
	m := &r.memory
	m.mu.Lock()
	defer m.mu.Unlock()
	m.enabled = true
	m.apply()
}

// reserve records a queue's max_bytes (negative when it goes).
func (m *memoryBound) reserve(delta int64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.total += delta
	if m.enabled {
		m.apply()
	}
}

func (m *memoryBound) apply() {
	limit := int64(math.MaxInt64) // no pipeline: Go's default, no limit
	if t := m.total; t > 0 && t < math.MaxInt64-memoryMargin {
		limit = t + memoryMargin
	}
	debug.SetMemoryLimit(limit)
}

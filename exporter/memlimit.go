package exporter

import (
	"math"
	"os"
	"runtime/debug"
	"sync"
)

// Go's collector lets the heap grow to twice what is live before it
// collects (GOGC=100), so queues full to max_bytes would make the process
// take about twice max_bytes. With BoundMemoryByQueues the process's soft
// memory limit (runtime/debug.SetMemoryLimit) follows what the live queues
// may hold, plus a margin for the rest of the process: the collector then
// works harder only when memory gets that high, and a server offered far
// more than its queues take stays near max_bytes + the margin
// (test/bench TestPluginServerRSSUnderOverload).
var queueMemory struct {
	sync.Mutex
	total   int64 // max_bytes of every live queue
	enabled bool
}

// queueMemoryMargin is what the plugin server uses besides its queues: the
// runtime, go-pdk, HTTP clients, encoding buffers, requests in progress.
const queueMemoryMargin = 16 << 20

// BoundMemoryByQueues makes the process's soft memory limit the sum of the
// live pipelines' queue.max_bytes plus a margin, kept up to date as
// pipelines come and go. The plugin server's main calls it; a GOMEMLIMIT
// in the environment takes precedence and turns it off.
//
// With memory bounded by the limit, the collector need not run each time
// the heap doubles: unless GOGC is set, it runs when the heap has grown
// fivefold (GOGC=400) or reached the limit, a quarter as often while the
// heap is small (BenchmarkPluginServer: 10 % less CPU per log event).
func BoundMemoryByQueues() {
	if _, set := os.LookupEnv("GOMEMLIMIT"); set {
		return
	}
	if _, set := os.LookupEnv("GOGC"); !set {
		debug.SetGCPercent(400)
	}
	queueMemory.Lock()
	defer queueMemory.Unlock()
	queueMemory.enabled = true
	applyMemoryLimit()
}

// reserveQueueMemory records a queue's max_bytes (negative when it goes).
func reserveQueueMemory(delta int64) {
	queueMemory.Lock()
	defer queueMemory.Unlock()
	queueMemory.total += delta
	if queueMemory.enabled {
		applyMemoryLimit()
	}
}

func applyMemoryLimit() {
	limit := int64(math.MaxInt64) // no pipeline: Go's default, no limit
	if t := queueMemory.total; t > 0 && t < math.MaxInt64-queueMemoryMargin {
		limit = t + queueMemoryMargin
	}
	debug.SetMemoryLimit(limit)
}

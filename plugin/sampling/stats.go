package sampling

import (
	"math"
	"sync/atomic"
)

// Stats counts what sampling did in one plugin server (Process.Stats).
type Stats struct {
	RemotePolls        atomic.Int64 // strategy requests made
	RemotePollFailures atomic.Int64 // of which failed (the last strategy stayed in force)
	RateLimited        atomic.Int64 // traces a token bucket refused (max_traces_per_second, a rule's, Jaeger's rate limiting)
	LogPhaseKept       atomic.Int64 // kept in the log phase although the upstream was told "not sampled"
	LogPhaseDropped    atomic.Int64 // dropped in the log phase although the upstream was told "sampled"
}

// Process is what the plugin instances of one plugin server share: the
// pollers of remote strategies (one per endpoint and service), the token
// buckets (one per plugin entity and rate) and the counters. The plugin's
// environment holds one and hands it to every Decider.
type Process struct {
	Stats    Stats
	pollers  shared[remoteKey, Remote]
	limiters shared[limiterKey, Limiter]
}

// NewProcess returns an empty Process.
func NewProcess() *Process { return &Process{} }

func float64bits(f float64) uint64     { return math.Float64bits(f) }
func float64frombits(b uint64) float64 { return math.Float64frombits(b) }

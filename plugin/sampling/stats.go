package sampling

import (
	"math"
	"sync/atomic"
)

// Stats counts what sampling did, process-wide.
type Stats struct {
	RemotePolls        atomic.Int64 // strategy requests made
	RemotePollFailures atomic.Int64 // of which failed (the last strategy stayed in force)
	RateLimited        atomic.Int64 // traces a token bucket refused (max_traces_per_second, a rule's, Jaeger's rate limiting)
	LogPhaseKept       atomic.Int64 // kept in the log phase although the upstream was told "not sampled"
	LogPhaseDropped    atomic.Int64 // dropped in the log phase although the upstream was told "sampled"
}

// Counters is the process-wide instance.
var Counters Stats

func float64bits(f float64) uint64     { return math.Float64bits(f) }
func float64frombits(b uint64) float64 { return math.Float64frombits(b) }

package plugin

import (
	"sync"
	"sync/atomic"

	"github.com/trace-exporter/trace-exporter/exporter"
	"github.com/trace-exporter/trace-exporter/plugin/reqmetrics"
	"github.com/trace-exporter/trace-exporter/plugin/sampling"
)

// Env is what the plugin instances of one process share: the registry of
// export pipelines their spans go to, what sampling shares between them,
// the Kong node they all serve, and the counters of what the handlers,
// processors and samplers did. The process builds one, hands it to go-pdk's
// constructor (NewWithEnv) and to whatever reads the counters (the metrics
// collector). Nothing else in this package is shared between instances.
type Env struct {
	Pipelines  *exporter.Registry
	Stats      *Stats
	Processors *exporter.ProcessorStats // what span processors dropped
	Sampling   *sampling.Process        // remote strategy pollers, token buckets, their counters
	// LogOnly: Kong sends this process no access event (the plugin is
	// installed under its log-only name): every log event reads serialize
	// at once, no hand-off to probe for.
	LogOnly bool
	// RequestMetrics aggregates request metrics per destination (Kong's metrics record).
	RequestMetrics *reqmetrics.Registry

	// node is the Kong node the plugin server serves, learned once per
	// process (node.go) for the spans' resource.
	node kongNode
	// resources interns the spans' resources, so equal ones are one
	// pointer whichever instance built them.
	resources resourceTable

	lastPanicLog atomic.Int64 // unix seconds of the last logged handler panic

	// logs, when set (StartLogWorker), runs the log path after the Log
	// handler has answered Kong (logworker.go).
	logs *logWorker
}

// StartLogWorker lets Log handlers answer Kong as soon as they have read
// the serialize payload: the rest of the log path runs in batches on a
// goroutine of its own. The plugin server calls it once, before serving;
// DrainLogWork then processes what it holds.
func (env *Env) StartLogWorker() { env.logs = newLogWorker(env) }

// DrainLogWork processes every payload the log worker holds and has the
// handlers process their own from then on. Call it at shutdown before the
// request metrics and the pipelines flush.
func (env *Env) DrainLogWork() {
	if env.logs != nil {
		env.logs.Drain(env)
	}
}

// NewEnv returns an environment sending spans to pipelines, with counters
// of its own.
func NewEnv(pipelines *exporter.Registry) *Env {
	return &Env{Pipelines: pipelines, Stats: &Stats{}, Processors: &exporter.ProcessorStats{}, Sampling: sampling.NewProcess(),
		RequestMetrics: reqmetrics.NewRegistry(reqmetrics.Options{})}
}

// defaultEnv backs instances built with New (tests, tools, the Kong 2.x
// build): exporter.DefaultRegistry and counters of their own.
var defaultEnv = sync.OnceValue(func() *Env { return NewEnv(exporter.DefaultRegistry) })

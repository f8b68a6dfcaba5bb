package exporter

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/trace-exporter/trace-exporter/exporter/internal/queue"
	"github.com/trace-exporter/trace-exporter/schema"
)

// Registry owns a process's pipelines, keyed by signal and backend config.
// Kong creates a plugin instance per route/service config and a new one on
// every config change, and go-pdk never says when one is gone; so pipelines
// are not tied to instances: instances with the same backend share one,
// and a pipeline idle for IdleTimeout is reaped.
type Registry struct {
	idleTimeout time.Duration
	logInterval time.Duration
	memory      memoryBound

	mu        sync.Mutex
	pipelines map[string]runner
	closed    bool
	janitor   bool           // the reaping goroutine runs
	done      chan struct{}  // closed by ShutdownAll: stops the janitor
	reaping   sync.WaitGroup // shutdowns of reaped pipelines
}

// runner is what the registry needs of a pipeline, whatever its signal.
type runner interface {
	identity() PipelineStats // ID, Name, Signal
	snapshot() Stats
	histograms() ExportHistograms
	activity() uint64
	reapable(now time.Time, idle time.Duration) bool
	reap() bool
	shutdown(ctx context.Context) error
	memoryReserved() int64
	logger() *slog.Logger
}

// RegistryOptions tune a Registry; zero values take the defaults.
type RegistryOptions struct {
	// IdleTimeout: a pipeline that received nothing for this long and holds
	// nothing is reaped. Default 5 minutes.
	IdleTimeout time.Duration
	// LogInterval: at most one log line per interval and problem kind per
	// pipeline. Default 10 seconds.
	LogInterval time.Duration
}

// NewRegistry returns an empty registry.
func NewRegistry(opts RegistryOptions) *Registry {
	if opts.IdleTimeout <= 0 {
		opts.IdleTimeout = 5 * time.Minute
	}
	if opts.LogInterval <= 0 {
		opts.LogInterval = 10 * time.Second
	}
	return &Registry{
		idleTimeout: opts.IdleTimeout,
		logInterval: opts.LogInterval,
		pipelines:   map[string]runner{},
		done:        make(chan struct{}),
	}
}

// DefaultRegistry is the registry of code that is not handed one (the
// plugin's instances started by go-pdk use it unless the plugin server
// injects another).
var DefaultRegistry = NewRegistry(RegistryOptions{})

// PipelineHandle is a plugin instance's way to its pipeline for one
// signal. It stays valid for the instance's whole life: when its pipeline
// has been reaped, the next Enqueue transparently acquires a new one.
type PipelineHandle[T any] struct {
	reg  *Registry
	sig  *signal[T]
	key  string
	cfg  schema.Config
	pipe atomic.Pointer[pipeline[T]]
}

// Handle is a plugin instance's handle on its traces pipeline.
type Handle = PipelineHandle[Span]

// Acquire returns a handle on the traces pipeline for cfg's backend,
// creating the pipeline (and its exporter) if none exists. It fails when
// the exporter cannot be built (unknown exporter, unreadable TLS files...)
// or after ShutdownAll.
func (r *Registry) Acquire(cfg *schema.Config) (*Handle, error) { return acquire(r, traces, cfg) }

func acquire[T any](r *Registry, sig *signal[T], cfg *schema.Config) (*PipelineHandle[T], error) {
	key, err := pipelineKey(sig.name, cfg)
	if err != nil {
		return nil, err
	}
	h := &PipelineHandle[T]{reg: r, sig: sig, key: key, cfg: *cfg}
	p, err := pipelineFor(r, sig, key, &h.cfg)
	if err != nil {
		return nil, err
	}
	h.pipe.Store(p)
	return h, nil
}

var errRegistryClosed = errors.New("exporter: registry shut down")

func pipelineFor[T any](r *Registry, sig *signal[T], key string, cfg *schema.Config) (*pipeline[T], error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if p, ok := r.pipelines[key]; ok {
		return p.(*pipeline[T]), nil
	}
	if r.closed {
		return nil, errRegistryClosed
	}
	p, err := newPipeline(sig, key, cfg, r.logInterval)
	if err != nil {
		return nil, err
	}
	p.lastActivityAt = time.Now()
	r.pipelines[key] = p
	r.memory.reserve(p.memory.Load())
	p.log.Info("pipeline started", slog.String("signal", sig.name))
	if !r.janitor {
		r.janitor = true
		go r.reapIdle()
	}
	return p, nil
}

// Enqueue hands a request's items to the pipeline and returns at once: it
// never waits for the backend. The items are accepted all together or
// dropped all together (counted by reason); it reports whether they were
// accepted. The pipeline owns the items afterwards.
func (h *PipelineHandle[T]) Enqueue(items []T) bool {
	if len(items) == 0 {
		return true
	}
	p := h.pipe.Load()
	for range 3 { // a reaped pipeline is replaced; more than one race in a row is absurd
		switch p.enqueue(items) {
		case queue.Accepted:
			return true
		case queue.Reaped:
			np, err := pipelineFor(h.reg, h.sig, h.key, &h.cfg)
			if err != nil {
				// Registry closed (shutting down) or the exporter cannot be
				// rebuilt: count on the old pipeline so the loss is visible.
				p.stats.drop(DropShutdown, len(items))
				return false
			}
			h.pipe.CompareAndSwap(p, np)
			p = np
		default:
			return false
		}
	}
	p.stats.drop(DropShutdown, len(items))
	return false
}

// Stats returns the counters of the handle's current pipeline.
func (h *PipelineHandle[T]) Stats() Stats { return h.pipe.Load().snapshot() }

// Name describes the pipeline's backend (exporter, endpoint; no secrets).
func (h *PipelineHandle[T]) Name() string { return h.pipe.Load().name }

// PipelineID is the id of the handle's current pipeline (PipelineStats.ID).
func (h *PipelineHandle[T]) PipelineID() string { return h.pipe.Load().id }

// PipelineStats is one pipeline's identity and counters.
type PipelineStats struct {
	// ID is a short hash of the pipeline's signal and backend config:
	// stable across restarts, distinct for two pipelines to one endpoint
	// (other headers, other queue settings...), and revealing nothing of
	// the config.
	ID string
	// Name is the exporter and endpoint (without credentials or query).
	Name string
	// Signal is "traces" (or, for pipelines of other signals, theirs).
	Signal string
	Stats  Stats
}

// Stats returns every live pipeline's counters, sorted by name, signal and
// id. Reaped pipelines are gone (they held nothing when reaped); after
// ShutdownAll the stopped pipelines stay listed with their final counts.
func (r *Registry) Stats() []PipelineStats {
	r.mu.Lock()
	out := make([]PipelineStats, 0, len(r.pipelines))
	for _, p := range r.pipelines {
		ps := p.identity()
		ps.Stats = p.snapshot()
		out = append(out, ps)
	}
	r.mu.Unlock()
	sort.Slice(out, func(i, j int) bool {
		if out[i].Name != out[j].Name {
			return out[i].Name < out[j].Name
		}
		if out[i].Signal != out[j].Signal {
			return out[i].Signal < out[j].Signal
		}
		return out[i].ID < out[j].ID
	})
	return out
}

// Histograms returns the export histograms of the pipeline with this id
// (PipelineStats.ID), if it is live.
func (r *Registry) Histograms(pipelineID string) (ExportHistograms, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, p := range r.pipelines {
		if p.identity().ID == pipelineID {
			return p.histograms(), true
		}
	}
	return ExportHistograms{}, false
}

// ShutdownAll flushes every pipeline within ctx's deadline, in parallel,
// then stops them. Items that could not be sent by then are counted as
// dropped (reason shutdown) or left in the spool; the error says how many.
// Acquire fails afterwards and Enqueue drops (counted).
func (r *Registry) ShutdownAll(ctx context.Context) error {
	r.mu.Lock()
	if !r.closed {
		r.closed = true
		close(r.done)
	}
	ps := make([]runner, 0, len(r.pipelines))
	for _, p := range r.pipelines {
		ps = append(ps, p)
	}
	r.mu.Unlock()

	errs := make([]error, len(ps))
	var wg sync.WaitGroup
	for i, p := range ps {
		wg.Go(func() { errs[i] = r.stop(ctx, p) })
	}
	wg.Wait()
	r.reaping.Wait()
	return errors.Join(errs...)
}

// stop shuts a pipeline down and returns its memory reservation, once.
func (r *Registry) stop(ctx context.Context, p runner) error {
	err := p.shutdown(ctx)
	if n := p.memoryReserved(); n != 0 {
		r.memory.reserve(-n)
	}
	return err
}

// reapIdle runs while the registry has pipelines: it removes pipelines that
// received nothing for idleTimeout and hold nothing.
func (r *Registry) reapIdle() {
	tick := time.NewTicker(max(r.idleTimeout/4, 10*time.Millisecond))
	defer tick.Stop()
	for {
		select {
		case now := <-tick.C:
			if !r.reapOnce(now) {
				return
			}
		case <-r.done:
			return
		}
	}
}

// reapOnce reaps idle pipelines and reports whether the janitor should
// keep running.
func (r *Registry) reapOnce(now time.Time) bool {
	var reaped []runner
	r.mu.Lock()
	for key, p := range r.pipelines {
		if r.closed {
			break // ShutdownAll stops them
		}
		if p.reapable(now, r.idleTimeout) && p.reap() {
			delete(r.pipelines, key)
			reaped = append(reaped, p)
		}
	}
	keepRunning := len(r.pipelines) > 0 && !r.closed
	if !keepRunning {
		r.janitor = false
	}
	// Counted under the lock: ShutdownAll, which waits for them, marks the
	// registry closed under it first.
	r.reaping.Add(len(reaped))
	r.mu.Unlock()
	for _, p := range reaped {
		p.logger().Info("idle pipeline stopped", slog.Duration("idle", r.idleTimeout))
		go func() {
			defer r.reaping.Done()
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			_ = r.stop(ctx, p) // holds nothing: only goroutines and connections to release
		}()
	}
	return keepRunning
}

// The registry's view of a pipeline.

func (p *pipeline[T]) identity() PipelineStats {
	return PipelineStats{ID: p.id, Name: p.name, Signal: p.sig.name}
}

func (p *pipeline[T]) histograms() ExportHistograms { return p.hist.snapshot() }

func (p *pipeline[T]) logger() *slog.Logger { return p.log }

// memoryReserved hands back the pipeline's memory reservation the first
// time it is asked, 0 afterwards.
func (p *pipeline[T]) memoryReserved() int64 { return p.memory.Swap(0) }

// reapable reports whether the pipeline received nothing for idle
// (registry janitor only: it tracks activity between calls).
func (p *pipeline[T]) reapable(now time.Time, idle time.Duration) bool {
	if a := p.activity(); a != p.lastActivity {
		p.lastActivity, p.lastActivityAt = a, now
		return false
	}
	return now.Sub(p.lastActivityAt) >= idle
}

// reap marks the pipeline reaped if its source holds nothing.
func (p *pipeline[T]) reap() bool { return p.src.Reap() }

// pipelineKey is the canonical form of everything that changes how or where
// items go. Instances whose configs differ only elsewhere (sampling, span
// naming, propagation, redaction...) share a pipeline.
func pipelineKey(signal string, cfg *schema.Config) (string, error) {
	k := struct {
		Signal             string `json:",omitempty"`
		Exporter           schema.ExporterName
		Protocol           schema.Protocol
		Endpoint           string
		Headers            map[string]string
		ResourceAttributes map[string]string
		Queue              queueKey
		Timeouts           [3]int
		Compression        schema.Compression
		TLS                [5]string
		File               [3]string
		StdoutFormat       schema.StdoutFormat
		Spool              [2]string
		// Only for exporter kafka, so other backends keep their keys (and
		// their spool files) across this field's introduction.
		Kafka *schema.Kafka `json:",omitempty"`
	}{
		Exporter:           cfg.Exporter,
		Protocol:           cfg.Protocol,
		Endpoint:           cfg.TracesURL(),
		Headers:            nilIfEmpty(cfg.Headers),
		ResourceAttributes: nilIfEmpty(cfg.ResourceAttributes),
		Queue:              newQueueKey(&cfg.Queue),
		Timeouts:           [3]int{cfg.ConnectTimeout, cfg.SendTimeout, cfg.ReadTimeout},
		Compression:        cfg.Compression,
		TLS:                [5]string{strconv.FormatBool(cfg.TLSVerify), cfg.TLSCAFile, cfg.TLSClientCertFile, cfg.TLSClientKeyFile, cfg.TLSServerName},
		File:               [3]string{cfg.FilePath, strconv.Itoa(cfg.FileMaxBytes), strconv.Itoa(cfg.FileMaxFiles)},
		StdoutFormat:       cfg.StdoutFormat,
		Spool:              [2]string{cfg.SpoolDir, strconv.Itoa(cfg.SpoolMaxBytes)},
	}
	if signal != traces.name {
		// Traces keep the key (and so the id and spool file) they had before
		// pipelines carried other signals.
		k.Signal = signal
	}
	if cfg.Exporter == schema.ExporterKafka {
		k.Kafka = &cfg.Kafka
	}
	b, err := json.Marshal(k) // maps are marshalled with sorted keys: canonical
	return string(b), err
}

// queueKey is the queue settings in a pipeline key: listed field by field
// so a setting added later changes no existing pipeline's key (its id, its
// spool file name) unless it is used.
type queueKey struct {
	MaxBatchSize       int     `json:"max_batch_size"`
	MaxCoalescingDelay float64 `json:"max_coalescing_delay"`
	MaxEntries         int     `json:"max_entries"`
	MaxBytes           int     `json:"max_bytes"`
	InitialRetryDelay  float64 `json:"initial_retry_delay"`
	MaxRetryTime       float64 `json:"max_retry_time"`
	MaxRetryDelay      float64 `json:"max_retry_delay"`
	ConcurrencyLimit   int     `json:"concurrency_limit"`
	Breaker            string  `json:"breaker,omitempty"` // threshold and cooldown, when on
}

func newQueueKey(q *schema.Queue) queueKey {
	k := queueKey{q.MaxBatchSize, q.MaxCoalescingDelay, q.MaxEntries, q.MaxBytes,
		q.InitialRetryDelay, q.MaxRetryTime, q.MaxRetryDelay, q.ConcurrencyLimit, ""}
	if q.FailureThreshold > 0 {
		k.Breaker = strconv.Itoa(q.FailureThreshold) + "/" + strconv.FormatFloat(q.BreakerCooldown, 'g', -1, 64)
	}
	return k
}

// nilIfEmpty makes an empty map and an absent one the same key.
func nilIfEmpty(m map[string]string) map[string]string {
	if len(m) == 0 {
		return nil
	}
	return m
}

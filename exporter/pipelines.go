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

	"github.com/trace-exporter/trace-exporter/schema"
)

// Registry owns the process's pipelines, keyed by backend config. Kong
// creates a plugin instance per route/service config and a new one on
// every config change, and go-pdk never says when one is gone; so
// pipelines are not tied to instances: instances with the same backend
// share one, and a pipeline idle for IdleTimeout is reaped.
type Registry struct {
	idleTimeout time.Duration
	logInterval time.Duration

	mu        sync.Mutex
	pipelines map[string]*pipeline
	closed    bool
	janitor   bool           // the reaping goroutine runs
	done      chan struct{}  // closed by ShutdownAll: stops the janitor
	reaping   sync.WaitGroup // shutdowns of reaped pipelines
}

// RegistryOptions tune a Registry; zero values take the defaults.
type RegistryOptions struct {
	// IdleTimeout: a pipeline that received no span for this long and holds
	// none is reaped. Default 5 minutes.
	IdleTimeout time.Duration
	// LogInterval: at most one log line per interval and problem kind per
	// pipeline. Default 10 seconds.
	LogInterval time.Duration
}

// NewRegistry returns an empty registry. The process uses DefaultRegistry;
// tests make their own.
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
		pipelines:   map[string]*pipeline{},
		done:        make(chan struct{}),
	}
}

// DefaultRegistry is the process-wide registry used by Acquire and
// ShutdownAll.
var DefaultRegistry = NewRegistry(RegistryOptions{})

// Acquire returns a handle on the pipeline for cfg's backend in
// DefaultRegistry, creating the pipeline if needed.
func Acquire(cfg *schema.Config) (*Handle, error) { return DefaultRegistry.Acquire(cfg) }

// AllStats returns the counters of every pipeline of DefaultRegistry.
func AllStats() []PipelineStats { return DefaultRegistry.Stats() }

// ShutdownAll flushes and stops every pipeline of DefaultRegistry.
func ShutdownAll(ctx context.Context) error { return DefaultRegistry.ShutdownAll(ctx) }

// Handle is a plugin instance's way to its pipeline. It stays valid for the
// instance's whole life: when its pipeline has been reaped, the next
// Enqueue transparently acquires a new one.
type Handle struct {
	reg  *Registry
	key  string
	cfg  schema.Config
	pipe atomic.Pointer[pipeline]
}

// Acquire returns a handle on the pipeline for cfg's backend, creating the
// pipeline (and its exporter) if none exists. It fails when the exporter
// cannot be built (unknown exporter, unreadable TLS files...) or after
// ShutdownAll.
func (r *Registry) Acquire(cfg *schema.Config) (*Handle, error) {
	key, err := pipelineKey(cfg)
	if err != nil {
		return nil, err
	}
	h := &Handle{reg: r, key: key, cfg: *cfg}
	p, err := r.pipelineFor(key, &h.cfg)
	if err != nil {
		return nil, err
	}
	h.pipe.Store(p)
	return h, nil
}

var errRegistryClosed = errors.New("exporter: registry shut down")

func (r *Registry) pipelineFor(key string, cfg *schema.Config) (*pipeline, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if p, ok := r.pipelines[key]; ok {
		return p, nil
	}
	if r.closed {
		return nil, errRegistryClosed
	}
	p, err := newPipeline(key, cfg, r.logInterval)
	if err != nil {
		return nil, err
	}
	p.lastActivityAt = time.Now()
	r.pipelines[key] = p
	p.log.Info("pipeline started")
	if !r.janitor {
		r.janitor = true
		go r.reapIdle()
	}
	return p, nil
}

// Enqueue hands a request's spans to the pipeline and returns at once: it
// never waits for the backend. The spans are accepted all together or
// dropped all together (counted by reason); it reports whether they were
// accepted. The pipeline owns the spans afterwards.
func (h *Handle) Enqueue(spans []Span) bool {
	if len(spans) == 0 {
		return true
	}
	p := h.pipe.Load()
	for range 3 { // a reaped pipeline is replaced; more than one race in a row is absurd
		switch p.enqueue(spans) {
		case pushAccepted:
			return true
		case pushReaped:
			np, err := h.reg.pipelineFor(h.key, &h.cfg)
			if err != nil {
				// Registry closed (shutting down) or the exporter cannot be
				// rebuilt: count on the old pipeline so the loss is visible.
				p.stats.drop(DropShutdown, len(spans))
				return false
			}
			h.pipe.CompareAndSwap(p, np)
			p = np
		default:
			return false
		}
	}
	p.stats.drop(DropShutdown, len(spans))
	return false
}

// Stats returns the counters of the handle's current pipeline.
func (h *Handle) Stats() Stats { return h.pipe.Load().snapshot() }

// Name describes the pipeline's backend (exporter, endpoint; no secrets).
func (h *Handle) Name() string { return h.pipe.Load().name }

// PipelineStats is one pipeline's identity and counters.
type PipelineStats struct {
	// ID is a short hash of the pipeline's backend config: stable across
	// restarts, distinct for two pipelines to one endpoint (other headers,
	// other queue settings...), and revealing nothing of the config.
	ID string
	// Name is the exporter and endpoint (without credentials or query).
	Name  string
	Stats Stats
}

// Stats returns every live pipeline's counters, sorted by name and id. Reaped
// pipelines are gone (they held nothing when reaped); after ShutdownAll the
// stopped pipelines stay listed with their final counts.
func (r *Registry) Stats() []PipelineStats {
	r.mu.Lock()
	out := make([]PipelineStats, 0, len(r.pipelines))
	for _, p := range r.pipelines {
		out = append(out, PipelineStats{ID: p.id, Name: p.name, Stats: p.snapshot()})
	}
	r.mu.Unlock()
	sort.Slice(out, func(i, j int) bool {
		if out[i].Name != out[j].Name {
			return out[i].Name < out[j].Name
		}
		return out[i].ID < out[j].ID
	})
	return out
}

// ShutdownAll flushes every pipeline within ctx's deadline, in parallel,
// then stops them. Spans that could not be sent by then are counted as
// dropped (reason shutdown); the error says how many. Acquire fails
// afterwards and Enqueue drops (counted).
func (r *Registry) ShutdownAll(ctx context.Context) error {
	r.mu.Lock()
	if !r.closed {
		r.closed = true
		close(r.done)
	}
	ps := make([]*pipeline, 0, len(r.pipelines))
	for _, p := range r.pipelines {
		ps = append(ps, p)
	}
	r.mu.Unlock()

	errs := make([]error, len(ps))
	var wg sync.WaitGroup
	for i, p := range ps {
		wg.Go(func() { errs[i] = p.shutdown(ctx) })
	}
	wg.Wait()
	r.reaping.Wait()
	return errors.Join(errs...)
}

// reapIdle runs while the registry has pipelines: it removes pipelines that
// saw no span for idleTimeout and hold none.
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
	var reaped []*pipeline
	r.mu.Lock()
	for key, p := range r.pipelines {
		if a := p.activity(); a != p.lastActivity {
			p.lastActivity, p.lastActivityAt = a, now
			continue
		}
		if now.Sub(p.lastActivityAt) >= r.idleTimeout && p.spoolIdle() && p.queue.reapIfEmpty() {
			delete(r.pipelines, key)
			reaped = append(reaped, p)
		}
	}
	keepRunning := len(r.pipelines) > 0 && !r.closed
	if !keepRunning {
		r.janitor = false
	}
	r.mu.Unlock()
	for _, p := range reaped {
		p.log.Info("idle pipeline stopped", slog.Duration("idle", r.idleTimeout))
		r.reaping.Go(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			_ = p.shutdown(ctx) // holds no span: only goroutines and connections to release
		})
	}
	return keepRunning
}

// pipelineKey is the canonical form of everything that changes how or where
// spans go. Instances whose configs differ only elsewhere (sampling, span
// naming, propagation, redaction...) share a pipeline.
func pipelineKey(cfg *schema.Config) (string, error) {
	k := struct {
		Exporter           schema.ExporterName
		Protocol           schema.Protocol
		Endpoint           string
		Headers            map[string]string
		ResourceAttributes map[string]string
		Queue              schema.Queue
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
		Queue:              cfg.Queue,
		Timeouts:           [3]int{cfg.ConnectTimeout, cfg.SendTimeout, cfg.ReadTimeout},
		Compression:        cfg.Compression,
		TLS:                [5]string{boolString(cfg.TLSVerify), cfg.TLSCAFile, cfg.TLSClientCertFile, cfg.TLSClientKeyFile, cfg.TLSServerName},
		File:               [3]string{cfg.FilePath, itoa(cfg.FileMaxBytes), itoa(cfg.FileMaxFiles)},
		StdoutFormat:       cfg.StdoutFormat,
		Spool:              [2]string{cfg.SpoolDir, itoa(cfg.SpoolMaxBytes)},
	}
	if cfg.Exporter == schema.ExporterKafka {
		k.Kafka = &cfg.Kafka
	}
	b, err := json.Marshal(k) // maps are marshalled with sorted keys: canonical
	return string(b), err
}

func boolString(b bool) string {
	if b {
		return "true"
	}
	return "false"
}

func itoa(n int) string { return strconv.Itoa(n) }

// nilIfEmpty makes an empty map and an absent one the same key.
func nilIfEmpty(m map[string]string) map[string]string {
	if len(m) == 0 {
		return nil
	}
	return m
}

// PipelineID is the id of the handle's current pipeline (PipelineStats.ID).
func (h *Handle) PipelineID() string { return h.pipe.Load().id }

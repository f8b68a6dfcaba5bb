package exporter

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/trace-exporter/trace-exporter/exporter/internal/queue"
	"github.com/trace-exporter/trace-exporter/exporter/internal/retry"
	"github.com/trace-exporter/trace-exporter/exporter/internal/spool"
	"github.com/trace-exporter/trace-exporter/schema"
)

// maxBatchBytes caps one batch by estimated bytes. The estimate is at least
// the protobuf size, so an OTLP/HTTP protobuf request stays far below the
// spec's 64 MiB limit, and OTLP/JSON (about 2× larger, 6× at worst for
// strings made of control characters) below it too.
const maxBatchBytes = 8 << 20

// concurrencyNoQueueing is what queue.concurrency_limit = -1 means here:
// Kong's "no queueing" sends each entry in its own timer; we keep batching
// (a request per span would be far slower) and allow this many in flight.
const concurrencyNoQueueing = 8

// signal is what a pipeline needs to know of its items: written once for
// every signal (spans, log records), not copied per signal.
type signal[T any] struct {
	name  string         // "traces": the pipeline's signal label
	unit  string         // "spans": what its logs call the items
	size  func(*T) int64 // memory estimate, at least the encoded size
	codec spool.Codec[T] // nil: never spooled
	push  func(ctx context.Context, exp Exporter, b *batchOf[T]) error
	// accepts reports whether a backend's exporter can carry the signal
	// (nil: every Exporter can).
	accepts func(Exporter) bool
}

// batchOf is one export attempt's items with what describes them.
type batchOf[T any] struct {
	items    []T
	resource *Resource
	scope    Scope
}

// pipeline is one backend's queue (memory, or a disk spool in front of
// it), workers and exporter for one signal, shared by every plugin
// instance whose config selects that backend.
//
// Its workers (concurrency_limit of them) read batches from the source
// (by size or delay), export each through the retry layer and the circuit
// breaker, and settle it; every item accepted ends up exported, dropped
// with one reason, or left in the spool for the next process.
type pipeline[T any] struct {
	key   string
	id    string // short hash of key: tells apart pipelines of one endpoint
	name  string // for logs and stats: exporter and endpoint, no secrets
	sig   *signal[T]
	log   *slog.Logger
	exp   Exporter
	res   *Resource
	scope Scope
	src   queue.Source[T]
	// offerBuffers hold the copy of a request's items Offer receives (see
	// enqueue).
	offerBuffers sync.Pool
	retry        retry.Policy
	breaker      *retry.Breaker
	stats        counters
	hist         exportHistograms
	memory       atomic.Int64 // queue.max_bytes, reserved in the registry's memory bound

	// exportCtx is cancelled when the shutdown deadline passes: exports and
	// retry delays end, and what is left is counted or kept on disk.
	exportCtx    context.Context
	cancelExport context.CancelFunc
	finished     chan struct{} // every worker returned
	stopReports  chan struct{}
	reportsDone  chan struct{}
	shutdownOnce sync.Once
	shutdownErr  error

	exportErrors *ThrottledLog
	rejections   *ThrottledLog
	dropErrors   *ThrottledLog
	reportEvery  time.Duration
	lastReported [numDropReasons]uint64 // report goroutine only

	// Reaping (registry janitor only).
	lastActivity   uint64
	lastActivityAt time.Time
}

// hashKey is the hash of a pipeline's registry key: the first 4 bytes name
// the pipeline (its id), the first 8 its spool file.
func hashKey(key string) [sha256.Size]byte { return sha256.Sum256([]byte(key)) }

func pipelineID(key string) string {
	sum := hashKey(key)
	return hex.EncodeToString(sum[:4])
}

// spoolFileID names a pipeline's spool file, so the same config finds its
// file again after a restart.
func spoolFileID(key string) string {
	sum := hashKey(key)
	return hex.EncodeToString(sum[:8])
}

func newPipeline[T any](sig *signal[T], key string, cfg *schema.Config, logInterval time.Duration) (*pipeline[T], error) {
	p, err := buildPipeline(sig, key, cfg, logInterval)
	if err != nil {
		return nil, err
	}
	p.start(cfg.Queue.ConcurrencyLimit)
	return p, nil
}

// buildPipeline makes a pipeline, its exporter and its source, not started.
func buildPipeline[T any](sig *signal[T], key string, cfg *schema.Config, logInterval time.Duration) (*pipeline[T], error) {
	b, err := lookupBackend(cfg)
	if err != nil {
		return nil, err
	}
	name := b.describe(cfg)
	id := pipelineID(key)
	logger := slog.Default().With(slog.String("pipeline", name), slog.String("pipeline_id", id))
	exp, err := b.factory(cfg, Settings{Logger: logger})
	if err != nil {
		return nil, err
	}
	if sig.accepts != nil && !sig.accepts(exp) {
		_ = exp.Shutdown(context.Background())
		return nil, errNotFor(sig.name, string(cfg.Exporter))
	}
	q := &cfg.Queue
	p := &pipeline[T]{
		key:          key,
		id:           id,
		name:         name,
		sig:          sig,
		log:          logger,
		exp:          exp,
		res:          NewResource(cfg),
		scope:        NewScope(),
		retry:        retry.Policy{Initial: q.InitialRetry(), Max: q.MaxRetry(), Budget: q.RetryBudget()},
		breaker:      retry.NewBreaker(q.FailureThreshold, q.BreakerCooldownDuration()),
		hist:         newExportHistograms(),
		finished:     make(chan struct{}),
		stopReports:  make(chan struct{}),
		reportsDone:  make(chan struct{}),
		exportErrors: NewThrottledLog(logger, slog.LevelWarn, "export failed", logInterval),
		rejections:   NewThrottledLog(logger, slog.LevelWarn, "backend rejected "+sig.unit+" (partial success)", logInterval),
		dropErrors:   NewThrottledLog(logger, slog.LevelError, sig.unit+" lost", logInterval),
		reportEvery:  logInterval,
	}
	front := queue.Options[T]{
		MaxItems:   q.MaxEntries,
		MaxBytes:   int64(q.MaxBytes),
		BatchSize:  max(q.MaxBatchSize, 1),
		BatchBytes: maxBatchBytes,
		Delay:      q.CoalescingDelay(),
		Size:       sig.size,
	}
	if cfg.SpoolDir != "" && sig.codec != nil {
		p.src = spool.New(spool.Options[T]{
			Dir: cfg.SpoolDir, FileID: spoolFileID(key), Destination: name,
			MaxBytes: int64(cfg.SpoolMaxBytes), Front: front, Codec: sig.codec, Unit: sig.unit,
			Logger: logger, LogInterval: logInterval,
			Hooks: spool.Hooks{
				Persisted: func(n int) { p.stats.spooled.Add(uint64(n)) },
				Replayed:  func(n int64) { p.stats.replayed.Add(uint64(n)) },
				Evicted: func(n int) {
					p.stats.drop(DropSpoolFull, n)
					p.dropErrors.Log(slog.String("reason", DropSpoolFull.String()), slog.Int(p.sig.unit, n),
						slog.String("error", "spool_max_bytes reached: oldest records deleted"))
				},
				Corrupt: func(records, n int) {
					p.stats.spoolCorrupt.Add(uint64(records))
					p.stats.drop(DropSpoolCorrupt, n)
				},
			},
		})
	} else {
		p.src = queue.NewMemory(front)
	}
	p.memory.Store(int64(q.MaxBytes))
	p.exportCtx, p.cancelExport = context.WithCancel(context.Background())
	return p, nil
}

// start runs concurrencyLimit workers (queue.concurrency_limit; -1 is
// Kong's "no queueing") and the drop reports.
func (p *pipeline[T]) start(concurrencyLimit int) {
	if concurrencyLimit < 0 {
		concurrencyLimit = concurrencyNoQueueing
	}
	var workers sync.WaitGroup
	for range max(concurrencyLimit, 1) {
		workers.Go(p.work)
	}
	go func() {
		workers.Wait()
		close(p.finished)
	}()
	go p.reportLoop()
}

// enqueue offers a request's items; see queue.Source.Offer.
func (p *pipeline[T]) enqueue(items []T) queue.Result {
	// Offer is an interface call, so the slice it is given escapes to the
	// heap: offered directly, the caller's array (the log handler builds a
	// request's spans on its stack) would be allocated on every request.
	// The source copies what it accepts anyway; a pooled copy costs a
	// memmove instead.
	bp, _ := p.offerBuffers.Get().(*[]T)
	if bp == nil {
		bp = new([]T)
	}
	offered := append((*bp)[:0], items...)
	r := p.src.Offer(offered)
	clear(offered) // the pool must not keep the items' memory alive
	*bp = offered[:0]
	p.offerBuffers.Put(bp)
	switch r {
	case queue.Accepted:
		p.stats.enqueued.Add(uint64(len(items)))
	case queue.FullItems:
		p.stats.drop(DropQueueFullEntries, len(items))
	case queue.FullBytes:
		p.stats.drop(DropQueueFullBytes, len(items))
	case queue.Shutdown:
		p.stats.drop(DropShutdown, len(items))
	}
	return r
}

// activity counts every item offered, accepted or not: a pipeline that is
// refusing items is busy, not idle.
func (p *pipeline[T]) activity() uint64 {
	s := &p.stats
	return s.enqueued.Load() + s.dropped[DropQueueFullEntries].Load() + s.dropped[DropQueueFullBytes].Load()
}

func (p *pipeline[T]) snapshot() Stats {
	s := p.stats.snapshot()
	u := p.src.Usage()
	s.QueueSpans, s.QueueBytes = u.Items, u.Bytes
	s.SpoolSpans, s.SpoolBytes, s.SpoolOpen = u.StoredItems, u.StoredBytes, u.StoreOpen
	s.CircuitOpen = p.breaker.Open(time.Now())
	return s
}

// work is one worker: read a batch, export it, settle it, until the source
// is finished.
func (p *pipeline[T]) work() {
	for {
		if p.src.Durable() && !p.waitForBreaker() {
			return
		}
		b, ok := p.src.Read(p.exportCtx)
		if !ok {
			return
		}
		p.process(b)
	}
}

// waitForBreaker holds a worker of a durable source while the circuit
// breaker is open: its batches wait where they are. It reports false when
// the pipeline stops meanwhile.
func (p *pipeline[T]) waitForBreaker() bool {
	for {
		now := time.Now()
		if !p.breaker.Open(now) {
			return true
		}
		// The cooldown's rest, or a probe is out: look again soon.
		wait := max(p.breaker.Remaining(now), 100*time.Millisecond)
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-p.exportCtx.Done():
			t.Stop()
			return false
		}
	}
}

// process exports one batch and settles it. Every item of the batch is
// accounted for exactly once.
func (p *pipeline[T]) process(b *queue.Batch[T]) {
	n := len(b.Items)
	if ok, _ := p.breaker.Allow(time.Now()); !ok {
		if lost := b.Done(queue.Returned); lost > 0 {
			p.stats.drop(DropCircuitOpen, lost)
			p.stats.failedBatches.Add(1)
			p.dropErrors.Log(slog.String("reason", DropCircuitOpen.String()), slog.Int(p.sig.unit, lost),
				slog.String("error", "circuit breaker open: the backend failed queue.failure_threshold batches in a row"))
		}
		return
	}
	err, panicked := p.export(b)
	switch {
	case panicked:
		b.Done(queue.Settled)
		p.stats.drop(DropPermanent, n)
		p.stats.failedBatches.Add(1)
		p.breaker.Record(time.Now(), false)
	case errors.Is(err, retry.ErrStopped):
		// Shutdown deadline, or the batch was called back (spool): kept
		// if its source can, else lost.
		if lost := b.Done(queue.Returned); lost > 0 {
			p.stats.drop(DropShutdown, lost)
			p.stats.failedBatches.Add(1)
		}
	case errors.Is(err, retry.ErrBudgetExhausted) && p.src.Durable():
		// A spool's batch is never given up: it goes back to disk and is
		// sent again later. It still counts as a failed batch.
		if lost := b.Done(queue.Returned); lost > 0 {
			p.stats.drop(DropRetryExhausted, lost)
			p.stats.failedBatches.Add(1)
		}
		p.exportErrors.Log(slog.String("error", err.Error()), slog.String("outcome", "kept in the spool"), slog.Int(p.sig.unit, n))
		p.recordBreaker(false)
	default:
		// Settled before the counters move, so Exported never covers
		// items still on disk.
		b.Done(queue.Settled)
		p.recordBreaker(p.account(n, err))
	}
}

// recordBreaker reports a batch's outcome to the circuit breaker.
func (p *pipeline[T]) recordBreaker(delivered bool) {
	if p.breaker.Record(time.Now(), delivered) {
		what := "shedding batches"
		if p.src.Durable() {
			what = "batches wait in the spool"
		}
		p.log.Warn("circuit breaker open: "+what+" without trying the backend",
			slog.Int("failure_threshold", p.breaker.Threshold()), slog.Duration("cooldown", p.breaker.Cooldown()))
	}
}

// export sends one batch through the retry layer. A panicking exporter
// loses the batch, not the process.
func (p *pipeline[T]) export(b *queue.Batch[T]) (err error, panicked bool) {
	defer func() {
		if r := recover(); r != nil {
			p.stats.panics.Add(1)
			p.log.Error("exporter panicked; batch dropped", slog.Any("panic", r), slog.Int(p.sig.unit, len(b.Items)))
			err, panicked = nil, true
		}
	}()
	batch := &batchOf[T]{items: b.Items, resource: p.res, scope: p.scope}
	attempt := func(ctx context.Context) error {
		start := time.Now()
		err := p.sig.push(ctx, p.exp, batch)
		p.hist.observe(len(b.Items), time.Since(start))
		return err
	}
	onRetry := func(err error, delay time.Duration) {
		p.stats.retries.Add(1)
		p.exportErrors.Log(slog.String("error", err.Error()), slog.Duration("retry_in", delay), slog.Int(p.sig.unit, len(b.Items)))
	}
	return p.retry.Run(p.exportCtx, b.Stop, attempt, classify, onRetry), false
}

// classify reads an Exporter's error for the retry layer (see Exporter).
func classify(err error) (final bool, after time.Duration) {
	if IsPermanent(err) {
		return true, 0
	}
	after, _ = RetryDelay(err)
	return false, after
}

// account records the outcome of a batch of n items and reports whether
// the backend took it (fully or in part).
func (p *pipeline[T]) account(n int, err error) (delivered bool) {
	var partial *PartialError
	switch {
	case err == nil:
		p.stats.exported.Add(uint64(n))
		p.stats.batches.Add(1)
		return true
	case errors.As(err, &partial):
		rejected := int(min(max(partial.Rejected, 0), int64(n)))
		p.stats.exported.Add(uint64(n - rejected))
		p.stats.drop(DropRejected, rejected)
		p.stats.batches.Add(1)
		p.rejections.Log(slog.String("message", partial.Message), slog.Int("rejected", rejected), slog.Int(p.sig.unit, n))
		return true
	}
	reason := DropPermanent
	if errors.Is(err, retry.ErrBudgetExhausted) {
		reason = DropRetryExhausted
	}
	p.stats.drop(reason, n)
	p.stats.failedBatches.Add(1)
	p.dropErrors.Log(slog.String("reason", reason.String()), slog.Int(p.sig.unit, n), slog.String("error", err.Error()))
	return false
}

// reportLoop logs items refused by a full queue, at most once per
// interval: Offer itself never logs (it runs in Kong's log handler).
func (p *pipeline[T]) reportLoop() {
	defer close(p.reportsDone)
	tick := time.NewTicker(p.reportEvery)
	defer tick.Stop()
	for {
		select {
		case <-tick.C:
			p.reportDrops()
		case <-p.stopReports:
			p.reportDrops()
			return
		}
	}
}

func (p *pipeline[T]) reportDrops() {
	for _, r := range []DropReason{DropQueueFullEntries, DropQueueFullBytes} {
		now := p.stats.dropped[r].Load()
		if d := now - p.lastReported[r]; d > 0 {
			p.lastReported[r] = now
			u := p.src.Usage()
			p.log.Warn("queue full: new "+p.sig.unit+" dropped", slog.String("reason", r.String()),
				slog.Uint64(p.sig.unit, d), slog.Int64("queued_"+p.sig.unit, u.Items), slog.Int64("queued_bytes", u.Bytes))
		}
	}
}

// shutdown flushes what the pipeline holds within ctx's deadline, then
// stops it and shuts the exporter down. Items still unsent at the deadline
// are counted as dropped (reason shutdown) or left in the spool. Safe to
// call more than once.
func (p *pipeline[T]) shutdown(ctx context.Context) error {
	p.shutdownOnce.Do(func() { p.shutdownErr = p.doShutdown(ctx) })
	return p.shutdownErr
}

func (p *pipeline[T]) doShutdown(ctx context.Context) error {
	p.src.Drain()
	select {
	case <-p.finished:
	case <-ctx.Done():
		p.cancelExport()
		// Exporters honour ctx, so the workers return promptly; the grace
		// period only guards against one that does not.
		select {
		case <-p.finished:
		case <-time.After(time.Second):
			p.log.Error("exporter ignored cancellation at shutdown")
		}
	}
	p.cancelExport()
	lost, closeErr := p.src.Close()
	p.stats.drop(DropShutdown, lost)
	close(p.stopReports)
	<-p.reportsDone
	p.logFinalStats()
	var errs []error
	if closeErr != nil {
		errs = append(errs, fmt.Errorf("pipeline %s: closing spool: %w", p.name, closeErr))
	}
	if n := p.stats.dropped[DropShutdown].Load(); n > 0 {
		errs = append(errs, fmt.Errorf("pipeline %s: %d %s not sent before the shutdown deadline", p.name, n, p.sig.unit))
	}
	p.exportErrors.Flush()
	p.rejections.Flush()
	p.dropErrors.Flush()
	shutdownCtx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if ctx.Err() == nil {
		shutdownCtx = ctx
	}
	if err := p.exp.Shutdown(shutdownCtx); err != nil {
		errs = append(errs, fmt.Errorf("pipeline %s: exporter shutdown: %w", p.name, err))
	}
	return errors.Join(errs...)
}

// logFinalStats writes the pipeline's counters when it stops, so every
// loss is visible in Kong's log after a stop or reload.
func (p *pipeline[T]) logFinalStats() {
	s := p.snapshot()
	attrs := []any{
		slog.Uint64("enqueued", s.Enqueued), slog.Uint64("exported", s.Exported),
		slog.Uint64("dropped", s.DroppedTotal()), slog.Uint64("retries", s.Retries),
		slog.Uint64("batches", s.Batches),
	}
	for _, r := range DropReasons() {
		if n := s.Dropped[r]; n > 0 {
			attrs = append(attrs, slog.Uint64("dropped_"+r.String(), n))
		}
	}
	if _, ok := p.src.(*spool.Spool[T]); ok {
		attrs = append(attrs, slog.Uint64("spooled", s.Spooled), slog.Uint64("replayed", s.Replayed),
			slog.Uint64("spool_corrupt_records", s.SpoolCorrupt), slog.Int64("spool_left", s.SpoolSpans))
	}
	p.log.Info("pipeline stopped", attrs...)
}

// panicsTotal is the exporter panics this pipeline recovered.
func (p *pipeline[T]) panicsTotal() uint64 { return p.stats.panics.Load() }

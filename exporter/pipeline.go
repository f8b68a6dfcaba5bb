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

// pipeline is one backend's queue, batcher and exporter, shared by every
// plugin instance whose config selects that backend.
//
// Goroutines: one batcher cuts batches from the queue (by size or delay) and
// hands them to concurrency_limit workers, which export with retries.
type pipeline struct {
	key   string // registry key: the backend config
	id    string // short hash of key: tells apart pipelines of one endpoint
	name  string // for logs and stats: exporter and endpoint, no secrets
	log   *slog.Logger
	exp   Exporter
	batch Batch // Resource and Scope of every batch

	queue     *queue
	stats     counters
	retry     retryPolicy
	batchSize int
	delay     time.Duration

	work chan takenBatch // batcher → workers; unbuffered

	// exportCtx is cancelled when the shutdown deadline passes: exports and
	// retry delays end, and what is left is counted as dropped.
	exportCtx    context.Context
	cancelExport context.CancelFunc
	batcherDone  chan struct{}
	workersDone  sync.WaitGroup
	shutdownOnce sync.Once
	shutdownErr  error

	exportErrors *ThrottledLog
	rejections   *ThrottledLog
	dropErrors   *ThrottledLog
	reportEvery  time.Duration
	lastReported [numDropReasons]uint64 // batcher goroutine only

	// Reaping (registry janitor only).
	lastActivity   uint64
	lastActivityAt time.Time

	panics atomic.Uint64

	// Spool (nil when spool_dir is empty): see spool.go and spoolsend.go.
	spool            *spool
	spoolCancel      context.CancelFunc
	spoolSendersDone sync.WaitGroup
	// shutdownBegun is closed when shutdown starts: spool senders then stop
	// retrying (what fails stays on disk for the next process).
	shutdownBegun chan struct{}
	spoolGaveUp   atomic.Bool // a send failed while shutting down
	// spoolSendersActive counts running senders: the queue keeps taking
	// spans during a shutdown while they flush.
	spoolSendersActive atomic.Int32
	spoolErrors        *ThrottledLog
}

type takenBatch struct {
	spans []Span
	bytes int64
}

// batchPool recycles span slices of finished batches (exporters must not
// keep them, per the Exporter contract).
var batchPool sync.Pool

func newPipeline(key string, cfg *schema.Config, logInterval time.Duration) (*pipeline, error) {
	b, err := lookupBackend(cfg)
	if err != nil {
		return nil, err
	}
	name := b.describe(cfg)
	sum := sha256.Sum256([]byte(key))
	id := hex.EncodeToString(sum[:4])
	logger := slog.Default().With(slog.String("pipeline", name), slog.String("pipeline_id", id))
	exp, err := instrumented(b.factory)(cfg, Settings{Logger: logger})
	if err != nil {
		return nil, err
	}
	q := &cfg.Queue
	concurrency := q.ConcurrencyLimit
	if concurrency < 0 {
		concurrency = concurrencyNoQueueing
	}
	concurrency = max(concurrency, 1)
	p := &pipeline{
		key:           key,
		id:            id,
		name:          name,
		log:           logger,
		exp:           exp,
		batch:         Batch{Resource: NewResource(cfg), Scope: NewScope()},
		queue:         newQueue(q.MaxEntries, int64(q.MaxBytes), q.MaxBatchSize),
		retry:         newRetryPolicy(q),
		batchSize:     max(q.MaxBatchSize, 1),
		delay:         q.CoalescingDelay(),
		work:          make(chan takenBatch),
		batcherDone:   make(chan struct{}),
		exportErrors:  NewThrottledLog(logger, slog.LevelWarn, "export failed", logInterval),
		rejections:    NewThrottledLog(logger, slog.LevelWarn, "backend rejected spans (partial success)", logInterval),
		dropErrors:    NewThrottledLog(logger, slog.LevelError, "spans lost", logInterval),
		reportEvery:   logInterval,
		shutdownBegun: make(chan struct{}),
	}
	p.exportCtx, p.cancelExport = context.WithCancel(context.Background())
	if cfg.SpoolDir != "" {
		p.startSpool(cfg, concurrency)
	}
	go p.runBatcher()
	p.workersDone.Add(concurrency)
	for range concurrency {
		go p.runWorker()
	}
	return p, nil
}

// enqueue offers a request's spans; see queue.push.
func (p *pipeline) enqueue(spans []Span) pushResult {
	r := p.queue.push(spans)
	switch r {
	case pushAccepted:
		p.stats.enqueued.Add(uint64(len(spans)))
	case pushFullEntries:
		p.stats.drop(DropQueueFullEntries, len(spans))
	case pushFullBytes:
		p.stats.drop(DropQueueFullBytes, len(spans))
	case pushShutdown:
		p.stats.drop(DropShutdown, len(spans))
	}
	return r
}

func (p *pipeline) snapshot() Stats {
	s := p.stats.snapshot()
	n, b := p.queue.held()
	s.QueueSpans, s.QueueBytes = int64(n), b
	if p.spool != nil {
		s.SpoolSpans, s.SpoolBytes = p.spool.held()
		s.SpoolOpen = p.spool.isReady()
	}
	return s
}

// activity counts every span offered, accepted or not: a pipeline that is
// dropping spans is busy, not idle.
func (p *pipeline) activity() uint64 {
	s := &p.stats
	return s.enqueued.Load() + s.dropped[DropQueueFullEntries].Load() + s.dropped[DropQueueFullBytes].Load()
}

// runBatcher cuts batches: a batch is sent when batchSize spans wait, or
// delay after the first of them arrived, or at once while shutting down.
func (p *pipeline) runBatcher() {
	defer close(p.batcherDone)
	defer close(p.work)
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	report := time.NewTicker(p.reportEvery)
	defer report.Stop()
	stop := p.exportCtx.Done()
	for {
		n, firstAt, draining := p.queue.waiting()
		if n == 0 {
			if draining {
				return
			}
			select {
			case <-p.queue.notify:
			case <-report.C:
				p.reportDrops()
			case <-stop:
				return
			}
			continue
		}
		if p.spoolWritable() {
			// Persist at once, without the coalescing delay: senders batch
			// from the spool, and spans on disk survive a crash.
			buf, _ := batchPool.Get().([]Span)
			spans, bytes := p.queue.take(buf[:0], p.batchSize, p.spoolRecordBytes())
			b := takenBatch{spans: spans, bytes: bytes}
			if p.persist(b.spans) {
				p.release(b)
				continue
			}
			if !p.handOver(b, report.C) {
				return
			}
			continue
		}
		if n < p.batchSize && !draining {
			if wait := time.Until(firstAt.Add(p.delay)); wait > 0 {
				timer.Reset(wait)
				select {
				case <-timer.C:
				case <-p.queue.notify:
					timer.Stop()
					continue
				case <-report.C:
					timer.Stop()
					p.reportDrops()
					continue
				case <-stop:
					timer.Stop()
					return
				}
			}
		}
		buf, _ := batchPool.Get().([]Span)
		spans, bytes := p.queue.take(buf[:0], p.batchSize, maxBatchBytes)
		if !p.handOver(takenBatch{spans: spans, bytes: bytes}, report.C) {
			return
		}
	}
}

// handOver waits for a free worker. When the spool opens meanwhile, the
// batch goes there instead. It gives up (counting the batch as lost to
// shutdown) only when the shutdown deadline passes and the spool cannot
// take the batch.
func (p *pipeline) handOver(b takenBatch, report <-chan time.Time) bool {
	spoolReady := p.spoolReadyCh()
	for {
		select {
		case p.work <- b:
			return true
		case <-report:
			p.reportDrops()
		case <-spoolReady:
			spoolReady = nil
			if p.persist(b.spans) {
				p.release(b)
				return true
			}
		case <-p.exportCtx.Done():
			if p.persist(b.spans) {
				p.release(b)
				return false
			}
			p.stats.drop(DropShutdown, len(b.spans))
			p.stats.failedBatches.Add(1)
			p.release(b)
			return false
		}
	}
}

func (p *pipeline) runWorker() {
	defer p.workersDone.Done()
	for b := range p.work {
		p.export(b)
	}
}

// export sends one batch through the retry layer and accounts for every
// span in it. A panicking exporter loses the batch, not the process.
func (p *pipeline) export(b takenBatch) {
	defer p.release(b)
	defer func() {
		if r := recover(); r != nil {
			p.panics.Add(1)
			p.stats.drop(DropPermanent, len(b.spans))
			p.stats.failedBatches.Add(1)
			p.log.Error("exporter panicked; batch dropped", slog.Any("panic", r), slog.Int("spans", len(b.spans)))
		}
	}()
	batch := p.batch
	batch.Spans = b.spans
	attempt := func(ctx context.Context) error { return p.exp.Export(ctx, batch) }
	onRetry := func(err error, delay time.Duration) {
		p.stats.retries.Add(1)
		p.exportErrors.Log(slog.String("error", err.Error()), slog.Duration("retry_in", delay), slog.Int("spans", len(b.spans)))
	}
	// With a spool, a failing in-memory batch (sent while the spool was not
	// open yet) stops retrying once the spool is open and moves to it; the
	// spool's senders retry it from there.
	err := p.retry.runUntil(p.exportCtx, p.spoolReadyCh(), attempt, onRetry)
	if errors.Is(err, errStopped) && p.spool != nil && p.spool.isReady() {
		if p.persist(b.spans) {
			return
		}
		if p.exportCtx.Err() == nil {
			err = p.retry.run(p.exportCtx, attempt, onRetry)
		}
	}
	p.account(len(b.spans), err)
}

// account records the outcome of a batch of n spans.
func (p *pipeline) account(n int, err error) {
	var partial *PartialError
	switch {
	case err == nil:
		p.stats.exported.Add(uint64(n))
		p.stats.batches.Add(1)
		return
	case errors.As(err, &partial):
		rejected := int(min(max(partial.Rejected, 0), int64(n)))
		p.stats.exported.Add(uint64(n - rejected))
		p.stats.drop(DropRejected, rejected)
		p.stats.batches.Add(1)
		p.rejections.Log(slog.String("message", partial.Message), slog.Int("rejected", rejected), slog.Int("spans", n))
		return
	}
	reason := DropPermanent
	switch {
	case errors.Is(err, errRetryBudgetExhausted):
		reason = DropRetryExhausted
	case errors.Is(err, errStopped):
		reason = DropShutdown
	}
	p.stats.drop(reason, n)
	p.stats.failedBatches.Add(1)
	p.dropErrors.Log(slog.String("reason", reason.String()), slog.Int("spans", n), slog.String("error", err.Error()))
}

func (p *pipeline) release(b takenBatch) {
	p.queue.done(len(b.spans), b.bytes)
	clear(b.spans)
	if cap(b.spans) <= 4*p.batchSize {
		batchPool.Put(b.spans[:0]) // one small allocation per batch, not per span
	}
}

// reportDrops logs spans refused by a full queue since the last report:
// Enqueue itself never logs (it runs in Kong's log handler).
func (p *pipeline) reportDrops() {
	for _, r := range []DropReason{DropQueueFullEntries, DropQueueFullBytes} {
		now := p.stats.dropped[r].Load()
		if d := now - p.lastReported[r]; d > 0 {
			p.lastReported[r] = now
			n, b := p.queue.held()
			p.log.Warn("queue full: new spans dropped", slog.String("reason", r.String()),
				slog.Uint64("spans", d), slog.Int("queued_spans", n), slog.Int64("queued_bytes", b))
		}
	}
}

// shutdown flushes what the pipeline holds within ctx's deadline, then
// stops it and shuts the exporter down. Spans still unsent at the deadline
// are counted as dropped (reason shutdown). Safe to call more than once.
func (p *pipeline) shutdown(ctx context.Context) error {
	p.shutdownOnce.Do(func() { p.shutdownErr = p.doShutdown(ctx) })
	return p.shutdownErr
}

func (p *pipeline) doShutdown(ctx context.Context) error {
	close(p.shutdownBegun)
	p.queue.beginShutdown()
	finished := make(chan struct{})
	go func() {
		<-p.batcherDone
		p.workersDone.Wait()
		p.spoolSendersDone.Wait()
		close(finished)
	}()
	var err error
	select {
	case <-finished:
	case <-ctx.Done():
		p.cancelExport()
		// Exporters honour ctx, so the workers return promptly; the grace
		// period only guards against one that does not.
		select {
		case <-finished:
		case <-time.After(time.Second):
			p.log.Error("exporter ignored cancellation at shutdown")
		}
	}
	p.cancelExport()
	p.persistWaiting()
	if n := p.queue.discardWaiting(); n > 0 {
		p.stats.drop(DropShutdown, n)
	}
	if p.spool != nil {
		p.spoolCancel()
		if e := p.spool.close(); e != nil {
			err = errors.Join(err, fmt.Errorf("pipeline %s: closing spool: %w", p.name, e))
		}
	}
	p.logFinalStats()
	if lost := p.stats.dropped[DropShutdown].Load(); lost > 0 {
		err = fmt.Errorf("pipeline %s: %d spans not sent before the shutdown deadline", p.name, lost)
	}
	p.reportDrops()
	p.exportErrors.Flush()
	p.rejections.Flush()
	p.dropErrors.Flush()
	shutdownCtx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if ctx.Err() == nil {
		shutdownCtx = ctx
	}
	if e := p.exp.Shutdown(shutdownCtx); e != nil {
		err = errors.Join(err, fmt.Errorf("pipeline %s: exporter shutdown: %w", p.name, e))
	}
	return err
}

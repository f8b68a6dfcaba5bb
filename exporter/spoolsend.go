package exporter

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"log/slog"
	"math"
	"sync"
	"time"

	"github.com/trace-exporter/trace-exporter/schema"
)

// How a pipeline uses its spool (spool.go):
//
//   - the batcher writes spans to the spool as soon as they are queued and
//     releases them from memory; while the spool is not open (another
//     process holds its lock, or the disk fails) it sends from memory as
//     without a spool, and moves a failing batch to the spool once it opens;
//   - concurrency_limit senders read the oldest records into batches (by
//     max_batch_size and max_coalescing_delay, as the batcher would), export
//     them and delete them once the backend answered for good;
//   - a batch on disk is retried until it is sent or refused for good:
//     max_retry_time does not apply (it exists to bound memory, and the
//     spool's bound is spool_max_bytes, past which the oldest are dropped);
//   - at shutdown, what is queued goes to disk at once; senders keep sending
//     until the deadline or their first failure, and what is left stays for
//     the next process, which opens the file once this one closes it.

// spoolFileID names a pipeline's spool file: the first 8 bytes of the hash
// of its backend config (the pipeline id is the first 4), so the same
// config finds its file again after a restart.
func spoolFileID(key string) string {
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:8])
}

func (p *pipeline) startSpool(cfg *schema.Config, concurrency int) {
	ctx, cancel := context.WithCancel(context.Background())
	p.spoolCancel = cancel
	p.spool = newSpool(cfg.SpoolDir, spoolFileID(p.key), p.name, int64(cfg.SpoolMaxBytes), p.log)
	p.spoolErrors = NewThrottledLog(p.log, slog.LevelError, "spool operation failed", p.reportEvery)
	go p.spool.openLoop(ctx, func(r spoolOpened) {
		p.stats.replayed.Add(uint64(r.replayedSpans))
		if r.corruptRecords > 0 {
			p.stats.spoolCorrupt.Add(uint64(r.corruptRecords))
			p.log.Warn("spool records with unreadable headers deleted", slog.Int("records", r.corruptRecords))
		}
		if r.replayedSpans > 0 {
			p.log.Info("sending spans left in the spool by an earlier process", slog.Int64("spans", r.replayedSpans))
		}
	})
	p.spoolSendersActive.Store(int32(concurrency))
	p.queue.holdOpen = func() bool { return p.spoolSendersActive.Load() > 0 }
	p.spoolSendersDone.Add(concurrency)
	for range concurrency {
		go p.runSpoolSender()
	}
}

// spoolReadyCh is closed once the spool is open; nil (never) without one.
func (p *pipeline) spoolReadyCh() <-chan struct{} {
	if p.spool == nil {
		return nil
	}
	return p.spool.ready()
}

func (p *pipeline) spoolWritable() bool { return p.spool != nil && p.spool.isReady() }

// spoolRecordBytes caps one record's estimated size so that any record
// fits in the spool with room to spare.
func (p *pipeline) spoolRecordBytes() int64 {
	return max(min(maxBatchBytes, p.spool.maxBytes/4), 1)
}

var recordBufPool sync.Pool

// persist writes spans to the spool and reports whether it did; the caller
// still owns (and releases) the memory. Evicted old spans are counted.
func (p *pipeline) persist(spans []Span) bool {
	if len(spans) == 0 || !p.spoolWritable() {
		return false
	}
	buf, _ := recordBufPool.Get().([]byte)
	res, err := p.spool.append(spans, buf)
	if cap(buf) <= 4<<20 {
		recordBufPool.Put(buf[:0])
	}
	if err != nil {
		if !errors.Is(err, errSpoolClosed) {
			p.spoolErrors.Log(slog.String("op", "write"), slog.String("error", err.Error()), slog.Int("spans", len(spans)))
		}
		return false
	}
	if res.evictedSpans > 0 {
		p.stats.drop(DropSpoolFull, res.evictedSpans)
		p.dropErrors.Log(slog.String("reason", DropSpoolFull.String()), slog.Int("spans", res.evictedSpans),
			slog.String("error", "spool_max_bytes reached: oldest spans deleted"))
	}
	if res.refused {
		return false
	}
	p.stats.spooled.Add(uint64(len(spans)))
	return true
}

// persistWaiting moves what is still queued to the spool after the
// shutdown deadline (spans in memory would be lost at exit).
func (p *pipeline) persistWaiting() {
	for p.spoolWritable() {
		if n, _, _ := p.queue.waiting(); n == 0 {
			return
		}
		spans, bytes := p.queue.take(nil, p.batchSize, p.spoolRecordBytes())
		b := takenBatch{spans: spans, bytes: bytes}
		if !p.persist(spans) {
			p.stats.drop(DropShutdown, len(spans))
			p.stats.failedBatches.Add(1)
		}
		p.release(b)
	}
}

func isClosed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// runSpoolSender exports batches read from the spool until the pipeline
// stops.
func (p *pipeline) runSpoolSender() {
	defer p.spoolSendersDone.Done()
	defer func() {
		p.spoolSendersActive.Add(-1)
		p.queue.wake() // the batcher may be waiting for the flush to end
	}()
	select {
	case <-p.spool.ready():
	case <-p.shutdownBegun:
		if !p.spool.isReady() {
			return // never opened: whatever is on disk waits for the next process
		}
	case <-p.exportCtx.Done():
		return
	}
	policy := p.retry
	policy.budget = math.MaxInt64 // see the top of this file
	var timer *time.Timer
	for {
		if p.exportCtx.Err() != nil || p.spoolGaveUp.Load() {
			return
		}
		flushing := isClosed(p.shutdownBegun)
		changed := p.spool.changedCh()
		plan := p.spool.claim(p.batchSize, maxBatchBytes, p.delay, flushing)
		if len(plan.recs) > 0 {
			p.sendSpool(plan.recs, policy)
			continue
		}
		if flushing {
			if spans, _ := p.queue.held(); spans == 0 || isClosed(p.batcherDone) {
				// Nothing left to claim: what the batcher writes from now
				// on stays on disk for the next process.
				return
			}
		}
		var wake <-chan time.Time
		if plan.wait > 0 {
			if timer == nil {
				timer = time.NewTimer(plan.wait)
				defer timer.Stop()
			} else {
				timer.Reset(plan.wait)
			}
			wake = timer.C
		}
		var shutdown, batcherDone <-chan struct{}
		if flushing {
			batcherDone = p.batcherDone
		} else {
			shutdown = p.shutdownBegun
		}
		select {
		case <-changed:
		case <-wake:
		case <-shutdown:
		case <-batcherDone:
		case <-p.exportCtx.Done():
			return
		}
		if timer != nil && wake != nil && !timer.Stop() {
			select {
			case <-timer.C:
			default:
			}
		}
	}
}

// sendSpool exports claimed records as one batch and settles them: deleted
// once the backend answered for good, back to the backlog when stopped.
func (p *pipeline) sendSpool(recs []spoolRec, policy retryPolicy) {
	buf, _ := batchPool.Get().([]Span)
	spans, good, corrupt, err := p.spool.read(buf[:0], recs)
	defer func() {
		clear(spans)
		if cap(spans) <= 4*p.batchSize {
			batchPool.Put(spans[:0])
		}
	}()
	if err != nil {
		p.spool.release(recs)
		if !errors.Is(err, errSpoolClosed) {
			p.spoolErrors.Log(slog.String("op", "read"), slog.String("error", err.Error()))
			select { // a failing disk: do not spin
			case <-time.After(time.Second):
			case <-p.exportCtx.Done():
			}
		}
		return
	}
	if len(corrupt) > 0 {
		n := 0
		for _, r := range corrupt {
			n += r.spans
		}
		p.stats.drop(DropSpoolCorrupt, n)
		p.stats.spoolCorrupt.Add(uint64(len(corrupt)))
		p.log.Warn("corrupt spool records skipped", slog.Int("records", len(corrupt)), slog.Int("spans", n))
		if err := p.spool.ack(corrupt); err != nil {
			p.spoolErrors.Log(slog.String("op", "delete"), slog.String("error", err.Error()))
		}
	}
	if len(good) == 0 {
		return
	}
	panicked, outcome := p.exportSpooled(spans, policy)
	if errors.Is(outcome, errStopped) {
		p.spool.release(good)
		if isClosed(p.shutdownBegun) {
			p.spoolGaveUp.Store(true)
		}
		return
	}
	// Deleted before the counters move, so Exported never covers spans
	// still on disk.
	if err := p.spool.ack(good); err != nil {
		// The spans reached an outcome but stay on disk: they will be sent
		// again (at-least-once).
		p.spoolErrors.Log(slog.String("op", "delete"), slog.String("error", err.Error()))
	}
	if panicked {
		p.stats.drop(DropPermanent, len(spans))
		p.stats.failedBatches.Add(1)
		return
	}
	p.account(len(spans), outcome)
}

// exportSpooled sends one batch read from the spool. An errStopped error
// means the batch stays on disk; a panicking exporter loses the batch.
func (p *pipeline) exportSpooled(spans []Span, policy retryPolicy) (panicked bool, err error) {
	defer func() {
		if r := recover(); r != nil {
			p.panics.Add(1)
			p.log.Error("exporter panicked; batch dropped", slog.Any("panic", r), slog.Int("spans", len(spans)))
			panicked, err = true, nil
		}
	}()
	batch := p.batch
	batch.Spans = spans
	err = policy.runUntil(p.exportCtx, p.shutdownBegun, func(ctx context.Context) error {
		return p.exp.Export(ctx, batch)
	}, func(err error, delay time.Duration) {
		p.stats.retries.Add(1)
		p.exportErrors.Log(slog.String("error", err.Error()), slog.Duration("retry_in", delay), slog.Int("spans", len(spans)))
	})
	return false, err
}

// spoolIdle reports whether the spool lets the pipeline be reaped: it must
// be open (a file not yet read may hold spans) and empty.
func (p *pipeline) spoolIdle() bool {
	return p.spool == nil || (p.spool.isReady() && !p.spool.pending())
}

// logFinalStats writes the pipeline's counters when it stops, so every
// loss is visible in Kong's log after a stop or reload.
func (p *pipeline) logFinalStats() {
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
	if p.spool != nil {
		attrs = append(attrs, slog.Uint64("spooled", s.Spooled), slog.Uint64("replayed", s.Replayed),
			slog.Uint64("spool_corrupt_records", s.SpoolCorrupt), slog.Int64("spool_left", s.SpoolSpans))
	}
	p.log.Info("pipeline stopped", attrs...)
}

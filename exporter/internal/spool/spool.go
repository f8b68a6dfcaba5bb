// Package spool is a pipeline's disk backlog (queue.spool_dir): the same
// queue.Source as the memory queue, so the pipeline has one path whether
// its data lives in memory or on disk.
//
// Life of the data: Offer puts items in a bounded memory queue in front;
// a writer moves them to disk as soon as they arrive (no coalescing delay:
// the shorter they live only in memory, the less a crash loses) and frees
// the memory; Read claims the oldest records into a batch (by batch size and
// delay, as the memory queue would); Done deletes them once the backend
// answered for good (success, partial success, permanent refusal) or puts
// them back. A crash between the backend's success and the delete sends
// those items again: at-least-once. A batch on disk is never given up for
// retrying too long: when its retry budget is spent it goes back to disk and
// is sent again later (the pipeline counts it as a failed batch for the
// circuit breaker). The spool's cap bounds what it holds; past the cap the
// oldest records are deleted and counted.
//
// While the file is not open (another process holds its lock during `kong
// reload`) or writes fail, Read hands out batches from memory, as without a
// spool; such a batch stops retrying once the disk is usable and moves to
// it. At shutdown (Drain) what arrives is written at once; readers send
// until their first failure, and what is left stays on disk for the next
// process, which opens the file once this one closes it.
package spool

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/trace-exporter/trace-exporter/exporter/internal/queue"
	"github.com/trace-exporter/trace-exporter/exporter/internal/throttle"
)

// Options configure a spool.
type Options[T any] struct {
	Dir    string
	FileID string // the file is <Dir>/<FileID>.spool
	// Destination is written into the file's metadata, so an operator can
	// tell files apart (never credentials).
	Destination string
	MaxBytes    int64 // spool_max_bytes: records beyond it evict the oldest
	// Front sizes the memory queue in front of the disk, and the batches
	// Read hands out (BatchSize, BatchBytes, Delay).
	Front queue.Options[T]
	Codec Codec[T]
	// Unit names the items in log lines ("spans").
	Unit   string
	Hooks  Hooks
	Logger *slog.Logger
	// LogInterval throttles the spool's error lines.
	LogInterval time.Duration
	// NoSync skips fsync on commit (benchmarks only: a spool should
	// survive a power cut).
	NoSync bool
}

// Hooks report what only the spool sees, for the pipeline's counters.
type Hooks struct {
	Persisted func(items int)          // written to disk
	Replayed  func(items int64)        // found at open, left by an earlier process
	Evicted   func(items int)          // oldest deleted to stay within MaxBytes
	Corrupt   func(records, items int) // skipped as corrupt, deleted
}

// Spool is a queue.Source backed by a bbolt file.
type Spool[T any] struct {
	opts  Options[T]
	front *queue.Memory[T]
	store *store
	log   *slog.Logger
	errs  *throttle.Log

	ctx        context.Context // ends at Close: stops opening and writing
	cancel     context.CancelFunc
	writerDone chan struct{}

	drainOnce sync.Once
	draining  chan struct{} // closed by Drain
	closeOnce sync.Once
	closed    chan struct{} // closed by Close
	gaveUp    atomic.Bool   // a batch failed while draining: leave the rest on disk
	// failing is set while writes fail: Read then serves memory.
	failing     atomic.Bool
	recordBytes int64 // the most a record may hold, so any record fits
	bufPool     sync.Pool
}

// maxRecordBytes caps one record whatever the cap: a record is read whole.
const maxRecordBytes = 8 << 20

// New starts a spool: it opens the file in the background (waiting for
// another process's lock if need be) and writes what arrives.
func New[T any](opts Options[T]) *Spool[T] {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Unit == "" {
		opts.Unit = "items"
	}
	if opts.LogInterval <= 0 {
		opts.LogInterval = 10 * time.Second
	}
	s := &Spool[T]{
		opts:        opts,
		front:       queue.NewMemory(opts.Front),
		store:       newStore(opts.Dir, opts.FileID, opts.Destination, opts.MaxBytes, opts.Logger),
		log:         opts.Logger,
		errs:        throttle.New(opts.Logger, slog.LevelError, "spool operation failed", opts.LogInterval),
		writerDone:  make(chan struct{}),
		draining:    make(chan struct{}),
		closed:      make(chan struct{}),
		recordBytes: max(min(maxRecordBytes, opts.MaxBytes/4), 1),
	}
	s.store.noSync = opts.NoSync
	s.ctx, s.cancel = context.WithCancel(context.Background())
	go s.store.openLoop(s.ctx, s.opened)
	go s.write()
	return s
}

func (s *Spool[T]) opened(r opened) {
	if r.replayedItems > 0 {
		s.log.Info("sending "+s.opts.Unit+" left in the spool by an earlier process", slog.Int64(s.opts.Unit, r.replayedItems))
		call(s.opts.Hooks.Replayed, r.replayedItems)
	}
	if r.corruptRecords > 0 {
		s.log.Warn("spool records with unreadable headers deleted", slog.Int("records", r.corruptRecords))
		if s.opts.Hooks.Corrupt != nil {
			s.opts.Hooks.Corrupt(r.corruptRecords, 0)
		}
	}
}

func call[N int | int64](f func(N), n N) {
	if f != nil && n > 0 {
		f(n)
	}
}

// Offer admits items into the memory in front of the disk.
func (s *Spool[T]) Offer(items []T) queue.Result { return s.front.Offer(items) }

// usable reports whether the disk takes writes and serves reads.
func (s *Spool[T]) usable() bool { return s.store.isReady() && !s.failing.Load() }

// write moves what arrives in memory to disk until Close.
func (s *Spool[T]) write() {
	defer close(s.writerDone)
	select {
	case <-s.store.ready():
	case <-s.ctx.Done():
		return
	}
	retry := time.NewTimer(time.Hour)
	retry.Stop()
	defer retry.Stop()
	for {
		if !s.persistWaiting() {
			retry.Reset(time.Second) // a failing disk: try again, do not spin
		}
		select {
		case <-s.front.Notify():
		case <-retry.C:
		case <-s.ctx.Done():
			return
		}
	}
}

// persistWaiting writes what waits in memory, a record at a time. It
// reports false when a write failed: the items went back in front and Read
// serves them from memory until a write succeeds.
func (s *Spool[T]) persistWaiting() bool {
	for s.ctx.Err() == nil {
		items, bytes := s.front.TakeWaiting(s.opts.Front.BatchSize, s.recordBytes)
		if len(items) == 0 {
			return true
		}
		if !s.persist(items) {
			s.front.Requeue(items)
			s.failing.Store(true)
			return false
		}
		s.failing.Store(false)
		s.front.Release(items, bytes)
	}
	return true
}

// persist writes items as one record and reports whether it did; evicted
// old records are counted.
func (s *Spool[T]) persist(items []T) bool {
	if len(items) == 0 || !s.store.isReady() {
		return false
	}
	buf, _ := s.bufPool.Get().([]byte)
	rec := EncodeRecord(buf[:0], items, s.opts.Codec)
	res, err := s.store.append(rec, len(items))
	if cap(rec) <= 4<<20 {
		s.bufPool.Put(rec[:0])
	}
	if err != nil {
		if !errors.Is(err, errClosed) {
			s.errs.Log(slog.String("op", "write"), slog.String("error", err.Error()), slog.Int(s.opts.Unit, len(items)))
		}
		return false
	}
	call(s.opts.Hooks.Evicted, res.evictedItems)
	if res.refused {
		s.errs.Log(slog.String("op", "write"), slog.String("error", "record larger than what the spool can free"), slog.Int(s.opts.Unit, len(items)))
		return false
	}
	call(s.opts.Hooks.Persisted, len(items))
	return true
}

// Read hands out the next batch: from disk once it is usable, else from
// memory.
func (s *Spool[T]) Read(ctx context.Context) (*queue.Batch[T], bool) {
	var timer *time.Timer
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	for {
		if s.gaveUp.Load() || isClosed(s.closed) || ctx.Err() != nil {
			return nil, false
		}
		if !s.usable() {
			b, ok, again := s.readMemory(ctx)
			if b != nil || !again {
				return b, ok
			}
			continue
		}
		flushing := isClosed(s.draining)
		changed := s.store.changedCh()
		plan := s.store.claim(s.opts.Front.BatchSize, s.opts.Front.BatchBytes, s.opts.Front.Delay, flushing)
		if len(plan.recs) > 0 {
			if b := s.readDisk(ctx, plan.recs); b != nil {
				return b, true
			}
			continue
		}
		if flushing && s.front.Usage().Items == 0 {
			// Nothing left to claim: what arrives from now on is written
			// and stays on disk for the next process.
			return nil, false
		}
		var wake <-chan time.Time
		if plan.wait > 0 {
			if timer == nil {
				timer = time.NewTimer(plan.wait)
			} else {
				timer.Reset(plan.wait)
			}
			wake = timer.C
		}
		var drain <-chan struct{}
		if !flushing {
			drain = s.draining
		}
		select {
		case <-changed:
		case <-wake:
		case <-drain:
		case <-s.closed:
		case <-ctx.Done():
		}
		if timer != nil && wake != nil && !timer.Stop() {
			select {
			case <-timer.C:
			default:
			}
		}
	}
}

// readMemory reads a batch from the memory in front while the disk is not
// usable. It gives up the wait (again) when the disk becomes usable.
func (s *Spool[T]) readMemory(ctx context.Context) (b *queue.Batch[T], ok, again bool) {
	ready := s.store.ready()
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-ready:
			if s.failing.Load() {
				// Writes fail: poll the disk's health while serving memory.
				t := time.NewTimer(time.Second)
				defer t.Stop()
				select {
				case <-t.C:
				case <-rctx.Done():
					return
				}
			}
			cancel()
		case <-rctx.Done():
		}
	}()
	mb, ok := s.front.Read(rctx)
	if !ok {
		// The wait was cut short to look at the disk again, or memory is
		// finished (drained or closed), or the caller is done.
		cut := rctx.Err() != nil && ctx.Err() == nil && !isClosed(s.closed)
		return nil, false, cut
	}
	items, bytes := mb.Items, mb.Bytes()
	b = queue.NewBatch(items, func(b *queue.Batch[T], o queue.Outcome) int {
		if o == queue.Settled {
			s.front.Release(items, bytes)
			return 0
		}
		// Not sent: to disk if it can take them, else back in memory.
		if s.persist(items) {
			s.front.Release(items, bytes)
			return 0
		}
		if isClosed(s.closed) {
			s.front.Release(items, bytes)
			return len(items)
		}
		s.front.Requeue(items)
		return 0
	})
	b.Stop = ready
	return b, true, false
}

// readDisk decodes claimed records into a batch; corrupt records are
// counted and deleted. It returns nil when nothing good was read.
func (s *Spool[T]) readDisk(ctx context.Context, recs []record) *queue.Batch[T] {
	var items []T
	good, corrupt, err := s.store.read(recs, func(rec []byte) error {
		var derr error
		items, derr = DecodeRecord(items, rec, s.opts.Codec)
		return derr
	})
	if err != nil {
		s.store.release(recs)
		if !errors.Is(err, errClosed) {
			s.errs.Log(slog.String("op", "read"), slog.String("error", err.Error()))
			select { // a failing disk: do not spin
			case <-time.After(time.Second):
			case <-ctx.Done():
			case <-s.closed:
			}
		}
		return nil
	}
	if len(corrupt) > 0 {
		n := 0
		for _, r := range corrupt {
			n += r.items
		}
		s.log.Warn("corrupt spool records skipped", slog.Int("records", len(corrupt)), slog.Int(s.opts.Unit, n))
		if s.opts.Hooks.Corrupt != nil {
			s.opts.Hooks.Corrupt(len(corrupt), n)
		}
		if err := s.store.ack(corrupt); err != nil {
			s.errs.Log(slog.String("op", "delete"), slog.String("error", err.Error()))
		}
	}
	if len(good) == 0 {
		return nil
	}
	b := queue.NewBatch(items, func(_ *queue.Batch[T], o queue.Outcome) int {
		if o == queue.Returned {
			s.store.release(good)
			if isClosed(s.draining) {
				s.gaveUp.Store(true)
			}
			return 0
		}
		if err := s.store.ack(good); err != nil {
			// The items reached an outcome but stay on disk: they will be
			// sent again (at-least-once).
			s.errs.Log(slog.String("op", "delete"), slog.String("error", err.Error()))
		}
		return 0
	})
	b.Stop = s.draining
	return b
}

// Drain starts the shutdown: what arrives is written at once, readers
// claim without delay and stop at their first failure.
func (s *Spool[T]) Drain() {
	s.drainOnce.Do(func() { close(s.draining) })
	s.front.Drain()
}

// Close writes what still waits in memory to disk, stops writing and
// closes the file (releasing its lock for the next process). It returns
// the items that could not be kept and what failed in closing.
func (s *Spool[T]) Close() (lost int, err error) {
	s.closeOnce.Do(func() {
		close(s.closed)
		s.cancel()
		<-s.writerDone
		rest := s.front.CloseAndTake()
		for len(rest) > 0 {
			n := min(len(rest), s.opts.Front.BatchSize)
			if !s.persist(rest[:n]) {
				lost += len(rest)
				break
			}
			rest = rest[n:]
		}
		err = s.store.close()
	})
	return lost, err
}

// Reap marks the spool reaped when its file is open and empty and nothing
// waits in memory: a file not read yet may hold data.
func (s *Spool[T]) Reap() bool {
	if !s.store.isReady() || s.store.pending() {
		return false
	}
	return s.front.Reap()
}

// Usage reports memory and disk.
func (s *Spool[T]) Usage() queue.Usage {
	u := s.front.Usage()
	u.StoredItems, u.StoredBytes = s.store.held()
	u.StoreOpen = s.store.isReady()
	return u
}

// Durable: a returned batch stays on disk.
func (s *Spool[T]) Durable() bool { return true }

func isClosed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

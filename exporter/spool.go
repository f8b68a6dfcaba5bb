package exporter

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"
)

// spool is a pipeline's disk backlog (queue.spool_dir): one bbolt file per
// pipeline, <spool_dir>/<pipeline id>.spool, holding records of spans in
// arrival order. bbolt is what the OpenTelemetry Collector's file_storage
// uses: a single file, copy-on-write pages with checksummed meta pages (a
// crash mid-commit leaves the previous commit), and an exclusive flock.
//
// Life of a record: the batcher writes what the queue holds as soon as it
// arrives (no coalescing delay: the shorter spans live only in memory, the
// less a crash loses); senders read the oldest records into a batch, export
// it, and delete the records once the backend answered for good (success,
// partial success, permanent refusal). A crash between the backend's
// success and the delete sends those spans again: at-least-once.
//
// The in-memory index mirrors the bucket's keys so claiming, eviction and
// sizes need no disk scan; only open scans the file.
type spool struct {
	path     string
	dest     string // describeBackend: lets an operator tell files apart
	maxBytes int64
	log      *slog.Logger
	noSync   bool

	readyCh chan struct{} // closed once db is usable

	wmu sync.Mutex // one writer: keeps index order equal to key order
	db  *bolt.DB

	mu       sync.Mutex
	recs     []spoolRec // oldest first
	bytes    int64      // sum of recs' sizes
	spans    int64
	changed  chan struct{} // closed and replaced when records are added or released
	closed   bool
	openDone chan struct{} // the opening goroutine ended
}

type spoolRec struct {
	key     uint64
	size    int64
	spans   int
	at      time.Time // written (zero when found at open: send at once)
	claimed bool      // being sent or evicted
}

var (
	spoolBucket = []byte("spans")
	metaBucket  = []byte("meta")
)

// recordOverhead approximates bbolt's per-value cost (key, leaf element)
// so many small records cannot exceed spool_max_bytes on disk unnoticed.
const recordOverhead = 8 + 16

// errSpoolClosed is returned by operations after close.
var errSpoolClosed = errors.New("spool closed")

func newSpool(dir, pipelineID, dest string, maxBytes int64, log *slog.Logger) *spool {
	return &spool{
		path:     filepath.Join(dir, pipelineID+".spool"),
		dest:     dest,
		maxBytes: maxBytes,
		log:      log.With(slog.String("spool", filepath.Join(dir, pipelineID+".spool"))),
		readyCh:  make(chan struct{}),
		changed:  make(chan struct{}),
		openDone: make(chan struct{}),
	}
}

// spoolOpened is what open reports to the pipeline for its counters.
type spoolOpened struct {
	replayedSpans  int64 // found from an earlier process
	corruptRecords int   // unreadable headers, deleted
}

// openLoop opens the file, waiting for its lock: during `kong reload` the
// previous plugin server holds it while it flushes (up to its shutdown
// deadline). It gives up only when ctx ends. Until it succeeds the pipeline
// works from memory.
func (s *spool) openLoop(ctx context.Context, opened func(spoolOpened)) {
	defer close(s.openDone)
	if err := os.MkdirAll(filepath.Dir(s.path), 0o700); err != nil {
		s.log.Error("spool directory unusable; spans stay in memory", slog.String("error", err.Error()))
		return
	}
	waitingLogged := false
	retry := 200 * time.Millisecond
	for {
		db, err := bolt.Open(s.path, 0o600, &bolt.Options{
			Timeout:        250 * time.Millisecond, // flock attempts every 50 ms
			NoFreelistSync: true,                   // faster commits; the freelist is rebuilt at open
			FreelistType:   bolt.FreelistMapType,
			NoSync:         s.noSync,
		})
		switch {
		case err == nil:
			res, err := s.load(db)
			if err == nil {
				s.mu.Lock()
				if s.closed {
					s.mu.Unlock()
					_ = db.Close()
					return
				}
				s.db = db
				s.mu.Unlock()
				close(s.readyCh)
				if waitingLogged {
					s.log.Info("spool lock acquired")
				}
				opened(res)
				return
			}
			_ = db.Close()
			s.log.Error("spool file unreadable; moved aside, starting empty", slog.String("error", err.Error()))
			s.moveAside()
		case errors.Is(err, bolterrors.ErrTimeout):
			if !waitingLogged {
				waitingLogged = true
				s.log.Warn("spool locked by another process (a previous plugin server still flushing?); spans stay in memory until it is released")
			}
			retry = 0 // the lock wait itself paces the loop
		case errors.Is(err, bolterrors.ErrInvalid), errors.Is(err, bolterrors.ErrChecksum), errors.Is(err, bolterrors.ErrVersionMismatch):
			s.log.Error("spool file corrupt; moved aside, starting empty", slog.String("error", err.Error()))
			s.moveAside()
		default:
			s.log.Error("cannot open spool; spans stay in memory, retrying", slog.String("error", err.Error()))
			retry = 5 * time.Second
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(retry):
		}
		retry = 200 * time.Millisecond
	}
}

// moveAside keeps a file bbolt cannot read for inspection, out of the way.
func (s *spool) moveAside() {
	aside := fmt.Sprintf("%s.corrupt-%d", s.path, time.Now().UnixNano())
	if err := os.Rename(s.path, aside); err != nil {
		s.log.Error("cannot move corrupt spool aside", slog.String("error", err.Error()))
		return
	}
	s.log.Warn("corrupt spool kept as", slog.String("file", aside))
}

// load builds the index from the file and deletes records whose header is
// unreadable. A panic inside bbolt (it asserts on damaged pages) makes the
// whole file unreadable.
func (s *spool) load(db *bolt.DB) (res spoolOpened, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("bbolt panicked reading the spool: %v", r)
		}
	}()
	var recs []spoolRec
	var bytes, spans int64
	err = db.Update(func(tx *bolt.Tx) error {
		meta, err := tx.CreateBucketIfNotExists(metaBucket)
		if err != nil {
			return err
		}
		if err := meta.Put([]byte("destination"), []byte(s.dest)); err != nil {
			return err
		}
		b, err := tx.CreateBucketIfNotExists(spoolBucket)
		if err != nil {
			return err
		}
		var bad [][]byte
		c := b.Cursor()
		for k, v := c.First(); k != nil; k, v = c.Next() {
			n, ok := recordSpanCount(v)
			if len(k) != 8 || !ok {
				bad = append(bad, append([]byte(nil), k...))
				continue
			}
			size := int64(len(v)) + recordOverhead
			recs = append(recs, spoolRec{key: binary.BigEndian.Uint64(k), size: size, spans: n})
			bytes += size
			spans += int64(n)
		}
		for _, k := range bad {
			if err := b.Delete(k); err != nil {
				return err
			}
		}
		res.corruptRecords = len(bad)
		return nil
	})
	if err != nil {
		return res, err
	}
	s.mu.Lock()
	s.recs, s.bytes, s.spans = recs, bytes, spans
	s.mu.Unlock()
	res.replayedSpans = spans
	return res, nil
}

// ready returns a channel closed once the spool is usable.
func (s *spool) ready() <-chan struct{} { return s.readyCh }

func (s *spool) isReady() bool {
	select {
	case <-s.readyCh:
		return true
	default:
		return false
	}
}

// held returns the spans and bytes on disk.
func (s *spool) held() (spans, bytes int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.spans, s.bytes
}

// appendResult says what an append did besides writing the record.
type appendResult struct {
	evictedSpans int // oldest spans dropped to stay under maxBytes
	refused      bool
}

// append writes spans as one record, first deleting the oldest records
// not being sent until the total stays within maxBytes. A record that does
// not fit even then is refused (counted by the caller as spool_full).
func (s *spool) append(spans []Span, buf []byte) (res appendResult, err error) {
	rec := encodeRecord(buf[:0], spans)
	size := int64(len(rec)) + recordOverhead

	s.wmu.Lock()
	defer s.wmu.Unlock()
	s.mu.Lock()
	if s.closed || s.db == nil {
		s.mu.Unlock()
		return res, errSpoolClosed
	}
	var victims []int // indexes into recs
	free := s.maxBytes - s.bytes
	for i := 0; i < len(s.recs) && free < size; i++ {
		if !s.recs[i].claimed {
			s.recs[i].claimed = true
			victims = append(victims, i)
			free += s.recs[i].size
		}
	}
	if free < size {
		for _, i := range victims {
			s.recs[i].claimed = false
		}
		s.mu.Unlock()
		res.refused = true
		return res, nil
	}
	victimKeys := make([]uint64, len(victims))
	for j, i := range victims {
		victimKeys[j] = s.recs[i].key
	}
	db := s.db
	s.mu.Unlock()

	var key uint64
	err = safeUpdate(db, func(tx *bolt.Tx) error {
		b := tx.Bucket(spoolBucket)
		var k [8]byte
		for _, vk := range victimKeys {
			binary.BigEndian.PutUint64(k[:], vk)
			if err := b.Delete(k[:]); err != nil {
				return err
			}
		}
		seq, err := b.NextSequence()
		if err != nil {
			return err
		}
		key = seq
		binary.BigEndian.PutUint64(k[:], key)
		return b.Put(k[:], rec)
	})

	s.mu.Lock()
	defer s.mu.Unlock()
	if err != nil {
		s.unclaimKeysLocked(victimKeys)
		return res, err
	}
	for _, vk := range victimKeys {
		if r, ok := s.removeLocked(vk); ok {
			res.evictedSpans += r.spans
		}
	}
	s.recs = append(s.recs, spoolRec{key: key, size: size, spans: len(spans), at: time.Now()})
	s.bytes += size
	s.spans += int64(len(spans))
	s.signalLocked()
	return res, nil
}

// claimPlan is what claim decided.
type claimPlan struct {
	recs []spoolRec
	wait time.Duration // nothing eligible yet: check again after this (0: wait for a change)
}

// claim picks the oldest unclaimed records for one export batch: at most
// maxSpans spans (at least one record) and maxBytes. Unless flush is set,
// it claims only when a full batch waits or the oldest record has waited
// delay, as the in-memory batcher does.
func (s *spool) claim(maxSpans int, maxBytes int64, delay time.Duration, flush bool) claimPlan {
	s.mu.Lock()
	defer s.mu.Unlock()
	first := -1
	unclaimed := 0
	for i := range s.recs {
		if s.recs[i].claimed {
			continue
		}
		if first < 0 {
			first = i
		}
		unclaimed += s.recs[i].spans
		if unclaimed >= maxSpans {
			break
		}
	}
	if first < 0 {
		return claimPlan{}
	}
	if !flush && unclaimed < maxSpans {
		if at := s.recs[first].at; !at.IsZero() {
			if wait := time.Until(at.Add(delay)); wait > 0 {
				return claimPlan{wait: wait}
			}
		}
	}
	var plan claimPlan
	var n int
	var bytes int64
	for i := first; i < len(s.recs); i++ {
		r := &s.recs[i]
		if r.claimed {
			continue
		}
		if len(plan.recs) > 0 && (n+r.spans > maxSpans || bytes+r.size > maxBytes) {
			break
		}
		r.claimed = true
		plan.recs = append(plan.recs, *r)
		n += r.spans
		bytes += r.size
	}
	return plan
}

// changedCh returns a channel closed at the next add or release.
func (s *spool) changedCh() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.changed
}

func (s *spool) signalLocked() {
	close(s.changed)
	s.changed = make(chan struct{})
}

// read decodes claimed records into dst. Records that fail to decode are
// returned in corrupt (still claimed; the caller acks them away).
func (s *spool) read(dst []Span, recs []spoolRec) (spans []Span, good, corrupt []spoolRec, err error) {
	s.mu.Lock()
	db := s.db
	closed := s.closed
	s.mu.Unlock()
	if closed || db == nil {
		return dst, nil, nil, errSpoolClosed
	}
	spans = dst
	err = safeView(db, func(tx *bolt.Tx) error {
		b := tx.Bucket(spoolBucket)
		var k [8]byte
		for _, r := range recs {
			binary.BigEndian.PutUint64(k[:], r.key)
			v := b.Get(k[:])
			var derr error
			if v == nil {
				derr = errCorruptRecord
			} else {
				spans, derr = decodeRecord(spans, v)
			}
			if derr != nil {
				corrupt = append(corrupt, r)
				continue
			}
			good = append(good, r)
		}
		return nil
	})
	return spans, good, corrupt, err
}

// ack deletes records whose spans reached an outcome.
func (s *spool) ack(recs []spoolRec) error {
	if len(recs) == 0 {
		return nil
	}
	s.wmu.Lock()
	defer s.wmu.Unlock()
	s.mu.Lock()
	db := s.db
	closed := s.closed
	s.mu.Unlock()
	if closed || db == nil {
		return errSpoolClosed
	}
	err := safeUpdate(db, func(tx *bolt.Tx) error {
		b := tx.Bucket(spoolBucket)
		var k [8]byte
		for _, r := range recs {
			binary.BigEndian.PutUint64(k[:], r.key)
			if err := b.Delete(k[:]); err != nil {
				return err
			}
		}
		return nil
	})
	s.mu.Lock()
	defer s.mu.Unlock()
	if err != nil {
		for _, r := range recs {
			s.unclaimKeysLocked([]uint64{r.key})
		}
		return err
	}
	for _, r := range recs {
		s.removeLocked(r.key)
	}
	return nil
}

// release returns claimed records to the backlog (export to be retried).
func (s *spool) release(recs []spoolRec) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, r := range recs {
		s.unclaimKeysLocked([]uint64{r.key})
	}
	s.signalLocked()
}

func (s *spool) find(key uint64) int {
	// recs is sorted by key: binary search.
	lo, hi := 0, len(s.recs)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if s.recs[m].key < key {
			lo = m + 1
		} else {
			hi = m
		}
	}
	if lo < len(s.recs) && s.recs[lo].key == key {
		return lo
	}
	return -1
}

func (s *spool) unclaimKeysLocked(keys []uint64) {
	for _, k := range keys {
		if i := s.find(k); i >= 0 {
			s.recs[i].claimed = false
		}
	}
}

func (s *spool) removeLocked(key uint64) (spoolRec, bool) {
	i := s.find(key)
	if i < 0 {
		return spoolRec{}, false
	}
	r := s.recs[i]
	s.recs = append(s.recs[:i], s.recs[i+1:]...)
	s.bytes -= r.size
	s.spans -= int64(r.spans)
	return r, true
}

// pending reports whether records wait on disk or are being sent.
func (s *spool) pending() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.recs) > 0
}

// unclaimedSpans counts spans waiting to be claimed.
func (s *spool) unclaimedSpans() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for i := range s.recs {
		if !s.recs[i].claimed {
			n += s.recs[i].spans
		}
	}
	return n
}

// close stops the opening goroutine (ctx must already be cancelled or the
// spool ready) and closes the file, releasing its lock for the next process.
func (s *spool) close() error {
	s.mu.Lock()
	s.closed = true
	s.signalLocked()
	s.mu.Unlock()
	<-s.openDone
	s.wmu.Lock()
	defer s.wmu.Unlock()
	s.mu.Lock()
	db := s.db
	s.db = nil
	s.mu.Unlock()
	if db == nil {
		return nil
	}
	return db.Close()
}

// safeUpdate and safeView turn a bbolt panic (it panics on some damaged
// pages) into an error: a broken spool must not take the process down.
func safeUpdate(db *bolt.DB, fn func(*bolt.Tx) error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("spool: bbolt panicked: %v", r)
		}
	}()
	return db.Update(fn)
}

func safeView(db *bolt.DB, fn func(*bolt.Tx) error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("spool: bbolt panicked: %v", r)
		}
	}()
	return db.View(fn)
}

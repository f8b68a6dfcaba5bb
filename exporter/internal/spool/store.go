package spool

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

// store is the bbolt file of a spool: records (encoded batches of items)
// in arrival order, under increasing keys. bbolt is what the OpenTelemetry
// Collector's file_storage uses: a single file, copy-on-write pages with
// checksummed meta pages (a crash mid-commit leaves the previous commit),
// and an exclusive flock.
//
// The in-memory index mirrors the bucket's keys so claiming, eviction and
// sizes need no disk scan; only open scans the file.
type store struct {
	path     string
	dest     string // describeBackend: lets an operator tell files apart
	maxBytes int64
	log      *slog.Logger
	noSync   bool

	readyCh chan struct{} // closed once db is usable

	wmu sync.Mutex // one writer: keeps index order equal to key order
	db  *bolt.DB

	mu       sync.Mutex
	recs     []record // oldest first
	bytes    int64    // sum of recs' sizes
	items    int64
	changed  chan struct{} // closed and replaced when records are added or released
	closed   bool
	openDone chan struct{} // the opening goroutine ended
}

type record struct {
	key     uint64
	size    int64
	items   int
	at      time.Time // written (zero when found at open: send at once)
	claimed bool      // being sent or evicted
}

var (
	// recordBucket holds the records; named "spans" since the first spool
	// format, so files written then are read as they are.
	recordBucket = []byte("spans")
	metaBucket   = []byte("meta")
)

// recordOverhead approximates bbolt's per-value cost (key, leaf element)
// so many small records cannot exceed spool_max_bytes on disk unnoticed.
const recordOverhead = 8 + 16

// errClosed is returned by operations after close.
var errClosed = errors.New("spool closed")

func newStore(dir, fileID, dest string, maxBytes int64, log *slog.Logger) *store {
	return &store{
		path:     filepath.Join(dir, fileID+".spool"),
		dest:     dest,
		maxBytes: maxBytes,
		log:      log.With(slog.String("spool", filepath.Join(dir, fileID+".spool"))),
		readyCh:  make(chan struct{}),
		changed:  make(chan struct{}),
		openDone: make(chan struct{}),
	}
}

// opened is what open reports for the counters.
type opened struct {
	replayedItems  int64 // found from an earlier process
	corruptRecords int   // unreadable headers, deleted
}

// openLoop opens the file, waiting for its lock: during `kong reload` the
// previous plugin server holds it while it flushes (up to its shutdown
// deadline). It gives up only when ctx ends. Until it succeeds the spool
// works from memory.
func (s *store) openLoop(ctx context.Context, opened func(opened)) {
	defer close(s.openDone)
	if err := os.MkdirAll(filepath.Dir(s.path), 0o700); err != nil {
		s.log.Error("spool directory unusable; data stays in memory", slog.String("error", err.Error()))
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
				s.log.Warn("spool locked by another process (a previous plugin server still flushing?); data stays in memory until it is released")
			}
			retry = 0 // the lock wait itself paces the loop
		case errors.Is(err, bolterrors.ErrInvalid), errors.Is(err, bolterrors.ErrChecksum), errors.Is(err, bolterrors.ErrVersionMismatch):
			s.log.Error("spool file corrupt; moved aside, starting empty", slog.String("error", err.Error()))
			s.moveAside()
		default:
			s.log.Error("cannot open spool; data stays in memory, retrying", slog.String("error", err.Error()))
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
func (s *store) moveAside() {
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
func (s *store) load(db *bolt.DB) (res opened, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("bbolt panicked reading the spool: %v", r)
		}
	}()
	var recs []record
	var bytes, items int64
	err = db.Update(func(tx *bolt.Tx) error {
		meta, err := tx.CreateBucketIfNotExists(metaBucket)
		if err != nil {
			return err
		}
		if err := meta.Put([]byte("destination"), []byte(s.dest)); err != nil {
			return err
		}
		b, err := tx.CreateBucketIfNotExists(recordBucket)
		if err != nil {
			return err
		}
		var bad [][]byte
		c := b.Cursor()
		for k, v := c.First(); k != nil; k, v = c.Next() {
			n, ok := recordItemCount(v)
			if len(k) != 8 || !ok {
				bad = append(bad, append([]byte(nil), k...))
				continue
			}
			size := int64(len(v)) + recordOverhead
			recs = append(recs, record{key: binary.BigEndian.Uint64(k), size: size, items: n})
			bytes += size
			items += int64(n)
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
	s.recs, s.bytes, s.items = recs, bytes, items
	s.mu.Unlock()
	res.replayedItems = items
	return res, nil
}

// ready returns a channel closed once the spool is usable.
func (s *store) ready() <-chan struct{} { return s.readyCh }

func (s *store) isReady() bool {
	select {
	case <-s.readyCh:
		return true
	default:
		return false
	}
}

// held returns the items and bytes on disk.
func (s *store) held() (items, bytes int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.items, s.bytes
}

// appendResult says what an append did besides writing the record.
type appendResult struct {
	evictedItems int // items of the oldest records deleted to stay under maxBytes
	refused      bool
}

// append writes rec, an encoded record of n items, first deleting the
// oldest records not being sent until the total stays within maxBytes. A
// record that does not fit even then is refused.
func (s *store) append(rec []byte, n int) (res appendResult, err error) {
	size := int64(len(rec)) + recordOverhead

	s.wmu.Lock()
	defer s.wmu.Unlock()
	s.mu.Lock()
	if s.closed || s.db == nil {
		s.mu.Unlock()
		return res, errClosed
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
		b := tx.Bucket(recordBucket)
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
			res.evictedItems += r.items
		}
	}
	s.recs = append(s.recs, record{key: key, size: size, items: n, at: time.Now()})
	s.bytes += size
	s.items += int64(n)
	s.signalLocked()
	return res, nil
}

// claimPlan is what claim decided.
type claimPlan struct {
	recs []record
	wait time.Duration // nothing eligible yet: check again after this (0: wait for a change)
}

// claim picks the oldest unclaimed records for one export batch: at most
// maxItems items (at least one record) and maxBytes. Unless flush is set,
// it claims only when a full batch waits or the oldest record has waited
// delay, as the in-memory batcher does.
func (s *store) claim(maxItems int, maxBytes int64, delay time.Duration, flush bool) claimPlan {
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
		unclaimed += s.recs[i].items
		if unclaimed >= maxItems {
			break
		}
	}
	if first < 0 {
		return claimPlan{}
	}
	if !flush && unclaimed < maxItems {
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
		if len(plan.recs) > 0 && (n+r.items > maxItems || bytes+r.size > maxBytes) {
			break
		}
		r.claimed = true
		plan.recs = append(plan.recs, *r)
		n += r.items
		bytes += r.size
	}
	return plan
}

// changedCh returns a channel closed at the next add or release.
func (s *store) changedCh() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.changed
}

func (s *store) signalLocked() {
	close(s.changed)
	s.changed = make(chan struct{})
}

// read hands each claimed record's bytes to decode (they are bbolt's
// memory: decode must copy what it keeps). Records missing or failing to
// decode are returned in corrupt (still claimed; the caller acks them
// away).
func (s *store) read(recs []record, decode func(rec []byte) error) (good, corrupt []record, err error) {
	s.mu.Lock()
	db := s.db
	closed := s.closed
	s.mu.Unlock()
	if closed || db == nil {
		return nil, nil, errClosed
	}
	err = safeView(db, func(tx *bolt.Tx) error {
		b := tx.Bucket(recordBucket)
		var k [8]byte
		for _, r := range recs {
			binary.BigEndian.PutUint64(k[:], r.key)
			v := b.Get(k[:])
			if v == nil || decode(v) != nil {
				corrupt = append(corrupt, r)
				continue
			}
			good = append(good, r)
		}
		return nil
	})
	return good, corrupt, err
}

// ack deletes records whose items reached an outcome.
func (s *store) ack(recs []record) error {
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
		return errClosed
	}
	err := safeUpdate(db, func(tx *bolt.Tx) error {
		b := tx.Bucket(recordBucket)
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
func (s *store) release(recs []record) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, r := range recs {
		s.unclaimKeysLocked([]uint64{r.key})
	}
	s.signalLocked()
}

func (s *store) find(key uint64) int {
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

func (s *store) unclaimKeysLocked(keys []uint64) {
	for _, k := range keys {
		if i := s.find(k); i >= 0 {
			s.recs[i].claimed = false
		}
	}
}

func (s *store) removeLocked(key uint64) (record, bool) {
	i := s.find(key)
	if i < 0 {
		return record{}, false
	}
	r := s.recs[i]
	s.recs = append(s.recs[:i], s.recs[i+1:]...)
	s.bytes -= r.size
	s.items -= int64(r.items)
	return r, true
}

// pending reports whether records wait on disk or are being sent.
func (s *store) pending() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.recs) > 0
}

// close stops the opening goroutine (ctx must already be cancelled or the
// spool ready) and closes the file, releasing its lock for the next process.
func (s *store) close() error {
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

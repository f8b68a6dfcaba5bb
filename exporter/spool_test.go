package exporter_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/trace-exporter/trace-exporter/exporter"
	"github.com/trace-exporter/trace-exporter/exporter/internal/exportertest"
	"github.com/trace-exporter/trace-exporter/schema"
)

func TestSpoolRecordRoundTrip(t *testing.T) {
	for _, spans := range [][]exporter.Span{exportertest.RichBatch().Spans, exportertest.KongLikeBatch(7).Spans, exportertest.TwoResourceBatch().Spans, nil} {
		rec := exporter.EncodeSpanRecord(nil, spans)
		got, err := exporter.DecodeSpanRecord(nil, rec)
		if err != nil {
			t.Fatal(err)
		}
		if len(spans) == 0 && len(got) == 0 {
			continue
		}
		if !reflect.DeepEqual(exportertest.PlainSpans(got), exportertest.PlainSpans(spans)) {
			t.Fatalf("round trip changed the spans:\n got %+v\nwant %+v", got, spans)
		}
	}
}

// Every single-byte change and every truncation of a record is detected:
// a damaged record must never turn into wrong spans.
func TestSpoolRecordDamageDetected(t *testing.T) {
	rec := exporter.EncodeSpanRecord(nil, exportertest.RichBatch().Spans)
	for i := range rec {
		for _, flip := range []byte{0x01, 0x80, 0xff} {
			bad := bytes.Clone(rec)
			bad[i] ^= flip
			if _, err := exporter.DecodeSpanRecord(nil, bad); err == nil {
				t.Fatalf("byte %d ^ %#x not detected", i, flip)
			}
		}
	}
	for n := range len(rec) {
		if _, err := exporter.DecodeSpanRecord(nil, rec[:n]); err == nil {
			t.Fatalf("truncation to %d bytes not detected", n)
		}
	}
	if _, err := exporter.DecodeSpanRecord(nil, append(bytes.Clone(rec), 0)); err == nil {
		t.Fatal("trailing byte not detected")
	}
}

func FuzzSpoolDecodeRecord(f *testing.F) {
	f.Add(exporter.EncodeSpanRecord(nil, exportertest.RichBatch().Spans))
	f.Add(exporter.EncodeSpanRecord(nil, exportertest.KongLikeBatch(3).Spans))
	f.Add([]byte{2, 0xff, 0xff, 0xff, 0xff, 0x0f, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, rec []byte) {
		spans, err := exporter.DecodeSpanRecord(nil, rec)
		if err != nil {
			return
		}
		// Whatever decodes is canonical: it encodes back to the same bytes.
		if again := exporter.EncodeSpanRecord(nil, spans); !bytes.Equal(again, rec) {
			t.Fatalf("decoded record does not re-encode to itself")
		}
	})
}

// switchableReceiver is an OTLP receiver that answers 503 while down and
// records the span ids it acknowledged.
type switchableReceiver struct {
	*exportertest.Recorder
	down atomic.Bool

	mu    sync.Mutex
	acked map[exporter.SpanID]int // span id → times acknowledged
}

func newSwitchableReceiver(t *testing.T) *switchableReceiver {
	sr := &switchableReceiver{acked: map[exporter.SpanID]int{}}
	sr.Recorder = exportertest.NewRecorder(t, nil, func(n int, w http.ResponseWriter, r *http.Request) {
		if sr.down.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		req := sr.Received()[n].Export
		sr.mu.Lock()
		for _, rs := range req.GetResourceSpans() { // nil for logs
			for _, ss := range rs.ScopeSpans {
				for _, s := range ss.Spans {
					sr.acked[exporter.SpanID(s.SpanId)]++
				}
			}
		}
		sr.mu.Unlock()
		w.Header().Set("Content-Type", "application/x-protobuf")
		w.WriteHeader(http.StatusOK)
	})
	return sr
}

func (sr *switchableReceiver) ackedSpans() (unique, total int) {
	sr.mu.Lock()
	defer sr.mu.Unlock()
	for _, n := range sr.acked {
		unique++
		total += n
	}
	return unique, total
}

func (sr *switchableReceiver) has(id exporter.SpanID) bool {
	sr.mu.Lock()
	defer sr.mu.Unlock()
	return sr.acked[id] > 0
}

// numberedSpans returns n one-span requests with span ids from first on.
func numberedSpans(first, n int) [][]exporter.Span {
	out := make([][]exporter.Span, n)
	for i := range out {
		s := exportertest.Spans(1)
		binary.BigEndian.PutUint64(s[0].SpanID[:], uint64(first+i+1))
		s[0].TraceID[0] = byte(i)
		out[i] = s
	}
	return out
}

func spoolConfig(t *testing.T, endpoint, dir string) *schema.Config {
	cfg := exportertest.Config(endpoint)
	cfg.SpoolDir = dir
	cfg.Queue.MaxBatchSize = 50
	return cfg
}

func spoolPath(t *testing.T, cfg *schema.Config) string {
	return filepath.Join(cfg.SpoolDir, exporter.SpoolFileID(cfg)+".spool")
}

func waitSpoolOpen(t *testing.T, h *exporter.Handle) {
	exportertest.WaitFor(t, 10*time.Second, "spool open", func() bool { return h.Stats().SpoolOpen })
}

func shutdownRegistry(t *testing.T, reg *exporter.Registry, d time.Duration) {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	_ = reg.ShutdownAll(ctx)
}

// Backend down: spans go to disk and leave memory; when it is back every
// span arrives once, nothing is dropped, the spool empties.
func TestSpoolOutageLosesNothing(t *testing.T) {
	rc := newSwitchableReceiver(t)
	rc.down.Store(true)
	cfg := spoolConfig(t, rc.TracesURL(), t.TempDir())
	cfg.Queue.MaxEntries = 200 // far below what the outage produces: the spool holds the rest
	reg := exportertest.NewRegistry(t, exporter.RegistryOptions{})
	h, err := reg.Acquire(cfg)
	if err != nil {
		t.Fatal(err)
	}
	waitSpoolOpen(t, h)
	const n = 3000
	for i, spans := range numberedSpans(0, n) {
		// The producer here is faster than any disk: pace it by the queue
		// (a real gateway would see queue_full drops, counted).
		deadline := time.Now().Add(5 * time.Second)
		for !h.Enqueue(spans) {
			if time.Now().After(deadline) {
				t.Fatalf("span %d refused for 5 s: %+v", i, h.Stats())
			}
			time.Sleep(time.Millisecond)
		}
	}
	exportertest.WaitFor(t, 10*time.Second, "everything on disk", func() bool { return h.Stats().SpoolSpans == n })
	if s := h.Stats(); s.QueueSpans != 0 || s.Exported != 0 {
		t.Fatalf("while down: %+v", s)
	}
	time.Sleep(300 * time.Millisecond) // retries happen meanwhile
	rc.down.Store(false)
	exportertest.WaitFor(t, 20*time.Second, "all exported", func() bool { return h.Stats().Exported == n })
	s := h.Stats()
	unique, total := rc.ackedSpans()
	if unique != n || total != n || s.DroppedTotal() != s.Dropped[exporter.DropQueueFullEntries] || s.SpoolSpans != 0 || s.Spooled != n || s.Retries == 0 {
		t.Fatalf("unique %d total %d, stats %+v", unique, total, s)
	}
}

// What a process leaves in the spool, the next one (same config) sends.
func TestSpoolReplayedAfterRestart(t *testing.T) {
	rc := newSwitchableReceiver(t)
	rc.down.Store(true)
	dir := t.TempDir()
	cfg := spoolConfig(t, rc.TracesURL(), dir)

	reg1 := exporter.NewRegistry(exporter.RegistryOptions{})
	h1, _ := reg1.Acquire(cfg)
	waitSpoolOpen(t, h1)
	const n = 500
	for _, spans := range numberedSpans(0, n) {
		h1.Enqueue(spans)
	}
	exportertest.WaitFor(t, 5*time.Second, "on disk", func() bool { return h1.Stats().SpoolSpans == n })
	start := time.Now()
	shutdownRegistry(t, reg1, 2*time.Second)
	if d := time.Since(start); d > time.Second {
		t.Fatalf("shutdown with a failing backend took %s: it should stop at the first failure", d)
	}
	s1 := h1.Stats()
	if s1.SpoolSpans != n || s1.DroppedTotal() != 0 {
		t.Fatalf("after shutdown: %+v", s1)
	}

	rc.down.Store(false)
	reg2 := exportertest.NewRegistry(t, exporter.RegistryOptions{})
	h2, _ := reg2.Acquire(cfg)
	exportertest.WaitFor(t, 10*time.Second, "replayed", func() bool { return h2.Stats().Exported == n })
	s2 := h2.Stats()
	if s2.Replayed != n || s2.Enqueued != 0 || s2.SpoolSpans != 0 {
		t.Fatalf("second process: %+v", s2)
	}
	if unique, _ := rc.ackedSpans(); unique != n {
		t.Fatalf("%d unique spans arrived, want %d", unique, n)
	}
}

// Past spool_max_bytes the oldest spans go, counted; the newest survive.
func TestSpoolCapDropsOldest(t *testing.T) {
	rc := newSwitchableReceiver(t)
	rc.down.Store(true)
	cfg := spoolConfig(t, rc.TracesURL(), t.TempDir())
	cfg.SpoolMaxBytes = 1 << 20
	reg := exportertest.NewRegistry(t, exporter.RegistryOptions{})
	h, _ := reg.Acquire(cfg)
	waitSpoolOpen(t, h)
	big := strings.Repeat("x", 1000)
	const n = 3000 // about 3 MiB
	reqs := numberedSpans(0, n)
	for i, spans := range reqs {
		spans[0].Attributes = append(spans[0].Attributes, exporter.String("payload", big))
		for !h.Enqueue(spans) {
			time.Sleep(time.Millisecond)
		}
		if i%50 == 0 {
			exportertest.WaitFor(t, 5*time.Second, "batcher", func() bool { return h.Stats().QueueSpans == 0 })
		}
	}
	exportertest.WaitFor(t, 5*time.Second, "all written", func() bool {
		s := h.Stats()
		return s.QueueSpans == 0 && int(s.SpoolSpans)+int(s.Dropped[exporter.DropSpoolFull]) == n
	})
	s := h.Stats()
	if s.SpoolBytes > int64(cfg.SpoolMaxBytes) || s.Dropped[exporter.DropSpoolFull] < n/2 {
		t.Fatalf("cap not applied: %+v", s)
	}
	// The cap bounds the records; bbolt's file adds page overhead, freed
	// pages awaiting reuse, and grows by doubling while below 16 MiB.
	if fi, err := os.Stat(spoolPath(t, cfg)); err != nil || fi.Size() > 4*int64(cfg.SpoolMaxBytes) {
		t.Fatalf("spool file size %v (err %v), cap %d", fi.Size(), err, cfg.SpoolMaxBytes)
	}
	kept := s.SpoolSpans
	rc.down.Store(false)
	exportertest.WaitFor(t, 20*time.Second, "kept spans exported", func() bool { return h.Stats().Exported == uint64(kept) })
	// The newest spans are the ones kept (the oldest batch, being retried
	// when the cap was reached, is not evicted from under its sender).
	last := reqs[n-1][0].SpanID
	old := reqs[n/4][0].SpanID
	if !rc.has(last) || rc.has(old) {
		t.Fatalf("newest delivered %v, an old one delivered %v: want true, false", rc.has(last), rc.has(old))
	}
	if s := h.Stats(); s.Exported+s.Dropped[exporter.DropSpoolFull] != n || s.SpoolSpans != 0 {
		t.Fatalf("accounting: %+v", s)
	}
}

// A damaged record is skipped and counted; the others are delivered.
func TestSpoolCorruptRecordsSkipped(t *testing.T) {
	rc := newSwitchableReceiver(t)
	rc.down.Store(true)
	cfg := spoolConfig(t, rc.TracesURL(), t.TempDir())
	cfg.Queue.MaxBatchSize = 10

	reg1 := exporter.NewRegistry(exporter.RegistryOptions{})
	h1, _ := reg1.Acquire(cfg)
	waitSpoolOpen(t, h1)
	const n = 100
	for _, spans := range numberedSpans(0, n) {
		h1.Enqueue(spans)
		time.Sleep(100 * time.Microsecond)
	}
	exportertest.WaitFor(t, 5*time.Second, "on disk", func() bool { return h1.Stats().SpoolSpans == n })
	shutdownRegistry(t, reg1, time.Second)

	// Damage the body of the first record and add one with a bad header.
	db, err := bolt.Open(spoolPath(t, cfg), 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	var damagedSpans int
	err = db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte("spans")) // the bucket of span records
		k, v := b.Cursor().First()
		count, _ := binary.Uvarint(v[1:]) // after the version byte
		damagedSpans = int(count)
		bad := bytes.Clone(v)
		bad[len(bad)-1] ^= 0x55
		if err := b.Put(bytes.Clone(k), bad); err != nil {
			return err
		}
		return b.Put([]byte{0xff, 0, 0, 0, 0, 0, 0, 0}, []byte("garbage"))
	})
	db.Close()
	if err != nil || damagedSpans == 0 {
		t.Fatal(err, damagedSpans)
	}

	rc.down.Store(false)
	reg2 := exportertest.NewRegistry(t, exporter.RegistryOptions{})
	h2, _ := reg2.Acquire(cfg)
	want := uint64(n - damagedSpans)
	exportertest.WaitFor(t, 10*time.Second, "good records exported", func() bool { return h2.Stats().Exported == want })
	s := h2.Stats()
	if s.SpoolCorrupt != 2 || s.Dropped[exporter.DropSpoolCorrupt] != uint64(damagedSpans) || s.SpoolSpans != 0 {
		t.Fatalf("stats %+v (damaged record had %d spans)", s, damagedSpans)
	}
}

// Two holders of one spool (the old and the new plugin server during
// `kong reload`): the second waits for the lock, working from memory
// meanwhile, then takes the spool over and sends what the first left.
func TestSpoolLockHandover(t *testing.T) {
	rc := newSwitchableReceiver(t)
	rc.down.Store(true)
	cfg := spoolConfig(t, rc.TracesURL(), t.TempDir())

	old := exporter.NewRegistry(exporter.RegistryOptions{})
	h1, _ := old.Acquire(cfg)
	waitSpoolOpen(t, h1)
	for _, spans := range numberedSpans(0, 200) {
		h1.Enqueue(spans)
	}
	exportertest.WaitFor(t, 5*time.Second, "on disk", func() bool { return h1.Stats().SpoolSpans == 200 })

	reg := exportertest.NewRegistry(t, exporter.RegistryOptions{})
	h2, _ := reg.Acquire(cfg)
	for _, spans := range numberedSpans(1000, 100) {
		if !h2.Enqueue(spans) {
			t.Fatal("refused while waiting for the lock")
		}
	}
	time.Sleep(600 * time.Millisecond)
	if s := h2.Stats(); s.SpoolOpen || s.QueueSpans != 100 {
		t.Fatalf("the new holder must wait for the lock, holding spans in memory: %+v", s)
	}
	shutdownRegistry(t, old, time.Second)
	waitSpoolOpen(t, h2)
	rc.down.Store(false)
	exportertest.WaitFor(t, 10*time.Second, "everything exported", func() bool { return h2.Stats().Exported == 300 })
	if unique, _ := rc.ackedSpans(); unique != 300 {
		t.Fatalf("%d unique spans, want 300", unique)
	}
	if s := h2.Stats(); s.DroppedTotal() != 0 || s.Replayed != 200 {
		t.Fatalf("stats %+v", s)
	}
}

// A file bbolt cannot read is kept aside; the pipeline starts a new one.
func TestSpoolUnreadableFileMovedAside(t *testing.T) {
	rc := newSwitchableReceiver(t)
	cfg := spoolConfig(t, rc.TracesURL(), t.TempDir())
	path := spoolPath(t, cfg)
	if err := os.WriteFile(path, bytes.Repeat([]byte("not a bbolt file "), 1000), 0o600); err != nil {
		t.Fatal(err)
	}
	reg := exportertest.NewRegistry(t, exporter.RegistryOptions{})
	h, _ := reg.Acquire(cfg)
	waitSpoolOpen(t, h)
	h.Enqueue(exportertest.Spans(2))
	exportertest.WaitFor(t, 5*time.Second, "exported", func() bool { return h.Stats().Exported == 2 })
	aside, _ := filepath.Glob(path + ".corrupt-*")
	if len(aside) != 1 {
		t.Fatalf("corrupt file not kept aside: %v", aside)
	}
}

// At shutdown, what the deadline did not let through stays on disk:
// nothing is dropped.
func TestSpoolShutdownDeadlineKeepsUnsent(t *testing.T) {
	rc := hangingReceiver(t)
	cfg := spoolConfig(t, rc.TracesURL(), t.TempDir())
	cfg.ReadTimeout = 60000
	reg := exporter.NewRegistry(exporter.RegistryOptions{})
	h, _ := reg.Acquire(cfg)
	waitSpoolOpen(t, h)
	for _, spans := range numberedSpans(0, 400) {
		h.Enqueue(spans)
	}
	start := time.Now()
	shutdownRegistry(t, reg, 300*time.Millisecond)
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("shutdown took %s", d)
	}
	s := h.Stats()
	if s.DroppedTotal() != 0 || s.SpoolSpans != 400 || s.QueueSpans != 0 {
		t.Fatalf("after the deadline: %+v", s)
	}
}

// A pipeline whose spool still holds spans is not reaped when idle.
func TestSpoolKeepsPipelineFromReaping(t *testing.T) {
	rc := newSwitchableReceiver(t)
	rc.down.Store(true)
	cfg := spoolConfig(t, rc.TracesURL(), t.TempDir())
	reg := exportertest.NewRegistry(t, exporter.RegistryOptions{IdleTimeout: 50 * time.Millisecond})
	h, _ := reg.Acquire(cfg)
	waitSpoolOpen(t, h)
	h.Enqueue(exportertest.Spans(3))
	time.Sleep(400 * time.Millisecond)
	if len(reg.Stats()) != 1 {
		t.Fatal("pipeline with spooled spans was reaped")
	}
	rc.down.Store(false)
	exportertest.WaitFor(t, 5*time.Second, "exported", func() bool { return h.Stats().Exported == 3 })
	exportertest.WaitFor(t, 5*time.Second, "reaped once empty", func() bool { return len(reg.Stats()) == 0 })
}

package file

import (
	"bufio"
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/trace-exporter/trace-exporter/exporter"
	"github.com/trace-exporter/trace-exporter/exporter/internal/exportertest"
	"github.com/trace-exporter/trace-exporter/schema"
)

func fileConfig(path string, maxBytes, maxFiles int) *schema.Config {
	cfg := exportertest.Config("")
	cfg.Exporter = schema.ExporterFile
	cfg.FilePath = path
	cfg.FileMaxBytes = maxBytes
	cfg.FileMaxFiles = maxFiles
	cfg.Queue.MaxBatchSize = 10
	cfg.Queue.MaxCoalescingDelay = 0.005
	cfg.Queue.ConcurrencyLimit = 4 // concurrent Export calls on one file
	return cfg
}

// uniqueSpans returns n spans whose span ids encode (writer, i).

// load enqueues writers×perWriter requests of spansPer spans from
// concurrent goroutines, then flushes, all within a deadline. It returns
// the first span id of the request enqueued last.
func load(t *testing.T, h *exporter.Handle, reg *exporter.Registry, writers, perWriter, spansPer int) (lastID string) {
	t.Helper()
	var wg sync.WaitGroup
	var mu sync.Mutex
	for w := range writers {
		wg.Go(func() {
			for i := range perWriter {
				spans := exportertest.UniqueSpans(byte(w), i, spansPer)
				id := spans[0].SpanID.String()
				mu.Lock() // enqueue and record as one step: lastID is truly the last
				for !h.Enqueue(spans) {
					mu.Unlock()
					time.Sleep(time.Millisecond) // queue full: wait for the writer
					mu.Lock()
				}
				lastID = id
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := reg.ShutdownAll(ctx); err != nil {
		t.Fatalf("flush: %v", err)
	}
	return lastID
}

// readLines decodes every line of a file with the official decoder and
// returns the span ids it holds; a partial or corrupt line fails the test.
func readLines(t *testing.T, path string) (ids []string, lines int) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(data) > 0 && data[len(data)-1] != '\n' {
		t.Fatalf("%s ends with a partial line", path)
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		lines++
		for id := range exportertest.ViewOfOTLPJSONLine(t, sc.Bytes()) {
			ids = append(ids, id)
		}
	}
	return ids, lines
}

// Under concurrent load the file rotates by size: at most file_max_files
// rotated files besides the live one, none over the limit, every line a
// whole OTLP/JSON request, and the newest spans kept.
func TestFileRotationUnderLoad(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "spans.ndjson")
	const maxBytes, maxFiles = 32 << 10, 3
	reg := exporter.NewRegistry(exporter.RegistryOptions{})
	h, err := reg.Acquire(fileConfig(path, maxBytes, maxFiles))
	if err != nil {
		t.Fatal(err)
	}
	lastID := load(t, h, reg, 4, 150, 3)
	s := h.Stats()
	if s.Exported != 4*150*3 || s.DroppedTotal() != 0 {
		t.Fatalf("stats %+v", s)
	}
	entries, _ := os.ReadDir(dir)
	names := map[string]bool{}
	for _, e := range entries {
		names[e.Name()] = true
	}
	want := []string{"spans.ndjson", "spans.ndjson.1", "spans.ndjson.2", "spans.ndjson.3"}
	if len(names) != len(want) {
		t.Fatalf("files %v, want %v", names, want)
	}
	seen := map[string]bool{}
	for _, n := range want {
		if !names[n] {
			t.Fatalf("missing %s in %v", n, names)
		}
		st, _ := os.Stat(filepath.Join(dir, n))
		if st.Size() > maxBytes {
			t.Errorf("%s is %d bytes, over %d", n, st.Size(), maxBytes)
		}
		if st.Mode().Perm() != fileMode {
			t.Errorf("%s mode %v", n, st.Mode().Perm())
		}
		ids, lines := readLines(t, filepath.Join(dir, n))
		if lines == 0 {
			t.Errorf("%s is empty", n)
		}
		for _, id := range ids {
			if seen[id] {
				t.Errorf("span %s written twice", id)
			}
			seen[id] = true
		}
	}
	// 1800 spans of ~300 bytes do not fit in 4×32 KiB: old files were
	// dropped, and what is kept is the most recent.
	if len(seen) >= 1800 || len(seen) == 0 {
		t.Errorf("%d spans kept", len(seen))
	}
	if !seen[lastID] {
		t.Errorf("the last span enqueued (%s) was rotated away", lastID)
	}
}

// Without rotation every span is written exactly once, and concurrent
// exports never interleave inside a line.
func TestFileKeepsEverySpanOnce(t *testing.T) {
	path := filepath.Join(t.TempDir(), "all.ndjson")
	reg := exporter.NewRegistry(exporter.RegistryOptions{})
	h, err := reg.Acquire(fileConfig(path, 1<<30, 1))
	if err != nil {
		t.Fatal(err)
	}
	load(t, h, reg, 4, 100, 2)
	ids, _ := readLines(t, path)
	unique := map[string]bool{}
	for _, id := range ids {
		unique[id] = true
	}
	if len(ids) != 800 || len(unique) != 800 {
		t.Fatalf("%d spans written, %d distinct; want 800", len(ids), len(unique))
	}
	// A new pipeline appends to the existing file.
	reg2 := exporter.NewRegistry(exporter.RegistryOptions{})
	h2, err := reg2.Acquire(fileConfig(path, 1<<30, 1))
	if err != nil {
		t.Fatal(err)
	}
	load(t, h2, reg2, 1, 5, 2)
	if ids, _ := readLines(t, path); len(ids) != 810 {
		t.Errorf("after a restart: %d spans, want 810 (appended)", len(ids))
	}
}

// Two pipelines (different queue settings) writing to the same file share
// one writer: lines stay whole and nothing is lost.
func TestFileSharedByTwoPipelines(t *testing.T) {
	path := filepath.Join(t.TempDir(), "shared.ndjson")
	reg := exporter.NewRegistry(exporter.RegistryOptions{})
	a := fileConfig(path, 16<<10, 2)
	b := fileConfig(path, 16<<10, 2)
	b.Queue.MaxBatchSize = 7
	ha, err := reg.Acquire(a)
	if err != nil {
		t.Fatal(err)
	}
	hb, err := reg.Acquire(b)
	if err != nil {
		t.Fatal(err)
	}
	if ha.PipelineID() == hb.PipelineID() {
		t.Fatal("test needs two pipelines")
	}
	var wg sync.WaitGroup
	for w, h := range []*exporter.Handle{ha, hb} {
		wg.Go(func() {
			for i := range 100 {
				for !h.Enqueue(exportertest.UniqueSpans(byte(w), i, 2)) {
					time.Sleep(time.Millisecond)
				}
			}
		})
	}
	wg.Wait()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := reg.ShutdownAll(ctx); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{path, path + ".1", path + ".2"} {
		readLines(t, p) // whole lines only
	}
	if _, err := os.Stat(path + ".3"); err == nil {
		t.Errorf("more rotated files than file_max_files")
	}
	sharedFiles.Lock()
	open := len(sharedFiles.byPath)
	sharedFiles.Unlock()
	if open != 0 {
		t.Errorf("%d files still open after every pipeline stopped", open)
	}
}

func TestFileBadPathNamesTheField(t *testing.T) {
	cfg := fileConfig(filepath.Join(t.TempDir(), "no", "such", "dir", "spans.ndjson"), 1<<20, 1)
	_, err := exporter.NewRegistry(exporter.RegistryOptions{}).Acquire(cfg)
	if err == nil || !strings.Contains(err.Error(), "config.file_path") {
		t.Fatalf("err = %v", err)
	}
}

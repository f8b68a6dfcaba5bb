// Package file is the file backend (exporter: file): each batch is one line
// of OTLP/JSON appended to file_path, with size-based rotation.
package file

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"sync"

	"github.com/trace-exporter/trace-exporter/exporter"
	"github.com/trace-exporter/trace-exporter/exporter/internal/otlpenc"
	"github.com/trace-exporter/trace-exporter/exporter/internal/wire"
	"github.com/trace-exporter/trace-exporter/schema"
)

func init() {
	exporter.Register(string(schema.ExporterFile), newExporter,
		exporter.DescribeEndpoint(func(cfg *schema.Config) string { return cfg.FilePath }))
}

// fileMode: spans carry request data (paths, client addresses, captured
// headers); the file is not world-readable.
const fileMode = 0o640

// fileExporter appends each batch to file_path as one line of OTLP/JSON (an
// ExportTraceServiceRequest, or ExportLogsServiceRequest for log records),
// the format the OpenTelemetry Collector's file exporter and otlpjsonfile
// receiver use. Before a write would take the
// file past file_max_bytes it is rotated: file_path.1 … file_path.N, the
// newest first, at most file_max_files of them. A line is never split.
type fileExporter struct {
	out *rotatingFile
}

func newExporter(cfg *schema.Config, set exporter.Settings) (exporter.Exporter, error) {
	if cfg.FilePath == "" {
		return nil, &schema.FieldError{Field: "file_path", Reason: "required when exporter is \"file\""}
	}
	out, err := openSharedFile(cfg.FilePath, int64(cfg.FileMaxBytes), max(cfg.FileMaxFiles, 1), set.Logger)
	if err != nil {
		return nil, &schema.FieldError{Field: "file_path", Reason: err.Error()}
	}
	return &fileExporter{out: out}, nil
}

func (e *fileExporter) Export(_ context.Context, batch exporter.Batch) error {
	line := wire.GetBuffer()
	*line = otlpenc.AppendTracesJSON(*line, &batch)
	return e.writeLine(line)
}

// ExportLogs appends the batch as one line of OTLP/JSON logs (an
// ExportLogsServiceRequest), the format the Collector's otlpjsonfile
// receiver reads.
func (e *fileExporter) ExportLogs(_ context.Context, batch exporter.LogBatch) error {
	line := wire.GetBuffer()
	*line = otlpenc.AppendLogsJSON(*line, &batch)
	return e.writeLine(line)
}

// writeLine writes an encoded request as one line, returning the buffer.
func (e *fileExporter) writeLine(line *[]byte) error {
	defer wire.PutBuffer(line)
	*line = append(*line, '\n')
	if err := e.out.write(*line); err != nil {
		// A full disk may clear up; retrying within max_retry_time is cheap.
		return exporter.Retryable(err, 0)
	}
	return nil
}

func (e *fileExporter) Shutdown(context.Context) error { return e.out.release() }

// rotatingFile is one output file, shared by every pipeline that writes to
// the same path so their lines never interleave or rotate each other's
// files away: a file is a process-wide resource, hence the process-wide
// table sharedFiles.
type rotatingFile struct {
	path     string
	maxBytes int64
	maxFiles int

	mu   sync.Mutex
	f    *os.File // nil after a failed rotation: reopened on the next write
	size int64
	refs int // guarded by sharedFiles
}

var sharedFiles = struct {
	sync.Mutex
	byPath map[string]*rotatingFile
}{byPath: map[string]*rotatingFile{}}

// openSharedFile opens path for appending, or shares the writer already open
// on it (the first opener's rotation settings apply).
func openSharedFile(path string, maxBytes int64, maxFiles int, logger *slog.Logger) (*rotatingFile, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	sharedFiles.Lock()
	defer sharedFiles.Unlock()
	if r, ok := sharedFiles.byPath[abs]; ok {
		if (r.maxBytes != maxBytes || r.maxFiles != maxFiles) && logger != nil {
			logger.Warn("file already written by another pipeline: its rotation settings apply",
				slog.String("file_path", abs), slog.Int64("file_max_bytes", r.maxBytes), slog.Int("file_max_files", r.maxFiles))
		}
		r.refs++
		return r, nil
	}
	r := &rotatingFile{path: abs, maxBytes: maxBytes, maxFiles: maxFiles, refs: 1}
	if err := r.open(); err != nil {
		return nil, err
	}
	sharedFiles.byPath[abs] = r
	return r, nil
}

func (r *rotatingFile) open() error {
	f, err := os.OpenFile(r.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, fileMode)
	if err != nil {
		return err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return err
	}
	r.f, r.size = f, st.Size()
	return nil
}

// write appends one whole line, rotating first if the line would not fit.
// A failed write is cut off again so the file holds whole lines only.
func (r *rotatingFile) write(line []byte) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.f == nil {
		if err := r.open(); err != nil {
			return err
		}
	}
	if r.size > 0 && r.size+int64(len(line)) > r.maxBytes {
		if err := r.rotate(); err != nil {
			return err
		}
	}
	n, err := r.f.Write(line)
	if err != nil {
		if n > 0 {
			_ = r.f.Truncate(r.size)
		}
		return fmt.Errorf("write %s: %w", r.path, err)
	}
	r.size += int64(n)
	return nil
}

// rotate shifts path.i to path.i+1 (the rename drops the oldest), moves
// path to path.1 and starts an empty path.
func (r *rotatingFile) rotate() error {
	if err := r.f.Close(); err != nil {
		r.f = nil
		return err
	}
	r.f = nil
	for i := r.maxFiles - 1; i >= 1; i-- {
		err := os.Rename(r.rotated(i), r.rotated(i+1))
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	if err := os.Rename(r.path, r.rotated(1)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	// Files beyond the limit (left by a larger file_max_files) go too.
	for i := r.maxFiles + 1; ; i++ {
		if err := os.Remove(r.rotated(i)); err != nil {
			break
		}
	}
	return r.open()
}

func (r *rotatingFile) rotated(i int) string { return r.path + "." + strconv.Itoa(i) }

// release closes the file when its last pipeline is done with it.
func (r *rotatingFile) release() error {
	sharedFiles.Lock()
	r.refs--
	last := r.refs == 0
	if last {
		delete(sharedFiles.byPath, r.path)
	}
	sharedFiles.Unlock()
	if !last {
		return nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.f == nil {
		return nil
	}
	err := r.f.Close()
	r.f = nil
	return err
}

package wire

import (
	"io"
	"sync"

	"github.com/klauspost/compress/gzip"
)

// GzipLevel is BestSpeed. Span batches are repetitive (same keys, similar
// values), so level 1 already shrinks them many times, and the plugin shares
// the Kong node's CPU: past a ratio of about 20 the bytes saved by higher
// levels no longer pay for their CPU (BenchmarkGzipLevels measures it).
const GzipLevel = gzip.BestSpeed

var gzipPool sync.Pool // *gzip.Writer

// GetGzipWriter returns a pooled writer at GzipLevel compressing into w.
func GetGzipWriter(w io.Writer) *gzip.Writer {
	if zw, ok := gzipPool.Get().(*gzip.Writer); ok {
		zw.Reset(w)
		return zw
	}
	zw, _ := gzip.NewWriterLevel(w, GzipLevel) // the level is a valid constant
	return zw
}

// PutGzipWriter returns a closed writer to the pool.
func PutGzipWriter(zw *gzip.Writer) {
	zw.Reset(io.Discard) // drop the reference to the destination before pooling
	gzipPool.Put(zw)
}

// GzipAppend appends the gzip compression of src to dst.
func GzipAppend(dst, src []byte) []byte {
	w := appendWriter{b: dst}
	zw := GetGzipWriter(&w)
	_, _ = zw.Write(src) // writes to memory cannot fail
	_ = zw.Close()
	PutGzipWriter(zw)
	return w.b
}

type appendWriter struct{ b []byte }

func (w *appendWriter) Write(p []byte) (int, error) {
	w.b = append(w.b, p...)
	return len(p), nil
}

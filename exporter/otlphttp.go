package exporter

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/klauspost/compress/gzip"

	"github.com/trace-exporter/trace-exporter/schema"
)

func init() { Register(string(schema.ExporterOTLP), newOTLPHTTPExporter) }

// OTLP/HTTP size limits from the OTLP specification.
const (
	maxOTLPRequestBytes  = 64 << 20 // larger requests are not sent (counted as dropped)
	maxOTLPResponseBytes = 4 << 20  // larger responses are not parsed
)

// gzipLevel: BestSpeed. Span batches are repetitive (same keys, similar
// values), so level 1 already shrinks them many times. BenchmarkGzipLevels on
// a Kong-like batch: level 1 ratio 21 at 1.85 GB/s, level 3 27.6 at 1.36 GB/s,
// default 28 at 0.9 GB/s, level 9 29.5 at 0.15 GB/s. The plugin shares the
// Kong node's CPU, and past a ratio of 20 the bytes saved no longer matter.
const gzipLevel = gzip.BestSpeed

const (
	contentTypeProtobuf = "application/x-protobuf"
	contentTypeJSON     = "application/json"
)

// otlpHTTPExporter sends batches as OTLP/HTTP requests (protobuf or JSON)
// through the HTTPSender every HTTP backend shares, and reads OTLP's
// partial-success answers.
type otlpHTTPExporter struct {
	sender *HTTPSender
	json   bool
	warn   *throttledLog // partial success warnings (rejected_spans = 0 with a message)
}

func newOTLPHTTPExporter(cfg *schema.Config, set Settings) (Exporter, error) {
	var isJSON bool
	switch cfg.Protocol {
	case schema.ProtocolHTTPProtobuf, "":
	case schema.ProtocolHTTPJSON:
		isJSON = true
	default:
		return nil, &schema.FieldError{Field: "protocol", Reason: fmt.Sprintf("%q is not available in this build", cfg.Protocol)}
	}
	contentType := contentTypeProtobuf
	if isJSON {
		contentType = contentTypeJSON
	}
	sender, err := NewHTTPSender(cfg, contentType, set)
	if err != nil {
		return nil, err
	}
	return &otlpHTTPExporter{
		sender: sender,
		json:   isJSON,
		warn:   newThrottledLog(set.Logger, slog.LevelWarn, "backend warning (partial success)", time.Minute),
	}, nil
}

// Export encodes the batch, POSTs it, and classifies the answer per the
// OTLP/HTTP specification (see HTTPSender.Send and Exporter).
func (e *otlpHTTPExporter) Export(ctx context.Context, batch Batch) error {
	body := getBuffer()
	if e.json {
		*body = appendTracesJSON(*body, &batch)
	} else {
		enc := protoEncoderPool.Get().(*protoEncoder)
		*body = enc.appendTracesRequest(*body, &batch)
		protoEncoderPool.Put(enc)
	}
	// The batcher's byte cap keeps protobuf requests far below OTLP's 64 MiB
	// limit; the sender refuses (permanently) larger ones, e.g. JSON of
	// pathological strings. Splitting would resend the half that succeeded
	// if the other half then failed and was retried.
	respBody, err := e.sender.sendPooled(ctx, body)
	if err != nil || len(respBody) == 0 {
		return err
	}
	// OTLP answers in the request's content type.
	ps := decodePartialSuccess(respBody, e.json)
	switch {
	case ps.rejected > 0:
		return &PartialError{Rejected: ps.rejected, Message: ps.message}
	case ps.message != "":
		e.warn.log(slog.String("warning", ps.message))
	}
	return nil
}

// Shutdown closes idle connections; requests in flight are ended by their
// context.
func (e *otlpHTTPExporter) Shutdown(context.Context) error {
	e.sender.Close()
	return nil
}

// readCapped reads at most limit bytes and reports whether there was more.
// It reads small responses whole so the connection can be reused.
func readCapped(r io.Reader, limit int) ([]byte, bool) {
	b, err := io.ReadAll(io.LimitReader(r, int64(limit)+1))
	if err != nil {
		return b, false
	}
	if len(b) > limit {
		return b[:limit], true
	}
	return b, false
}

// redactURL drops credentials and query (which may carry a token) from a
// URL before it is logged.
func redactURL(raw string) string {
	if i := strings.IndexAny(raw, "?#"); i >= 0 {
		raw = raw[:i]
	}
	if i := strings.Index(raw, "://"); i >= 0 {
		if at := strings.LastIndex(raw[i+3:], "@"); at >= 0 {
			raw = raw[:i+3] + raw[i+3+at+1:]
		}
	}
	return raw
}

// Pools: encoded bodies, protobuf encoder scratch and gzip writers are
// reused across batches, so steady-state export allocates per request, not
// per span.
var (
	bufferPool       sync.Pool // *[]byte
	protoEncoderPool = sync.Pool{New: func() any { return new(protoEncoder) }}
	gzipPool         sync.Pool // *gzip.Writer
)

// maxPooledBuffer keeps one huge batch from pinning its buffer forever.
const maxPooledBuffer = 16 << 20

func getBuffer() *[]byte {
	if b, ok := bufferPool.Get().(*[]byte); ok {
		return b
	}
	b := make([]byte, 0, 64<<10)
	return &b
}

func putBuffer(b *[]byte) {
	if cap(*b) > maxPooledBuffer {
		return
	}
	*b = (*b)[:0]
	bufferPool.Put(b)
}

// pooledBody returns its buffer to the pool when the transport closes it.
type pooledBody struct {
	*bytes.Reader
	once sync.Once
	buf  *[]byte
}

func (b *pooledBody) Close() error {
	b.once.Do(func() { putBuffer(b.buf) })
	return nil
}

// gzipAppend appends the gzip compression of src to dst.
func gzipAppend(dst, src []byte) []byte {
	w := appendWriter{b: dst}
	zw, ok := gzipPool.Get().(*gzip.Writer)
	if ok {
		zw.Reset(&w)
	} else {
		zw, _ = gzip.NewWriterLevel(&w, gzipLevel) // the level is a valid constant
	}
	_, _ = zw.Write(src) // writes to memory cannot fail
	_ = zw.Close()
	zw.Reset(io.Discard) // drop the reference to dst before pooling
	gzipPool.Put(zw)
	return w.b
}

type appendWriter struct{ b []byte }

func (w *appendWriter) Write(p []byte) (int, error) {
	w.b = append(w.b, p...)
	return len(p), nil
}

package otlpgrpc

import (
	"fmt"
	"io"

	"github.com/klauspost/compress/gzip"
	"google.golang.org/grpc/mem"

	"github.com/trace-exporter/trace-exporter/exporter/internal/wire"
)

// grpcRequest carries an encoded ExportTraceServiceRequest in a pooled
// buffer; gRPC returns the buffer to the pool when it has sent it.
type grpcRequest struct{ buf *[]byte }

// grpcResponse keeps the ExportTraceServiceResponse bytes for
// decodePartialSuccess.
type grpcResponse struct{ b []byte }

// rawCodec moves already encoded protobuf bytes; its name is "proto", so
// the content type is application/grpc+proto, as for generated clients.
type rawCodec struct{}

func (rawCodec) Name() string { return "proto" }

func (rawCodec) Marshal(v any) (mem.BufferSlice, error) {
	r, ok := v.(*grpcRequest)
	if !ok {
		return nil, fmt.Errorf("rawCodec: cannot marshal %T", v)
	}
	return mem.BufferSlice{mem.NewBuffer(r.buf, grpcBufferPool{})}, nil
}

func (rawCodec) Unmarshal(data mem.BufferSlice, v any) error {
	r, ok := v.(*grpcResponse)
	if !ok {
		return fmt.Errorf("rawCodec: cannot unmarshal into %T", v)
	}
	r.b = data.Materialize()
	return nil
}

// grpcBufferPool hands request buffers back to the package's pool.
type grpcBufferPool struct{}

func (grpcBufferPool) Get(length int) *[]byte {
	b := wire.GetBuffer()
	if cap(*b) < length {
		*b = make([]byte, length)
	}
	*b = (*b)[:length]
	return b
}

func (grpcBufferPool) Put(b *[]byte) { wire.PutBuffer(b) }

// grpcGzip is gRPC's "gzip" compressor built on klauspost/compress at the
// level the HTTP exporters use, with pooled writers.
type grpcGzip struct{}

func (grpcGzip) Name() string { return "gzip" }

func (grpcGzip) Compress(w io.Writer) (io.WriteCloser, error) {
	return &pooledGzipWriter{Writer: wire.GetGzipWriter(w)}, nil
}

func (grpcGzip) Decompress(r io.Reader) (io.Reader, error) { return gzip.NewReader(r) }

type pooledGzipWriter struct{ *gzip.Writer }

func (w *pooledGzipWriter) Close() error {
	err := w.Writer.Close()
	wire.PutGzipWriter(w.Writer)
	return err
}

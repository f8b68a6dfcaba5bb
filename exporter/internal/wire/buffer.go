package wire

import (
	"bytes"
	"sync"
)

// Encoded bodies are reused across batches, so steady-state export
// allocates per request, not per span.
var bufferPool sync.Pool // *[]byte

// maxPooledBuffer keeps one huge batch from pinning its buffer forever.
const maxPooledBuffer = 16 << 20

// GetBuffer returns an empty buffer from the pool.
func GetBuffer() *[]byte {
	if b, ok := bufferPool.Get().(*[]byte); ok {
		return b
	}
	b := make([]byte, 0, 64<<10)
	return &b
}

// PutBuffer returns a buffer to the pool; the caller must not use it again.
func PutBuffer(b *[]byte) {
	if cap(*b) > maxPooledBuffer {
		return
	}
	*b = (*b)[:0]
	bufferPool.Put(b)
}

// PooledBody is a request body that returns its buffer to the pool when the
// transport closes it (the transport may read the body after the request
// returned, e.g. when the server answered early).
type PooledBody struct {
	*bytes.Reader
	once sync.Once
	buf  *[]byte
}

// NewPooledBody reads b, a buffer from GetBuffer, which it takes over.
func NewPooledBody(b *[]byte) *PooledBody {
	return &PooledBody{Reader: bytes.NewReader(*b), buf: b}
}

// Close returns the buffer to the pool, once.
func (b *PooledBody) Close() error {
	b.once.Do(func() { PutBuffer(b.buf) })
	return nil
}

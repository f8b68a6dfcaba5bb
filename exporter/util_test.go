package exporter

import (
	"bytes"
	"context"
	"io"
	"time"
)

func bytesReader(b []byte) io.Reader { return bytes.NewReader(b) }

func contextWithTimeout(d time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), d)
}

// Package wire holds the byte-level helpers every backend shares: pooled
// buffers, gzip, capped reads of responses, URL redaction for logs, JSON
// and UTF-8 writers, and a protobuf field walker for reading small
// responses. It knows nothing of spans or backends.
package wire

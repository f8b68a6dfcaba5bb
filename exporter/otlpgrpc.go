package exporter

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"github.com/klauspost/compress/gzip"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/encoding"
	"google.golang.org/grpc/grpclog"
	"google.golang.org/grpc/mem"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/trace-exporter/trace-exporter/schema"
)

func init() {
	Register(string(schema.ExporterOTLP)+"/"+string(schema.ProtocolGRPC), newOTLPGRPCExporter)
	encoding.RegisterCompressor(grpcGzip{})
	// grpc-go prints every reconnection attempt at warning level; Kong would
	// log each one. Failures are reported by the pipeline's throttled log.
	grpclog.SetLoggerV2(grpclog.NewLoggerV2(io.Discard, io.Discard, os.Stderr))
}

// otlpGRPCExporter calls the OTLP collector TraceService's Export method
// (opentelemetry.proto.collector.trace.v1.TraceService/Export) over one
// gRPC connection per pipeline.
//
// The request is the same protobuf encoding the OTLP/HTTP exporter sends,
// produced by the package's encoder and handed to gRPC as bytes (rawCodec):
// the generated client would need the batch converted to generated structs
// first, an allocation per attribute, for identical bytes on the wire.
//
// Endpoint: http://host:port is plaintext, https://host:port is TLS (the
// tls_* fields apply), and host:port is TLS: the OTLP specification's
// `insecure` defaults to false, and OTEL_EXPORTER_OTLP_INSECURE=true turns
// such an endpoint into http:// when the config is read. A path is ignored;
// a missing port is 80 or 443.
type otlpGRPCExporter struct {
	conn     *grpc.ClientConn
	target   string
	md       metadata.MD
	callOpts []grpc.CallOption
	timeout  time.Duration
	maxBody  int
	creds    *verifyingCreds // nil when plaintext
	warn     *throttledLog
}

func newOTLPGRPCExporter(cfg *schema.Config, set Settings) (Exporter, error) {
	logger := set.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	target, secure, err := grpcTarget(cfg.TracesURL())
	if err != nil {
		return nil, &schema.FieldError{Field: "traces_endpoint", Reason: err.Error()}
	}
	e := &otlpGRPCExporter{
		target:  target,
		timeout: AttemptTimeout(cfg),
		maxBody: maxOTLPRequestBytes,
		warn:    newThrottledLog(logger, slog.LevelWarn, "backend warning (partial success)", time.Minute),
		callOpts: []grpc.CallOption{
			grpc.ForceCodecV2(rawCodec{}),
			grpc.MaxCallRecvMsgSize(maxOTLPResponseBytes),
			grpc.MaxCallSendMsgSize(maxOTLPRequestBytes),
		},
	}
	if cfg.Compression == schema.CompressionGzip {
		e.callOpts = append(e.callOpts, grpc.UseCompressor(grpcGzip{}.Name()))
	}
	var creds credentials.TransportCredentials = insecure.NewCredentials()
	if secure {
		tlsConfig, err := newTLSConfig(cfg, logger)
		if err != nil {
			return nil, err
		}
		e.creds = &verifyingCreds{TransportCredentials: credentials.NewTLS(tlsConfig), badCert: new(atomic.Bool)}
		creds = e.creds
	}
	opts := []grpc.DialOption{
		grpc.WithTransportCredentials(creds),
		grpc.WithUserAgent("trace-exporter/" + Version),
		// No retry policy or load balancing from DNS TXT records: retries
		// are the pipeline's.
		grpc.WithDisableServiceConfig(),
		// Reconnect soon after a backend comes back; RPCs fail fast
		// (UNAVAILABLE) meanwhile and the pipeline backs off.
		grpc.WithConnectParams(grpc.ConnectParams{
			Backoff:           backoff.Config{BaseDelay: 100 * time.Millisecond, Multiplier: 1.6, Jitter: 0.2, MaxDelay: 5 * time.Second},
			MinConnectTimeout: cfg.ConnectTimeoutDuration(),
		}),
	}
	md := metadata.MD{}
	for k, v := range cfg.Headers {
		k = strings.ToLower(k)
		switch {
		case k == "host":
			opts = append(opts, grpc.WithAuthority(v))
		case grpcReservedHeader(k):
			logger.Warn("header not sent as gRPC metadata: reserved by gRPC", slog.String("header", k))
		default:
			md.Append(k, v)
		}
	}
	if len(md) > 0 {
		e.md = md
	}
	conn, err := grpc.NewClient(target, opts...)
	if err != nil {
		return nil, &schema.FieldError{Field: "traces_endpoint", Reason: err.Error()}
	}
	e.conn = conn
	return e, nil
}

// grpcTarget reads an OTLP/gRPC endpoint: host:port and whether to use TLS.
func grpcTarget(endpoint string) (target string, secure bool, err error) {
	raw := endpoint
	secure = true
	switch {
	case strings.HasPrefix(raw, "http://"):
		secure = false
	case strings.HasPrefix(raw, "https://"):
	default:
		raw = "https://" + raw
	}
	u, err := url.Parse(raw)
	if err != nil {
		return "", false, err
	}
	if u.Hostname() == "" {
		return "", false, fmt.Errorf("%q has no host", endpoint)
	}
	port := u.Port()
	if port == "" {
		port = "443"
		if !secure {
			port = "80"
		}
	}
	return net.JoinHostPort(u.Hostname(), port), secure, nil
}

// grpcReservedHeader: names gRPC sets itself or forbids in metadata.
func grpcReservedHeader(k string) bool {
	switch k {
	case "content-type", "user-agent", "te", "connection", "upgrade", "transfer-encoding", "content-encoding":
		return true
	}
	return strings.HasPrefix(k, "grpc-") || strings.HasPrefix(k, ":")
}

// Export sends the batch and classifies the outcome per the OTLP/gRPC
// rules: UNAVAILABLE, CANCELLED, DEADLINE_EXCEEDED, ABORTED, OUT_OF_RANGE
// and DATA_LOSS are retryable, RESOURCE_EXHAUSTED only when the server sent
// RetryInfo; a RetryInfo delay is honoured; every other code is permanent.
// A partial success is reported as *PartialError (not retried).
func (e *otlpGRPCExporter) Export(ctx context.Context, batch Batch) error {
	body := getBuffer()
	enc := protoEncoderPool.Get().(*protoEncoder)
	*body = enc.appendTracesRequest(*body, &batch)
	protoEncoderPool.Put(enc)
	if n := len(*body); n > e.maxBody {
		putBuffer(body)
		return Permanent(fmt.Errorf("request of %d bytes exceeds the OTLP limit of %d bytes", n, e.maxBody))
	}
	ctx, cancel := context.WithTimeout(ctx, e.timeout)
	defer cancel()
	if e.md != nil {
		ctx = metadata.NewOutgoingContext(ctx, e.md)
	}
	var resp grpcResponse
	err := e.conn.Invoke(ctx, coltracepb.TraceService_Export_FullMethodName, &grpcRequest{buf: body}, &resp, e.callOpts...)
	if err == nil {
		ps := decodePartialSuccess(resp.b, false)
		switch {
		case ps.rejected > 0:
			return &PartialError{Rejected: ps.rejected, Message: ps.message}
		case ps.message != "":
			e.warn.log(slog.String("warning", ps.message))
		}
		return nil
	}
	return e.classify(err)
}

func (e *otlpGRPCExporter) classify(err error) error {
	st, ok := status.FromError(err)
	if !ok {
		return Retryable(fmt.Errorf("gRPC %s: %w", e.target, err), 0)
	}
	wrapped := fmt.Errorf("gRPC %s: %s: %s", e.target, st.Code(), st.Message())
	delay, hasRetryInfo := grpcRetryDelay(st)
	switch st.Code() {
	case codes.Unavailable:
		if e.creds != nil && e.creds.badCert.Load() {
			// A certificate that does not verify will not verify on retry.
			return Permanent(wrapped)
		}
		return Retryable(wrapped, delay)
	case codes.Canceled, codes.DeadlineExceeded, codes.Aborted, codes.OutOfRange, codes.DataLoss:
		return Retryable(wrapped, delay)
	case codes.ResourceExhausted:
		if hasRetryInfo {
			return Retryable(wrapped, delay)
		}
	}
	return Permanent(wrapped)
}

// grpcRetryDelay reads google.rpc.RetryInfo from the status details.
func grpcRetryDelay(st *status.Status) (time.Duration, bool) {
	for _, d := range st.Details() {
		if ri, ok := d.(*errdetails.RetryInfo); ok {
			delay := ri.GetRetryDelay().AsDuration()
			return min(max(delay, 0), maxRetryAfter), true
		}
	}
	return 0, false
}

func (e *otlpGRPCExporter) Shutdown(context.Context) error { return e.conn.Close() }

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
	b := getBuffer()
	if cap(*b) < length {
		*b = make([]byte, length)
	}
	*b = (*b)[:length]
	return b
}

func (grpcBufferPool) Put(b *[]byte) { putBuffer(b) }

// grpcGzip is gRPC's "gzip" compressor built on klauspost/compress at the
// level the HTTP exporters use, with pooled writers.
type grpcGzip struct{}

func (grpcGzip) Name() string { return "gzip" }

func (grpcGzip) Compress(w io.Writer) (io.WriteCloser, error) {
	zw, ok := gzipPool.Get().(*gzip.Writer)
	if ok {
		zw.Reset(w)
	} else {
		var err error
		if zw, err = gzip.NewWriterLevel(w, gzipLevel); err != nil {
			return nil, err
		}
	}
	return &pooledGzipWriter{Writer: zw}, nil
}

func (grpcGzip) Decompress(r io.Reader) (io.Reader, error) { return gzip.NewReader(r) }

type pooledGzipWriter struct{ *gzip.Writer }

func (w *pooledGzipWriter) Close() error {
	err := w.Writer.Close()
	w.Writer.Reset(io.Discard) // drop the reference to the destination before pooling
	gzipPool.Put(w.Writer)
	return err
}

// verifyingCreds remembers whether the last TLS handshake failed on the
// backend's certificate: gRPC reports that only as UNAVAILABLE text, and
// such a failure must not be retried.
type verifyingCreds struct {
	credentials.TransportCredentials
	badCert *atomic.Bool // shared with clones
}

func (c *verifyingCreds) ClientHandshake(ctx context.Context, authority string, raw net.Conn) (net.Conn, credentials.AuthInfo, error) {
	conn, info, err := c.TransportCredentials.ClientHandshake(ctx, authority, raw)
	var verifyErr *tls.CertificateVerificationError
	c.badCert.Store(errors.As(err, &verifyErr))
	return conn, info, err
}

func (c *verifyingCreds) Clone() credentials.TransportCredentials {
	return &verifyingCreds{TransportCredentials: c.TransportCredentials.Clone(), badCert: c.badCert}
}

// Package otlpgrpc is the OTLP/gRPC backend (exporter: otlp, protocol:
// grpc): each batch is one call of the collector TraceService's Export
// method, answered per the OTLP/gRPC specification.
package otlpgrpc

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	collogspb "go.opentelemetry.io/proto/otlp/collector/logs/v1"
	colmetricspb "go.opentelemetry.io/proto/otlp/collector/metrics/v1"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/encoding"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/trace-exporter/trace-exporter/exporter"
	"github.com/trace-exporter/trace-exporter/exporter/internal/otlpenc"
	"github.com/trace-exporter/trace-exporter/exporter/internal/wire"
	"github.com/trace-exporter/trace-exporter/schema"
)

func init() {
	exporter.Register(string(schema.ExporterOTLP)+"/"+string(schema.ProtocolGRPC), newExporter,
		exporter.DescribeEndpoint(describeEndpoint))
	// gRPC names compressors process-wide; this one is gRPC's standard
	// "gzip" on klauspost/compress at the level the HTTP backends use, with
	// pooled writers.
	encoding.RegisterCompressor(grpcGzip{})
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
type otlpGRPC struct {
	conn     *grpc.ClientConn
	target   string
	md       metadata.MD
	callOpts []grpc.CallOption
	timeout  time.Duration
	maxBody  int
	creds    *verifyingCreds // nil when plaintext
	warn     *exporter.ThrottledLog
}

func newExporter(cfg *schema.Config, set exporter.Settings) (exporter.Exporter, error) {
	logger := set.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	target, secure, err := grpcTarget(cfg.TracesURL())
	if err != nil {
		return nil, &schema.FieldError{Field: "traces_endpoint", Reason: err.Error()}
	}
	e := &otlpGRPC{
		target:  target,
		timeout: exporter.AttemptTimeout(cfg),
		maxBody: exporter.MaxRequestBytes,
		warn:    exporter.NewThrottledLog(logger, slog.LevelWarn, "backend warning (partial success)", time.Minute),
		callOpts: []grpc.CallOption{
			grpc.ForceCodecV2(rawCodec{}),
			grpc.MaxCallRecvMsgSize(exporter.MaxResponseBytes),
			grpc.MaxCallSendMsgSize(exporter.MaxRequestBytes),
		},
	}
	if cfg.Compression == schema.CompressionGzip {
		e.callOpts = append(e.callOpts, grpc.UseCompressor(grpcGzip{}.Name()))
	}
	var creds credentials.TransportCredentials = insecure.NewCredentials()
	if secure {
		tlsConfig, err := exporter.NewTLSConfig(cfg, logger)
		if err != nil {
			return nil, err
		}
		e.creds = &verifyingCreds{TransportCredentials: credentials.NewTLS(tlsConfig), badCert: new(atomic.Bool)}
		creds = e.creds
	}
	opts := []grpc.DialOption{
		grpc.WithTransportCredentials(creds),
		grpc.WithUserAgent("trace-exporter/" + exporter.Version),
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

// describeEndpoint names the target as the exporter dials it: a bare
// host:port is TLS, so it is shown as https://host:port.
func describeEndpoint(cfg *schema.Config) string {
	target, secure, err := grpcTarget(cfg.TracesURL())
	if err != nil {
		return "(unparsed endpoint)"
	}
	if secure {
		return "https://" + target
	}
	return "http://" + target
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
func (e *otlpGRPC) Export(ctx context.Context, batch exporter.Batch) error {
	body := wire.GetBuffer()
	*body = otlpenc.AppendTraces(*body, &batch)
	return e.call(ctx, coltracepb.TraceService_Export_FullMethodName, body, otlpenc.Traces)
}

// ExportLogs calls LogsService/Export, answered as Export is.
func (e *otlpGRPC) ExportLogs(ctx context.Context, batch exporter.LogBatch) error {
	body := wire.GetBuffer()
	*body = otlpenc.AppendLogs(*body, &batch)
	return e.call(ctx, collogspb.LogsService_Export_FullMethodName, body, otlpenc.Logs)
}

// ExportMetrics calls MetricsService/Export, answered as Export is.
func (e *otlpGRPC) ExportMetrics(ctx context.Context, batch exporter.MetricsBatch) error {
	body := wire.GetBuffer()
	*body = otlpenc.AppendMetrics(*body, &batch)
	return e.call(ctx, colmetricspb.MetricsService_Export_FullMethodName, body, otlpenc.Metrics)
}

// call sends an encoded request (taking over its pooled buffer) to method
// and classifies the outcome.
func (e *otlpGRPC) call(ctx context.Context, method string, body *[]byte, sig otlpenc.Signal) error {
	if n := len(*body); n > e.maxBody {
		wire.PutBuffer(body)
		return exporter.Permanent(fmt.Errorf("request of %d bytes exceeds the OTLP limit of %d bytes", n, e.maxBody))
	}
	ctx, cancel := context.WithTimeout(ctx, e.timeout)
	defer cancel()
	if e.md != nil {
		ctx = metadata.NewOutgoingContext(ctx, e.md)
	}
	var resp grpcResponse
	err := e.conn.Invoke(ctx, method, &grpcRequest{buf: body}, &resp, e.callOpts...)
	if err == nil {
		return otlpenc.DecodePartialSuccess(resp.b, false, sig).Result(e.warn)
	}
	return e.classify(err)
}

func (e *otlpGRPC) classify(err error) error {
	st, ok := status.FromError(err)
	if !ok {
		return exporter.Retryable(fmt.Errorf("gRPC %s: %w", e.target, err), 0)
	}
	wrapped := fmt.Errorf("gRPC %s: %s: %s", e.target, st.Code(), st.Message())
	delay, hasRetryInfo := grpcRetryDelay(st)
	switch st.Code() {
	case codes.Unavailable:
		if e.creds != nil && e.creds.badCert.Load() {
			// A certificate that does not verify will not verify on retry.
			return exporter.Permanent(wrapped)
		}
		return exporter.Retryable(wrapped, delay)
	case codes.Canceled, codes.DeadlineExceeded, codes.Aborted, codes.OutOfRange, codes.DataLoss:
		return exporter.Retryable(wrapped, delay)
	case codes.ResourceExhausted:
		if hasRetryInfo {
			return exporter.Retryable(wrapped, delay)
		}
	}
	return exporter.Permanent(wrapped)
}

// grpcRetryDelay reads google.rpc.RetryInfo from the status details.
func grpcRetryDelay(st *status.Status) (time.Duration, bool) {
	for _, d := range st.Details() {
		if ri, ok := d.(*errdetails.RetryInfo); ok {
			delay := ri.GetRetryDelay().AsDuration()
			return min(max(delay, 0), exporter.MaxRetryAfter), true
		}
	}
	return 0, false
}

func (e *otlpGRPC) Shutdown(context.Context) error { return e.conn.Close() }

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

package exportertest

import (
	"context"
	"crypto/tls"
	"net"
	"sync"
	"testing"
	"time"

	collogspb "go.opentelemetry.io/proto/otlp/collector/logs/v1"
	colmetricspb "go.opentelemetry.io/proto/otlp/collector/metrics/v1"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/stats"
)

// GRPCReceiver is a real OTLP/gRPC endpoint on loopback: the official
// generated TraceService server, decoding requests with gRPC's own proto
// codec, answering as respond says.
type GRPCReceiver struct {
	coltracepb.UnimplementedTraceServiceServer
	t    *testing.T
	Addr string
	Srv  *grpc.Server

	// respond decides the answer to request n (0-based); nil means success.
	respond func(n int) (*coltracepb.ExportTraceServiceResponse, error)

	mu      sync.Mutex
	reqs    []GRPCReceived
	logs    []*collogspb.ExportLogsServiceRequest
	metrics []*colmetricspb.ExportMetricsServiceRequest
	arrived chan struct{}
}

type GRPCReceived struct {
	Req         *coltracepb.ExportTraceServiceRequest
	MD          metadata.MD
	Authority   string
	Compression string // grpc-encoding of the request
	WireBytes   int    // message bytes on the wire (compressed)
	Bytes       int    // message bytes decoded
	Arrival     time.Time
}

// rpcInfo collects what the stats handler sees of one RPC before the
// handler runs.
type rpcInfo struct {
	Compression          string
	WireBytes, bareBytes int
}

type rpcInfoKey struct{}

type recordingStats struct{}

func (recordingStats) TagRPC(ctx context.Context, _ *stats.RPCTagInfo) context.Context {
	return context.WithValue(ctx, rpcInfoKey{}, &rpcInfo{})
}

func (recordingStats) HandleRPC(ctx context.Context, s stats.RPCStats) {
	info, _ := ctx.Value(rpcInfoKey{}).(*rpcInfo)
	if info == nil {
		return
	}
	switch s := s.(type) {
	case *stats.InHeader:
		info.Compression = s.Compression
	case *stats.InPayload:
		info.WireBytes, info.bareBytes = s.CompressedLength, s.Length
	}
}

func (recordingStats) TagConn(ctx context.Context, _ *stats.ConnTagInfo) context.Context { return ctx }
func (recordingStats) HandleConn(context.Context, stats.ConnStats)                       {}

// NewGRPCReceiver starts a receiver; tlsConfig nil means plaintext.
func NewGRPCReceiver(t *testing.T, tlsConfig *tls.Config, respond func(n int) (*coltracepb.ExportTraceServiceResponse, error)) *GRPCReceiver {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	opts := []grpc.ServerOption{grpc.StatsHandler(recordingStats{})}
	if tlsConfig != nil {
		opts = append(opts, grpc.Creds(credentials.NewTLS(tlsConfig)))
	}
	r := &GRPCReceiver{t: t, Addr: lis.Addr().String(), Srv: grpc.NewServer(opts...), respond: respond, arrived: make(chan struct{}, 1000)}
	coltracepb.RegisterTraceServiceServer(r.Srv, r)
	collogspb.RegisterLogsServiceServer(r.Srv, logsServer{r: r})
	colmetricspb.RegisterMetricsServiceServer(r.Srv, metricsServer{r: r})
	go func() { _ = r.Srv.Serve(lis) }()
	t.Cleanup(r.Srv.Stop)
	return r
}

func (r *GRPCReceiver) Export(ctx context.Context, req *coltracepb.ExportTraceServiceRequest) (*coltracepb.ExportTraceServiceResponse, error) {
	md, _ := metadata.FromIncomingContext(ctx)
	got := GRPCReceived{Req: req, MD: md, Arrival: time.Now()}
	if a := md.Get(":authority"); len(a) > 0 {
		got.Authority = a[0]
	}
	if info, ok := ctx.Value(rpcInfoKey{}).(*rpcInfo); ok {
		got.Compression, got.WireBytes, got.Bytes = info.Compression, info.WireBytes, info.bareBytes
	}
	r.mu.Lock()
	n := len(r.reqs)
	r.reqs = append(r.reqs, got)
	r.mu.Unlock()
	r.arrived <- struct{}{}
	if r.respond != nil {
		return r.respond(n)
	}
	return &coltracepb.ExportTraceServiceResponse{}, nil
}

func (r *GRPCReceiver) Received() []GRPCReceived {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]GRPCReceived(nil), r.reqs...)
}

func (r *GRPCReceiver) WaitRequests(n int, timeout time.Duration) []GRPCReceived {
	r.t.Helper()
	deadline := time.After(timeout)
	for {
		if got := r.Received(); len(got) >= n {
			return got
		}
		select {
		case <-r.arrived:
		case <-deadline:
			r.t.Fatalf("got %d gRPC requests, want %d within %s", len(r.Received()), n, timeout)
		}
	}
}

// logsServer is the receiver's LogsService: it records each request.
type logsServer struct {
	collogspb.UnimplementedLogsServiceServer
	r *GRPCReceiver
}

func (s logsServer) Export(_ context.Context, req *collogspb.ExportLogsServiceRequest) (*collogspb.ExportLogsServiceResponse, error) {
	s.r.mu.Lock()
	s.r.logs = append(s.r.logs, req)
	s.r.mu.Unlock()
	return &collogspb.ExportLogsServiceResponse{}, nil
}

// metricsServer is the receiver's MetricsService: it records each request.
type metricsServer struct {
	colmetricspb.UnimplementedMetricsServiceServer
	r *GRPCReceiver
}

func (s metricsServer) Export(_ context.Context, req *colmetricspb.ExportMetricsServiceRequest) (*colmetricspb.ExportMetricsServiceResponse, error) {
	s.r.mu.Lock()
	s.r.metrics = append(s.r.metrics, req)
	s.r.mu.Unlock()
	return &colmetricspb.ExportMetricsServiceResponse{}, nil
}

// Logs returns the LogsService requests received so far.
func (r *GRPCReceiver) Logs() []*collogspb.ExportLogsServiceRequest {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]*collogspb.ExportLogsServiceRequest(nil), r.logs...)
}

// Metrics returns the MetricsService requests received so far.
func (r *GRPCReceiver) Metrics() []*colmetricspb.ExportMetricsServiceRequest {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]*colmetricspb.ExportMetricsServiceRequest(nil), r.metrics...)
}

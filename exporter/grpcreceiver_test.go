package exporter

import (
	"context"
	"crypto/tls"
	"net"
	"sync"
	"testing"
	"time"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/stats"
)

// grpcReceiver is a real OTLP/gRPC endpoint on loopback: the official
// generated TraceService server, decoding requests with gRPC's own proto
// codec, answering as respond says.
type grpcReceiver struct {
	coltracepb.UnimplementedTraceServiceServer
	t    *testing.T
	addr string
	srv  *grpc.Server

	// respond decides the answer to request n (0-based); nil means success.
	respond func(n int) (*coltracepb.ExportTraceServiceResponse, error)

	mu      sync.Mutex
	reqs    []grpcReceived
	arrived chan struct{}
}

type grpcReceived struct {
	req         *coltracepb.ExportTraceServiceRequest
	md          metadata.MD
	authority   string
	compression string // grpc-encoding of the request
	wireBytes   int    // message bytes on the wire (compressed)
	bytes       int    // message bytes decoded
	arrival     time.Time
}

// rpcInfo collects what the stats handler sees of one RPC before the
// handler runs.
type rpcInfo struct {
	compression          string
	wireBytes, bareBytes int
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
		info.compression = s.Compression
	case *stats.InPayload:
		info.wireBytes, info.bareBytes = s.CompressedLength, s.Length
	}
}

func (recordingStats) TagConn(ctx context.Context, _ *stats.ConnTagInfo) context.Context { return ctx }
func (recordingStats) HandleConn(context.Context, stats.ConnStats)                       {}

// newGRPCReceiver starts a receiver; tlsConfig nil means plaintext.
func newGRPCReceiver(t *testing.T, tlsConfig *tls.Config, respond func(n int) (*coltracepb.ExportTraceServiceResponse, error)) *grpcReceiver {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	opts := []grpc.ServerOption{grpc.StatsHandler(recordingStats{})}
	if tlsConfig != nil {
		opts = append(opts, grpc.Creds(credentials.NewTLS(tlsConfig)))
	}
	r := &grpcReceiver{t: t, addr: lis.Addr().String(), srv: grpc.NewServer(opts...), respond: respond, arrived: make(chan struct{}, 1000)}
	coltracepb.RegisterTraceServiceServer(r.srv, r)
	go func() { _ = r.srv.Serve(lis) }()
	t.Cleanup(r.srv.Stop)
	return r
}

func (r *grpcReceiver) Export(ctx context.Context, req *coltracepb.ExportTraceServiceRequest) (*coltracepb.ExportTraceServiceResponse, error) {
	md, _ := metadata.FromIncomingContext(ctx)
	got := grpcReceived{req: req, md: md, arrival: time.Now()}
	if a := md.Get(":authority"); len(a) > 0 {
		got.authority = a[0]
	}
	if info, ok := ctx.Value(rpcInfoKey{}).(*rpcInfo); ok {
		got.compression, got.wireBytes, got.bytes = info.compression, info.wireBytes, info.bareBytes
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

func (r *grpcReceiver) received() []grpcReceived {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]grpcReceived(nil), r.reqs...)
}

func (r *grpcReceiver) waitRequests(n int, timeout time.Duration) []grpcReceived {
	r.t.Helper()
	deadline := time.After(timeout)
	for {
		if got := r.received(); len(got) >= n {
			return got
		}
		select {
		case <-r.arrived:
		case <-deadline:
			r.t.Fatalf("got %d gRPC requests, want %d within %s", len(r.received()), n, timeout)
		}
	}
}

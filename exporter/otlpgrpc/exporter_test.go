package otlpgrpc

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/trace-exporter/trace-exporter/exporter"
	"github.com/trace-exporter/trace-exporter/exporter/internal/exportertest"
	"github.com/trace-exporter/trace-exporter/schema"
)

func grpcConfig(endpoint string) *schema.Config {
	cfg := exportertest.Config(endpoint)
	cfg.Protocol = schema.ProtocolGRPC
	return cfg
}

// newExporterFor builds cfg's exporter as a pipeline would (through the
// registry), shut down when the test ends.

// The gRPC exporter sends exactly the ExportTraceServiceRequest the HTTP
// exporter sends (read back by the official generated server), with the
// configured headers as metadata, gzipped on the wire when asked.
func TestGRPCDeliversTheOfficialRequest(t *testing.T) {
	for _, compression := range []schema.Compression{schema.CompressionNone, schema.CompressionGzip} {
		t.Run(string(compression), func(t *testing.T) {
			rc := exportertest.NewGRPCReceiver(t, nil, nil)
			cfg := grpcConfig("http://" + rc.Addr)
			cfg.Compression = compression
			cfg.Headers = map[string]string{"X-Api-Key": "s3cret", "Host": "collector.example:4317"}
			exp := exportertest.NewExporter(t, cfg)
			for _, b := range []*exporter.Batch{exportertest.RichBatch(), exportertest.KongLikeBatch(200)} {
				if err := exportertest.ExportOnce(t, exp, b); err != nil {
					t.Fatalf("export: %v", err)
				}
			}
			got := rc.WaitRequests(2, 5*time.Second)
			for i, b := range []*exporter.Batch{exportertest.RichBatch(), exportertest.KongLikeBatch(200)} {
				if !proto.Equal(got[i].Req, exportertest.ToOTLP(b)) {
					t.Errorf("request %d differs from the OTLP encoding of the batch", i)
				}
			}
			r := got[1]
			if v := r.MD.Get("x-api-key"); len(v) != 1 || v[0] != "s3cret" {
				t.Errorf("header not sent as metadata: %v", r.MD)
			}
			if ua := strings.Join(r.MD.Get("user-agent"), " "); !strings.Contains(ua, "trace-exporter/") {
				t.Errorf("user-agent %q", ua)
			}
			if r.Authority != "collector.example:4317" {
				t.Errorf("Host header should set the authority, got %q", r.Authority)
			}
			switch compression {
			case schema.CompressionGzip:
				if r.Compression != "gzip" || r.WireBytes*4 > r.Bytes {
					t.Errorf("not gzipped on the wire: encoding %q, %d wire bytes for %d", r.Compression, r.WireBytes, r.Bytes)
				}
			default:
				if r.Compression != "" || r.WireBytes != r.Bytes {
					t.Errorf("compressed without being asked: %q %d/%d", r.Compression, r.WireBytes, r.Bytes)
				}
			}
		})
	}
}

// The gRPC gzip compressor produces standard gzip, whatever reads it.
func TestGRPCGzipIsStandardGzip(t *testing.T) {
	var buf bytes.Buffer
	w, err := grpcGzip{}.Compress(&buf)
	if err != nil {
		t.Fatal(err)
	}
	payload := bytes.Repeat([]byte("span payload "), 1000)
	_, _ = w.Write(payload)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	zr, err := gzip.NewReader(&buf)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(zr)
	if err != nil || !bytes.Equal(got, payload) {
		t.Fatalf("standard gzip reads %d bytes, %v", len(got), err)
	}
}

func retryInfoStatus(code codes.Code, delay time.Duration) error {
	st, err := status.New(code, "busy").WithDetails(&errdetails.RetryInfo{RetryDelay: durationpb.New(delay)})
	if err != nil {
		panic(err)
	}
	return st.Err()
}

// The OTLP/gRPC retry rules, code by code, with RetryInfo honoured.
func TestGRPCRetryRules(t *testing.T) {
	cases := []struct {
		name      string
		err       error
		retryable bool
		delay     time.Duration
	}{
		{"unavailable", status.Error(codes.Unavailable, "down"), true, 0},
		{"unavailable+retryinfo", retryInfoStatus(codes.Unavailable, 1500*time.Millisecond), true, 1500 * time.Millisecond},
		{"resource_exhausted", status.Error(codes.ResourceExhausted, "full"), false, 0},
		{"resource_exhausted+retryinfo", retryInfoStatus(codes.ResourceExhausted, 2*time.Second), true, 2 * time.Second},
		{"cancelled", status.Error(codes.Canceled, "x"), true, 0},
		{"deadline_exceeded", status.Error(codes.DeadlineExceeded, "x"), true, 0},
		{"aborted", status.Error(codes.Aborted, "x"), true, 0},
		{"out_of_range", status.Error(codes.OutOfRange, "x"), true, 0},
		{"data_loss", status.Error(codes.DataLoss, "x"), true, 0},
		{"invalid_argument", status.Error(codes.InvalidArgument, "bad"), false, 0},
		{"unauthenticated", status.Error(codes.Unauthenticated, "who"), false, 0},
		{"permission_denied", status.Error(codes.PermissionDenied, "no"), false, 0},
		{"internal", status.Error(codes.Internal, "bug"), false, 0},
		{"unknown", status.Error(codes.Unknown, "?"), false, 0},
		{"unimplemented", status.Error(codes.Unimplemented, "?"), false, 0},
		{"not_found", status.Error(codes.NotFound, "?"), false, 0},
		{"failed_precondition", status.Error(codes.FailedPrecondition, "?"), false, 0},
	}
	next := make(chan error, 1)
	rc := exportertest.NewGRPCReceiver(t, nil, func(int) (*coltracepb.ExportTraceServiceResponse, error) { return nil, <-next })
	exp := exportertest.NewExporter(t, grpcConfig("http://"+rc.Addr))
	for _, c := range cases {
		next <- c.err
		err := exportertest.ExportOnce(t, exp, exportertest.KongLikeBatch(2))
		if err == nil {
			t.Errorf("%s: no error", c.name)
			continue
		}
		if exporter.IsPermanent(err) == c.retryable {
			t.Errorf("%s: retryable = %v, want %v (%v)", c.name, !exporter.IsPermanent(err), c.retryable, err)
		}
		if d, _ := exporter.RetryDelay(err); d != c.delay {
			t.Errorf("%s: retry delay %s, want %s", c.name, d, c.delay)
		}
	}
}

// Through a pipeline: retryable failures are retried until success, and a
// RetryInfo delay longer than the backoff is waited out.
func TestGRPCPipelineRetriesAndHonoursRetryInfo(t *testing.T) {
	rc := exportertest.NewGRPCReceiver(t, nil, func(n int) (*coltracepb.ExportTraceServiceResponse, error) {
		switch n {
		case 0:
			return nil, status.Error(codes.Unavailable, "starting")
		case 1:
			return nil, retryInfoStatus(codes.ResourceExhausted, 400*time.Millisecond)
		}
		return &coltracepb.ExportTraceServiceResponse{}, nil
	})
	reg := exportertest.NewRegistry(t, exporter.RegistryOptions{})
	h, err := reg.Acquire(grpcConfig("http://" + rc.Addr)) // backoff ≤ 100 ms
	if err != nil {
		t.Fatal(err)
	}
	h.Enqueue(exportertest.Spans(3))
	got := rc.WaitRequests(3, 10*time.Second)
	exportertest.WaitFor(t, 5*time.Second, "export accounted", func() bool { return h.Stats().Exported == 3 })
	if gap := got[2].Arrival.Sub(got[1].Arrival); gap < 400*time.Millisecond {
		t.Errorf("retried %s after RESOURCE_EXHAUSTED with RetryInfo 400ms", gap)
	}
	if s := h.Stats(); s.Retries != 2 || s.DroppedTotal() != 0 {
		t.Errorf("stats %+v", s)
	}
}

// Partial success: rejected spans are reported (not retried); a message
// alone is only a warning.
func TestGRPCPartialSuccess(t *testing.T) {
	rc := exportertest.NewGRPCReceiver(t, nil, func(n int) (*coltracepb.ExportTraceServiceResponse, error) {
		if n == 0 {
			return &coltracepb.ExportTraceServiceResponse{PartialSuccess: &coltracepb.ExportTracePartialSuccess{RejectedSpans: 2, ErrorMessage: "too old"}}, nil
		}
		return &coltracepb.ExportTraceServiceResponse{PartialSuccess: &coltracepb.ExportTracePartialSuccess{ErrorMessage: "just saying"}}, nil
	})
	exp := exportertest.NewExporter(t, grpcConfig("http://"+rc.Addr))
	err := exportertest.ExportOnce(t, exp, exportertest.KongLikeBatch(5))
	var partial *exporter.PartialError
	if !errors.As(err, &partial) || partial.Rejected != 2 || partial.Message != "too old" || !exporter.IsPermanent(err) {
		t.Fatalf("err = %v, want a partial success of 2", err)
	}
	if err := exportertest.ExportOnce(t, exp, exportertest.KongLikeBatch(5)); err != nil {
		t.Fatalf("a message without rejections is a success, got %v", err)
	}
}

// The OTLP size limits: a request over 64 MiB is not sent; a response over
// 4 MiB is not read and is not retried.
func TestGRPCSizeLimits(t *testing.T) {
	rc := exportertest.NewGRPCReceiver(t, nil, func(int) (*coltracepb.ExportTraceServiceResponse, error) {
		return &coltracepb.ExportTraceServiceResponse{PartialSuccess: &coltracepb.ExportTracePartialSuccess{ErrorMessage: strings.Repeat("x", 5<<20)}}, nil
	})
	exp := exportertest.NewExporter(t, grpcConfig("http://"+rc.Addr))
	err := exportertest.ExportOnce(t, exp, exportertest.KongLikeBatch(2))
	if err == nil || !exporter.IsPermanent(err) || !strings.Contains(err.Error(), "ResourceExhausted") {
		t.Errorf("response over 4 MiB: err = %v, want a permanent error", err)
	}
	inner := exp.(*otlpGRPC)
	inner.maxBody = 1000
	before := len(rc.Received())
	if err := exportertest.ExportOnce(t, exp, exportertest.KongLikeBatch(50)); !exporter.IsPermanent(err) || !strings.Contains(err.Error(), "exceeds the OTLP limit") {
		t.Errorf("oversized request: err = %v", err)
	}
	if len(rc.Received()) != before {
		t.Errorf("an oversized request was sent")
	}
}

// TLS: https:// and a scheme-less host:port use TLS with the tls_* fields;
// a certificate that does not verify is a permanent error; mTLS presents
// the client certificate; http:// is plaintext.
func TestGRPCTLS(t *testing.T) {
	pki := exportertest.NewPKI(t)
	tlsRC := exportertest.NewGRPCReceiver(t, pki.ServerConfig(false), nil)
	mtlsRC := exportertest.NewGRPCReceiver(t, pki.ServerConfig(true), nil)
	plainRC := exportertest.NewGRPCReceiver(t, nil, nil)
	type tc struct {
		name      string
		endpoint  string
		configure func(*schema.Config)
		ok        bool
		permanent bool
	}
	withCA := func(c *schema.Config) { c.TLSCAFile = pki.CAFile }
	cases := []tc{
		{"https with CA", "https://" + tlsRC.Addr, withCA, true, false},
		{"host:port is TLS", tlsRC.Addr, withCA, true, false},
		{"unknown authority", "https://" + tlsRC.Addr, func(c *schema.Config) { c.TLSCAFile = pki.OtherCAFile }, false, true},
		{"system roots do not know the test CA", "https://" + tlsRC.Addr, nil, false, true},
		{"verification off", "https://" + tlsRC.Addr, func(c *schema.Config) { c.TLSVerify = false }, true, false},
		{"server name mismatch", "https://" + tlsRC.Addr, func(c *schema.Config) { withCA(c); c.TLSServerName = "other.example" }, false, true},
		{"mTLS with client certificate", "https://" + mtlsRC.Addr, func(c *schema.Config) {
			withCA(c)
			c.TLSClientCertFile, c.TLSClientKeyFile = pki.ClientCert, pki.ClientKey
		}, true, false},
		{"mTLS without client certificate", "https://" + mtlsRC.Addr, withCA, false, false},
		{"http:// is plaintext", "http://" + plainRC.Addr, nil, true, false},
		{"host:port against a plaintext server fails", plainRC.Addr, withCA, false, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg := grpcConfig(c.endpoint)
			cfg.ConnectTimeout = 2000
			if c.configure != nil {
				c.configure(cfg)
			}
			exp := exportertest.NewExporter(t, cfg)
			err := exportertest.ExportOnce(t, exp, exportertest.KongLikeBatch(2))
			switch {
			case c.ok && err != nil:
				t.Fatalf("export failed: %v", err)
			case !c.ok && err == nil:
				t.Fatal("export succeeded")
			case !c.ok && c.permanent && !exporter.IsPermanent(err):
				t.Fatalf("a certificate that does not verify must not be retried: %v", err)
			}
		})
	}
}

// Unreadable TLS files refuse the pipeline, naming the field.
func TestGRPCBadTLSFilesNameTheField(t *testing.T) {
	cfg := grpcConfig("https://127.0.0.1:1")
	cfg.TLSCAFile = "/nonexistent/ca.pem"
	if _, err := exporter.New(cfg, exporter.Settings{Logger: exportertest.DiscardLogger()}); err == nil || !strings.Contains(err.Error(), "config.tls_ca_file") {
		t.Fatalf("err = %v", err)
	}
}

func TestGRPCTarget(t *testing.T) {
	for in, want := range map[string]string{
		"http://collector:4317":            "collector:4317 false",
		"https://collector:4317/v1/traces": "collector:4317 true",
		"collector:4317":                   "collector:4317 true",
		"https://collector":                "collector:443 true",
		"http://collector":                 "collector:80 false",
		"http://[::1]:4317":                "[::1]:4317 false",
	} {
		target, secure, err := grpcTarget(in)
		if got := fmt.Sprintf("%s %v", target, secure); err != nil || got != want {
			t.Errorf("grpcTarget(%q) = %s (%v), want %s", in, got, err, want)
		}
	}
}

// OTEL_EXPORTER_OTLP_* reach a gRPC pipeline, and a plugin config
// overrides them. The variables are read once per process, so the check
// runs in a child process of this test binary.
func TestGRPCEnvironmentDefaults(t *testing.T) {
	if addr := os.Getenv("TRACE_EXPORTER_TEST_ENV_CHILD"); addr != "" {
		grpcEnvironmentChild(t, addr)
		return
	}
	envRC := exportertest.NewGRPCReceiver(t, nil, nil)
	configRC := exportertest.NewGRPCReceiver(t, nil, nil)
	cmd := exec.Command(os.Args[0], "-test.run=^TestGRPCEnvironmentDefaults$", "-test.count=1")
	cmd.Env = append(os.Environ(),
		"TRACE_EXPORTER_TEST_ENV_CHILD="+configRC.Addr,
		"OTEL_EXPORTER_OTLP_PROTOCOL=grpc",
		"OTEL_EXPORTER_OTLP_ENDPOINT="+envRC.Addr, // scheme-less: plaintext only because of INSECURE
		"OTEL_EXPORTER_OTLP_INSECURE=true",
		"OTEL_EXPORTER_OTLP_HEADERS=x-tenant=from-env",
		"OTEL_EXPORTER_OTLP_COMPRESSION=gzip",
	)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	fromEnv := envRC.WaitRequests(1, 5*time.Second)[0]
	if fromEnv.Compression != "gzip" || strings.Join(fromEnv.MD.Get("x-tenant"), "") != "from-env" {
		t.Errorf("env defaults not applied: compression %q, metadata %v", fromEnv.Compression, fromEnv.MD)
	}
	fromConfig := configRC.WaitRequests(1, 5*time.Second)[0]
	if fromConfig.Compression != "" || strings.Join(fromConfig.MD.Get("x-tenant"), "") != "from-config" {
		t.Errorf("config must override env: compression %q, metadata %v", fromConfig.Compression, fromConfig.MD)
	}
	if n := len(envRC.Received()); n != 1 {
		t.Errorf("env receiver got %d requests, want 1", n)
	}
}

func grpcEnvironmentChild(t *testing.T, configAddr string) {
	for _, js := range []string{
		`{"queue":{"max_coalescing_delay":0.01}}`,
		`{"queue":{"max_coalescing_delay":0.01},"traces_endpoint":"http://` + configAddr + `","compression":"none","headers":{"x-tenant":"from-config"}}`,
	} {
		var cfg schema.Config
		if err := cfg.UnmarshalJSON([]byte(js)); err != nil {
			t.Fatalf("%s: %v", js, err)
		}
		if cfg.Protocol != schema.ProtocolGRPC {
			t.Fatalf("protocol %q from env", cfg.Protocol)
		}
		reg := exporter.NewRegistry(exporter.RegistryOptions{})
		h, err := reg.Acquire(&cfg)
		if err != nil {
			t.Fatal(err)
		}
		h.Enqueue(exportertest.Spans(1))
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		err = reg.ShutdownAll(ctx)
		cancel()
		if err != nil || h.Stats().Exported != 1 {
			t.Fatalf("%s: not delivered: %v %+v", js, err, h.Stats())
		}
	}
}

// Pipeline names (logs, the metrics' backend label) read a bare gRPC
// host:port as the TLS endpoint it is.
func TestGRPCPipelineName(t *testing.T) {
	for endpoint, want := range map[string]string{
		"collector:4317":        "otlp+grpc https://collector:4317",
		"http://collector:4317": "otlp+grpc http://collector:4317",
	} {
		h, err := exportertest.NewRegistry(t, exporter.RegistryOptions{}).Acquire(grpcConfig(endpoint))
		if err != nil {
			t.Fatal(err)
		}
		if got := h.Name(); got != want {
			t.Errorf("%s: %q, want %q", endpoint, got, want)
		}
	}
}

package jaegertest

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/trace-exporter/trace-exporter/test/otlpsink"
	"github.com/trace-exporter/trace-exporter/test/waterfall"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/proto"
)

func randomBytes(t testing.TB, n int) []byte {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	b[0] |= 0x80 // a non-zero high half: Jaeger must print all 32 digits
	return b
}

func kv(k string, v any) *commonpb.KeyValue {
	var av *commonpb.AnyValue
	switch x := v.(type) {
	case string:
		av = &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: x}}
	case int64:
		av = &commonpb.AnyValue{Value: &commonpb.AnyValue_IntValue{IntValue: x}}
	case float64:
		av = &commonpb.AnyValue{Value: &commonpb.AnyValue_DoubleValue{DoubleValue: x}}
	case bool:
		av = &commonpb.AnyValue{Value: &commonpb.AnyValue_BoolValue{BoolValue: x}}
	case []byte:
		av = &commonpb.AnyValue{Value: &commonpb.AnyValue_BytesValue{BytesValue: x}}
	default:
		panic(fmt.Sprintf("kv %T", v))
	}
	return &commonpb.KeyValue{Key: k, Value: av}
}

// gatewayTrace is shaped like what trace-exporter sends: a SERVER root, a
// failed CLIENT try and a successful one, with typed attributes, an event
// and a link; the root continues a remote parent.
type gatewayTrace struct {
	req                        *coltracepb.ExportTraceServiceRequest
	traceID                    string
	remoteParent, root, t1, t2 string
	start                      time.Time
}

func newGatewayTrace(t testing.TB, service string) gatewayTrace {
	tid := randomBytes(t, 16)
	remote, root, try1, try2 := randomBytes(t, 8), randomBytes(t, 8), randomBytes(t, 8), randomBytes(t, 8)
	// Whole microseconds, as Jaeger stores µs; recent, as a real request.
	start := time.Now().Add(-time.Second).Truncate(time.Microsecond)
	at := func(d time.Duration) uint64 { return uint64(start.Add(d).UnixNano()) }
	spans := []*tracepb.Span{
		{
			TraceId: tid, SpanId: root, ParentSpanId: remote, Name: "GET /anything",
			Kind: tracepb.Span_SPAN_KIND_SERVER, StartTimeUnixNano: at(0), EndTimeUnixNano: at(12345 * time.Microsecond),
			Attributes: []*commonpb.KeyValue{
				kv("http.request.method", "GET"), kv("http.route", "/anything"),
				kv("http.response.status_code", int64(200)), kv("kong.latency.kong_ms", 1.25),
				kv("kong.big", int64(1)<<60), kv("kong.cached", false), kv("kong.raw", []byte{1, 2, 255}),
			},
			Events: []*tracepb.Span_Event{{Name: "kong.upstream.retry", TimeUnixNano: at(2 * time.Millisecond),
				Attributes: []*commonpb.KeyValue{kv("try", int64(2))}}},
		},
		{
			TraceId: tid, SpanId: try1, ParentSpanId: root, Name: "GET echo",
			Kind: tracepb.Span_SPAN_KIND_CLIENT, StartTimeUnixNano: at(time.Millisecond), EndTimeUnixNano: at(2 * time.Millisecond),
			Attributes: []*commonpb.KeyValue{kv("network.peer.address", "127.0.0.1"), kv("network.peer.port", int64(9)), kv("kong.balancer.try", int64(1))},
			Status:     &tracepb.Status{Code: tracepb.Status_STATUS_CODE_ERROR, Message: "connection refused"},
		},
		{
			TraceId: tid, SpanId: try2, ParentSpanId: root, Name: "GET echo",
			Kind: tracepb.Span_SPAN_KIND_CLIENT, StartTimeUnixNano: at(2 * time.Millisecond), EndTimeUnixNano: at(12 * time.Millisecond),
			Attributes: []*commonpb.KeyValue{kv("http.response.status_code", int64(200)), kv("kong.balancer.try", int64(2))},
			Links:      []*tracepb.Span_Link{{TraceId: tid, SpanId: try1}},
		},
	}
	req := &coltracepb.ExportTraceServiceRequest{ResourceSpans: []*tracepb.ResourceSpans{{
		Resource: &resourcepb.Resource{Attributes: []*commonpb.KeyValue{
			kv("service.name", service), kv("service.instance.id", "node-1"),
		}},
		ScopeSpans: []*tracepb.ScopeSpans{{Scope: &commonpb.InstrumentationScope{Name: "trace-exporter", Version: "test"}, Spans: spans}},
	}}}
	return gatewayTrace{req: req, traceID: hex.EncodeToString(tid), remoteParent: hex.EncodeToString(remote),
		root: hex.EncodeToString(root), t1: hex.EncodeToString(try1), t2: hex.EncodeToString(try2), start: start}
}

// postOTLP sends an export request to an OTLP/HTTP endpoint.
func postOTLP(t testing.TB, url string, req *coltracepb.ExportTraceServiceRequest, enc otlpsink.Encoding, gz bool) {
	t.Helper()
	var body []byte
	var err error
	if enc == otlpsink.JSON {
		body, err = otlpsink.MarshalJSON(req)
	} else {
		body, err = proto.Marshal(req)
	}
	if err != nil {
		t.Fatal(err)
	}
	if gz {
		var buf bytes.Buffer
		zw := gzip.NewWriter(&buf)
		zw.Write(body)
		zw.Close()
		body = buf.Bytes()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	hr, _ := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	hr.Header.Set("Content-Type", enc.ContentType())
	if gz {
		hr.Header.Set("Content-Encoding", "gzip")
	}
	resp, err := http.DefaultClient.Do(hr)
	if err != nil {
		t.Fatalf("POST %s: %v", url, err)
	}
	defer resp.Body.Close()
	answer, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("POST %s: HTTP %d: %s", url, resp.StatusCode, answer)
	}
	var out coltracepb.ExportTraceServiceResponse
	if enc == otlpsink.JSON {
		err = otlpsink.UnmarshalJSON(answer, &out)
	} else {
		err = proto.Unmarshal(answer, &out)
	}
	if err != nil || out.GetPartialSuccess().GetRejectedSpans() != 0 {
		t.Fatalf("export answer: %v %v", err, &out)
	}
}

func ctxFor(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// TestOTLPRoundTrip writes traces with the official OTLP types over
// OTLP/HTTP (protobuf, and JSON+gzip) and reads them back typed.
func TestOTLPRoundTrip(t *testing.T) {
	t.Parallel()
	j := Start(t)
	service := fmt.Sprintf("jaegertest-%d", time.Now().UnixNano())

	for _, enc := range []otlpsink.Encoding{otlpsink.Protobuf, otlpsink.JSON} {
		t.Run(string(enc), func(t *testing.T) {
			g := newGatewayTrace(t, service)
			postOTLP(t, j.OTLPHTTPURL(), g.req, enc, enc == otlpsink.JSON)
			tr, err := j.WaitTrace(ctxFor(t, 10*time.Second), g.traceID, 3)
			if err != nil {
				t.Fatal(err)
			}
			checkGatewayTrace(t, g, tr)
		})
	}

	traces, err := j.FindTraces(ctxFor(t, 10*time.Second), service, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(traces) != 2 || len(traces[0].Spans) != 3 || len(traces[1].Spans) != 3 {
		t.Errorf("FindTraces(%s): %d traces", service, len(traces))
	}
	if other, err := j.FindTraces(ctxFor(t, 10*time.Second), service+"-none", 10); err != nil || len(other) != 0 {
		t.Errorf("FindTraces for an unknown service: %d traces, %v", len(other), err)
	}
	services, err := j.Services(ctxFor(t, 10*time.Second))
	if err != nil || !slices.Contains(services, service) {
		t.Errorf("Services() = %v, %v; want it to list %s", services, err, service)
	}
}

func checkGatewayTrace(t *testing.T, g gatewayTrace, tr *Trace) {
	t.Helper()
	if tr.TraceID != g.traceID || len(tr.Spans) != 3 {
		t.Fatalf("trace %s with %d spans, want %s with 3", tr.TraceID, len(tr.Spans), g.traceID)
	}
	roots := tr.Roots()
	if len(roots) != 1 || roots[0].SpanID != g.root || roots[0].ParentSpanID != g.remoteParent {
		t.Fatalf("roots: %+v", roots)
	}
	root := roots[0]
	if root.OperationName != "GET /anything" || root.Kind != "server" || root.ServiceName != g.req.ResourceSpans[0].Resource.Attributes[0].Value.GetStringValue() {
		t.Errorf("root: name %q kind %q service %q", root.OperationName, root.Kind, root.ServiceName)
	}
	if root.StartMicros != g.start.UnixMicro() || root.DurationMicros != 12345 {
		t.Errorf("root timing: start %d dur %d, want %d 12345", root.StartMicros, root.DurationMicros, g.start.UnixMicro())
	}
	if v, ok := root.IntTag("http.response.status_code"); !ok || v != 200 {
		t.Errorf("status code tag: %v %v", v, ok)
	}
	if v, ok := root.IntTag("kong.big"); !ok || v != 1<<60 {
		t.Errorf("64-bit int tag: %v %v", v, ok)
	}
	if tag, ok := root.Tag("kong.latency.kong_ms"); !ok || tag.Type != TagFloat64 || tag.Float != 1.25 {
		t.Errorf("float tag: %+v", tag)
	}
	if tag, ok := root.Tag("kong.cached"); !ok || tag.Type != TagBool || tag.Bool {
		t.Errorf("bool tag: %+v", tag)
	}
	if tag, ok := root.Tag("kong.raw"); !ok || tag.Type != TagBinary || !bytes.Equal(tag.Binary, []byte{1, 2, 255}) {
		t.Errorf("binary tag: %+v", tag)
	}
	if root.StringTag("http.route") != "/anything" || root.IsError() {
		t.Errorf("route %q error %v", root.StringTag("http.route"), root.IsError())
	}
	if tag, ok := root.ProcessTag("service.instance.id"); !ok || tag.Str != "node-1" {
		t.Errorf("process tag: %+v %v", tag, ok)
	}
	if len(root.Logs) != 1 || root.Logs[0].TimestampMicros != g.start.Add(2*time.Millisecond).UnixMicro() {
		t.Errorf("logs: %+v", root.Logs)
	}

	kids := tr.Children(g.root)
	if len(kids) != 2 || kids[0].SpanID != g.t1 || kids[1].SpanID != g.t2 {
		t.Fatalf("children of root: %+v", kids)
	}
	for _, k := range kids {
		if k.Kind != "client" || k.OperationName != "GET echo" || k.ParentSpanID != g.root {
			t.Errorf("child %s: kind %q name %q parent %q", k.SpanID, k.Kind, k.OperationName, k.ParentSpanID)
		}
	}
	if !kids[0].IsError() || kids[0].StringTag("otel.status_description") != "connection refused" || kids[1].IsError() {
		t.Errorf("error marking: try1 %v %q, try2 %v", kids[0].IsError(), kids[0].StringTag("otel.status_description"), kids[1].IsError())
	}
	if kids[0].StartMicros != g.start.Add(time.Millisecond).UnixMicro() || kids[0].DurationMicros != 1000 {
		t.Errorf("try1 timing: %d %d", kids[0].StartMicros, kids[0].DurationMicros)
	}
	hasLink := slices.ContainsFunc(kids[1].References, func(r Reference) bool {
		return r.Type == "FOLLOWS_FROM" && r.SpanID == g.t1 && r.TraceID == g.traceID
	})
	if !hasLink {
		t.Errorf("try2 references: %+v", kids[1].References)
	}
	if s, ok := tr.Span(g.t2); !ok || s != kids[1] {
		t.Errorf("Span(%s) lookup failed", g.t2)
	}
	if got := tr.SpansNamed("GET echo"); len(got) != 2 {
		t.Errorf("SpansNamed: %d", len(got))
	}
}

func TestUnknownTraceAndBoundedWait(t *testing.T) {
	t.Parallel()
	j := Start(t)
	unknown := hex.EncodeToString(randomBytes(t, 16))
	if _, err := j.Trace(ctxFor(t, 10*time.Second), unknown); !errors.Is(err, ErrTraceNotFound) {
		t.Errorf("unknown trace: %v, want ErrTraceNotFound", err)
	}
	if _, err := j.Trace(ctxFor(t, 10*time.Second), "xyz"); err == nil {
		t.Error("a malformed trace id was accepted")
	}
	start := time.Now()
	_, err := j.WaitTrace(ctxFor(t, 200*time.Millisecond), unknown, 1)
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "0 spans") {
		t.Errorf("WaitTrace on an unknown trace: %v", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("WaitTrace overran its 200ms bound: %v", d)
	}

	// A trace with fewer spans than wanted: the error says so and the partial
	// trace comes back for the test to print.
	g := newGatewayTrace(t, "jaegertest-partial")
	postOTLP(t, j.OTLPHTTPURL(), g.req, otlpsink.Protobuf, false)
	tr, err := j.WaitTrace(ctxFor(t, 500*time.Millisecond), g.traceID, 4)
	if err == nil || tr == nil || len(tr.Spans) != 3 || !strings.Contains(err.Error(), "3 spans") {
		t.Errorf("partial trace: %v, %v", tr, err)
	}
}

// TestConcurrentInstances starts several Jaegers at once, as parallel test
// packages do, and checks that each is separate.
func TestConcurrentInstances(t *testing.T) {
	t.Parallel()
	const n = 3
	var wg sync.WaitGroup
	instances := make([]*Jaeger, n)
	errs := make([]error, n)
	for i := range instances {
		wg.Add(1)
		go func() {
			defer wg.Done()
			instances[i], errs[i] = StartProcess(ctxFor(t, 2*time.Minute), Options{})
		}()
	}
	wg.Wait()
	for i, j := range instances {
		if errs[i] != nil {
			t.Fatalf("instance %d: %v", i, errs[i])
		}
		t.Cleanup(func() {
			if err := j.Stop(); err != nil {
				t.Error(err)
			}
		})
	}
	seen := map[int]bool{}
	for _, j := range instances {
		for _, p := range []int{j.Ports.OTLPGRPC, j.Ports.OTLPHTTP, j.Ports.Zipkin, j.Ports.QueryHTTP, j.Ports.QueryGRPC, j.Ports.Health} {
			if seen[p] {
				t.Errorf("port %d used twice", p)
			}
			seen[p] = true
		}
	}
	// A trace sent to one instance is readable there and nowhere else.
	g := newGatewayTrace(t, "jaegertest-isolation")
	postOTLP(t, instances[0].OTLPHTTPURL(), g.req, otlpsink.Protobuf, false)
	if _, err := instances[0].WaitTrace(ctxFor(t, 10*time.Second), g.traceID, 3); err != nil {
		t.Fatal(err)
	}
	for _, j := range instances[1:] {
		if _, err := j.Trace(ctxFor(t, 10*time.Second), g.traceID); !errors.Is(err, ErrTraceNotFound) {
			t.Errorf("trace leaked to another instance: %v", err)
		}
	}
}

// TestRetriesWhenAPortIsTaken hands Start a port that is already bound, as
// happens when another process grabs a picked port before Jaeger binds it.
func TestRetriesWhenAPortIsTaken(t *testing.T) {
	// Not parallel: it swaps the package's port picker.
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	busyPort := busy.Addr().(*net.TCPAddr).Port

	calls := 0
	pickPorts = func() (Ports, error) {
		calls++
		p, err := freePorts()
		if calls == 1 {
			p.OTLPHTTP = busyPort
		}
		return p, err
	}
	defer func() { pickPorts = freePorts }()

	j := Start(t)
	if calls != 2 || j.Ports.OTLPHTTP == busyPort {
		t.Fatalf("picker called %d times, OTLP/HTTP port %d (busy %d)", calls, j.Ports.OTLPHTTP, busyPort)
	}
	g := newGatewayTrace(t, "jaegertest-retry")
	postOTLP(t, j.OTLPHTTPURL(), g.req, otlpsink.Protobuf, false)
	if _, err := j.WaitTrace(ctxFor(t, 10*time.Second), g.traceID, 3); err != nil {
		t.Fatal(err)
	}

	// Fixed ports are never retried: the error names the busy address.
	fixed, _ := freePorts()
	fixed.OTLPHTTP = busyPort
	_, err = StartProcess(ctxFor(t, time.Minute), Options{Ports: fixed})
	if err == nil || !errors.Is(err, errPortBusy) || !strings.Contains(err.Error(), fmt.Sprint(busyPort)) {
		t.Errorf("fixed busy port: %v", err)
	}
}

func TestStop(t *testing.T) {
	t.Parallel()
	j, err := StartProcess(ctxFor(t, 2*time.Minute), Options{})
	if err != nil {
		t.Fatal(err)
	}
	pid := j.PID()
	start := time.Now()
	if err := j.Stop(); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	t.Logf("SIGTERM to exit: %v", time.Since(start).Round(time.Millisecond))
	if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
		t.Errorf("pid %d still exists after Stop: %v", pid, err)
	}
	if _, err := http.Get(j.QueryURL() + "/api/services"); err == nil {
		t.Error("query port still answers after Stop")
	}
	if err := j.Stop(); err != nil {
		t.Errorf("second Stop: %v", err)
	}
}

func TestDeathBeforeStopIsReported(t *testing.T) {
	t.Parallel()
	j, err := StartProcess(ctxFor(t, 2*time.Minute), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(j.PID(), syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	select {
	case <-j.Exited():
	case <-time.After(10 * time.Second):
		t.Fatal("killed Jaeger not reaped")
	}
	if err := j.Stop(); err == nil || !strings.Contains(err.Error(), "died before Stop") {
		t.Errorf("Stop after a crash: %v", err)
	}
}

// TestListensOnLoopbackOnly checks every TCP listener of the Jaeger process
// (found through /proc, so unconfigured extras such as a metrics port would
// show up too): each must be one of the six configured ports on 127.0.0.1.
func TestListensOnLoopbackOnly(t *testing.T) {
	t.Parallel()
	if runtime.GOOS != "linux" {
		t.Skip("reads /proc")
	}
	j := Start(t)
	got, err := listeningAddrs(j.PID())
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, p := range []int{j.Ports.OTLPGRPC, j.Ports.OTLPHTTP, j.Ports.Zipkin, j.Ports.QueryHTTP, j.Ports.QueryGRPC, j.Ports.Health} {
		want = append(want, fmt.Sprintf("127.0.0.1:%d", p))
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("Jaeger listens on %v, want exactly %v", got, want)
	}
}

// listeningAddrs lists the TCP sockets in LISTEN state that pid holds.
func listeningAddrs(pid int) ([]string, error) {
	fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		return nil, err
	}
	inodes := map[string]bool{}
	for _, fd := range fds {
		target, err := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", pid, fd.Name()))
		if err == nil && strings.HasPrefix(target, "socket:[") {
			inodes[strings.TrimSuffix(strings.TrimPrefix(target, "socket:["), "]")] = true
		}
	}
	var addrs []string
	for _, table := range []string{"tcp", "tcp6"} {
		data, err := os.ReadFile(fmt.Sprintf("/proc/%d/net/%s", pid, table))
		if err != nil {
			continue // no IPv6
		}
		for _, line := range strings.Split(string(data), "\n")[1:] {
			f := strings.Fields(line)
			// sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode
			if len(f) < 10 || f[3] != "0A" || !inodes[f[9]] { // 0A = LISTEN
				continue
			}
			addr, err := decodeProcAddr(f[1])
			if err != nil {
				return nil, err
			}
			addrs = append(addrs, addr)
		}
	}
	return addrs, nil
}

// decodeProcAddr turns /proc/net/tcp's "0100007F:1F90" into "127.0.0.1:8080"
// (the address is in host byte order, 32-bit words).
func decodeProcAddr(s string) (string, error) {
	hostHex, portHex, ok := strings.Cut(s, ":")
	if !ok {
		return "", fmt.Errorf("bad /proc address %q", s)
	}
	raw, err := hex.DecodeString(hostHex)
	if err != nil {
		return "", err
	}
	port, err := strconv.ParseUint(portHex, 16, 16)
	if err != nil {
		return "", err
	}
	ip := make(net.IP, len(raw))
	for i := 0; i+4 <= len(raw); i += 4 {
		w := binary.LittleEndian.Uint32(raw[i:])
		binary.BigEndian.PutUint32(ip[i:], w)
	}
	return net.JoinHostPort(ip.String(), strconv.Itoa(int(port))), nil
}

// TestJaegerDiesWithItsParent: a test binary killed by `go test -timeout`
// or SIGKILL runs no cleanups; Jaeger must not outlive it. A child copy of
// this test binary starts Jaeger, reports its pid, and is killed.
func TestJaegerDiesWithItsParent(t *testing.T) {
	if os.Getenv("JAEGERTEST_CHILD") == "1" {
		j, err := StartProcess(ctxFor(t, 2*time.Minute), Options{})
		if err != nil {
			fmt.Println("error:", err)
			os.Exit(1)
		}
		fmt.Printf("pid=%d\n", j.PID())
		time.Sleep(time.Minute) // killed long before
		os.Exit(1)
	}
	if runtime.GOOS != "linux" {
		t.Skip("parent-death signal is Linux-only")
	}
	t.Parallel()
	ctx := ctxFor(t, 2*time.Minute)
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestJaegerDiesWithItsParent$", "-test.count=1")
	cmd.Env = append(os.Environ(), "JAEGERTEST_CHILD=1")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Wait()
	defer cmd.Process.Kill()
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "pid=") {
		t.Fatalf("child said %q (%v)", line, err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(strings.TrimPrefix(line, "pid=")))
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(pid, 0); err != nil {
		t.Fatalf("Jaeger pid %d not running before the parent dies: %v", pid, err)
	}
	cmd.Process.Kill()
	cmd.Wait()
	deadline := time.Now().Add(15 * time.Second)
	for !processGone(pid) {
		if time.Now().After(deadline) {
			syscall.Kill(pid, syscall.SIGKILL) // do not leak it from this test either
			t.Fatalf("Jaeger pid %d outlived its killed parent by 15s", pid)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// processGone: no such process, or a zombie nobody has reaped yet (in a
// container whose init does not reap, an exited orphan stays a zombie).
func processGone(pid int) bool {
	if syscall.Kill(pid, 0) != nil {
		return true
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true
	}
	// "pid (comm) S ...": the state follows the last ')'.
	rest := string(stat[bytes.LastIndexByte(stat, ')')+1:])
	return strings.HasPrefix(strings.TrimSpace(rest), "Z")
}

// TestOtherIngestEndpoints sends through OTLP/gRPC (official client) and
// Zipkin v2 JSON, and prints what came back as a waterfall.
func TestOtherIngestEndpoints(t *testing.T) {
	t.Parallel()
	j := Start(t)

	g := newGatewayTrace(t, "jaegertest-grpc")
	conn, err := grpc.NewClient(j.OTLPGRPCAddr(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	resp, err := coltracepb.NewTraceServiceClient(conn).Export(ctxFor(t, 10*time.Second), g.req)
	if err != nil || resp.GetPartialSuccess().GetRejectedSpans() != 0 {
		t.Fatalf("OTLP/gRPC export: %v %v", resp, err)
	}
	tr, err := j.WaitTrace(ctxFor(t, 10*time.Second), g.traceID, 3)
	if err != nil {
		t.Fatal(err)
	}
	checkGatewayTrace(t, g, tr)

	out := waterfall.String(tr.Waterfall(), waterfall.Options{ASCII: true, BarWidth: 10})
	t.Logf("\n%s", out)
	for _, want := range []string{
		"trace " + g.traceID + "  service=jaegertest-grpc  spans=3  duration=12.35ms",
		"server GET /anything",
		"|- client GET echo",
		"peer=127.0.0.1:9 try=1 error=\"connection refused\"",
		"`- client GET echo",
		"status=200 try=2",
		"parent=" + g.remoteParent,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("waterfall lacks %q", want)
		}
	}

	zipkinTrace := hex.EncodeToString(randomBytes(t, 16))
	zipkin := fmt.Sprintf(`[{"traceId":%q,"id":"00000000000000a1","name":"get /zipkin","kind":"SERVER",
		"timestamp":%d,"duration":1500,"localEndpoint":{"serviceName":"jaegertest-zipkin"},
		"tags":{"http.status_code":"201"}}]`, zipkinTrace, time.Now().UnixMicro())
	zresp, err := http.Post(j.ZipkinURL(), "application/json", strings.NewReader(zipkin))
	if err != nil {
		t.Fatal(err)
	}
	zresp.Body.Close()
	if zresp.StatusCode != http.StatusAccepted {
		t.Fatalf("Zipkin POST: HTTP %d", zresp.StatusCode)
	}
	ztr, err := j.WaitTrace(ctxFor(t, 10*time.Second), zipkinTrace, 1)
	if err != nil {
		t.Fatal(err)
	}
	zs := ztr.Spans[0]
	if zs.OperationName != "get /zipkin" || zs.Kind != "server" || zs.ServiceName != "jaegertest-zipkin" || zs.DurationMicros != 1500 {
		t.Errorf("Zipkin span read back: %+v", zs)
	}
}

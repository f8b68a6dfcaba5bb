package bench

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"math/rand/v2"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/trace-exporter/trace-exporter/schema"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

// The otel-sdk peer does what a Go plugin built on the OpenTelemetry SDK
// would: decode the serialize payload with encoding/json into a struct,
// then start and end the same spans (same names, kinds, times, ids and
// attributes as trace-exporter's) through the SDK's tracer, with explicit
// timestamps and ids, into a BatchSpanProcessor exporting with otlptracehttp.

// kongSerialize is the part of kong.log.serialize() the spans use. Headers
// are maps: a header is a string, or an array when repeated.
type kongSerialize struct {
	Request struct {
		ID      string         `json:"id"`
		Method  string         `json:"method"`
		URI     string         `json:"uri"`
		URL     string         `json:"url"`
		Size    float64        `json:"size"`
		Headers map[string]any `json:"headers"`
		TLS     *struct {
			Version      string `json:"version"`
			Cipher       string `json:"cipher"`
			ClientVerify string `json:"client_verify"`
		} `json:"tls"`
	} `json:"request"`
	UpstreamURI    string `json:"upstream_uri"`
	UpstreamStatus any    `json:"upstream_status"`
	Response       struct {
		Status  int            `json:"status"`
		Size    float64        `json:"size"`
		Headers map[string]any `json:"headers"`
	} `json:"response"`
	Latencies struct {
		Kong    float64  `json:"kong"`
		Proxy   float64  `json:"proxy"`
		Request float64  `json:"request"`
		Receive *float64 `json:"receive"`
	} `json:"latencies"`
	Tries []struct {
		BalancerStart     float64 `json:"balancer_start"`
		BalancerStartNs   float64 `json:"balancer_start_ns"`
		BalancerLatency   float64 `json:"balancer_latency"`
		BalancerLatencyNs float64 `json:"balancer_latency_ns"`
		IP                string  `json:"ip"`
		Port              int     `json:"port"`
		State             string  `json:"state"`
		Code              int     `json:"code"`
	} `json:"tries"`
	Route *struct {
		ID    string   `json:"id"`
		Name  string   `json:"name"`
		Paths []string `json:"paths"`
	} `json:"route"`
	Service *struct {
		ID       string `json:"id"`
		Name     string `json:"name"`
		Host     string `json:"host"`
		Port     int    `json:"port"`
		Protocol string `json:"protocol"`
	} `json:"service"`
	Consumer *struct {
		ID       string `json:"id"`
		Username string `json:"username"`
	} `json:"consumer"`
	ClientIP      string  `json:"client_ip"`
	StartedAt     float64 `json:"started_at"`
	Source        string  `json:"source"`
	Workspace     string  `json:"workspace"`
	WorkspaceName string  `json:"workspace_name"`
	Handoff       string  `json:"trace_exporter"`
}

// otelPeer is one SDK pipeline: tracer provider, BatchSpanProcessor with
// the SDK's defaults, otlptracehttp to the benchmark's sink.
type otelPeer struct {
	tp       *sdktrace.TracerProvider
	tracer   trace.Tracer
	exported *countingExporter
}

func newOTelPeer(tb testing.TB, endpoint string, opts ...sdktrace.BatchSpanProcessorOption) *otelPeer {
	tb.Helper()
	exp, err := otlptracehttp.New(context.Background(), otlptracehttp.WithEndpointURL(endpoint))
	if err != nil {
		tb.Fatal(err)
	}
	counting := &countingExporter{SpanExporter: exp}
	tp := sdktrace.NewTracerProvider(
		sdktrace.WithSpanProcessor(sdktrace.NewBatchSpanProcessor(counting, opts...)),
		sdktrace.WithIDGenerator(handoffIDs{}),
		sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.AlwaysSample())),
		sdktrace.WithResource(resource.NewSchemaless(attribute.String("service.name", "kong"))),
	)
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = tp.Shutdown(ctx)
	})
	return &otelPeer{tp: tp, tracer: tp.Tracer("trace-exporter"), exported: counting}
}

// countingExporter counts the spans the SDK handed to the exporter, so a
// benchmark can tell spans the BatchSpanProcessor dropped (full queue).
type countingExporter struct {
	sdktrace.SpanExporter
	spans atomic.Int64
}

func (c *countingExporter) ExportSpans(ctx context.Context, spans []sdktrace.ReadOnlySpan) error {
	c.spans.Add(int64(len(spans)))
	return c.SpanExporter.ExportSpans(ctx, spans)
}

// handoffIDs gives the SDK the ids the access phase chose (the request's
// idQueue in the context), and random ones beyond them, as the SDK does.
type handoffIDs struct{}

type idQueueKey struct{}

type idQueue struct {
	trace trace.TraceID
	spans []trace.SpanID
}

func (handoffIDs) NewIDs(ctx context.Context) (trace.TraceID, trace.SpanID) {
	q, _ := ctx.Value(idQueueKey{}).(*idQueue)
	if q == nil {
		var t trace.TraceID
		putRandom(t[:])
		return t, randomSpanID()
	}
	return q.trace, q.next()
}

func (handoffIDs) NewSpanID(ctx context.Context, _ trace.TraceID) trace.SpanID {
	if q, _ := ctx.Value(idQueueKey{}).(*idQueue); q != nil {
		return q.next()
	}
	return randomSpanID()
}

func (q *idQueue) next() trace.SpanID {
	if len(q.spans) == 0 {
		return randomSpanID()
	}
	id := q.spans[0]
	q.spans = q.spans[1:]
	return id
}

func randomSpanID() trace.SpanID {
	var s trace.SpanID
	putRandom(s[:])
	return s
}

func putRandom(b []byte) {
	for i := range b {
		b[i] = byte(rand.Uint32())
	}
}

// redactedParams is trace-exporter's default redact_query_params.
var redactedParams = schema.Defaults().RedactQueryParams

func redactQueryOTel(q string) string {
	if q == "" {
		return ""
	}
	parts := strings.Split(q, "&")
	for i, p := range parts {
		k, _, _ := strings.Cut(p, "=")
		for _, n := range redactedParams {
			if strings.EqualFold(k, n) {
				parts[i] = k + "=REDACTED"
			}
		}
	}
	return strings.Join(parts, "&")
}

func msTime(ms float64) time.Time { return time.UnixMilli(0).Add(time.Duration(ms * 1e6)) }

// log is the peer's log handler for one serialize payload.
func (p *otelPeer) log(tb testing.TB, text []byte) {
	var s kongSerialize
	if err := json.Unmarshal(text, &s); err != nil {
		tb.Fatal(err)
	}
	// The hand-off: "1;trace;root;upstream;parent;flags;accessMs;tracestate".
	f := strings.SplitN(s.Handoff, ";", 8)
	if len(f) != 8 {
		tb.Fatalf("hand-off %q", s.Handoff)
	}
	q := &idQueue{}
	var root, upstream, parent trace.SpanID
	_, _ = hex.Decode(q.trace[:], []byte(f[1]))
	_, _ = hex.Decode(root[:], []byte(f[2]))
	_, _ = hex.Decode(upstream[:], []byte(f[3]))
	ctx := context.Background()
	if f[4] != "" {
		_, _ = hex.Decode(parent[:], []byte(f[4]))
		ts, _ := trace.ParseTraceState(f[7])
		ctx = trace.ContextWithRemoteSpanContext(ctx, trace.NewSpanContext(trace.SpanContextConfig{
			TraceID: q.trace, SpanID: parent, TraceFlags: trace.FlagsSampled, TraceState: ts, Remote: true}))
	}
	q.spans = append(q.spans, root)
	for range max(len(s.Tries)-1, 0) {
		q.spans = append(q.spans, randomSpanID())
	}
	q.spans = append(q.spans, upstream)
	ctx = context.WithValue(ctx, idQueueKey{}, q)

	u, _ := url.Parse(s.Request.URL)
	path, query, _ := strings.Cut(s.Request.URI, "?")
	port, _ := strconv.Atoi(u.Port())
	attrs := []attribute.KeyValue{
		attribute.String("http.request.method", s.Request.Method),
		attribute.String("url.scheme", u.Scheme),
		attribute.String("url.path", path),
		attribute.String("url.query", redactQueryOTel(query)),
		attribute.String("server.address", u.Hostname()),
		attribute.Int("server.port", port),
		attribute.String("client.address", s.ClientIP),
		attribute.Int("http.response.status_code", s.Response.Status),
		attribute.Int64("http.request.size", int64(s.Request.Size)),
		attribute.Int64("http.response.size", int64(s.Response.Size)),
		attribute.String("kong.request.id", s.Request.ID),
		attribute.String("kong.response.source", s.Source),
		attribute.String("kong.workspace.name", s.WorkspaceName),
		attribute.Float64("kong.latency.kong_ms", s.Latencies.Kong),
		attribute.Float64("kong.latency.upstream_ms", s.Latencies.Proxy),
	}
	if ua, ok := s.Request.Headers["user-agent"].(string); ok {
		attrs = append(attrs, attribute.String("user_agent.original", ua))
	}
	if us, ok := s.UpstreamStatus.(string); ok && us != "" {
		attrs = append(attrs, attribute.String("kong.upstream.status", us))
	}
	if s.Latencies.Receive != nil {
		attrs = append(attrs, attribute.Float64("kong.latency.receive_ms", *s.Latencies.Receive))
	}
	name := s.Request.Method
	if r := s.Route; r != nil {
		attrs = append(attrs, attribute.String("kong.route.id", r.ID), attribute.String("kong.route.name", r.Name))
		if len(r.Paths) > 0 {
			attrs = append(attrs, attribute.String("http.route", r.Paths[0]))
			name += " " + r.Paths[0]
		}
	}
	svcHost, svcPort := "", 0
	if sv := s.Service; sv != nil {
		svcHost, svcPort = sv.Host, sv.Port
		attrs = append(attrs, attribute.String("kong.service.id", sv.ID), attribute.String("kong.service.name", sv.Name))
	}
	start := msTime(s.StartedAt)
	end := start.Add(time.Duration(s.Latencies.Request * 1e6))
	ctx, rootSpan := p.tracer.Start(ctx, name, trace.WithSpanKind(trace.SpanKindServer),
		trace.WithTimestamp(start), trace.WithAttributes(attrs...))
	upstreamEnd := start.Add(time.Duration((s.Latencies.Kong + s.Latencies.Proxy) * 1e6))
	for i, t := range s.Tries {
		last := i == len(s.Tries)-1
		tStart := time.Unix(0, int64(t.BalancerStartNs))
		tEnd := upstreamEnd
		if !last {
			tEnd = time.Unix(0, int64(s.Tries[i+1].BalancerStartNs))
		}
		tAttrs := []attribute.KeyValue{
			attribute.String("http.request.method", s.Request.Method),
			attribute.Int("kong.balancer.try", i+1),
			attribute.String("server.address", svcHost),
			attribute.Int("server.port", svcPort),
			attribute.String("network.peer.address", t.IP),
			attribute.Int("network.peer.port", t.Port),
			attribute.String("url.full", "http://"+svcHost+":"+strconv.Itoa(svcPort)+s.UpstreamURI),
			attribute.Float64("kong.balancer.latency_ms", t.BalancerLatency),
		}
		if i > 0 {
			tAttrs = append(tAttrs, attribute.Int("http.request.resend_count", i))
		}
		if t.State != "" {
			tAttrs = append(tAttrs, attribute.String("kong.balancer.state", t.State))
		}
		code := t.Code
		if last && code == 0 {
			code = s.Response.Status
		}
		errType := ""
		switch {
		case t.State == "failed": // no response: nginx's code
			errType = "connection_failed"
		case !last || code >= 400:
			errType = strconv.Itoa(code)
			fallthrough
		default:
			tAttrs = append(tAttrs, attribute.Int("http.response.status_code", code))
		}
		_, span := p.tracer.Start(ctx, s.Request.Method, trace.WithSpanKind(trace.SpanKindClient),
			trace.WithTimestamp(tStart), trace.WithAttributes(tAttrs...))
		if errType != "" {
			span.SetAttributes(attribute.String("error.type", errType))
			span.SetStatus(codes.Error, "")
		}
		span.End(trace.WithTimestamp(tEnd))
	}
	if s.Response.Status >= 500 {
		rootSpan.SetAttributes(attribute.String("error.type", strconv.Itoa(s.Response.Status)))
		rootSpan.SetStatus(codes.Error, "")
	}
	rootSpan.End(trace.WithTimestamp(end))
}

func benchOTelLog(b *testing.B, sink *discardSink, text []byte) {
	p := newOTelPeer(b, sink.tracesURL())
	var s kongSerialize
	if err := json.Unmarshal(text, &s); err != nil {
		b.Fatal(err)
	}
	perRequest := int64(1 + len(s.Tries))
	b.SetBytes(int64(len(text)))
	b.ReportAllocs()
	for b.Loop() {
		p.log(b, text)
	}
	b.StopTimer()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := p.tp.ForceFlush(ctx); err != nil {
		b.Fatal(err)
	}
	dropped := perRequest*int64(b.N) - p.exported.spans.Load()
	b.ReportMetric(float64(dropped)/float64(b.N)/float64(perRequest), "dropped/span")
}

package e2e

import (
	"context"
	"net/http"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/contrib/propagators/b3"
	jaegerprop "go.opentelemetry.io/contrib/propagators/jaeger"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/trace-exporter/trace-exporter/test/harness"
	"github.com/trace-exporter/trace-exporter/test/jaegertest"
	"github.com/trace-exporter/trace-exporter/test/kongsim"
)

// tracedEnv is a client tracer, the gateway and an instrumented upstream,
// all exporting to the shared Jaeger: the OpenTelemetry SDK and propagators
// stand for the services around Kong (independent implementations of each
// format).
type tracedEnv struct {
	j        *jaegertest.Jaeger
	gw       *kongsim.Gateway
	up       *harness.Upstream
	prop     propagation.TextMapPropagator
	kong     string // Kong's service.name
	client   string // the client's service.name
	upstream string // the upstream's service.name

	mu   sync.Mutex
	seen map[string]harness.UpstreamSpan // by test id
}

func startTracedEnv(t *testing.T, prop propagation.TextMapPropagator, pluginExtra map[string]any) *tracedEnv {
	j := harness.Jaeger(t)
	e := &tracedEnv{j: j, prop: prop, kong: uniqueService("e2e-kong"), client: uniqueService("e2e-client"),
		upstream: uniqueService("e2e-upstream"), seen: map[string]harness.UpstreamSpan{}}
	// The upstream samples parent-based, as an OpenTelemetry SDK does by
	// default: it records a span only when Kong told it "sampled".
	upTP := harness.NewTracerProvider(e.upstream, j.OTLPHTTPURL(), nil)
	t.Cleanup(func() { upTP.Shutdown(context.Background()) })
	e.up = harness.StartUpstream(t, harness.UpstreamOptions{Wrap: harness.TracingUpstream(upTP, prop, func(s harness.UpstreamSpan) {
		e.mu.Lock()
		e.seen[s.TestID] = s
		e.mu.Unlock()
	})})
	e.gw = harness.StartGateway(t, harness.GatewayOptions{Config: map[string]any{
		"services": []any{map[string]any{"name": "api", "url": e.up.URL(), "routes": []any{
			map[string]any{"name": "api-route", "paths": []string{"/api"},
				"plugins": []any{plugin(pluginConfig(j.OTLPHTTPURL(), e.kong, pluginExtra))}},
		}}},
	}})
	return e
}

// call makes a client span with tracer (its context injected with the
// env's propagator), sends GET path through the gateway inside it, and
// returns the span's context, the answer, and what the upstream extracted.
func (e *tracedEnv) call(t *testing.T, tracer trace.Tracer, path string) (trace.SpanContext, harness.Response, harness.UpstreamSpan) {
	t.Helper()
	id := randomHex(8)
	ctx, span := tracer.Start(context.Background(), "GET "+path, trace.WithSpanKind(trace.SpanKindClient))
	h := http.Header{harness.TestIDHeader: {id}}
	e.prop.Inject(ctx, propagation.HeaderCarrier(h))
	resp := harness.Do(t, "GET", e.gw.URL()+path, h)
	span.End() // exported synchronously (when sampled)
	e.mu.Lock()
	seen, ok := e.seen[id]
	e.mu.Unlock()
	if !ok {
		t.Fatalf("GET %s: the upstream saw no request (status %d: %s)", path, resp.Status, resp.Body)
	}
	return span.SpanContext(), resp, seen
}

// Issue 4: a client span → Kong → an upstream that makes its own span from
// the headers it received, for each inbound format; one trace in Jaeger
// with unbroken parent links client → Kong root → Kong try → upstream.
func TestPropagationEndToEnd(t *testing.T) {
	cases := []struct {
		format string
		prop   propagation.TextMapPropagator
		// headers Kong must send upstream, and one it must not (inject
		// "preserve" keeps the caller's format only)
		want    []string
		notWant string
	}{
		{"w3c", propagation.TraceContext{}, []string{"traceparent"}, "x-b3-traceid"},
		{"b3", b3.New(b3.WithInjectEncoding(b3.B3MultipleHeader)), []string{"x-b3-traceid", "x-b3-spanid", "x-b3-sampled"}, "traceparent"},
		{"jaeger", jaegerprop.Jaeger{}, []string{"uber-trace-id"}, "traceparent"},
	}
	for _, c := range cases {
		t.Run(c.format, func(t *testing.T) {
			t.Parallel()
			e := startTracedEnv(t, c.prop, map[string]any{
				"propagation": map[string]any{"extract": []string{c.format}, "inject": []string{"preserve"}},
			})
			clientTP := harness.NewTracerProvider(e.client, e.j.OTLPHTTPURL(), sdktrace.AlwaysSample())
			t.Cleanup(func() { clientTP.Shutdown(context.Background()) })

			client, resp, seen := e.call(t, clientTP.Tracer("e2e-client"), "/api/items")
			if resp.Status != 200 {
				t.Fatalf("status %d: %s", resp.Status, resp.Body)
			}
			got := e.up.Requests()[0].Header
			for _, h := range c.want {
				if got.Get(h) == "" {
					t.Errorf("upstream got no %s header: %v", h, got)
				}
			}
			if got.Get(c.notWant) != "" {
				t.Errorf("upstream got %s: %q, but inject is preserve (%s only)", c.notWant, got.Get(c.notWant), c.format)
			}
			if seen.Incoming.TraceID() != client.TraceID() || !seen.Incoming.IsSampled() {
				t.Fatalf("upstream extracted %v, client trace %s (sampled)", seen.Incoming, client.TraceID())
			}

			tr := waitTrace(t, e.j, client.TraceID().String(), 4)
			roots := tr.Roots()
			if len(roots) != 1 {
				t.Fatalf("%d roots, want the client span only:\n%s", len(roots), render(tr))
			}
			clientSpan := roots[0]
			check(t, clientSpan, "client").service(e.client).kind("client").parent("")
			if clientSpan.SpanID != client.SpanID().String() {
				t.Fatalf("root span %s is not the client span %s", clientSpan.SpanID, client.SpanID())
			}
			kongRoots := tr.Children(clientSpan.SpanID)
			if len(kongRoots) != 1 {
				t.Fatalf("client span has %d children:\n%s", len(kongRoots), render(tr))
			}
			kongRoot := kongRoots[0]
			check(t, kongRoot, "Kong root").service(e.kong).kind("server").name("GET /api").
				num("http.response.status_code", 200)
			// Kong's root starts inside the client's span (Kong's started_at
			// is whole milliseconds); it may end after it: Kong's request
			// time runs to its log phase, after the client had its answer.
			if kongRoot.StartMicros < clientSpan.StartMicros-1000 || kongRoot.StartMicros > clientSpan.StartMicros+clientSpan.DurationMicros {
				t.Errorf("Kong's root starts at %dµs, outside the client span [%d, %d]µs", kongRoot.StartMicros,
					clientSpan.StartMicros, clientSpan.StartMicros+clientSpan.DurationMicros)
			}
			tries := tr.Children(kongRoot.SpanID)
			if len(tries) != 1 {
				t.Fatalf("Kong root has %d children:\n%s", len(tries), render(tr))
			}
			try := tries[0]
			check(t, try, "Kong try").service(e.kong).kind("client").name("GET").within(kongRoot, 2*time.Millisecond)
			if seen.Incoming.SpanID().String() != try.SpanID {
				t.Errorf("upstream extracted parent %s, Kong's try span is %s", seen.Incoming.SpanID(), try.SpanID)
			}
			ups := tr.Children(try.SpanID)
			if len(ups) != 1 {
				t.Fatalf("try span has %d children, want the upstream's span:\n%s", len(ups), render(tr))
			}
			check(t, ups[0], "upstream").service(e.upstream).kind("server").name("GET /items").
				within(try, 2*time.Millisecond)
			if ups[0].SpanID != seen.Span.SpanID().String() {
				t.Errorf("upstream span %s in Jaeger, the upstream made %s", ups[0].SpanID, seen.Span.SpanID())
			}
		})
	}
}

// Issue 4, sampling end to end at sampling_rate 0 with the default tail
// rule (keep status ≥ 500): the caller's decision is kept in both
// directions, the flag sent upstream equals the decision, and a 5xx is kept
// even when the head decision dropped it.
func TestSamplingEndToEnd(t *testing.T) {
	e := startTracedEnv(t, propagation.TraceContext{}, map[string]any{
		"sampling_rate": 0,
		"propagation":   map[string]any{"extract": []string{"w3c"}, "inject": []string{"preserve"}},
	})
	sampledTP := harness.NewTracerProvider(e.client, e.j.OTLPHTTPURL(), sdktrace.AlwaysSample())
	unsampledTP := harness.NewTracerProvider(e.client, e.j.OTLPHTTPURL(), sdktrace.NeverSample())
	t.Cleanup(func() {
		sampledTP.Shutdown(context.Background())
		unsampledTP.Shutdown(context.Background())
	})
	sampled, unsampled := sampledTP.Tracer("e2e-client"), unsampledTP.Tracer("e2e-client")
	var dropped []string // trace ids that must never reach Jaeger

	t.Run("incoming-sampled-is-exported", func(t *testing.T) {
		client, resp, seen := e.call(t, sampled, "/api/in-sampled")
		if resp.Status != 200 || !seen.Incoming.IsSampled() || seen.Incoming.TraceID() != client.TraceID() {
			t.Fatalf("status %d; upstream extracted %+v, want sampled in trace %s", resp.Status, seen.Incoming, client.TraceID())
		}
		tr := waitTrace(t, e.j, client.TraceID().String(), 4) // client, Kong root, try, upstream
		if kong := tr.Children(client.SpanID().String()); len(kong) != 1 || kong[0].ServiceName != e.kong {
			t.Errorf("the client span's child is not Kong's root:\n%s", render(tr))
		}
	})

	t.Run("incoming-unsampled-is-dropped", func(t *testing.T) {
		client, resp, seen := e.call(t, unsampled, "/api/in-unsampled")
		if resp.Status != 200 || seen.Incoming.IsSampled() || seen.Incoming.TraceID() != client.TraceID() {
			t.Fatalf("status %d; upstream extracted %+v, want not sampled in trace %s", resp.Status, seen.Incoming, client.TraceID())
		}
		if seen.Span.IsSampled() {
			t.Error("the upstream recorded a span under an unsampled parent")
		}
		dropped = append(dropped, client.TraceID().String())
	})

	t.Run("no-context-at-rate-0-is-dropped", func(t *testing.T) {
		resp := harness.Do(t, "GET", e.gw.URL()+"/api/no-context", nil)
		reqs := e.up.Requests()
		tp, err := harness.ParseTraceparent(reqs[len(reqs)-1].Header.Get("traceparent"))
		if resp.Status != 200 || err != nil {
			t.Fatalf("status %d; upstream traceparent: %v", resp.Status, err)
		}
		if tp.Sampled() {
			t.Errorf("rate 0: Kong told the upstream sampled (%+v)", tp)
		}
		dropped = append(dropped, tp.TraceID)
	})

	t.Run("tail-rule-keeps-5xx-of-unsampled-caller", func(t *testing.T) {
		client, resp, seen := e.call(t, unsampled, "/api/fails?status=503")
		if resp.Status != 503 || seen.Incoming.IsSampled() {
			t.Fatalf("status %d; upstream extracted %+v, want not sampled", resp.Status, seen.Incoming)
		}
		// Kong's two spans only: the client and the upstream were told "not
		// sampled" and recorded nothing (the documented cost of tail rules).
		tr := waitTrace(t, e.j, client.TraceID().String(), 2)
		root := tr.Roots()[0]
		check(t, root, "Kong root").service(e.kong).kind("server").parent(client.SpanID().String()).isError(true).
			num("http.response.status_code", 503)
		tries := tr.Children(root.SpanID)
		if len(tries) != 1 || tries[0].SpanID != seen.Incoming.SpanID().String() {
			t.Fatalf("want one try span, the upstream's parent %s:\n%s", seen.Incoming.SpanID(), render(tr))
		}
		check(t, tries[0], "try").isError(true).num("http.response.status_code", 503)
	})

	t.Run("tail-rule-keeps-5xx-without-context", func(t *testing.T) {
		resp := harness.Do(t, "GET", e.gw.URL()+"/api/fails-too?status=500", nil)
		reqs := e.up.Requests()
		tp, err := harness.ParseTraceparent(reqs[len(reqs)-1].Header.Get("traceparent"))
		if resp.Status != 500 || err != nil || tp.Sampled() {
			t.Fatalf("status %d; upstream traceparent %+v (%v), want not sampled", resp.Status, tp, err)
		}
		tr := waitTrace(t, e.j, tp.TraceID, 2)
		check(t, tr.Roots()[0], "Kong root").parent("").isError(true).num("http.response.status_code", 500)
	})

	t.Run("dropped-traces-never-arrive", func(t *testing.T) {
		if len(dropped) != 2 {
			t.Fatalf("%d dropped trace ids recorded, want 2 (an earlier subtest failed)", len(dropped))
		}
		// Every log phase so far has run; a sampled request sent now leaves
		// through the same pipeline after anything they could have queued.
		if err := e.gw.WaitIdle(bounded(t, 10*time.Second)); err != nil {
			t.Fatal(err)
		}
		marker, _, _ := e.call(t, sampled, "/api/marker")
		waitTrace(t, e.j, marker.TraceID().String(), 4)
		for _, id := range dropped {
			assertTraceAbsent(t, e.j, id, "unsampled request at rate 0")
		}
	})

	t.Run("dropped-requests-cost-no-serialize", func(t *testing.T) {
		if err := e.gw.WaitIdle(bounded(t, 10*time.Second)); err != nil {
			t.Fatal(err)
		}
		records := e.gw.Records()
		checkNodeIDOnce(t, records)
		for _, rec := range records {
			want := []string{pdkGetCtx, pdkGetStatus}
			switch rec.URI {
			case "/api/in-sampled", "/api/marker":
				want = []string{pdkGetCtx, pdkSerialize}
			case "/api/fails?status=503", "/api/fails-too?status=500":
				want = []string{pdkGetCtx, pdkGetStatus, pdkSerialize}
			}
			if got, _ := withoutNodeID(rec.Calls("log")); !callsEqual(got, want) {
				t.Errorf("%s: log phase calls %s, want %s", rec.URI, fmtCalls(got), fmtCalls(want))
			}
			if v := rec.Violations(); len(v) > 0 {
				t.Errorf("%s: %v", rec.URI, v)
			}
		}
	})
}

package bench

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/trace"

	"github.com/trace-exporter/trace-exporter/exporter"
	"github.com/trace-exporter/trace-exporter/plugin/reqmetrics"
)

// BenchmarkRequestMetrics measures recording one request's metrics (issue
// 13): http.server.request.count, http.server.request.duration,
// kong.latency.total/internal/upstream, http.server.request.size and
// response.size, each with its attributes, one request in ten sampled
// (an exemplar), from every CPU at once, next to the OpenTelemetry Go SDK's
// instruments doing the same recording (otel-sdk: a Meter with a
// ManualReader, the same buckets, the SDK's trace-based exemplars). Both
// start from the request's attribute values: the SDK peer builds its
// attribute sets per request, as a plugin built on it would.
func BenchmarkRequestMetrics(b *testing.B) {
	reqs := benchRequests()
	b.Run("record/trace-exporter", func(b *testing.B) {
		agg := reqmetrics.NewRegistry(reqmetrics.Options{}).Acquire(reqmetrics.Target{Key: "bench", Interval: time.Hour})
		families := reqmetrics.Requests | reqmetrics.Latency | reqmetrics.Bandwidth
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			i := 0
			for pb.Next() {
				agg.Record(families, &reqs[i%len(reqs)])
				i++
			}
		})
		b.StopTimer()
		if countOf(agg.Cumulative()) != int64(b.N) {
			b.Fatalf("counted %d of %d", countOf(agg.Cumulative()), b.N)
		}
	})
	b.Run("record/otel-sdk", func(b *testing.B) {
		reader := sdkmetric.NewManualReader()
		provider := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
		defer provider.Shutdown(context.Background())
		inst := newOTelInstruments(b, provider.Meter("bench"))
		ctxs := make([]context.Context, len(reqs))
		for i := range reqs {
			ctxs[i] = context.Background()
			if reqs[i].TraceID.IsValid() {
				ctxs[i] = trace.ContextWithSpanContext(ctxs[i], trace.NewSpanContext(trace.SpanContextConfig{
					TraceID: trace.TraceID(reqs[i].TraceID), SpanID: trace.SpanID(reqs[i].SpanID), TraceFlags: trace.FlagsSampled}))
			}
		}
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			i := 0
			for pb.Next() {
				j := i % len(reqs)
				inst.record(ctxs[j], &reqs[j])
				i++
			}
		})
		b.StopTimer()
		var rm metricdata.ResourceMetrics
		if err := reader.Collect(context.Background(), &rm); err != nil {
			b.Fatal(err)
		}
		var n int64
		for _, dp := range rm.ScopeMetrics[0].Metrics[0].Data.(metricdata.Sum[int64]).DataPoints {
			n += dp.Value
		}
		if n != int64(b.N) {
			b.Fatalf("counted %d of %d", n, b.N)
		}
	})
}

// BenchmarkLogPathRequestMetrics is what request metrics add to the log
// path of an unsampled request (the small-get payload, parsed either way):
// the record into the shared aggregator.
func BenchmarkLogPathRequestMetrics(b *testing.B) {
	sink := newDiscardSink(b)
	text := strings.Replace(payloads(b)[0].text, ";01;", ";00;", 1)
	base := `{"traces_endpoint":"` + sink.tracesURL() + `","tail_sampling":{"status_code_min":0}`
	metrics := `,"metrics":{"endpoint":"` + strings.Replace(sink.tracesURL(), "/v1/traces", "/v1/metrics", 1) +
		`","push_interval":3600,"enable_request_metrics":true,"enable_latency_metrics":true,"enable_bandwidth_metrics":true}`
	for _, c := range []struct{ name, config string }{{"unsampled/metrics-off", base + "}"}, {"unsampled/metrics-on", base + metrics + "}"}} {
		b.Run(c.name, func(b *testing.B) {
			p, env := newPluginInstance(b, c.config)
			before := env.Stats.Unsampled.Load()
			b.ReportAllocs()
			for b.Loop() {
				p.LogPayload(text)
			}
			b.StopTimer()
			if env.Stats.Unsampled.Load() == before {
				b.Fatal("the payload was not an unsampled request")
			}
		})
	}
}

// benchRequests are 64 requests over 4 routes, 2 methods and 4 statuses,
// one in ten sampled.
func benchRequests() []reqmetrics.Request {
	var out []reqmetrics.Request
	for i := range 64 {
		route := "route-" + strconv.Itoa(i%4)
		r := reqmetrics.Request{Service: "svc", Route: route, Workspace: "default", Method: []string{"GET", "POST"}[i%2],
			Status: []int{200, 200, 404, 503}[i/2%4], Source: "upstream", HTTPRoute: "/" + route, Scheme: "https",
			RequestBytes: int64(200 + i), ResponseBytes: int64(1000 * i), TotalMs: float64(i + 1), KongMs: 1, UpstreamMs: float64(i)}
		if i%10 == 0 {
			r.TraceID = exporter.TraceID{1, byte(i)}
			r.SpanID = exporter.SpanID{2, byte(i)}
		}
		out = append(out, r)
	}
	return out
}

func countOf(ms []exporter.Metric) int64 {
	var n int64
	for _, m := range ms {
		if m.Name == "http.server.request.count" {
			for _, p := range m.Numbers {
				n += p.Int
			}
		}
	}
	return n
}

type otelInstruments struct {
	count                               metric.Int64Counter
	duration, total, internal, upstream metric.Float64Histogram
	requestSize, responseSize           metric.Int64Histogram
}

func newOTelInstruments(b *testing.B, m metric.Meter) *otelInstruments {
	seconds := metric.WithExplicitBucketBoundaries(0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10)
	bytes := metric.WithExplicitBucketBoundaries(256, 1024, 4096, 16384, 65536, 262144, 1<<20, 1<<22, 1<<24, 1<<26)
	var i otelInstruments
	var errs [8]error
	i.count, errs[0] = m.Int64Counter("http.server.request.count", metric.WithUnit("{request}"))
	i.duration, errs[1] = m.Float64Histogram("http.server.request.duration", metric.WithUnit("s"),
		metric.WithExplicitBucketBoundaries(0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10))
	i.total, errs[2] = m.Float64Histogram("kong.latency.total", metric.WithUnit("s"), seconds)
	i.internal, errs[3] = m.Float64Histogram("kong.latency.internal", metric.WithUnit("s"), seconds)
	i.upstream, errs[4] = m.Float64Histogram("kong.latency.upstream", metric.WithUnit("s"), seconds)
	i.requestSize, errs[5] = m.Int64Histogram("http.server.request.size", metric.WithUnit("By"), bytes)
	i.responseSize, errs[6] = m.Int64Histogram("http.server.response.size", metric.WithUnit("By"), bytes)
	for _, err := range errs {
		if err != nil {
			b.Fatal(err)
		}
	}
	return &i
}

// record is what a plugin on the SDK does per request: the attribute sets
// of each metric from the request's values, then every instrument.
func (i *otelInstruments) record(ctx context.Context, r *reqmetrics.Request) {
	service, route, ws := attribute.String("kong.service.name", r.Service), attribute.String("kong.route.name", r.Route),
		attribute.String("kong.workspace.name", r.Workspace)
	method := attribute.String("http.request.method", r.Method)
	entity := metric.WithAttributeSet(attribute.NewSet(service, route, ws))
	count := metric.WithAttributeSet(attribute.NewSet(service, route, ws, method,
		attribute.Int("kong.response.status_code", r.Status), attribute.String("kong.response.source", r.Source)))
	durationAttrs := []attribute.KeyValue{method, attribute.Int("http.response.status_code", r.Status),
		attribute.String("http.route", r.HTTPRoute), attribute.String("url.scheme", r.Scheme), service, route}
	if r.Status >= 500 {
		durationAttrs = append(durationAttrs, attribute.String("error.type", strconv.Itoa(r.Status)))
	}
	duration := metric.WithAttributeSet(attribute.NewSet(durationAttrs...))
	i.count.Add(ctx, 1, count)
	i.duration.Record(ctx, r.TotalMs/1000, duration)
	i.total.Record(ctx, r.TotalMs/1000, entity)
	i.internal.Record(ctx, r.KongMs/1000, entity)
	i.upstream.Record(ctx, r.UpstreamMs/1000, entity)
	i.requestSize.Record(ctx, r.RequestBytes, entity)
	i.responseSize.Record(ctx, r.ResponseBytes, entity)
}

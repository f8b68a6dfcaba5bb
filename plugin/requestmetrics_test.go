package plugin

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/trace-exporter/trace-exporter/exporter"
	"github.com/trace-exporter/trace-exporter/schema"
	"github.com/trace-exporter/trace-exporter/test/otlpsink"
)

// A test processor that drops every request of a config with the static
// attribute test.drop (and stays off for every other config).
func init() {
	exporter.RegisterProcessor("test_drop_marked", func(cfg *schema.Config) (exporter.SpanProcessor, error) {
		if cfg.StaticAttributes["test.drop"] == "" {
			return nil, nil
		}
		return dropAll{}, nil
	})
}

type dropAll struct{}

func (dropAll) Process([]exporter.Span, *exporter.Request) []exporter.Span { return nil }

// metricsConfig is the metrics record of a test config: pushed to sink (a
// long interval: tests collect themselves) with the given flags.
func metricsConfig(sink *otlpsink.Sink, flags ...string) string {
	m := map[string]any{"endpoint": strings.Replace(sink.TracesURL(), "/v1/traces", "/v1/metrics", 1), "push_interval": 3600}
	for _, f := range flags {
		m["enable_"+f] = true
	}
	b, _ := json.Marshal(m)
	return `,"metrics":` + string(b)
}

// collectMetrics reads the totals of the instance's aggregator.
func collectMetrics(t *testing.T, p *Plugin) []exporter.Metric {
	t.Helper()
	if p.rt.metrics == nil {
		t.Fatal("request metrics are off")
	}
	return p.rt.metrics.agg.Cumulative()
}

func metricNamed(ms []exporter.Metric, name string) *exporter.Metric {
	for i := range ms {
		if ms[i].Name == name {
			return &ms[i]
		}
	}
	return nil
}

func attrValue(attrs []exporter.Attribute, key string) (exporter.Value, bool) {
	for _, a := range attrs {
		if a.Key == key {
			return a.Value, true
		}
	}
	return exporter.Value{}, false
}

// Every request counts, sampled or not; with request metrics on the log
// handler reads serialize for every request instead of probing the
// hand-off first.
func TestRequestMetricsCountUnsampledRequests(t *testing.T) {
	sink := otlpsink.Start(t)
	p := newTestPlugin(t, sink, `,"sampling_rate":0,"tail_sampling":{"status_code_min":0}`+
		metricsConfig(sink, "request_metrics", "latency_metrics", "consumer_attribute"))
	for range 3 {
		f := newFakeKong(t, "3.9-proxied-consumer.json", map[string]string{})
		f.run(p)
		if calls, _ := withoutNodeIDCalls(f.calls["log"]); !slices.Equal(calls, []string{mSerialize}) {
			t.Errorf("log calls %v, want [%s]: metrics need every payload", f.calls["log"], mSerialize)
		}
	}
	ms := collectMetrics(t, p)
	count := metricNamed(ms, "http.server.request.count")
	if count == nil || len(count.Numbers) != 1 || count.Numbers[0].Int != 3 {
		t.Fatalf("request count %+v, want 3 unsampled requests", count)
	}
	attrs := count.Numbers[0].Attributes
	for key, want := range map[string]string{"kong.service.name": "echo", "kong.route.name": "echo-route",
		"http.request.method": "GET", "kong.response.source": "upstream", "kong.auth.consumer.name": "alice"} {
		if v, ok := attrValue(attrs, key); !ok || v.AsString() != want {
			t.Errorf("%s = %q (present %v), want %q", key, v.AsString(), ok, want)
		}
	}
	if v, _ := attrValue(attrs, "kong.response.status_code"); v.AsInt() != 200 {
		t.Errorf("status %d", v.AsInt())
	}
	dur := metricNamed(ms, "http.server.request.duration")
	if dur == nil || dur.Histograms[0].Count != 3 || len(dur.Histograms[0].Exemplars) != 0 {
		t.Fatalf("duration %+v: 3 requests, no exemplar (nothing exported)", dur)
	}
	if v, _ := attrValue(dur.Histograms[0].Attributes, "http.route"); v.AsString() != "/echo" {
		t.Errorf("http.route %q", v.AsString())
	}
	if st := sink.Stats(); st.Spans != 0 {
		t.Errorf("%d spans exported at sampling_rate 0", st.Spans)
	}
}

func withoutNodeIDCalls(calls []string) ([]string, int) {
	var out []string
	n := 0
	for _, c := range calls {
		if c == mNodeID {
			n++
			continue
		}
		out = append(out, c)
	}
	return out, n
}

// An exemplar names the trace of an exported request and its SERVER span;
// a request whose spans a processor dropped gives none.
func TestRequestMetricsExemplarsAreExportedTraces(t *testing.T) {
	sink := otlpsink.Start(t)
	p := newTestPlugin(t, sink, metricsConfig(sink, "request_metrics"))
	p.LogPayload(fixture(t, "3.9-proxied-consumer.json"))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	spans, err := sink.WaitSpans(ctx, 2)
	if err != nil {
		t.Fatal(err)
	}
	var root otlpsink.Span
	for _, s := range spans {
		if s.GetKind().String() == "SPAN_KIND_SERVER" {
			root = s
		}
	}
	ex := metricNamed(collectMetrics(t, p), "http.server.request.duration").Histograms[0].Exemplars
	if len(ex) != 1 || ex[0].TraceID.String() != root.TraceID() || ex[0].SpanID.String() != root.SpanID() {
		t.Fatalf("exemplars %+v, want the root span %s/%s", ex, root.TraceID(), root.SpanID())
	}

	dropped := newTestPlugin(t, sink, `,"static_attributes":{"test.drop":"1"}`+metricsConfig(sink, "request_metrics"))
	dropped.LogPayload(fixture(t, "3.9-upstream-500.json"))
	d := metricNamed(collectMetrics(t, dropped), "http.server.request.duration")
	for _, h := range d.Histograms {
		if v, _ := attrValue(h.Attributes, "http.response.status_code"); v.AsInt() == 500 && len(h.Exemplars) != 0 {
			t.Errorf("a request whose spans a processor dropped has exemplars %+v", h.Exemplars)
		}
	}
}

// Kong's AI plugins' statistics in the payload feed the AI metrics; the
// parser reads them only when asked.
func TestAIStatsFromSerialize(t *testing.T) {
	var payload map[string]any
	if err := json.Unmarshal([]byte(fixture(t, "3.9-proxied-consumer.json")), &payload); err != nil {
		t.Fatal(err)
	}
	payload["ai"] = map[string]any{
		"payload": map[string]any{"request": `{"messages":[{"role":"user","content":"secret prompt"}]}`},
		"proxy": map[string]any{
			"meta":  map[string]any{"plugin_id": "p1", "provider_name": "openai", "request_model": "gpt-4o", "response_model": "gpt-4o-mini", "llm_latency": 2670},
			"usage": map[string]any{"prompt_tokens": 28, "completion_tokens": 20, "total_tokens": 48, "cost": 0.0038, "time_per_token": 133},
		},
		"ai-semantic-cache": map[string]any{
			"cache": map[string]any{"cache_status": "Hit", "vector_db": "redis", "fetch_latency": 21,
				"embeddings_provider": "openai", "embeddings_model": "text-embedding-3-small", "embeddings_latency": 424},
			"usage": map[string]any{"prompt_tokens": nil, "cost": "n/a"},
		},
	}
	b, _ := json.Marshal(payload)
	for _, want := range []bool{false, true} {
		var e logEntry
		a := newArena(256)
		if err := e.parse(string(b), &parseWants{ai: want}, &a); err != nil {
			t.Fatal(err)
		}
		if !want {
			if e.ai != nil {
				t.Errorf("AI statistics read without being asked: %+v", e.ai)
			}
			continue
		}
		if len(e.ai) != 2 {
			t.Fatalf("AI statistics %+v, want the two plugins'", e.ai)
		}
		got := fmt.Sprintf("%+v", e.ai)
		// In payload order (json.Marshal sorts the keys); a null is not
		// reported, a string that is not a number reads 0.
		want := "[{Provider: RequestModel: ResponseModel: CacheStatus:Hit VectorDB:redis EmbeddingsProvider:openai EmbeddingsModel:text-embedding-3-small " +
			"PromptTokens:-1 CompletionTokens:-1 Cost:0 LLMLatencyMs:-1 TimePerTokenMs:-1 CacheFetchMs:21 EmbeddingsMs:424} " +
			"{Provider:openai RequestModel:gpt-4o ResponseModel:gpt-4o-mini CacheStatus: VectorDB: EmbeddingsProvider: EmbeddingsModel: " +
			"PromptTokens:28 CompletionTokens:20 Cost:0.0038 LLMLatencyMs:2670 TimePerTokenMs:133 CacheFetchMs:-1 EmbeddingsMs:-1}]"
		if got != want {
			t.Errorf("AI statistics\n got %s\nwant %s", got, want)
		}
	}
}

// With enable_ai_metrics an instance reads the AI statistics of every
// payload into Kong's AI metrics; without it, it does not read them.
func TestAIMetricsFromLogPayload(t *testing.T) {
	var payload map[string]any
	if err := json.Unmarshal([]byte(fixture(t, "3.9-proxied-consumer.json")), &payload); err != nil {
		t.Fatal(err)
	}
	payload["ai"] = map[string]any{"proxy": map[string]any{
		"meta":  map[string]any{"provider_name": "openai", "request_model": "gpt-4o", "response_model": "gpt-4o", "llm_latency": 900},
		"usage": map[string]any{"prompt_tokens": 10, "completion_tokens": 5, "cost": 0.5, "time_per_token": 60},
	}}
	b, _ := json.Marshal(payload)
	sink := otlpsink.Start(t)
	for _, ai := range []bool{false, true} {
		flags := []string{"request_metrics", "latency_metrics"}
		if ai {
			flags = append(flags, "ai_metrics")
		}
		p := newTestPlugin(t, sink, `,"resource_attributes":{"ai":"`+fmt.Sprint(ai)+`"}`+metricsConfig(sink, flags...))
		if p.rt.wants.ai != ai {
			t.Errorf("ai %v: the parser reads AI statistics: %v", ai, p.rt.wants.ai)
		}
		p.LogPayload(string(b))
		ms := collectMetrics(t, p)
		tokens := metricNamed(ms, "gen_ai.client.token.usage")
		if !ai {
			if tokens != nil {
				t.Errorf("AI metrics without enable_ai_metrics: %+v", tokens)
			}
			continue
		}
		if tokens == nil || len(tokens.Numbers) != 2 || tokens.Numbers[0].Int+tokens.Numbers[1].Int != 15 {
			t.Fatalf("token usage %+v", tokens)
		}
		if m := metricNamed(ms, "gen_ai.server.request.duration"); m == nil || m.Histograms[0].Sum != 0.9 {
			t.Errorf("provider latency %+v", m)
		}
	}
}

// A config whose metrics destination cannot be built is refused, naming
// the field; flags without any destination, or a destination without
// flags, start the instance without request metrics.
func TestRequestMetricsConfigs(t *testing.T) {
	sink := otlpsink.Start(t)
	p := New().(*Plugin)
	cfg := fmt.Sprintf(`{"traces_endpoint":%q,"tls_ca_file":"/nonexistent/ca.pem","metrics":{"endpoint":"https://m:4318/v1/metrics","enable_request_metrics":true}}`,
		strings.Replace(sink.TracesURL(), "http:", "https:", 1))
	if err := json.Unmarshal([]byte(cfg), p); err == nil || !strings.Contains(err.Error(), "tls_ca_file") {
		t.Errorf("unreadable CA: %v, want an error naming tls_ca_file", err)
	}
	if p := newTestPlugin(t, sink, `,"metrics":{"enable_request_metrics":true}`); p.rt.metrics != nil {
		t.Errorf("no endpoint and /metrics not serving: request metrics on")
	}
	if p := newTestPlugin(t, sink, metricsConfig(sink)); p.rt.metrics != nil {
		t.Errorf("no flag: request metrics on")
	}
}

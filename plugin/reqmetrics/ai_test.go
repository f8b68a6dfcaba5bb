package reqmetrics

import (
	"math"
	"slices"
	"strings"
	"testing"
	"time"
)

func aiUsage() AIUsage {
	return AIUsage{Provider: "openai", RequestModel: "gpt-4o", ResponseModel: "gpt-4o-2024-08-06",
		PromptTokens: 28, CompletionTokens: 20, Cost: 0.0038, LLMLatencyMs: 2670, TimePerTokenMs: 133,
		CacheFetchMs: -1, EmbeddingsMs: -1}
}

// Kong's AI plugins' statistics become Kong's AI metrics: tokens by type,
// cost, the provider's latency (with the latency flag), time per token,
// and the semantic cache's latencies, by provider and models.
func TestAIMetrics(t *testing.T) {
	c := newClock()
	a := testRegistry(c, 0).Acquire(Target{Key: "k", Interval: time.Minute})
	r := sampled(req("POST", 200, 2700), 1)
	r.AI = []AIUsage{aiUsage()}
	a.Record(AI|Latency, &r)
	a.Record(AI|Latency, &r)
	// A semantic cache hit: no model was asked, Kong reports 0 for its
	// latency and time per token.
	hit := req("POST", 200, 30)
	hit.AI = []AIUsage{{Provider: "openai", RequestModel: "gpt-4o", ResponseModel: "gpt-4o", CacheStatus: "Hit", VectorDB: "redis",
		EmbeddingsProvider: "openai", EmbeddingsModel: "text-embedding-3-small",
		PromptTokens: 0, CompletionTokens: 0, Cost: 0, LLMLatencyMs: 0, TimePerTokenMs: 0, CacheFetchMs: 21, EmbeddingsMs: 424}}
	a.Record(AI, &hit)
	// Without the AI flag nothing of it is recorded.
	off := req("POST", 200, 30)
	off.AI = []AIUsage{aiUsage()}
	a.Record(Requests, &off)
	ms := a.collect()

	const model = "gen_ai.provider.name=openai,gen_ai.request.model=gpt-4o,gen_ai.response.model=gpt-4o-2024-08-06,kong.workspace.name=default"
	tokens := find(ms, "gen_ai.client.token.usage")
	if tokens == nil || tokens.Unit != "{token}" || !tokens.Monotonic {
		t.Fatalf("token usage: %+v (metrics %v)", tokens, names(ms))
	}
	const hitModel = "gen_ai.provider.name=openai,gen_ai.request.model=gpt-4o,gen_ai.response.model=gpt-4o,"
	wantTokens := map[string]float64{
		strings.Replace(model, ",kong.", ",gen_ai.token.type=input,kong.", 1):  56,
		strings.Replace(model, ",kong.", ",gen_ai.token.type=output,kong.", 1): 40,
		hitModel + "gen_ai.token.type=input,kong.workspace.name=default":       0,
		hitModel + "gen_ai.token.type=output,kong.workspace.name=default":      0,
	}
	if got := counts(tokens); !mapsEqual(got, wantTokens) {
		t.Errorf("tokens\n got %v\nwant %v", got, wantTokens)
	}
	cost := find(ms, "kong.gen_ai.llm.cost")
	if got := counts(cost); len(got) != 1 || math.Abs(got[model]-0.0076) > 1e-12 || !cost.Numbers[0].IsDouble {
		t.Errorf("cost (a cache hit costs nothing and is not a point): %v", got)
	}
	llm := histPoint(t, find(ms, "gen_ai.server.request.duration"), model)
	if llm.Count != 2 || llm.Sum != 5.34 || !slices.Equal(llm.Bounds[:3], []float64{0.01, 0.02, 0.04}) || len(llm.Exemplars) != 1 {
		t.Errorf("provider latency 2.67 s twice, with the GenAI buckets and an exemplar: %+v", llm)
	}
	if p := histPoint(t, find(ms, "gen_ai.server.time_per_output_token"), model); p.Count != 2 || math.Abs(p.Sum-0.266) > 1e-12 {
		t.Errorf("time per token: %+v", p)
	}
	if got := counts(find(ms, "gen_ai.client.operation.duration")); sum(got) != 3 {
		t.Errorf("operation duration: %v, want the 3 AI requests", got)
	}
	const cache = "gen_ai.provider.name=openai,gen_ai.request.model=gpt-4o,gen_ai.response.model=gpt-4o,kong.gen_ai.cache.status=Hit," +
		"kong.gen_ai.embeddings.model=text-embedding-3-small,kong.gen_ai.embeddings.provider=openai,kong.gen_ai.vector_db=redis,kong.workspace.name=default"
	if p := histPoint(t, find(ms, "kong.gen_ai.cache.fetch.latency"), cache); p.Count != 1 || p.Sum != 0.021 {
		t.Errorf("cache fetch latency: %+v", p)
	}
	if p := histPoint(t, find(ms, "kong.gen_ai.cache.embeddings.latency"), cache); p.Count != 1 || p.Sum != 0.424 {
		t.Errorf("cache embeddings latency: %+v", p)
	}

	// Without the latency flag, no provider latency.
	b := testRegistry(c, 0).Acquire(Target{Key: "k", Interval: time.Minute})
	b.Record(AI, &r)
	if m := find(b.collect(), "gen_ai.server.request.duration"); m != nil {
		t.Errorf("gen_ai.server.request.duration without enable_latency_metrics: %+v", m)
	}
}

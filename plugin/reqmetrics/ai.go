package reqmetrics

import (
	"encoding/binary"
	"strings"
	"sync/atomic"
)

// The histograms of an AI series.
const (
	aiOperation       = iota // gen_ai.client.operation.duration: the request's latency
	aiLLM                    // gen_ai.server.request.duration: the provider's latency (Latency family too)
	aiTokenTime              // gen_ai.server.time_per_output_token
	aiCacheFetch             // kong.gen_ai.cache.fetch.latency
	aiCacheEmbeddings        // kong.gen_ai.cache.embeddings.latency
	numAIHists
)

var aiLayouts = [numAIHists]*layout{genAIDurationLayout, genAIDurationLayout, genAITokenTimeLayout, latencyLayout, latencyLayout}

// aiAttrs are an AI series' attribute values.
type aiAttrs struct {
	provider, requestModel, responseModel, workspace, consumer string
	cacheStatus, vectorDB, embeddingsProvider, embeddingsModel string
}

func (a *aiAttrs) fields() []*string {
	return []*string{&a.provider, &a.requestModel, &a.responseModel, &a.workspace, &a.consumer,
		&a.cacheStatus, &a.vectorDB, &a.embeddingsProvider, &a.embeddingsModel}
}

func (a *aiAttrs) appendKey(b []byte) []byte {
	for _, s := range a.fields() {
		b = binary.AppendUvarint(b, uint64(len(*s)))
		b = append(b, *s...)
	}
	return b
}

func (a aiAttrs) clone() aiAttrs {
	for _, s := range a.fields() {
		*s = strings.Clone(*s)
	}
	return a
}

// aiSeries holds one AI attribute set's measurements. AI requests are few
// (each waits for a model), so its counters are not striped.
type aiSeries struct {
	attrs    aiAttrs
	overflow bool

	usages       atomic.Uint64 // recordings that reported tokens
	inputTokens  atomic.Int64
	outputTokens atomic.Int64
	costs        atomic.Uint64 // recordings that reported a cost
	cost         atomic.Uint64 // float64 bits

	hists [numAIHists]cell
	ext   [numAIHists]extremes
	ex    [numAIHists]exemplarSlots
	prev  *aiSnap
}

func newAISeries(attrs aiAttrs) *aiSeries {
	s := &aiSeries{attrs: attrs}
	for i := range s.ext {
		s.ext[i].init()
	}
	return s
}

func (s *aiSeries) record(f Families, u *AIUsage, totalMs float64, ref *exemplarRef) {
	if u.PromptTokens >= 0 || u.CompletionTokens >= 0 {
		s.usages.Add(1)
		s.inputTokens.Add(max(u.PromptTokens, 0))
		s.outputTokens.Add(max(u.CompletionTokens, 0))
	}
	if u.Cost > 0 {
		s.costs.Add(1)
		floatAdd(&s.cost, u.Cost)
	}
	var done [numAIHists]observed
	n := 0
	observe := func(h int, ms float64) {
		v := toBase(ms)
		b := aiLayouts[h].bucket(v)
		s.hists[h].observe(b, v)
		s.ext[h].observe(v)
		if ref != nil {
			ref.values[h] = v
		}
		done[n] = observed{h, b}
		n++
	}
	if totalMs >= 0 {
		observe(aiOperation, totalMs)
	}
	// Kong reports 0 for what it did not measure (a cache hit reaches no
	// model): a model never answers in 0 ms.
	if f&Latency != 0 && u.LLMLatencyMs > 0 {
		observe(aiLLM, u.LLMLatencyMs)
	}
	if u.TimePerTokenMs > 0 {
		observe(aiTokenTime, u.TimePerTokenMs)
	}
	if u.CacheFetchMs >= 0 {
		observe(aiCacheFetch, u.CacheFetchMs)
	}
	if u.EmbeddingsMs >= 0 {
		observe(aiCacheEmbeddings, u.EmbeddingsMs)
	}
	if ref == nil {
		return
	}
	for _, o := range done[:n] {
		s.ex[o.hist].offer(o.bucket, ref)
	}
}

package plugin

import "github.com/trace-exporter/trace-exporter/plugin/reqmetrics"

// maxAIUsages bounds the AI plugins read from one payload: a request goes
// through a handful of them at most.
const maxAIUsages = 8

// readAIStats reads the serialize payload's "ai" object, where Kong's AI
// plugins (3.6+) put their statistics: one member per plugin namespace
// ("proxy" since 3.8, the plugin's name before), each with meta
// (provider_name, request_model, response_model, llm_latency), usage
// (prompt_tokens, completion_tokens, cost, time_per_token) and cache
// (cache_status, vector_db, embeddings_provider, embeddings_model,
// fetch_latency, embeddings_latency). ai.payload (the bodies, when
// logged) is skipped unread.
func readAIStats(sc *scanner, a *arena, out []reqmetrics.AIUsage) []reqmetrics.AIUsage {
	for more := sc.enter('}'); more; more = sc.next('}') {
		if sc.field() == "payload" || sc.peek() != '{' || len(out) >= maxAIUsages {
			sc.skip()
			continue
		}
		u := reqmetrics.AIUsage{PromptTokens: -1, CompletionTokens: -1, Cost: -1,
			LLMLatencyMs: -1, TimePerTokenMs: -1, CacheFetchMs: -1, EmbeddingsMs: -1}
		found := false
		for more := sc.enter('}'); more; more = sc.next('}') {
			part := sc.field()
			if sc.peek() != '{' {
				sc.skip()
				continue
			}
			switch part {
			case "meta", "usage", "cache":
				found = true
				readAIPart(sc, a, &u)
			default:
				sc.skip()
			}
		}
		if found {
			out = append(out, u)
		}
	}
	return out
}

// readAIPart reads one of meta, usage and cache: their keys differ, so
// one reader serves the three.
func readAIPart(sc *scanner, a *arena, u *reqmetrics.AIUsage) {
	for more := sc.enter('}'); more; more = sc.next('}') {
		switch sc.field() {
		case "provider_name":
			u.Provider = sc.str(a)
		case "request_model":
			u.RequestModel = sc.str(a)
		case "response_model":
			u.ResponseModel = sc.str(a)
		case "llm_latency":
			u.LLMLatencyMs = optNum(sc)
		case "prompt_tokens":
			u.PromptTokens = int64(optNum(sc))
		case "completion_tokens":
			u.CompletionTokens = int64(optNum(sc))
		case "cost":
			u.Cost = optNum(sc)
		case "time_per_token":
			u.TimePerTokenMs = optNum(sc)
		case "cache_status":
			u.CacheStatus = sc.str(a)
		case "vector_db":
			u.VectorDB = sc.str(a)
		case "embeddings_provider":
			u.EmbeddingsProvider = sc.str(a)
		case "embeddings_model":
			u.EmbeddingsModel = sc.str(a)
		case "fetch_latency":
			u.CacheFetchMs = optNum(sc)
		case "embeddings_latency":
			u.EmbeddingsMs = optNum(sc)
		default:
			sc.skip()
		}
	}
}

// optNum reads a non-negative number; -1 for anything else (null, a
// string that is not a number, a negative value).
func optNum(sc *scanner) float64 {
	switch c := sc.peek(); {
	case c == '"' || c == '-' || c >= '0' && c <= '9':
		if v := sc.num(); v >= 0 {
			return v
		}
		return -1
	}
	sc.skip()
	return -1
}

package reqmetrics

import (
	"encoding/binary"
	"strings"

	"github.com/trace-exporter/trace-exporter/exporter"
)

// Families are the metric families an instance records, Kong's enable_*
// flags.
type Families uint8

const (
	// Requests: http.server.request.count, and http.server.request.duration.
	Requests Families = 1 << iota
	// Latency: kong.latency.total, .internal, .upstream, and
	// http.server.request.duration.
	Latency
	// Bandwidth: http.server.request.size and http.server.response.size.
	Bandwidth
	// AI: the gen_ai.* and kong.gen_ai.* metrics Kong's AI plugins feed.
	AI
)

// Request is what one logged request contributes: its attributes (bounded
// values only: names of Kong entities, a normalised method, a status, the
// route template) and its measurements. The caller fills the consumer
// only when its instance adds that attribute.
type Request struct {
	Service, Route, Workspace string
	Consumer                  string
	Method                    string // a known method or _OTHER
	Status                    int
	Source                    string // kong.response.source: upstream or kong
	HTTPRoute                 string // the route template the router matched
	Scheme                    string // url.scheme

	RequestBytes, ResponseBytes int64   // negative: not reported
	TotalMs, KongMs, UpstreamMs float64 // negative: not measured (no upstream)

	AI []AIUsage

	// TraceID and SpanID, when valid, are the trace exported for the
	// request and its SERVER span: histogram points keep them as exemplars.
	TraceID exporter.TraceID
	SpanID  exporter.SpanID
}

// AIUsage is one AI plugin's statistics of a request, as Kong's AI plugins
// put them in the serialize payload (ai.<plugin>.meta, .usage, .cache).
type AIUsage struct {
	Provider, RequestModel, ResponseModel                      string
	CacheStatus, VectorDB, EmbeddingsProvider, EmbeddingsModel string

	PromptTokens, CompletionTokens int64   // negative: not reported
	Cost                           float64 // negative: not reported
	// Milliseconds; negative: not reported. Kong reports 0 for an LLM
	// latency or time per token it did not measure (a cache hit).
	LLMLatencyMs, TimePerTokenMs, CacheFetchMs, EmbeddingsMs float64
}

// requestAttrs are a series' attribute values, every metric's attributes
// being a subset of them.
type requestAttrs struct {
	service, route, workspace, consumer, method, source, httpRoute, scheme string
	status                                                                 int
}

func attrsOf(r *Request) requestAttrs {
	return requestAttrs{r.Service, r.Route, r.Workspace, r.Consumer, r.Method, r.Source, r.HTTPRoute, r.Scheme, r.Status}
}

// appendKey appends the series key: every value length-prefixed, so no
// value can pass for two.
func (a *requestAttrs) appendKey(b []byte) []byte {
	for _, s := range [...]string{a.service, a.route, a.workspace, a.consumer, a.method, a.source, a.httpRoute, a.scheme} {
		b = binary.AppendUvarint(b, uint64(len(s)))
		b = append(b, s...)
	}
	return binary.AppendVarint(b, int64(a.status))
}

// clone copies the strings out of the payload they were parsed from, so
// a series does not keep a request's memory alive.
func (a requestAttrs) clone() requestAttrs {
	for _, s := range []*string{&a.service, &a.route, &a.workspace, &a.consumer, &a.method, &a.source, &a.httpRoute, &a.scheme} {
		*s = strings.Clone(*s)
	}
	return a
}

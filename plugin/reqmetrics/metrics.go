package reqmetrics

// The exported metrics. Names, units, instruments and attributes of Kong's
// request metrics follow Kong's opentelemetry plugin (3.13+), so Kong
// users' dashboards keep working; http.server.request.duration follows the
// HTTP semantic conventions; the AI metrics follow Kong's AI metrics and
// the GenAI semantic conventions' buckets.

// histSpec is a histogram fed by one or more histograms of a series (their
// points add up), with the series' layout (mapBucket nil) or coarser
// buckets.
type histSpec struct {
	name, unit, desc string
	attrs            []attrID
	hists            []int
	layout           *layout
	bounds           []float64     // exported bounds; nil: the layout's
	mapBucket        func(int) int // series bucket to exported bucket; nil: the same
}

func (h *histSpec) exportBounds() []float64 {
	if h.bounds != nil {
		return h.bounds
	}
	return h.layout.export
}

var (
	requestCountAttrs = []attrID{attrService, attrRoute, attrWorkspace, attrConsumer, attrMethod, attrKongStatus, attrSource}
	durationAttrs     = []attrID{attrMethod, attrHTTPStatus, attrHTTPRoute, attrScheme, attrErrorType, attrService, attrRoute}
	latencyAttrs      = []attrID{attrService, attrRoute, attrWorkspace}
	sizeAttrs         = []attrID{attrService, attrRoute, attrWorkspace, attrConsumer}

	genAIAttrs      = []attrID{attrProvider, attrRequestModel, attrResponseModel, attrWorkspace, attrConsumer}
	genAICacheAttrs = []attrID{attrProvider, attrRequestModel, attrResponseModel, attrCacheStatus, attrVectorDB,
		attrEmbeddingsProvider, attrEmbeddingsModel, attrWorkspace, attrConsumer}
)

const (
	requestCountName = "http.server.request.count"
	tokenUsageName   = "gen_ai.client.token.usage"
	costName         = "kong.gen_ai.llm.cost"
)

// requestCountDesc describes http.server.request.count (a monotonic Int
// sum, unit {request}, attributes requestCountAttrs).
const requestCountDesc = "Total number of incoming HTTP requests."

var httpHists = []histSpec{
	{name: "http.server.request.duration", unit: "s", desc: "Duration of HTTP server requests.",
		attrs: durationAttrs, hists: []int{hTotal, hDurationOnly}, layout: latencyLayout,
		bounds: durationBounds, mapBucket: durationBucket},
	{name: "kong.latency.total", unit: "s", desc: "Complete end-to-end duration of a request in seconds.",
		attrs: latencyAttrs, hists: []int{hTotal}, layout: latencyLayout},
	{name: "kong.latency.internal", unit: "s", desc: "Kong's internal processing time in seconds.",
		attrs: latencyAttrs, hists: []int{hInternal}, layout: latencyLayout},
	{name: "kong.latency.upstream", unit: "s", desc: "Upstream processing time in seconds.",
		attrs: latencyAttrs, hists: []int{hUpstream}, layout: latencyLayout},
	{name: "http.server.request.size", unit: "By", desc: "Size of each incoming HTTP request in bytes.",
		attrs: sizeAttrs, hists: []int{hRequestSize}, layout: sizeLayout},
	{name: "http.server.response.size", unit: "By", desc: "Total size of the HTTP response sent back to the client in bytes.",
		attrs: sizeAttrs, hists: []int{hResponseSize}, layout: sizeLayout},
}

var aiHists = []histSpec{
	{name: "gen_ai.client.operation.duration", unit: "s", desc: "Total time Kong spends processing a Gen AI operation.",
		attrs: genAIAttrs, hists: []int{aiOperation}, layout: genAIDurationLayout},
	{name: "gen_ai.server.request.duration", unit: "s", desc: "Time the LLM provider spends processing the request.",
		attrs: genAIAttrs, hists: []int{aiLLM}, layout: genAIDurationLayout},
	{name: "gen_ai.server.time_per_output_token", unit: "s", desc: "Time between successive output tokens.",
		attrs: genAIAttrs, hists: []int{aiTokenTime}, layout: genAITokenTimeLayout},
	{name: "kong.gen_ai.cache.fetch.latency", unit: "s", desc: "Time to fetch a response from the semantic cache.",
		attrs: genAICacheAttrs, hists: []int{aiCacheFetch}, layout: latencyLayout},
	{name: "kong.gen_ai.cache.embeddings.latency", unit: "s", desc: "Time to generate embeddings during cache operations.",
		attrs: genAICacheAttrs, hists: []int{aiCacheEmbeddings}, layout: latencyLayout},
}

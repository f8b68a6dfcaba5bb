package reqmetrics

import (
	"strconv"

	"github.com/trace-exporter/trace-exporter/exporter"
)

// attrID names an attribute a metric may carry.
type attrID uint8

const (
	attrService attrID = iota
	attrRoute
	attrWorkspace
	attrConsumer
	attrMethod
	attrKongStatus
	attrHTTPStatus
	attrSource
	attrHTTPRoute
	attrScheme
	attrErrorType
	attrProvider
	attrRequestModel
	attrResponseModel
	attrCacheStatus
	attrVectorDB
	attrEmbeddingsProvider
	attrEmbeddingsModel
)

var attrNames = [...]string{
	attrService:            "kong.service.name",
	attrRoute:              "kong.route.name",
	attrWorkspace:          "kong.workspace.name",
	attrConsumer:           "kong.auth.consumer.name",
	attrMethod:             "http.request.method",
	attrKongStatus:         "kong.response.status_code",
	attrHTTPStatus:         "http.response.status_code",
	attrSource:             "kong.response.source",
	attrHTTPRoute:          "http.route",
	attrScheme:             "url.scheme",
	attrErrorType:          "error.type",
	attrProvider:           "gen_ai.provider.name",
	attrRequestModel:       "gen_ai.request.model",
	attrResponseModel:      "gen_ai.response.model",
	attrCacheStatus:        "kong.gen_ai.cache.status",
	attrVectorDB:           "kong.gen_ai.vector_db",
	attrEmbeddingsProvider: "kong.gen_ai.embeddings.provider",
	attrEmbeddingsModel:    "kong.gen_ai.embeddings.model",
}

// overflowAttr is the only attribute of a metric's overflow point, as the
// OpenTelemetry SDK reports measurements beyond its cardinality limit.
var overflowAttr = exporter.Bool("otel.metric.overflow", true)

// attributed is a series' attribute values. An empty value is no attribute.
type attributed interface {
	attr(id attrID) (exporter.Attribute, bool)
}

func stringAttr(id attrID, v string) (exporter.Attribute, bool) {
	return exporter.String(attrNames[id], v), v != ""
}

func (a *requestAttrs) attr(id attrID) (exporter.Attribute, bool) {
	switch id {
	case attrService:
		return stringAttr(id, a.service)
	case attrRoute:
		return stringAttr(id, a.route)
	case attrWorkspace:
		return stringAttr(id, a.workspace)
	case attrConsumer:
		return stringAttr(id, a.consumer)
	case attrMethod:
		return stringAttr(id, a.method)
	case attrKongStatus, attrHTTPStatus:
		return exporter.Int(attrNames[id], int64(a.status)), a.status > 0
	case attrSource:
		return stringAttr(id, a.source)
	case attrHTTPRoute:
		return stringAttr(id, a.httpRoute)
	case attrScheme:
		return stringAttr(id, a.scheme)
	case attrErrorType:
		// As on the SERVER span: a server error is the gateway's, a 4xx
		// the client's.
		if a.status >= 500 {
			return exporter.String(attrNames[id], strconv.Itoa(a.status)), true
		}
	}
	return exporter.Attribute{}, false
}

func (a *aiAttrs) attr(id attrID) (exporter.Attribute, bool) {
	switch id {
	case attrProvider:
		return stringAttr(id, a.provider)
	case attrRequestModel:
		return stringAttr(id, a.requestModel)
	case attrResponseModel:
		return stringAttr(id, a.responseModel)
	case attrWorkspace:
		return stringAttr(id, a.workspace)
	case attrConsumer:
		return stringAttr(id, a.consumer)
	case attrCacheStatus:
		return stringAttr(id, a.cacheStatus)
	case attrVectorDB:
		return stringAttr(id, a.vectorDB)
	case attrEmbeddingsProvider:
		return stringAttr(id, a.embeddingsProvider)
	case attrEmbeddingsModel:
		return stringAttr(id, a.embeddingsModel)
	}
	return exporter.Attribute{}, false
}

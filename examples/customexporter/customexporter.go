// Package customexporter is the README's "Write your own exporter" example:
// a backend that POSTs each batch as JSON lines, and a span processor.
package customexporter

import (
	"context"
	"encoding/json"

	"github.com/trace-exporter/trace-exporter/exporter"
	"github.com/trace-exporter/trace-exporter/schema"
)

func init() {
	exporter.Register("ndjson", newNDJSON) // selected by config: exporter: ndjson
	exporter.RegisterProcessor("drop_health_checks", newDropHealthChecks)
}

type ndjson struct{ sender *exporter.HTTPSender }

func newNDJSON(cfg *schema.Config, set exporter.Settings) (exporter.Exporter, error) {
	// traces_endpoint, headers, tls_*, compression and timeouts come from the config.
	sender, err := exporter.NewHTTPSender(cfg, "application/x-ndjson", set)
	return &ndjson{sender}, err
}

func (e *ndjson) Export(ctx context.Context, batch exporter.Batch) error {
	var body []byte
	for _, s := range batch.Spans {
		line, _ := json.Marshal(map[string]any{"trace": s.TraceID.String(), "span": s.SpanID.String(),
			"name": s.Name, "ms": float64(s.EndUnixNano-s.StartUnixNano) / 1e6})
		body = append(append(body, line...), '\n')
	}
	// 2xx: done. 429, 502, 503, 504: retried with backoff. Others: dropped and counted.
	return e.sender.Send(ctx, body)
}

func (e *ndjson) Shutdown(context.Context) error { e.sender.Close(); return nil }

type dropHealthChecks struct{}

func newDropHealthChecks(*schema.Config) (exporter.SpanProcessor, error) {
	return dropHealthChecks{}, nil // return nil, nil to stay off for this config
}

// Process drops requests for /health and tags every other span.
func (dropHealthChecks) Process(spans []exporter.Span, _ *exporter.Request) []exporter.Span {
	for _, a := range spans[0].Attributes {
		if a.Key == "url.path" && a.Value.AsString() == "/health" {
			return nil
		}
	}
	for i := range spans {
		spans[i].Attributes = append(spans[i].Attributes, exporter.String("team", "payments"))
	}
	return spans
}

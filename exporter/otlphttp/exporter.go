// Package otlphttp is the OTLP/HTTP backend (exporter: otlp, protocol:
// http/protobuf or http/json): each batch is one POST of an
// ExportTraceServiceRequest to traces_endpoint, answered per the OTLP/HTTP
// specification.
package otlphttp

import (
	"context"

	"github.com/trace-exporter/trace-exporter/exporter"
	"github.com/trace-exporter/trace-exporter/exporter/internal/otlpenc"
)

// otlpHTTP sends batches through the HTTPSender every HTTP backend shares,
// and reads OTLP's partial-success answers.
type otlpHTTP struct {
	sender *exporter.HTTPSender
	json   bool
	warn   *exporter.ThrottledLog // partial success warnings (rejected_spans = 0 with a message)
}

// Export encodes the batch, POSTs it, and classifies the answer (see
// exporter.HTTPSender.Send and exporter.Exporter). The batcher's byte cap
// keeps protobuf requests far below OTLP's 64 MiB limit; the sender refuses
// (permanently) larger ones, e.g. JSON of pathological strings. Splitting
// would resend the half that succeeded if the other half failed and was
// retried.
func (e *otlpHTTP) Export(ctx context.Context, batch exporter.Batch) error {
	body := exporter.GetBuffer()
	if e.json {
		*body = otlpenc.AppendTracesJSON(*body, &batch)
	} else {
		*body = otlpenc.AppendTraces(*body, &batch)
	}
	respBody, err := e.sender.SendPooled(ctx, body)
	if err != nil || len(respBody) == 0 {
		return err
	}
	// OTLP answers in the request's content type.
	return otlpenc.DecodePartialSuccess(respBody, e.json, otlpenc.Traces).Result(e.warn)
}

// Shutdown closes idle connections; requests in flight are ended by their
// context.
func (e *otlpHTTP) Shutdown(context.Context) error {
	e.sender.Close()
	return nil
}

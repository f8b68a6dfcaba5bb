// Package otlphttp is the OTLP/HTTP backend (exporter: otlp, protocol:
// http/protobuf or http/json): each batch is one POST of an
// ExportTraceServiceRequest to traces_endpoint (of logs or metrics to
// theirs), answered per the OTLP/HTTP specification.
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
	return e.post(ctx, body, otlpenc.Traces)
}

// Shutdown closes idle connections; requests in flight are ended by their
// context.
func (e *otlpHTTP) Shutdown(context.Context) error {
	e.sender.Close()
	return nil
}

// ExportLogs POSTs an ExportLogsServiceRequest (the config's endpoint is
// the logs endpoint for a logs pipeline), answered as Export is.
func (e *otlpHTTP) ExportLogs(ctx context.Context, batch exporter.LogBatch) error {
	body := exporter.GetBuffer()
	if e.json {
		*body = otlpenc.AppendLogsJSON(*body, &batch)
	} else {
		*body = otlpenc.AppendLogs(*body, &batch)
	}
	return e.post(ctx, body, otlpenc.Logs)
}

// ExportMetrics POSTs an ExportMetricsServiceRequest, answered as Export is.
func (e *otlpHTTP) ExportMetrics(ctx context.Context, batch exporter.MetricsBatch) error {
	body := exporter.GetBuffer()
	if e.json {
		*body = otlpenc.AppendMetricsJSON(*body, &batch)
	} else {
		*body = otlpenc.AppendMetrics(*body, &batch)
	}
	return e.post(ctx, body, otlpenc.Metrics)
}

// post sends an encoded request and reads OTLP's partial success, which
// comes in the request's content type.
func (e *otlpHTTP) post(ctx context.Context, body *[]byte, sig otlpenc.Signal) error {
	respBody, err := e.sender.SendPooled(ctx, body)
	if err != nil || len(respBody) == 0 {
		return err
	}
	return otlpenc.DecodePartialSuccess(respBody, e.json, sig).Result(e.warn)
}

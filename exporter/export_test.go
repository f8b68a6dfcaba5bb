package exporter

import (
	"github.com/trace-exporter/trace-exporter/exporter/internal/spool"
	"github.com/trace-exporter/trace-exporter/schema"
)

// Internals the external tests (package exporter_test) reach.
var (
	EstimateSpanBytes = func(s *Span) int { return estimateSpanBytes(s) }
	MaxBatchBytes     = maxBatchBytes
)

// EncodeSpanRecord and DecodeSpanRecord are the spool's record of spans.
func EncodeSpanRecord(dst []byte, spans []Span) []byte {
	return spool.EncodeRecord(dst, spans, spanCodec{})
}

func DecodeSpanRecord(dst []Span, rec []byte) ([]Span, error) {
	return spool.DecodeRecord(dst, rec, spanCodec{})
}

// PipelineOf is the handle's current pipeline, compared by identity.
func PipelineOf(h *Handle) any { return h.pipe.Load() }

// SpoolFileID is the spool file name (without .spool) of cfg's traces
// pipeline.
func SpoolFileID(cfg *schema.Config) string {
	key, err := pipelineKey(traces.name, cfg)
	if err != nil {
		panic(err)
	}
	return spoolFileID(key)
}

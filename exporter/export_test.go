package exporter

import (
	"context"
	"log/slog"

	"github.com/trace-exporter/trace-exporter/schema"
)

// Internals the external tests (package exporter_test) reach.
var (
	EstimateSpanBytes = func(s *Span) int { return estimateSpanBytes(s) }
	MaxBatchBytes     = maxBatchBytes
	EncodeRecord      = encodeRecord
	DecodeRecord      = decodeRecord
	RecordSpanCount   = recordSpanCount
)

const SpoolRecordVersion = spoolRecordVersion

// PipelineOf is the handle's current pipeline, compared by identity.
func PipelineOf(h *Handle) any { return h.pipe.Load() }

// OpenSpoolForBench opens a spool in dir and returns its append and close.
func OpenSpoolForBench(dir string, noSync bool) (func([]Span) error, func()) {
	s := newSpool(dir, "bench", "bench", 1<<40, slog.New(slog.DiscardHandler))
	s.noSync = noSync
	ctx, cancel := context.WithCancel(context.Background())
	go s.openLoop(ctx, func(spoolOpened) {})
	<-s.ready()
	var buf []byte
	return func(spans []Span) error { _, err := s.append(spans, buf); return err },
		func() { cancel(); _ = s.close() }
}

// SpoolFileID is the spool file name (without .spool) of cfg's pipeline.
func SpoolFileID(cfg *schema.Config) string {
	key, err := pipelineKey(cfg)
	if err != nil {
		panic(err)
	}
	return spoolFileID(key)
}

package exporter

import (
	"log/slog"
	"time"

	"github.com/trace-exporter/trace-exporter/exporter/internal/throttle"
)

// ThrottledLog logs one kind of problem at most once per interval; the
// occurrences in between are counted and reported with the next line (or by
// Flush), so a dead backend costs one log line per interval, not one per
// batch or span.
type ThrottledLog = throttle.Log

// NewThrottledLog returns a log of one problem kind, msg at level, at most
// once per interval: for warnings that may repeat with every batch. A nil
// logger discards.
func NewThrottledLog(logger *slog.Logger, level slog.Level, msg string, interval time.Duration) *ThrottledLog {
	return throttle.New(logger, level, msg, interval)
}

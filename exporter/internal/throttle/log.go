// Package throttle logs a repeating problem at most once per interval.
package throttle

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// Log logs one kind of problem at most once per interval; the
// occurrences in between are counted and reported with the next line (or by
// Flush), so a dead backend costs one log line per interval, not one per
// batch or span.
type Log struct {
	logger   *slog.Logger
	level    slog.Level
	msg      string
	interval time.Duration

	mu         sync.Mutex
	last       time.Time
	suppressed int
	lastAttrs  []slog.Attr
}

// New returns a log of one problem kind, msg at level, at most
// once per interval: for warnings that may repeat with every batch. A nil
// logger discards.
func New(logger *slog.Logger, level slog.Level, msg string, interval time.Duration) *Log {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Log{logger: logger, level: level, msg: msg, interval: interval}
}

// Log records one occurrence, described by attrs.
func (t *Log) Log(attrs ...slog.Attr) {
	t.mu.Lock()
	now := time.Now()
	if !t.last.IsZero() && now.Sub(t.last) < t.interval {
		t.suppressed++
		t.lastAttrs = attrs
		t.mu.Unlock()
		return
	}
	suppressed := t.suppressed
	t.last, t.suppressed, t.lastAttrs = now, 0, nil
	t.mu.Unlock()
	if suppressed > 0 {
		attrs = append(attrs, slog.Int("occurrences_not_logged", suppressed))
	}
	t.logger.LogAttrs(context.Background(), t.level, t.msg, attrs...)
}

// Flush logs the occurrences not logged yet, if any.
func (t *Log) Flush() {
	t.mu.Lock()
	suppressed, attrs := t.suppressed, t.lastAttrs
	t.suppressed, t.lastAttrs = 0, nil
	t.mu.Unlock()
	if suppressed > 0 {
		attrs = append(attrs, slog.Int("occurrences_not_logged", suppressed))
		t.logger.LogAttrs(context.Background(), t.level, t.msg+" (summary)", attrs...)
	}
}

package exporter

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// throttledLog logs one kind of problem at most once per interval; the
// occurrences in between are counted and reported with the next line (or by
// flush), so a dead backend costs one log line per interval, not one per
// batch or span.
type throttledLog struct {
	logger   *slog.Logger
	level    slog.Level
	msg      string
	interval time.Duration

	mu         sync.Mutex
	last       time.Time
	suppressed int
	lastAttrs  []slog.Attr
}

func newThrottledLog(logger *slog.Logger, level slog.Level, msg string, interval time.Duration) *throttledLog {
	return &throttledLog{logger: logger, level: level, msg: msg, interval: interval}
}

// log records one occurrence, described by attrs.
func (t *throttledLog) log(attrs ...slog.Attr) {
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

// flush logs the occurrences not logged yet, if any.
func (t *throttledLog) flush() {
	t.mu.Lock()
	suppressed, attrs := t.suppressed, t.lastAttrs
	t.suppressed, t.lastAttrs = 0, nil
	t.mu.Unlock()
	if suppressed > 0 {
		attrs = append(attrs, slog.Int("occurrences_not_logged", suppressed))
		t.logger.LogAttrs(context.Background(), t.level, t.msg+" (summary)", attrs...)
	}
}

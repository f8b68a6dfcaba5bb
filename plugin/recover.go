package plugin

import (
	"log/slog"
	"runtime/debug"
	"sync/atomic"
	"time"
)

// recoverHandler ends a handler that panicked as if it had returned: go-pdk
// recovers nothing, and a dead plugin server fails every Kong request that
// uses it. PDK calls are whole round trips, so a panic in our code between
// calls leaves the connection in step and go-pdk can finish the event
// normally. The stack is logged at most once a minute.
func recoverHandler(phase string) {
	r := recover()
	if r == nil {
		return
	}
	Counters.Panics.Add(1)
	now := time.Now().Unix()
	last := lastPanicLog.Load()
	if now-last >= 60 && lastPanicLog.CompareAndSwap(last, now) {
		slog.Error("recovered panic in handler; the request's spans are lost",
			"phase", phase, "panic", r, "panics_total", Counters.Panics.Load(), "stack", string(debug.Stack()))
	}
}

var lastPanicLog atomic.Int64

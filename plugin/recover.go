package plugin

import (
	"log/slog"
	"runtime/debug"
	"time"
)

// recoverHandler ends a handler that panicked as if it had returned: go-pdk
// recovers nothing, and a dead plugin server fails every Kong request that
// uses it. PDK calls are whole round trips, so a panic in our code between
// calls leaves the connection in step and go-pdk can finish the event
// normally. The stack is logged at most once a minute per Env. It must be
// deferred directly (recover works only there).
func (p *Plugin) recoverHandler(phase string) {
	r := recover()
	if r == nil {
		return
	}
	p.environment().panicked(phase, r)
}

func (env *Env) panicked(phase string, r any) {
	env.Stats.Panics.Add(1)
	now := time.Now().Unix()
	last := env.lastPanicLog.Load()
	if now-last >= 60 && env.lastPanicLog.CompareAndSwap(last, now) {
		slog.Error("recovered panic in handler; the request's spans are lost",
			"phase", phase, "panic", r, "panics_total", env.Stats.Panics.Load(), "stack", string(debug.Stack()))
	}
}

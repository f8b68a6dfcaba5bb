package kongsim

import (
	"errors"
	"fmt"
	"maps"
	"time"
)

// RunPhase runs a live phase ("rewrite", "access" or "response") of plugin
// p against x, serving its PDK calls from the live request. A plugin
// without a handler for the phase is not called (Kong only calls the phases
// the dump listed) and the result has no calls.
func (s *Sim) RunPhase(p *Plugin, phase string, x *Exchange) *EventResult {
	if phase == "log" {
		panic("kongsim: use RunLog for the log phase")
	}
	return s.runEvent(p, &pdkState{sim: s, phase: phase, x: x})
}

// RunLog runs plugin p's log handler from saved data, as Kong's log timer
// does: only the saved request/response data and the calls that work in a
// timer are answered; every other call closes the connection and is
// recorded as a violation. It returns when the event is over. For a load
// benchmark a LogData with only Serialize set is enough.
func (s *Sim) RunLog(p *Plugin, d *LogData) *EventResult {
	return s.runEvent(p, &pdkState{sim: s, phase: "log", saved: d})
}

func (s *Sim) runEvent(p *Plugin, st *pdkState) *EventResult {
	res := &EventResult{Phase: st.phase}
	st.res = res
	if !s.info.HasPhase(st.phase) {
		return res
	}
	for attempt := 1; ; attempt++ {
		res.Attempts = attempt
		id, err := s.instanceID(p)
		if err != nil {
			res.Err = fmt.Errorf("starting instance: %w", err)
			return res
		}
		err = s.rpc.handleEvent(id, st.phase, st.serve)
		switch {
		case err == nil, errors.Is(err, errAborted):
			return res
		case errors.Is(err, errClosed) && attempt < s.maxAttempts:
			// Kong: the plugin server lost the instance or died; forget every
			// instance and run the event again, starting it anew.
			s.log.Warn("plugin server connection closed; resetting instances and retrying",
				"plugin", p.Name, "phase", st.phase, "attempt", attempt)
			s.resetInstances()
		default:
			if s.version.AtLeast(8) {
				res.Err = fmt.Errorf("pluginserver error: %w", err)
			} else {
				res.Err = err
			}
			return res
		}
	}
}

// SaveLogData snapshots what Kong saves for a Go log handler at the end of
// the request: the serialize JSON (as cjson encodes it for this version),
// a shallow clone of ngx.ctx, kong.ctx.shared, headers, status and start
// time. Call it after the response is complete.
func (s *Sim) SaveLogData(x *Exchange) (*LogData, error) {
	if _, ok := x.Ctx["KONG_LOG_START"]; !ok {
		x.setCtx("KONG_LOG_START", msOf(time.Now()))
	}
	ser, err := EncodeLuaJSON(x.Serialize(s.version), s.version.jsonPrecision())
	if err != nil {
		return nil, fmt.Errorf("kong.log.serialize: %w", err)
	}
	return &LogData{
		Serialize:       ser,
		Ctx:             maps.Clone(x.Ctx),
		Shared:          x.Shared,
		RequestHeaders:  x.Headers.Clone(),
		ResponseHeaders: x.ResponseHeaders.Clone(),
		Status:          x.Status,
		StartTime:       float64(x.Start.UnixMilli()) / 1000,
		Route:           x.Route,
		Service:         x.Service,
		Consumer:        x.Consumer,
		Credential:      x.Credential,
		Buffered:        x.Buffered,
		Source:          x.responseSource(),
		URICaptures:     x.URICaptures,
		NamedCaptures:   x.NamedCaptures,
	}, nil
}

package kongsim

// RequestRecord is what the gateway observed for one request: each plugin
// event with its PDK calls, violations and log messages.
type RequestRecord struct {
	ID     string // request id, also sent as X-Kong-Request-Id (3.5+)
	Seq    int    // arrival order, from 1
	Method string
	URI    string
	Route  string // matched route name (or id), "" when no route matched
	Status int    // status sent to the client
	Done   bool   // the request and its log phase are finished
	Events []*EventResult
	// Serialize is the kong.log.serialize JSON saved for the log phase.
	Serialize []byte
	// PluginID is the plugin entity whose log handler ran.
	PluginID string
}

func (r *RequestRecord) setRoute(rt *Route) {
	r.Route = rt.Name
	if r.Route == "" {
		r.Route = rt.ID
	}
}

// Event returns the event of phase, or nil when the plugin did not run it.
func (r *RequestRecord) Event(phase string) *EventResult {
	for _, e := range r.Events {
		if e.Phase == phase {
			return e
		}
	}
	return nil
}

// Calls returns the PDK method names called in phase, in order (nil when
// the phase did not run).
func (r *RequestRecord) Calls(phase string) []string {
	if e := r.Event(phase); e != nil {
		return e.Calls
	}
	return nil
}

// Violations returns every violation of every phase.
func (r *RequestRecord) Violations() []Violation {
	var out []Violation
	for _, e := range r.Events {
		out = append(out, e.Violations...)
	}
	return out
}

func (r *RequestRecord) clone() *RequestRecord {
	c := *r
	c.Events = append([]*EventResult(nil), r.Events...)
	return &c
}

// Records returns the kept request records in arrival order (copies; call
// WaitIdle first to see finished log phases).
func (g *Gateway) Records() []*RequestRecord {
	g.recMu.Lock()
	defer g.recMu.Unlock()
	out := make([]*RequestRecord, len(g.records))
	for i, r := range g.records {
		out[i] = r.clone()
	}
	return out
}

// Record returns the record of request id (the X-Kong-Request-Id), or nil.
func (g *Gateway) Record(id string) *RequestRecord {
	g.recMu.Lock()
	defer g.recMu.Unlock()
	if r := g.byID[id]; r != nil {
		return r.clone()
	}
	return nil
}

// Violations returns every violation recorded in the kept records.
func (g *Gateway) Violations() []Violation {
	g.recMu.Lock()
	defer g.recMu.Unlock()
	var out []Violation
	for _, r := range g.records {
		out = append(out, r.Violations()...)
	}
	return out
}

// ResetRecords forgets the records kept so far.
func (g *Gateway) ResetRecords() {
	g.recMu.Lock()
	defer g.recMu.Unlock()
	g.records, g.byID = nil, map[string]*RequestRecord{}
}

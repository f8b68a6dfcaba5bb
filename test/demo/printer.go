package main

import (
	"context"
	"strings"
	"sync"
	"time"

	"github.com/trace-exporter/trace-exporter/test/jaegertest"
	"github.com/trace-exporter/trace-exporter/test/waterfall"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
)

// printer prints each trace once as a waterfall: from spans pushed by the
// OTLP receiver (grouped per trace id, printed once none arrived for a
// while), or from traces polled from Jaeger's query API (printed once their
// span count stopped changing).
type printer struct {
	d     *demo
	ascii bool

	mu        sync.Mutex
	pending   map[string]*pendingTrace // sink: trace id → spans so far
	order     []string                 // sink: pending trace ids, first arrival first
	printedN  map[string]int           // trace id → span count when printed
	labels    map[string]string        // kong.request.id → sample label
	printedRq map[string]bool          // kong.request.id values printed
	changed   chan struct{}            // closed and replaced after each print
}

type pendingTrace struct {
	spans []waterfall.Span
	last  time.Time
}

func newPrinter(d *demo, ascii bool) *printer {
	return &printer{d: d, ascii: ascii, pending: map[string]*pendingTrace{}, printedN: map[string]int{},
		labels: map[string]string{}, printedRq: map[string]bool{}, changed: make(chan struct{})}
}

// addOTLP takes the spans of one OTLP export.
func (p *printer) addOTLP(rs []*tracepb.ResourceSpans) {
	now := time.Now()
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, tr := range waterfall.FromOTLP(rs) {
		pt := p.pending[tr.TraceID]
		if pt == nil {
			pt = &pendingTrace{}
			p.pending[tr.TraceID] = pt
			p.order = append(p.order, tr.TraceID)
		}
		pt.spans = append(pt.spans, tr.Spans...)
		pt.last = now
	}
}

// printQuiet prints pending traces once they had no new span for quiet;
// when ctx ends it prints whatever is left.
func (p *printer) printQuiet(ctx context.Context, quiet time.Duration) {
	tick := time.NewTicker(max(quiet/4, 20*time.Millisecond))
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			p.flushPending(0)
			return
		case <-tick.C:
			p.flushPending(quiet)
		}
	}
}

func (p *printer) flushPending(quiet time.Duration) {
	now := time.Now()
	var ready []waterfall.Trace
	p.mu.Lock()
	keep := p.order[:0]
	for _, id := range p.order {
		pt := p.pending[id]
		if now.Sub(pt.last) >= quiet {
			ready = append(ready, waterfall.Trace{TraceID: id, Spans: pt.spans})
			delete(p.pending, id)
		} else {
			keep = append(keep, id)
		}
	}
	p.order = keep
	p.mu.Unlock()
	for _, tr := range ready {
		p.print(tr)
	}
}

// pollJaeger reads service's traces from Jaeger and prints each new one
// once two polls in a row saw the same number of spans; when ctx ends it
// polls once more and prints what is left.
func (p *printer) pollJaeger(ctx context.Context, c *jaegertest.Client, service string) {
	seen := map[string]int{} // span count at the previous poll
	poll := func(final bool) {
		qctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		traces, err := c.FindTraces(qctx, service, 200)
		if err != nil {
			return // not known yet (no span stored) or a transient error
		}
		for i := len(traces) - 1; i >= 0; i-- { // Jaeger answers newest first
			tr := traces[i]
			n := len(tr.Spans)
			p.mu.Lock()
			done := p.printedN[tr.TraceID] == n
			p.mu.Unlock()
			if !done && (seen[tr.TraceID] == n || final) {
				p.print(tr.Waterfall())
			}
			seen[tr.TraceID] = n
		}
	}
	tick := time.NewTicker(400 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			poll(true)
			return
		case <-tick.C:
			poll(false)
		}
	}
}

// print writes one trace, headed by its sample label when it is one.
func (p *printer) print(tr waterfall.Trace) {
	var reqIDs []string
	label := ""
	for _, s := range tr.Spans {
		if id := s.Attributes["kong.request.id"]; id != "" {
			reqIDs = append(reqIDs, id)
			p.mu.Lock()
			if l := p.labels[id]; l != "" {
				label = l
			}
			p.mu.Unlock()
		}
	}
	var b strings.Builder
	if label != "" {
		b.WriteString("-- " + label + " --\n")
	}
	b.WriteString(waterfall.String(tr, waterfall.Options{ASCII: p.ascii}))
	b.WriteString("\n")
	p.d.say("%s", b.String())

	p.mu.Lock()
	p.printedN[tr.TraceID] = len(tr.Spans)
	for _, id := range reqIDs {
		p.printedRq[id] = true
	}
	close(p.changed)
	p.changed = make(chan struct{})
	p.mu.Unlock()
}

// expect labels the trace of Kong request id when it is printed.
func (p *printer) expect(requestID, label string) {
	p.mu.Lock()
	p.labels[requestID] = label
	p.mu.Unlock()
}

// waitPrinted waits until the traces of every request id were printed and
// returns the ids still missing when ctx ends.
func (p *printer) waitPrinted(ctx context.Context, requestIDs []string) []string {
	for {
		p.mu.Lock()
		var missing []string
		for _, id := range requestIDs {
			if !p.printedRq[id] {
				missing = append(missing, id)
			}
		}
		ch := p.changed
		p.mu.Unlock()
		if len(missing) == 0 {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return missing
		}
	}
}

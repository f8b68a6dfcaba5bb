package plugin

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/trace-exporter/trace-exporter/exporter"
	"github.com/trace-exporter/trace-exporter/schema"
	"github.com/trace-exporter/trace-exporter/test/semconv"
)

// toSemconv is the span as the conformance check reads it.
func toSemconv(s exporter.Span) semconv.Span {
	out := semconv.Span{Name: s.Name, Error: s.Status == exporter.StatusError, Attrs: map[string]any{}}
	switch s.Kind {
	case exporter.KindServer:
		out.Kind = "server"
	case exporter.KindClient:
		out.Kind = "client"
	}
	for _, a := range s.Attributes {
		switch a.Value.Type {
		case exporter.TypeString:
			out.Attrs[a.Key] = a.Value.AsString()
		case exporter.TypeInt:
			out.Attrs[a.Key] = a.Value.AsInt()
		case exporter.TypeStringSlice:
			out.Attrs[a.Key] = a.Value.AsStringSlice()
		default:
			out.Attrs[a.Key] = a.Value.AsFloat()
		}
	}
	return out
}

// Every span built from every Kong fixture (3.3 to 3.9, proxied, retried,
// buffered, TLS, no route, a plugin's exit, an upstream 500), and from
// variants of them (an unknown method, tries that got no response or a bad
// status), passes the check written from the conventions' tables.
func TestSpansConformToHTTPConventions(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "serialize", "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no fixtures: %v", err)
	}
	known := schema.Defaults().HTTPKnownMethods
	variants := map[string]func(*logEntry){
		"as recorded":    func(*logEntry) {},
		"unknown method": func(e *logEntry) { e.method = "PROPFIND" },
		"timeouts": func(e *logEntry) {
			for i := range e.tries {
				e.tries[i].state, e.tries[i].code = "failed", 504
			}
		},
		"bad statuses": func(e *logEntry) {
			for i := range e.tries {
				e.tries[i].state, e.tries[i].code = "next", 503
			}
		},
	}
	checked := map[string]int{}
	for _, f := range files {
		name := filepath.Base(f)
		if strings.HasPrefix(name, "stream") {
			continue // not HTTP: no spans
		}
		for vname, change := range variants {
			a := newArena(64)
			e, err := parseSerialized(fixture(t, name), &parseWants{handoffKey: handoffKey}, &a)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			ids := traceIDs{trace: exporter.TraceID{1}, root: exporter.SpanID{2}, upstream: exporter.SpanID{3}}
			change(e)
			for _, s := range buildSpans(e, &ids, testOptions(), &a) {
				sc := toSemconv(s)
				checked[sc.Kind]++
				for _, p := range semconv.Check(sc, known) {
					t.Errorf("%s (%s): %s", name, vname, p)
				}
			}
		}
	}
	if checked["server"] == 0 || checked["client"] == 0 {
		t.Fatalf("checked %v: both kinds must be covered", checked)
	}
}

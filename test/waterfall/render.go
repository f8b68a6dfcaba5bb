// Package waterfall renders a trace as a text waterfall: one line per span,
// indented under its parent, with kind, name, duration, a bar placed and
// scaled on the trace's time line, and a few key attributes.
//
//	trace aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa  service=kong  spans=3  duration=10.00ms
//	server GET /retry    10.00ms │████████████████████████████████████████│ status=200 route=/retry
//	├─ client GET echo    1.50ms │  ██████                                │ peer=127.0.0.1:9 try=1 state=failed error="connection refused"
//	└─ client GET echo    7.00ms │        ████████████████████████████    │ status=200 peer=127.0.0.1:8080 try=2
//
// Output depends only on the input (children ordered by start time, then
// span id), so it can be golden-tested.
package waterfall

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"time"
	"unicode/utf8"
)

// Options tune the rendering. The zero value uses the defaults.
type Options struct {
	// BarWidth is the bar's width in columns (default 40).
	BarWidth int
	// NameWidth caps the tree+kind+name column (default 60); longer names
	// are cut with an ellipsis.
	NameWidth int
	// ASCII draws with ASCII only (no box-drawing characters, "us" for µs).
	ASCII bool
	// Fields are printed after the bar, in order, when not empty;
	// nil means DefaultFields.
	Fields []Field
}

// Field is one "label=value" shown after the bar.
type Field struct {
	Label string
	Value func(s *Span) string // "" hides the field for that span
}

// Attr shows the first of keys that the span has.
func Attr(label string, keys ...string) Field {
	return Field{Label: label, Value: func(s *Span) string {
		for _, k := range keys {
			if v, ok := s.Attributes[k]; ok && v != "" {
				return v
			}
		}
		return ""
	}}
}

// DefaultFields show what matters for a gateway trace: the HTTP status,
// the matched route, the upstream peer of a balancer try, the try number
// and its state, who answered, and why a span failed.
var DefaultFields = []Field{
	Attr("status", "http.response.status_code", "http.status_code"),
	Attr("route", "http.route"),
	{Label: "peer", Value: peer},
	Attr("try", "kong.balancer.try"),
	Attr("state", "kong.balancer.state"),
	Attr("source", "kong.response.source"),
	{Label: "error", Value: errorText},
}

func peer(s *Span) string {
	if host := s.Attributes["network.peer.address"]; host != "" {
		return joinHostPort(host, s.Attributes["network.peer.port"])
	}
	// On a server span server.address is the gateway itself: not a peer.
	if host := s.Attributes["server.address"]; host != "" && s.Kind == "client" {
		return joinHostPort(host, s.Attributes["server.port"])
	}
	return ""
}

func joinHostPort(host, port string) string {
	if strings.Contains(host, ":") { // IPv6
		host = "[" + host + "]"
	}
	if port == "" {
		return host
	}
	return host + ":" + port
}

func errorText(s *Span) string {
	if !s.Error {
		return ""
	}
	switch {
	case s.StatusMessage != "":
		return s.StatusMessage
	case s.Attributes["error.type"] != "":
		return s.Attributes["error.type"]
	}
	return "true"
}

type glyphs struct {
	full, empty, edge string
	mid, last         string // connectors before a child
	pipe, blank       string // continuation under an ancestor
	micro             string
	ellipsis          string
}

var (
	unicodeGlyphs = glyphs{full: "█", empty: " ", edge: "│", mid: "├─ ", last: "└─ ", pipe: "│  ", blank: "   ", micro: "µs", ellipsis: "…"}
	asciiGlyphs   = glyphs{full: "#", empty: " ", edge: "|", mid: "|- ", last: "`- ", pipe: "|  ", blank: "   ", micro: "us", ellipsis: "~"}
)

// String renders a trace to a string.
func String(tr Trace, opts Options) string {
	var b strings.Builder
	Render(&b, tr, opts)
	return b.String()
}

// Render writes the waterfall of one trace.
func Render(w io.Writer, tr Trace, opts Options) error {
	if opts.BarWidth <= 0 {
		opts.BarWidth = 40
	}
	if opts.NameWidth <= 0 {
		opts.NameWidth = 60
	}
	if opts.Fields == nil {
		opts.Fields = DefaultFields
	}
	g := unicodeGlyphs
	if opts.ASCII {
		g = asciiGlyphs
	}

	lines := layout(tr.Spans, g)
	t0, t1 := timeRange(tr.Spans)

	var b strings.Builder
	fmt.Fprintf(&b, "trace %s", tr.TraceID)
	if svc := services(tr.Spans); svc != "" {
		fmt.Fprintf(&b, "  service=%s", svc)
	}
	fmt.Fprintf(&b, "  spans=%d  duration=%s\n", len(tr.Spans), formatDuration(t1.Sub(t0), g))

	nameWidth := 0
	for i := range lines {
		lines[i].label = truncate(lines[i].label, opts.NameWidth, g)
		nameWidth = max(nameWidth, utf8.RuneCountInString(lines[i].label))
	}
	for _, l := range lines {
		s := l.span
		b.WriteString(l.label)
		b.WriteString(strings.Repeat(" ", nameWidth-utf8.RuneCountInString(l.label)))
		fmt.Fprintf(&b, " %9s ", formatDuration(spanDuration(s), g))
		b.WriteString(g.edge)
		b.WriteString(bar(s, t0, t1, opts.BarWidth, g))
		b.WriteString(g.edge)
		for _, f := range opts.Fields {
			if v := f.Value(s); v != "" {
				fmt.Fprintf(&b, " %s=%s", f.Label, quoteIfNeeded(v))
			}
		}
		if l.remoteParent != "" {
			fmt.Fprintf(&b, " parent=%s", l.remoteParent)
		}
		b.WriteString("\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}

type line struct {
	span         *Span
	label        string
	remoteParent string // parent id not in this trace (continued from elsewhere)
}

// layout orders spans depth-first from the roots and builds each label
// (tree connectors, kind, name). Spans caught in a parent cycle, which no
// root reaches, are laid out afterwards as roots so none is lost.
func layout(spans []Span, g glyphs) []line {
	byID := map[string]int{}
	for i := range spans {
		if _, dup := byID[spans[i].SpanID]; !dup {
			byID[spans[i].SpanID] = i
		}
	}
	children := map[string][]int{}
	var roots []int
	for i := range spans {
		p := spans[i].ParentID
		if _, ok := byID[p]; p != "" && ok && p != spans[i].SpanID {
			children[p] = append(children[p], i)
		} else {
			roots = append(roots, i)
		}
	}
	order := func(idx []int) {
		sort.SliceStable(idx, func(a, b int) bool {
			sa, sb := &spans[idx[a]], &spans[idx[b]]
			if !sa.Start.Equal(sb.Start) {
				return sa.Start.Before(sb.Start)
			}
			return sa.SpanID < sb.SpanID
		})
	}
	order(roots)
	for _, kids := range children {
		order(kids)
	}

	var out []line
	visited := make([]bool, len(spans))
	var walk func(i int, prefix, connector string)
	walk = func(i int, prefix, connector string) {
		visited[i] = true
		s := &spans[i]
		l := line{span: s, label: prefix + connector + kindLabel(s.Kind) + s.Name}
		if _, ok := byID[s.ParentID]; s.ParentID != "" && (!ok || s.ParentID == s.SpanID) {
			l.remoteParent = s.ParentID
		}
		out = append(out, l)
		childPrefix := prefix
		switch connector {
		case g.mid:
			childPrefix += g.pipe
		case g.last:
			childPrefix += g.blank
		}
		kids := make([]int, 0, len(children[s.SpanID]))
		for _, k := range children[s.SpanID] {
			if !visited[k] {
				kids = append(kids, k)
			}
		}
		for n, k := range kids {
			if visited[k] { // reached through a sibling's subtree meanwhile
				continue
			}
			c := g.mid
			if n == len(kids)-1 {
				c = g.last
			}
			walk(k, childPrefix, c)
		}
	}
	for _, r := range roots {
		walk(r, "", "")
	}
	var rest []int
	for i := range spans {
		if !visited[i] {
			rest = append(rest, i)
		}
	}
	order(rest)
	for _, i := range rest {
		if !visited[i] {
			walk(i, "", "")
		}
	}
	return out
}

func kindLabel(kind string) string {
	if kind == "" {
		return ""
	}
	return kind + " "
}

func timeRange(spans []Span) (time.Time, time.Time) {
	var t0, t1 time.Time
	for i, s := range spans {
		end := s.End
		if end.Before(s.Start) {
			end = s.Start
		}
		if i == 0 || s.Start.Before(t0) {
			t0 = s.Start
		}
		if i == 0 || end.After(t1) {
			t1 = end
		}
	}
	return t0, t1
}

func spanDuration(s *Span) time.Duration {
	if s.End.Before(s.Start) {
		return 0
	}
	return s.End.Sub(s.Start)
}

// bar places the span on the trace's time line: the first column covers
// its start, the last its end, and every span shows at least one column.
func bar(s *Span, t0, t1 time.Time, width int, g glyphs) string {
	total := t1.Sub(t0)
	from, to := 0, width
	if total > 0 {
		off := s.Start.Sub(t0)
		end := off + spanDuration(s)
		from = int(int64(off) * int64(width) / int64(total))
		to = int((int64(end)*int64(width) + int64(total) - 1) / int64(total))
		from = min(max(from, 0), width-1)
		to = min(max(to, from+1), width)
	}
	return strings.Repeat(g.empty, from) + strings.Repeat(g.full, to-from) + strings.Repeat(g.empty, width-to)
}

// formatDuration is fixed-format so golden files stay stable: whole
// microseconds below 1 ms, two decimals of ms below 1 s, then seconds.
func formatDuration(d time.Duration, g glyphs) string {
	switch {
	case d < time.Millisecond:
		return fmt.Sprintf("%d%s", d/time.Microsecond, g.micro)
	case d < time.Second:
		return fmt.Sprintf("%.2fms", float64(d)/float64(time.Millisecond))
	}
	return fmt.Sprintf("%.3fs", d.Seconds())
}

func services(spans []Span) string {
	seen := map[string]bool{}
	var names []string
	for _, s := range spans {
		if s.Service != "" && !seen[s.Service] {
			seen[s.Service] = true
			names = append(names, s.Service)
		}
	}
	sort.Strings(names)
	return strings.Join(names, ",")
}

func truncate(s string, width int, g glyphs) string {
	if utf8.RuneCountInString(s) <= width {
		return s
	}
	r := []rune(s)
	return string(r[:width-1]) + g.ellipsis
}

// quoteIfNeeded keeps "key=value" parseable by eye when a value has spaces.
func quoteIfNeeded(v string) string {
	if strings.ContainsAny(v, " \t\n\"=") {
		return fmt.Sprintf("%q", v)
	}
	return v
}

package jaegertest

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// Trace is one trace as Jaeger's query API (/api/traces) returns it, with
// each span's process resolved and ids normalised to full-width hex.
type Trace struct {
	TraceID  string // 32 lowercase hex digits
	Spans    []Span
	Warnings []string
}

// Span is one span read back from Jaeger.
type Span struct {
	TraceID       string // 32 lowercase hex digits
	SpanID        string // 16 lowercase hex digits
	ParentSpanID  string // first CHILD_OF reference; "" for a root span
	References    []Reference
	OperationName string
	// Kind is the OTLP span kind as Jaeger reports it in the "span.kind"
	// tag ("server", "client", "producer", "consumer", "internal"), or ""
	// for SPAN_KIND_UNSPECIFIED.
	Kind           string
	Flags          uint32
	StartMicros    int64 // Unix time in microseconds
	DurationMicros int64
	Tags           []Tag
	Logs           []Log
	ServiceName    string
	ProcessTags    []Tag
	Warnings       []string
}

// Reference links a span to another span (CHILD_OF for the parent, or
// FOLLOWS_FROM for OTLP links).
type Reference struct {
	Type    string // "CHILD_OF" or "FOLLOWS_FROM"
	TraceID string
	SpanID  string
}

// Log is a span event.
type Log struct {
	TimestampMicros int64
	Fields          []Tag
}

// TagType is Jaeger's value type of a tag.
type TagType string

// Jaeger tag types. OTLP arrays and maps arrive as TagString holding JSON.
const (
	TagString  TagType = "string"
	TagBool    TagType = "bool"
	TagInt64   TagType = "int64"
	TagFloat64 TagType = "float64"
	TagBinary  TagType = "binary"
)

// Tag is a typed key/value; only the field matching Type is set.
type Tag struct {
	Key    string
	Type   TagType
	Str    string
	Int    int64
	Float  float64
	Bool   bool
	Binary []byte
}

// String renders the value whatever its type (for messages and waterfalls).
func (t Tag) String() string {
	switch t.Type {
	case TagBool:
		return strconv.FormatBool(t.Bool)
	case TagInt64:
		return strconv.FormatInt(t.Int, 10)
	case TagFloat64:
		return strconv.FormatFloat(t.Float, 'g', -1, 64)
	case TagBinary:
		return base64.StdEncoding.EncodeToString(t.Binary)
	default:
		return t.Str
	}
}

// Tag returns the span tag named key.
func (s *Span) Tag(key string) (Tag, bool) { return findTag(s.Tags, key) }

// StringTag returns the value of a string tag, or "" when absent or not a string.
func (s *Span) StringTag(key string) string {
	if t, ok := s.Tag(key); ok && t.Type == TagString {
		return t.Str
	}
	return ""
}

// IntTag returns the value of an int64 tag and whether it exists with that type.
func (s *Span) IntTag(key string) (int64, bool) {
	t, ok := s.Tag(key)
	return t.Int, ok && t.Type == TagInt64
}

// ProcessTag returns the process (resource) tag named key.
func (s *Span) ProcessTag(key string) (Tag, bool) { return findTag(s.ProcessTags, key) }

// IsError reports whether Jaeger marks the span as failed (OTLP status ERROR
// becomes the tag error=true).
func (s *Span) IsError() bool {
	t, ok := s.Tag("error")
	return ok && t.Type == TagBool && t.Bool
}

func findTag(tags []Tag, key string) (Tag, bool) {
	for _, t := range tags {
		if t.Key == key {
			return t, true
		}
	}
	return Tag{}, false
}

// Span returns the span with the given id (hex, any width).
func (tr *Trace) Span(spanID string) (*Span, bool) {
	id := normalizeID(spanID, 16)
	for i := range tr.Spans {
		if tr.Spans[i].SpanID == id {
			return &tr.Spans[i], true
		}
	}
	return nil, false
}

// Roots returns the spans whose parent is not in the trace, by start time.
// A trace continued from an incoming traceparent has a root whose parent
// lives in another service, so "no parent" alone would miss it.
func (tr *Trace) Roots() []*Span {
	var roots []*Span
	for i := range tr.Spans {
		s := &tr.Spans[i]
		if _, ok := tr.Span(s.ParentSpanID); s.ParentSpanID == "" || !ok {
			roots = append(roots, s)
		}
	}
	sortByStart(roots)
	return roots
}

// Children returns the spans whose parent is spanID, by start time.
func (tr *Trace) Children(spanID string) []*Span {
	id := normalizeID(spanID, 16)
	var kids []*Span
	for i := range tr.Spans {
		if tr.Spans[i].ParentSpanID == id {
			kids = append(kids, &tr.Spans[i])
		}
	}
	sortByStart(kids)
	return kids
}

// SpansNamed returns the spans with the given operation name, by start time.
func (tr *Trace) SpansNamed(name string) []*Span {
	var out []*Span
	for i := range tr.Spans {
		if tr.Spans[i].OperationName == name {
			out = append(out, &tr.Spans[i])
		}
	}
	sortByStart(out)
	return out
}

func sortByStart(spans []*Span) {
	sort.SliceStable(spans, func(i, j int) bool {
		if spans[i].StartMicros != spans[j].StartMicros {
			return spans[i].StartMicros < spans[j].StartMicros
		}
		return spans[i].SpanID < spans[j].SpanID
	})
}

// normalizeID left-pads a hex id to width: Jaeger prints a trace id whose
// high 64 bits are zero as 16 digits, OTLP and W3C always use 32.
func normalizeID(id string, width int) string {
	id = strings.ToLower(id)
	if id == "" || len(id) >= width {
		return id
	}
	return strings.Repeat("0", width-len(id)) + id
}

// The wire shapes of Jaeger's UI JSON API (internal/uimodel in Jaeger).
type (
	wireResponse struct {
		Data   []wireTrace `json:"data"`
		Errors []struct {
			Code int    `json:"code"`
			Msg  string `json:"msg"`
		} `json:"errors"`
	}
	wireTrace struct {
		TraceID   string                 `json:"traceID"`
		Spans     []wireSpan             `json:"spans"`
		Processes map[string]wireProcess `json:"processes"`
		Warnings  []string               `json:"warnings"`
	}
	wireSpan struct {
		TraceID       string          `json:"traceID"`
		SpanID        string          `json:"spanID"`
		Flags         uint32          `json:"flags"`
		OperationName string          `json:"operationName"`
		References    []wireReference `json:"references"`
		StartTime     int64           `json:"startTime"`
		Duration      int64           `json:"duration"`
		Tags          []wireKeyValue  `json:"tags"`
		Logs          []wireLog       `json:"logs"`
		ProcessID     string          `json:"processID"`
		Process       *wireProcess    `json:"process"`
		Warnings      []string        `json:"warnings"`
	}
	wireReference struct {
		RefType string `json:"refType"`
		TraceID string `json:"traceID"`
		SpanID  string `json:"spanID"`
	}
	wireProcess struct {
		ServiceName string         `json:"serviceName"`
		Tags        []wireKeyValue `json:"tags"`
	}
	wireLog struct {
		Timestamp int64          `json:"timestamp"`
		Fields    []wireKeyValue `json:"fields"`
	}
	wireKeyValue struct {
		Key   string          `json:"key"`
		Type  string          `json:"type"`
		Value json.RawMessage `json:"value"`
	}
)

// decodeTraces parses an /api/traces response body.
func decodeTraces(body []byte) ([]*Trace, error) {
	var resp wireResponse
	if err := json.Unmarshal(body, &resp); err != nil {
		return nil, fmt.Errorf("decode Jaeger response: %w", err)
	}
	if len(resp.Errors) > 0 {
		return nil, fmt.Errorf("jaeger query error %d: %s", resp.Errors[0].Code, resp.Errors[0].Msg)
	}
	traces := make([]*Trace, 0, len(resp.Data))
	for _, wt := range resp.Data {
		tr, err := wt.convert()
		if err != nil {
			return nil, err
		}
		traces = append(traces, tr)
	}
	return traces, nil
}

func (wt *wireTrace) convert() (*Trace, error) {
	tr := &Trace{TraceID: normalizeID(wt.TraceID, 32), Warnings: wt.Warnings}
	tr.Spans = make([]Span, 0, len(wt.Spans))
	for _, ws := range wt.Spans {
		s := Span{
			TraceID:        normalizeID(ws.TraceID, 32),
			SpanID:         normalizeID(ws.SpanID, 16),
			OperationName:  ws.OperationName,
			Flags:          ws.Flags,
			StartMicros:    ws.StartTime,
			DurationMicros: ws.Duration,
			Warnings:       ws.Warnings,
		}
		for _, r := range ws.References {
			ref := Reference{Type: r.RefType, TraceID: normalizeID(r.TraceID, 32), SpanID: normalizeID(r.SpanID, 16)}
			s.References = append(s.References, ref)
			if s.ParentSpanID == "" && ref.Type == "CHILD_OF" && ref.TraceID == s.TraceID {
				s.ParentSpanID = ref.SpanID
			}
		}
		var err error
		if s.Tags, err = convertTags(ws.Tags); err != nil {
			return nil, fmt.Errorf("span %s: %w", s.SpanID, err)
		}
		for _, wl := range ws.Logs {
			fields, err := convertTags(wl.Fields)
			if err != nil {
				return nil, fmt.Errorf("span %s log: %w", s.SpanID, err)
			}
			s.Logs = append(s.Logs, Log{TimestampMicros: wl.Timestamp, Fields: fields})
		}
		proc := ws.Process
		if proc == nil {
			if p, ok := wt.Processes[ws.ProcessID]; ok {
				proc = &p
			}
		}
		if proc != nil {
			s.ServiceName = proc.ServiceName
			if s.ProcessTags, err = convertTags(proc.Tags); err != nil {
				return nil, fmt.Errorf("span %s process: %w", s.SpanID, err)
			}
		}
		s.Kind = s.StringTag("span.kind")
		tr.Spans = append(tr.Spans, s)
	}
	return tr, nil
}

func convertTags(in []wireKeyValue) ([]Tag, error) {
	if len(in) == 0 {
		return nil, nil
	}
	out := make([]Tag, 0, len(in))
	for _, kv := range in {
		t, err := kv.convert()
		if err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, nil
}

func (kv *wireKeyValue) convert() (Tag, error) {
	t := Tag{Key: kv.Key, Type: TagType(kv.Type)}
	if t.Type == "" {
		t.Type = TagString
	}
	var err error
	switch t.Type {
	case TagString:
		err = json.Unmarshal(kv.Value, &t.Str)
	case TagBool:
		err = json.Unmarshal(kv.Value, &t.Bool)
	case TagInt64:
		// Jaeger sends integers beyond ±2^53 as strings so JavaScript keeps them exact.
		raw := bytes.Trim(kv.Value, `"`)
		t.Int, err = strconv.ParseInt(string(raw), 10, 64)
	case TagFloat64:
		err = json.Unmarshal(kv.Value, &t.Float)
	case TagBinary:
		err = json.Unmarshal(kv.Value, &t.Binary)
	default:
		return t, fmt.Errorf("tag %q: unknown Jaeger type %q", kv.Key, kv.Type)
	}
	if err != nil {
		return t, fmt.Errorf("tag %q (%s): %w", kv.Key, kv.Type, err)
	}
	return t, nil
}

package exportertest

import (
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/trace-exporter/trace-exporter/exporter"
	"github.com/trace-exporter/trace-exporter/exporter/internal/wire"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
)

// BackendBatch is one Kong-shaped trace: a SERVER span whose caller is
// remote, a failed balancer try and a successful one (IPv4 and IPv6
// peers), every attribute type, an event, a resource with more than
// service.name. traceByte tells traces of different runs apart.
func BackendBatch(traceByte byte) *exporter.Batch {
	tid := exporter.TraceID{traceByte, 0xf9, 0x2f, 0x35, 0x77, 0xb3, 0x4d, 0xa6, 0xa3, 0xce, 0x92, 0x9d, 0x0e, 0x0e, 0x47, 0x36}
	rootID := exporter.SpanID{0, 0xf0, 0x67, 0xaa, 0x0b, 0xa9, 0x02, 0xb7}
	start := uint64(1_726_783_839_538_000_000)
	root := exporter.Span{
		TraceID: tid, SpanID: rootID, ParentSpanID: exporter.SpanID{0x53, 0x99, 0x5c, 0x3f, 0x42, 0xcd, 0x8a, 0xd8},
		TraceState: "congo=t61rcWkgMzE", Flags: 0x301, Name: "GET /echo", Kind: exporter.KindServer,
		StartUnixNano: start, EndUnixNano: start + 12_345_678,
		Attributes: []exporter.Attribute{
			exporter.String("http.request.method", "GET"), exporter.String("url.path", "/echo/items"),
			exporter.String("url.query", "id=42&api_key=REDACTED"), exporter.String("client.address", "203.0.113.7"),
			exporter.Int("http.response.status_code", 503), exporter.Float("kong.latency.kong_ms", 1.5),
			exporter.Bool("kong.cache.hit", false), exporter.String("user_agent.original", `curl/8.5.0 "quoted"`),
			exporter.StringSlice("http.request.header.x-multi", []string{"a", "b"}),
			exporter.String("error.type", "503"),
		},
		Events: []exporter.Event{{Name: "kong.retry", TimeUnixNano: start + 3_000_000, Attributes: []exporter.Attribute{exporter.Int("kong.balancer.try", 2)}}},
		Status: exporter.StatusError, StatusMessage: "upstream answered 503",
	}
	try1 := exporter.Span{
		TraceID: tid, SpanID: exporter.SpanID{0xee, 1, 1, 1, 1, 1, 1, 1}, ParentSpanID: rootID, Flags: 0x301,
		Name: "GET echo", Kind: exporter.KindClient, StartUnixNano: start + 1_000_000, EndUnixNano: start + 4_000_000,
		Attributes: []exporter.Attribute{
			exporter.String("http.request.method", "GET"), exporter.Int("kong.balancer.try", 1), exporter.String("server.address", "echo.internal"),
			exporter.Int("server.port", 8080), exporter.String("network.peer.address", "10.0.0.5"), exporter.Int("network.peer.port", 8080),
			exporter.String("kong.balancer.state", "failed"), exporter.String("error.type", "failed"),
		},
		Status: exporter.StatusError,
	}
	try2 := exporter.Span{
		TraceID: tid, SpanID: exporter.SpanID{0xb7, 0xad, 0x6b, 0x71, 0x69, 0x20, 0x33, 0x31}, ParentSpanID: rootID, Flags: 0x301,
		Name: "GET echo", Kind: exporter.KindClient, StartUnixNano: start + 4_000_000, EndUnixNano: start + 11_000_000,
		Attributes: []exporter.Attribute{
			exporter.String("http.request.method", "GET"), exporter.Int("kong.balancer.try", 2), exporter.String("server.address", "echo.internal"),
			exporter.Int("server.port", 8080), exporter.String("network.peer.address", "2001:db8::1"), exporter.Int("network.peer.port", 8443),
			exporter.Int("http.response.status_code", 503), exporter.String("url.full", "http://[2001:db8::1]:8443/items?id=42"),
		},
	}
	return &exporter.Batch{
		Resource: &exporter.Resource{Attributes: []exporter.Attribute{exporter.String("service.name", "edge-gw"), exporter.String("deployment.environment", "test")}},
		Scope:    exporter.Scope{Name: exporter.ScopeName, Version: "9.9.9"},
		Spans:    []exporter.Span{root, try1, try2},
	}
}

// ViewSpan is what every backend must carry unchanged: ids, name, kind,
// parent link and attributes (as strings: Zipkin tags are strings).
type ViewSpan struct {
	TraceID, SpanID, Parent, Name, Kind string
	Attrs                               map[string]string
}

func (v ViewSpan) String() string {
	keys := make([]string, 0, len(v.Attrs))
	for k := range v.Attrs {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	fmt.Fprintf(&b, "%s/%s parent=%s kind=%s %q", v.TraceID, v.SpanID, v.Parent, v.Kind, v.Name)
	for _, k := range keys {
		fmt.Fprintf(&b, " %s=%s", k, v.Attrs[k])
	}
	return b.String()
}

func ValueText(v exporter.Value) string {
	switch v.Type {
	case exporter.TypeString:
		return v.AsString()
	case exporter.TypeInt:
		return strconv.FormatInt(v.AsInt(), 10)
	case exporter.TypeFloat:
		return strconv.FormatFloat(v.AsFloat(), 'g', -1, 64)
	case exporter.TypeBool:
		return strconv.FormatBool(v.AsBool())
	case exporter.TypeStringSlice:
		return string(wire.AppendJSONStringArray(nil, v.AsStringSlice()))
	}
	return ""
}

// ViewOfBatch is the expected view.
func ViewOfBatch(b *exporter.Batch) map[string]ViewSpan {
	out := map[string]ViewSpan{}
	for _, s := range b.Spans {
		v := ViewSpan{TraceID: s.TraceID.String(), SpanID: s.SpanID.String(), Name: s.Name, Kind: s.Kind.String(), Attrs: map[string]string{}}
		if s.ParentSpanID.IsValid() {
			v.Parent = s.ParentSpanID.String()
		}
		for _, a := range s.Attributes {
			v.Attrs[a.Key] = ValueText(a.Value)
		}
		out[v.SpanID] = v
	}
	return out
}

// ViewOfOTLP reads the view out of an ExportTraceServiceRequest.
func ViewOfOTLP(t *testing.T, req *coltracepb.ExportTraceServiceRequest) map[string]ViewSpan {
	t.Helper()
	out := map[string]ViewSpan{}
	for _, rs := range req.ResourceSpans {
		for _, ss := range rs.ScopeSpans {
			for _, s := range ss.Spans {
				v := ViewSpan{
					TraceID: fmt.Sprintf("%x", s.TraceId), SpanID: fmt.Sprintf("%x", s.SpanId), Name: s.Name,
					Kind: exporter.SpanKind(s.Kind).String(), Attrs: map[string]string{},
				}
				if len(s.ParentSpanId) > 0 {
					v.Parent = fmt.Sprintf("%x", s.ParentSpanId)
				}
				for _, kv := range s.Attributes {
					v.Attrs[kv.Key] = OTLPValueText(kv.Value)
				}
				out[v.SpanID] = v
			}
		}
	}
	return out
}

func OTLPValueText(v *commonpb.AnyValue) string {
	switch x := v.Value.(type) {
	case *commonpb.AnyValue_StringValue:
		return x.StringValue
	case *commonpb.AnyValue_IntValue:
		return strconv.FormatInt(x.IntValue, 10)
	case *commonpb.AnyValue_DoubleValue:
		return strconv.FormatFloat(x.DoubleValue, 'g', -1, 64)
	case *commonpb.AnyValue_BoolValue:
		return strconv.FormatBool(x.BoolValue)
	case *commonpb.AnyValue_ArrayValue:
		var vals []string
		for _, e := range x.ArrayValue.Values {
			vals = append(vals, e.GetStringValue())
		}
		return string(wire.AppendJSONStringArray(nil, vals))
	}
	return ""
}

// AssertSameSpans checks that got carries every span of want with the same
// ids, name, kind, parent and attribute values; extraAllowed lets a backend
// add attributes of its own (Zipkin tags for the resource, Jaeger's
// conversions).
func AssertSameSpans(t *testing.T, backend string, want, got map[string]ViewSpan, extraAllowed bool) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%s: %d spans, want %d", backend, len(got), len(want))
	}
	for id, w := range want {
		g, ok := got[id]
		if !ok {
			t.Errorf("%s: span %s missing", backend, id)
			continue
		}
		if g.TraceID != w.TraceID || g.Parent != w.Parent || g.Name != w.Name || g.Kind != w.Kind {
			t.Errorf("%s: span differs\n got %s\nwant %s", backend, g, w)
			continue
		}
		for k, wv := range w.Attrs {
			if gv, ok := g.Attrs[k]; !ok || gv != wv {
				t.Errorf("%s: span %s attribute %s = %q (present %v), want %q", backend, id, k, gv, ok, wv)
			}
		}
		if !extraAllowed && len(g.Attrs) != len(w.Attrs) {
			t.Errorf("%s: span %s has extra attributes\n got %s\nwant %s", backend, id, g, w)
		}
	}
}

// ZipkinSpan is the Zipkin v2 model, for decoding what we send.
type ZipkinSpan struct {
	TraceID        string            `json:"traceId"`
	ID             string            `json:"id"`
	ParentID       string            `json:"parentId"`
	Name           string            `json:"name"`
	Kind           string            `json:"kind"`
	Timestamp      int64             `json:"timestamp"`
	Duration       int64             `json:"duration"`
	LocalEndpoint  *ZipkinEndpoint   `json:"localEndpoint"`
	RemoteEndpoint *ZipkinEndpoint   `json:"remoteEndpoint"`
	Annotations    []ZipkinAnnot     `json:"annotations"`
	Tags           map[string]string `json:"tags"`
}

type ZipkinEndpoint struct {
	ServiceName string `json:"serviceName"`
	IPv4        string `json:"ipv4"`
	IPv6        string `json:"ipv6"`
	Port        int    `json:"port"`
}

type ZipkinAnnot struct {
	Timestamp int64  `json:"timestamp"`
	Value     string `json:"value"`
}

func ViewOfZipkin(t *testing.T, body []byte) (map[string]ViewSpan, []ZipkinSpan) {
	t.Helper()
	var spans []ZipkinSpan
	if err := json.Unmarshal(body, &spans); err != nil {
		t.Fatalf("not a Zipkin v2 JSON array: %v\n%s", err, body)
	}
	out := map[string]ViewSpan{}
	for _, s := range spans {
		out[s.ID] = ViewSpan{TraceID: s.TraceID, SpanID: s.ID, Parent: s.ParentID, Name: s.Name, Kind: strings.ToLower(s.Kind), Attrs: s.Tags}
	}
	return out, spans
}

// PlainSpanJSON is the documented http_json span object.
type PlainSpanJSON struct {
	TraceID                string            `json:"trace_id"`
	SpanID                 string            `json:"span_id"`
	ParentSpanID           string            `json:"parent_span_id"`
	TraceState             string            `json:"trace_state"`
	Name                   string            `json:"name"`
	Kind                   string            `json:"kind"`
	StartTime              string            `json:"start_time"`
	EndTime                string            `json:"end_time"`
	StartTimeUnixNano      string            `json:"start_time_unix_nano"`
	EndTimeUnixNano        string            `json:"end_time_unix_nano"`
	DurationMs             float64           `json:"duration_ms"`
	Status                 string            `json:"status"`
	StatusMessage          string            `json:"status_message"`
	Attributes             map[string]any    `json:"attributes"`
	DroppedAttributesCount int               `json:"dropped_attributes_count"`
	Events                 []PlainEventJSON  `json:"events"`
	Resource               map[string]any    `json:"resource"`
	Scope                  map[string]string `json:"scope"`
}

type PlainEventJSON struct {
	Name         string         `json:"name"`
	Time         string         `json:"time"`
	TimeUnixNano string         `json:"time_unix_nano"`
	Attributes   map[string]any `json:"attributes"`
}

func ViewOfPlainJSON(t *testing.T, body []byte) (map[string]ViewSpan, []PlainSpanJSON) {
	t.Helper()
	var spans []PlainSpanJSON
	dec := json.NewDecoder(strings.NewReader(string(body)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&spans); err != nil {
		t.Fatalf("not the documented http_json array: %v\n%s", err, body)
	}
	out := map[string]ViewSpan{}
	for _, s := range spans {
		v := ViewSpan{TraceID: s.TraceID, SpanID: s.SpanID, Parent: s.ParentSpanID, Name: s.Name, Kind: s.Kind, Attrs: map[string]string{}}
		for k, a := range s.Attributes {
			switch x := a.(type) {
			case string:
				v.Attrs[k] = x
			case float64:
				v.Attrs[k] = strconv.FormatFloat(x, 'g', -1, 64)
			case bool:
				v.Attrs[k] = strconv.FormatBool(x)
			case []any:
				var vals []string
				for _, e := range x {
					vals = append(vals, e.(string))
				}
				v.Attrs[k] = string(wire.AppendJSONStringArray(nil, vals))
			default:
				t.Fatalf("attribute %s has JSON type %T", k, a)
			}
		}
		out[v.SpanID] = v
	}
	return out, spans
}

// ViewOfOTLPJSONLine reads a line written by the file and stdout backends
// with the official decoder (DecodeOTLPJSON).
func ViewOfOTLPJSONLine(t *testing.T, line []byte) map[string]ViewSpan {
	t.Helper()
	return ViewOfOTLP(t, DecodeOTLPJSON(t, line))
}

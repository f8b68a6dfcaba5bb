package plugin

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	kpp "github.com/Kong/go-pdk/server/kong_plugin_protocol"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/trace-exporter/trace-exporter/test/otlpsink"
)

// fakeKong answers PDK calls as Kong does for one request: access against
// live headers, log against saved data. It records every call by phase.
// (The real socket path is covered by the emulator tests in test/.)
type fakeKong struct {
	t        *testing.T
	phase    string
	calls    map[string][]string
	incoming map[string]string // request headers
	upstream map[string]string // headers set for the upstream
	cleared  []string
	serVals  []*structpb.Value // kong.log.set_serialize_value entries
	respHdrs map[string]string
	payload  map[string]any // serialize payload, before set_serialize_value edits
	status   int
	captures []string          // the regex route's numbered URI captures
	shared   map[string]string // kong.ctx.shared
}

func newFakeKong(t *testing.T, fixtureName string, incoming map[string]string) *fakeKong {
	f := &fakeKong{t: t, calls: map[string][]string{}, incoming: incoming,
		upstream: map[string]string{}, respHdrs: map[string]string{}}
	if err := json.Unmarshal([]byte(fixture(t, fixtureName)), &f.payload); err != nil {
		t.Fatal(err)
	}
	delete(f.payload, handoffKey) // the access phase under test provides it
	f.status = int(f.payload["response"].(map[string]any)["status"].(float64))
	return f
}

func (f *fakeKong) Ask(method string, args, out proto.Message) error {
	f.calls[f.phase] = append(f.calls[f.phase], method)
	switch method {
	case mGetHeaders:
		fields := map[string]*structpb.Value{}
		for k, v := range f.incoming {
			fields[k] = structpb.NewStringValue(v)
		}
		proto.Merge(out, &structpb.Struct{Fields: fields})
	case mGetHeader:
		out.(*kpp.String).V = f.incoming[args.(*kpp.String).V]
	case mSetUpstreamHeads:
		for k, v := range args.(*structpb.Struct).Fields {
			f.upstream[k] = v.GetStringValue()
		}
	case mClearUpstreamHead:
		f.cleared = append(f.cleared, args.(*kpp.String).V)
	case mSetSerializeValue:
		kv := args.(*kpp.KV)
		entry, _ := structpb.NewStruct(map[string]any{"key": kv.K, "value": kv.V.GetStringValue(), "mode": "set"})
		f.serVals = append(f.serVals, structpb.NewStructValue(entry))
	case mSetResponseHeader:
		kv := args.(*kpp.KV)
		f.respHdrs[kv.K] = kv.V.GetStringValue()
	case mGetCtx:
		if f.phase != "log" || args.(*kpp.String).V != "serialize_values" {
			f.t.Errorf("unexpected get_ctx %v in %s", args, f.phase)
		}
		if len(f.serVals) > 0 {
			proto.Merge(out, structpb.NewListValue(&structpb.ListValue{Values: f.serVals}))
		}
	case mGetStatus:
		out.(*kpp.Int).V = int32(f.status)
	case mGetURICaptures:
		for _, c := range f.captures {
			out.(*kpp.UriCapturesResult).Unnamed = append(out.(*kpp.UriCapturesResult).Unnamed, []byte(c))
		}
	case mSharedGet:
		if v, ok := f.shared[args.(*kpp.String).V]; ok {
			proto.Merge(out, structpb.NewStringValue(v))
		}
	case mSerialize:
		p := map[string]any{}
		for k, v := range f.payload {
			p[k] = v
		}
		for _, sv := range f.serVals {
			fields := sv.GetStructValue().GetFields()
			p[fields["key"].GetStringValue()] = fields["value"].GetStringValue()
		}
		b, _ := json.Marshal(p)
		// cjson escapes every slash; Kong's payloads always look like this.
		out.(*kpp.String).V = strings.ReplaceAll(string(b), "/", `\/`)
	default:
		return fmt.Errorf("fakeKong: method %q not served", method)
	}
	return nil
}

// newTestPlugin decodes a config as go-pdk does at StartInstance.
func newTestPlugin(t *testing.T, sink *otlpsink.Sink, extra string) *Plugin {
	t.Helper()
	p := New().(*Plugin)
	cfg := fmt.Sprintf(`{"traces_endpoint":%q,"queue":{"max_coalescing_delay":0.01}%s,"__seq__":1}`, sink.TracesURL(), extra)
	if err := json.Unmarshal([]byte(cfg), p); err != nil {
		t.Fatalf("config refused: %v", err)
	}
	return p
}

func (f *fakeKong) run(p *Plugin) {
	f.phase = "access"
	p.rt.access(f)
	f.phase = "log"
	p.rt.log(f)
}

func TestAccessThenLogPropagatesAndExports(t *testing.T) {
	sink := otlpsink.Start(t)
	p := newTestPlugin(t, sink, `,"propagation":{"extract":["w3c"],"inject":["w3c","b3"]},"http_response_header_for_traceid":"x-trace-id"`)
	incoming := map[string]string{
		"traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
		"tracestate":  "congo=t61rcWkgMzE",
	}
	f := newFakeKong(t, "3.9-retried.json", incoming)
	f.run(p)

	// Access: one read (two headers: get_headers), one write, one hand-off,
	// plus the opted-in response header.
	wantAccess := []string{mGetHeaders, mSetUpstreamHeads, mSetSerializeValue, mSetResponseHeader}
	if !reflect.DeepEqual(f.calls["access"], wantAccess) {
		t.Errorf("access calls %v, want %v", f.calls["access"], wantAccess)
	}
	// Log: exactly one call, the serialize.
	if !reflect.DeepEqual(f.calls["log"], []string{mSerialize}) {
		t.Errorf("log calls %v, want [%s]", f.calls["log"], mSerialize)
	}
	tp := f.upstream["traceparent"]
	if !strings.HasPrefix(tp, "00-4bf92f3577b34da6a3ce929d0e0e4736-") || !strings.HasSuffix(tp, "-01") {
		t.Fatalf("injected traceparent %q must keep the trace and the sampled flag", tp)
	}
	// tracestate came with the traceparent: it reaches the upstream untouched.
	if _, rewritten := f.upstream["tracestate"]; f.upstream["x-b3-traceid"] != "4bf92f3577b34da6a3ce929d0e0e4736" || rewritten {
		t.Errorf("upstream headers %v", f.upstream)
	}
	if f.respHdrs["x-trace-id"] != "4bf92f3577b34da6a3ce929d0e0e4736" {
		t.Errorf("response header %v", f.respHdrs)
	}
	injectedParent := strings.Split(tp, "-")[2]

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	spans, err := sink.WaitTrace(ctx, "4bf92f3577b34da6a3ce929d0e0e4736", 3)
	if err != nil {
		t.Fatal(err)
	}
	byKind := map[string][]otlpsink.Span{}
	for _, s := range spans {
		byKind[s.Kind.String()] = append(byKind[s.Kind.String()], s)
	}
	root := byKind["SPAN_KIND_SERVER"][0]
	if root.ParentSpanID() != "00f067aa0ba902b7" {
		t.Errorf("root parent %s, want the caller's span", root.ParentSpanID())
	}
	tries := byKind["SPAN_KIND_CLIENT"]
	if len(tries) != 2 {
		t.Fatalf("want 2 try spans, got %d", len(tries))
	}
	var last otlpsink.Span
	for _, s := range tries {
		if s.ParentSpanID() != root.SpanID() {
			t.Errorf("try %s not under the root", s.SpanID())
		}
		if v, _ := s.Attr("kong.balancer.try"); v.GetIntValue() == 2 {
			last = s
		}
	}
	if last.SpanID() != injectedParent {
		t.Errorf("the last try (%s) must be the span id sent upstream (%s)", last.SpanID(), injectedParent)
	}
	if root.GetTraceState() != "congo=t61rcWkgMzE" {
		t.Errorf("tracestate not kept: %q", root.GetTraceState())
	}
}

func TestSingleHeaderFormatReadsOneHeader(t *testing.T) {
	sink := otlpsink.Start(t)
	p := newTestPlugin(t, sink, `,"propagation":{"extract":["jaeger"],"inject":["preserve"]}`)
	f := newFakeKong(t, "3.9-upstream-500.json", map[string]string{"uber-trace-id": "000000000000000a00000000000000ff:00000000000000bb:0:1"})
	f.run(p)
	if !reflect.DeepEqual(f.calls["access"], []string{mGetHeader, mSetUpstreamHeads, mSetSerializeValue}) {
		t.Errorf("access calls %v", f.calls["access"])
	}
	if !strings.HasPrefix(f.upstream["uber-trace-id"], "000000000000000a00000000000000ff:") {
		t.Errorf("preserve must answer in jaeger: %v", f.upstream)
	}
}

func TestLogOnlyModeMakesNoAccessCall(t *testing.T) {
	sink := otlpsink.Start(t)
	p := newTestPlugin(t, sink, `,"propagation":{"extract":[],"inject":[]}`)
	f := newFakeKong(t, "3.9-upstream-500.json", nil)
	f.run(p)
	if len(f.calls["access"]) != 0 || !reflect.DeepEqual(f.calls["log"], []string{mSerialize}) {
		t.Errorf("calls %v", f.calls)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := sink.WaitSpans(ctx, 2); err != nil {
		t.Fatal(err)
	}
}

// With a low sampling rate the log handler probes with one small call and
// skips serialize for requests that are dropped.
func TestUnsampledRequestsSkipSerialize(t *testing.T) {
	sink := otlpsink.Start(t)
	for _, tc := range []struct {
		name, extra, fixture string
		wantLog              []string
		exported             bool
	}{
		{"no tail rule", `,"tail_sampling":{"status_code_min":0}`, "3.9-proxied-consumer.json", []string{mGetCtx}, false},
		{"status rule, 200", ``, "3.9-proxied-consumer.json", []string{mGetCtx, mGetStatus}, false},
		{"status rule, 500 kept", ``, "3.9-upstream-500.json", []string{mGetCtx, mGetStatus, mSerialize}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sink.Clear()
			p := newTestPlugin(t, sink, `,"sampling_rate":0`+tc.extra)
			f := newFakeKong(t, tc.fixture, map[string]string{})
			f.run(p)
			if !reflect.DeepEqual(f.calls["log"], tc.wantLog) {
				t.Errorf("log calls %v, want %v", f.calls["log"], tc.wantLog)
			}
			if !strings.HasSuffix(f.upstream["traceparent"], "-02") {
				t.Errorf("unsampled must be injected as not sampled: %q", f.upstream["traceparent"])
			}
			ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
			defer cancel()
			_, err := sink.WaitSpans(ctx, 1)
			if exported := err == nil; exported != tc.exported {
				t.Errorf("exported = %v, want %v", exported, tc.exported)
			}
		})
	}
}

// Without a hand-off (the access phase did not run: no route matched, or a
// plugin with a higher priority answered), the log phase extracts the
// caller's context from the saved request headers.
func TestLogWithoutAccessUsesSavedHeaders(t *testing.T) {
	sink := otlpsink.Start(t)
	p := newTestPlugin(t, sink, ``)
	f := newFakeKong(t, "3.9-no-route.json", nil)
	f.phase = "log"
	p.rt.log(f)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	spans, err := sink.WaitTrace(ctx, "11111111111111111111111111111111", 1)
	if err != nil {
		t.Fatal(err)
	}
	if spans[0].ParentSpanID() != "2222222222222222" || spans[0].GetName() != "GET" {
		t.Errorf("root %s parent %s", spans[0].GetName(), spans[0].ParentSpanID())
	}
}

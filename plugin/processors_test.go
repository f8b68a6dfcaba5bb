package plugin

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/trace-exporter/trace-exporter/exporter"
	"github.com/trace-exporter/trace-exporter/schema"
	"github.com/trace-exporter/trace-exporter/test/otlpsink"
)

// spyProcessor is a custom processor registered in code, active only for
// configs that carry its marker, so other tests' instances never see it.
// It asks for headers it must never get, renames the root span and drops
// the tries.
type spyProcessor struct {
	seen *exporter.Request
}

func (p *spyProcessor) HeadersRead() (request, response []string) {
	return []string{"Authorization", "cookie", "apikey", "x-tenant"}, []string{"set-cookie", "via"}
}

func (p *spyProcessor) Process(spans []exporter.Span, req *exporter.Request) []exporter.Span {
	p.seen = req
	spans[0].Name = "renamed " + spans[0].Name
	return spans[:1]
}

var lastSpy *spyProcessor

const spyMarker = "test.spy_processor"

func init() {
	exporter.RegisterProcessor("test_spy", func(cfg *schema.Config) (exporter.SpanProcessor, error) {
		if _, ok := cfg.StaticAttributes[spyMarker]; !ok {
			return nil, nil
		}
		lastSpy = &spyProcessor{}
		return lastSpy, nil
	})
}

// processRequest runs the log path's pure part with cfg's processors, as
// logPayload does, and returns the spans that would be queued.
// testProcessorStats counts what the processors of this package's tests do.
var testProcessorStats exporter.ProcessorStats

func processRequest(t *testing.T, cfg *schema.Config, fixtureName string) []exporter.Span {
	t.Helper()
	procs, err := exporter.NewProcessors(cfg, &testProcessorStats)
	if err != nil {
		t.Fatal(err)
	}
	rt := &runtime{procs: procs, spanOpts: *testOptions()}
	rt.spanOpts.maxAttrs = cfg.MaxAttributes
	w := &parseWants{handoffKey: handoffKey}
	if procs != nil {
		w.captureRequest, w.captureResponse = procs.Headers()
	}
	e, spans := parseAndBuild(t, fixtureName, w)
	if procs == nil {
		return spans
	}
	return rt.process(spans, e)
}

func TestNoProcessorConfiguredMeansNoChain(t *testing.T) {
	d := schema.Defaults()
	procs, err := exporter.NewProcessors(&d, &testProcessorStats)
	if err != nil || procs != nil {
		t.Fatalf("default config built a processor chain %v (%v): the log path would pay for it", procs.Names(), err)
	}
}

func TestBuiltinProcessors(t *testing.T) {
	cfg := schema.Defaults()
	cfg.StaticAttributes = map[string]string{"deployment.environment": "prod", "http.route": "not/the/route"}
	cfg.CaptureRequestHeaders = []string{"x-tenant", "x-multi"}
	cfg.CaptureResponseHeaders = []string{"content-type", "via"}
	cfg.RedactHeaders = []string{"via"}
	procs, _ := exporter.NewProcessors(&cfg, &testProcessorStats)
	if got := strings.Join(procs.Names(), ","); got != "static_attributes,capture_headers" {
		t.Fatalf("chain %s", got)
	}
	spans := processRequest(t, &cfg, "3.9-proxied-consumer.json")
	if len(spans) != 2 {
		t.Fatalf("%d spans", len(spans))
	}
	root, try := spans[0], spans[1]
	for _, s := range spans {
		if got := strAttr(t, s, "deployment.environment"); got != "prod" {
			t.Errorf("%s: static attribute %q", s.Name, got)
		}
	}
	if got := strAttr(t, root, "http.route"); got != "/echo" {
		t.Errorf("a static attribute overrode the request's own http.route: %q", got)
	}
	if _, ok := attr(try, "http.request.header.x-tenant"); ok {
		t.Errorf("headers belong on the SERVER span only")
	}
	if v, ok := attr(root, "http.request.header.x-multi"); !ok || strings.Join(v.AsStringSlice(), ",") != "a,b" {
		t.Errorf("x-multi = %v", v.AsStringSlice())
	}
	if v, ok := attr(root, "http.request.header.x-tenant"); !ok || v.AsStringSlice()[0] != "acme" {
		t.Errorf("x-tenant = %v", v.AsStringSlice())
	}
	if v, ok := attr(root, "http.response.header.content-type"); !ok || v.AsStringSlice()[0] != "application/json" {
		t.Errorf("response content-type = %v", v.AsStringSlice())
	}
	if _, ok := attr(root, "http.response.header.via"); ok {
		t.Errorf("a header in redact_headers was captured")
	}
	assertNoSecrets(t, spans, "s3cr3t", "my-key", "session=abc", "sid=zzz")
}

// Limits hold for what processors add: max_attributes drops (and counts)
// the excess, whoever added it.
func TestLimitsApplyAfterProcessors(t *testing.T) {
	cfg := schema.Defaults()
	before := processRequest(t, &cfg, "3.9-proxied-consumer.json")
	cfg.StaticAttributes = map[string]string{"a1": "1", "a2": "2", "a3": "3"}
	cfg.MaxAttributes = len(before[1].Attributes) + 1
	spans := processRequest(t, &cfg, "3.9-proxied-consumer.json")
	try := spans[1]
	if len(try.Attributes) != cfg.MaxAttributes || try.DroppedAttributes != 2 {
		t.Errorf("try span: %d attributes (max %d), %d dropped", len(try.Attributes), cfg.MaxAttributes, try.DroppedAttributes)
	}
	if got := strAttr(t, try, "a1"); got != "1" {
		t.Errorf("the first static attribute should fit: %q", got)
	}
}

// A processor registered in code runs after the built-in ones, never sees
// credentials or redacted headers, and may rename and drop spans.
func TestCustomProcessor(t *testing.T) {
	cfg := schema.Defaults()
	cfg.StaticAttributes = map[string]string{spyMarker: "on"}
	cfg.RedactHeaders = []string{"apikey"}
	dropped := testProcessorStats.Dropped.Load()
	spans := processRequest(t, &cfg, "3.9-proxied-consumer.json")
	if len(spans) != 1 || spans[0].Name != "renamed GET /echo" {
		t.Fatalf("spans after the processor: %d, root %q", len(spans), spans[0].Name)
	}
	if strAttr(t, spans[0], spyMarker) != "on" {
		t.Errorf("built-in processors must run first")
	}
	req := lastSpy.seen
	if len(req.RequestHeaders) != 1 || req.RequestHeader("x-tenant")[0] != "acme" {
		t.Errorf("request headers handed to the processor: %+v", req.RequestHeaders)
	}
	if len(req.ResponseHeaders) != 1 || req.ResponseHeader("via") == nil {
		t.Errorf("response headers handed to the processor: %+v", req.ResponseHeaders)
	}
	if got := testProcessorStats.Dropped.Load() - dropped; got != 1 {
		t.Errorf("dropped spans counted: %d, want 1", got)
	}
}

// Through the whole log path (an instance started from JSON, LogPayload, a
// real OTLP receiver): a header that carries credentials or is listed in
// redact_headers is handed to no processor, whatever it asks for, and
// appears in no exported span, even when a capture list names it.
func TestRedactedHeadersReachNoProcessorNorSpan(t *testing.T) {
	sink := otlpsink.Start(t)
	p := New().(*Plugin)
	config := fmt.Sprintf(`{"traces_endpoint":%q,"queue":{"max_coalescing_delay":0.05},`+
		`"static_attributes":{%q:"on"},"redact_headers":["apikey","via"],`+
		`"capture_request_headers":["x-tenant","apikey"],"capture_response_headers":["content-type","via"]}`,
		sink.TracesURL(), spyMarker)
	if err := json.Unmarshal([]byte(config), p); err != nil {
		t.Fatal(err)
	}
	p.LogPayload(fixture(t, "3.9-proxied-consumer.json"))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	spans, err := sink.WaitTrace(ctx, "4bf92f3577b34da6a3ce929d0e0e4736", 1) // the spy drops the tries
	if err != nil {
		t.Fatal(err)
	}
	// The request carries what any processor of the chain reads.
	var names []string
	for _, h := range append(lastSpy.seen.RequestHeaders, lastSpy.seen.ResponseHeaders...) {
		names = append(names, h.Name)
	}
	if got := strings.Join(names, ","); got != "x-tenant,content-type" {
		t.Errorf("headers handed to the processor: %s, want x-tenant,content-type", got)
	}
	for _, s := range spans {
		for _, kv := range s.Attributes {
			for _, bad := range []string{"authorization", "cookie", "apikey", "via"} {
				if strings.Contains(kv.Key, bad) {
					t.Errorf("span %q has attribute %s", s.Name, kv.Key)
				}
			}
			for _, secret := range []string{"my-key", "session=abc", "sid=zzz", "kong/3.9.1"} {
				if strings.Contains(kv.Value.String(), secret) {
					t.Errorf("span %q attribute %s leaks %q", s.Name, kv.Key, secret)
				}
			}
		}
	}
	if _, ok := findOTLPAttr(spans[0], "http.request.header.x-tenant"); !ok {
		t.Error("the allowed captured header is missing: the test would pass for the wrong reason")
	}
}

func findOTLPAttr(s otlpsink.Span, key string) (string, bool) {
	for _, kv := range s.Attributes {
		if kv.Key == key {
			return kv.Value.String(), true
		}
	}
	return "", false
}

// BenchmarkLogPayloadProcessors is the log path without processors (the
// default: no chain, nothing to do), with the built-in ones, and with both.
func BenchmarkLogPayloadProcessors(b *testing.B) {
	payload := fixture(b, "bench-many-headers.json")
	for _, c := range []struct {
		name      string
		configure func(*schema.Config)
	}{
		{"none", func(*schema.Config) {}},
		{"static_attributes", func(c *schema.Config) {
			c.StaticAttributes = map[string]string{"deployment.environment": "prod", "team": "edge", "region": "eu-west-1"}
		}},
		{"capture_headers", func(c *schema.Config) {
			c.CaptureRequestHeaders = []string{"accept-language", "cache-control"}
			c.CaptureResponseHeaders = []string{"content-type"}
		}},
	} {
		cfg := schema.Defaults()
		cfg.Exporter = "bench-discard"
		cfg.TracesEndpoint = "http://127.0.0.1:1/v1/traces"
		c.configure(&cfg)
		rt, err := newTestRuntime(&cfg)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				rt.logPayload(payload, nil)
			}
		})
	}
}

// SpanProcessor promises that appending to a span's Attributes is safe:
// no span's spare capacity may hold another span's attributes.
func TestAppendingToOneSpanLeavesTheOthersAlone(t *testing.T) {
	for _, name := range []string{"3.9-proxied-consumer.json", "bench-retried.json"} {
		_, spans := parseAndBuild(t, name, nil)
		if len(spans) < 2 {
			t.Fatalf("%s: %d spans", name, len(spans))
		}
		before := make([][]exporter.Attribute, len(spans))
		for i := range spans {
			before[i] = append([]exporter.Attribute(nil), spans[i].Attributes...)
		}
		for i := range spans {
			spans[i].Attributes = append(spans[i].Attributes, exporter.String("added", "x"))
		}
		for i := range spans {
			got := spans[i].Attributes[:len(spans[i].Attributes)-1]
			for k := range before[i] {
				if got[k].Key != before[i][k].Key {
					t.Fatalf("%s: span %d attribute %d became %q after appending to other spans", name, i, k, got[k].Key)
				}
			}
		}
	}
}

package exporter_test

import (
	"reflect"
	"testing"

	"github.com/trace-exporter/trace-exporter/exporter"
	"github.com/trace-exporter/trace-exporter/schema"
)

// The built-in log processors are the span ones' config on the record:
// static attributes (the record's own value wins) and captured headers,
// never a credential header; a config without them has no chain.
func TestBuiltinLogProcessors(t *testing.T) {
	var stats exporter.LogProcessorStats
	d := schema.Defaults()
	if c, err := exporter.NewLogProcessors(&d, &stats); c != nil || err != nil {
		t.Fatalf("default config: chain %v, %v", c, err)
	}
	d.StaticAttributes = map[string]string{"team": "edge", "url.path": "/static"}
	d.CaptureRequestHeaders = []string{"X-Tenant", "authorization"}
	d.CaptureResponseHeaders = []string{"via"}
	c, err := exporter.NewLogProcessors(&d, &stats)
	if err != nil || c == nil {
		t.Fatalf("chain %v, %v", c, err)
	}
	if got := c.Names(); !reflect.DeepEqual(got, []string{"static_attributes", "capture_headers"}) {
		t.Errorf("names %v", got)
	}
	req, resp := c.Headers()
	if !reflect.DeepEqual(req, []string{"x-tenant"}) || !reflect.DeepEqual(resp, []string{"via"}) {
		t.Errorf("headers %v %v", req, resp)
	}
	r := exporter.LogRecord{Attributes: []exporter.Attribute{exporter.String("url.path", "/items")}}
	keep := c.Process(&r, &exporter.Request{
		RequestHeaders:  []exporter.Header{{Name: "x-tenant", Values: []string{"acme"}}},
		ResponseHeaders: []exporter.Header{{Name: "via", Values: []string{"1.1 kong"}}},
	})
	want := []exporter.Attribute{
		exporter.String("url.path", "/items"), exporter.String("team", "edge"),
		exporter.StringSlice("http.request.header.x-tenant", []string{"acme"}),
		exporter.StringSlice("http.response.header.via", []string{"1.1 kong"}),
	}
	if !keep || len(r.Attributes) != len(want) {
		t.Fatalf("keep %v, attributes %v", keep, r.Attributes)
	}
	for i, a := range want {
		got := r.Attributes[i]
		if got.Key != a.Key || got.Value.AsString() != a.Value.AsString() || !reflect.DeepEqual(got.Value.AsStringSlice(), a.Value.AsStringSlice()) {
			t.Errorf("attribute %d: %v, want %v", i, got, a)
		}
	}
}

func TestRegisterLogProcessorTwicePanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("registering static_attributes again did not panic")
		}
	}()
	exporter.RegisterLogProcessor("static_attributes", func(*schema.Config) (exporter.LogProcessor, error) { return nil, nil })
}

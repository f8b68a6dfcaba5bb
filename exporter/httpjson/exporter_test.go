package httpjson

import (
	"encoding/json"
	"math"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/trace-exporter/trace-exporter/exporter"
	"github.com/trace-exporter/trace-exporter/exporter/internal/exportertest"
	"github.com/trace-exporter/trace-exporter/schema"
)

// The documented http_json span object: every key, always present, in the
// documented order, with the documented value shapes.
func TestHTTPJSONFormat(t *testing.T) {
	b := exportertest.BackendBatch(4)
	body := appendPlainSpans(nil, b)
	got, spans := exportertest.ViewOfPlainJSON(t, body)
	exportertest.AssertSameSpans(t, "http_json", exportertest.ViewOfBatch(b), got, false)

	var raw []map[string]json.RawMessage
	if err := json.Unmarshal(body, &raw); err != nil {
		t.Fatal(err)
	}
	wantKeys := []string{"trace_id", "span_id", "parent_span_id", "trace_state", "name", "kind", "start_time", "end_time",
		"start_time_unix_nano", "end_time_unix_nano", "duration_ms", "status", "status_message", "attributes",
		"dropped_attributes_count", "events", "resource", "scope"}
	for i := range raw {
		if len(raw[i]) != len(wantKeys) {
			t.Errorf("span %d has %d keys, want %d", i, len(raw[i]), len(wantKeys))
		}
		for _, k := range wantKeys {
			if _, ok := raw[i][k]; !ok {
				t.Errorf("span %d lacks %q", i, k)
			}
		}
	}
	// Key order as documented (checked on the text).
	last := -1
	text := string(body[:strings.Index(string(body), "},{")])
	for _, k := range wantKeys {
		at := strings.Index(text, `"`+k+`":`)
		if at <= last {
			t.Errorf("key %q out of the documented order", k)
		}
		last = at
	}

	root, try1 := spans[0], spans[1]
	if root.Kind != "server" || try1.Kind != "client" || root.Status != "error" || root.StatusMessage != "upstream answered 503" || spans[2].Status != "unset" {
		t.Errorf("kind/status: %+v", root)
	}
	if root.StartTime != "2024-09-19T22:10:39.538Z" || root.EndTime != "2024-09-19T22:10:39.550345678Z" ||
		root.StartTimeUnixNano != "1726783839538000000" || root.DurationMs != 12.345678 {
		t.Errorf("times: %s %s %s %v", root.StartTime, root.EndTime, root.StartTimeUnixNano, root.DurationMs)
	}
	if root.TraceState != "congo=t61rcWkgMzE" || root.ParentSpanID != "53995c3f42cd8ad8" || try1.ParentSpanID != root.SpanID {
		t.Errorf("links: %+v", root)
	}
	if v, ok := root.Attributes["http.response.status_code"].(float64); !ok || v != 503 {
		t.Errorf("int attribute is a JSON number: %#v", root.Attributes["http.response.status_code"])
	}
	if v, ok := root.Attributes["kong.cache.hit"].(bool); !ok || v {
		t.Errorf("bool attribute: %#v", root.Attributes["kong.cache.hit"])
	}
	if !reflect.DeepEqual(root.Attributes["http.request.header.x-multi"], []any{"a", "b"}) {
		t.Errorf("array attribute: %#v", root.Attributes["http.request.header.x-multi"])
	}
	if len(root.Events) != 1 || root.Events[0].Name != "kong.retry" || root.Events[0].TimeUnixNano != "1726783839541000000" ||
		root.Events[0].Attributes["kong.balancer.try"] != float64(2) || try1.Events == nil || len(try1.Events) != 0 {
		t.Errorf("events: %+v / %+v", root.Events, try1.Events)
	}
	if root.Resource["service.name"] != "edge-gw" || root.Resource["deployment.environment"] != "test" ||
		root.Scope["name"] != exporter.ScopeName || root.Scope["version"] != "9.9.9" {
		t.Errorf("resource/scope: %v %v", root.Resource, root.Scope)
	}
	// Non-finite numbers are strings; invalid UTF-8 is repaired; an empty
	// batch is an empty array.
	odd := exporter.Span{TraceID: exporter.TraceID{1}, SpanID: exporter.SpanID{1}, Name: "bad\xff", Attributes: []exporter.Attribute{exporter.Float("inf", math.Inf(1)), exporter.Float("nan", math.NaN())}}
	_, one := exportertest.ViewOfPlainJSON(t, appendPlainSpans(nil, &exporter.Batch{Spans: []exporter.Span{odd}}))
	if one[0].Attributes["inf"] != "Infinity" || one[0].Attributes["nan"] != "NaN" || one[0].Name != "bad\uFFFD" || one[0].ParentSpanID != "" {
		t.Errorf("edge values: %+v", one[0])
	}
	if got := string(appendPlainSpans(nil, &exporter.Batch{})); got != "[]" {
		t.Errorf("empty batch: %s", got)
	}
}

// Delivery to a webhook over mTLS with gzip and custom headers, with the
// shared retry rules (a 502 is retried, a 401 is not).
func TestHTTPJSONDelivery(t *testing.T) {
	pki := exportertest.NewPKI(t)
	rec := exportertest.NewRecorder(t, pki.ServerConfig(true), exportertest.StatusSequence(http.StatusBadGateway, http.StatusNoContent, http.StatusUnauthorized))
	cfg := exportertest.Config(rec.Srv.URL + "/hooks/traces")
	cfg.Exporter = schema.ExporterHTTPJSON
	cfg.Compression = schema.CompressionGzip
	cfg.Headers = map[string]string{"Authorization": "Bearer t0ken", "Content-Type": "text/plain"}
	cfg.TLSCAFile, cfg.TLSClientCertFile, cfg.TLSClientKeyFile = pki.CAFile, pki.ClientCert, pki.ClientKey
	reg := exportertest.NewRegistry(t, exporter.RegistryOptions{})
	h, err := reg.Acquire(cfg)
	if err != nil {
		t.Fatal(err)
	}
	h.Enqueue(exportertest.BackendBatch(5).Spans)
	exportertest.WaitFor(t, 5*time.Second, "exported", func() bool { return h.Stats().Exported == 3 })
	h.Enqueue(exportertest.BackendBatch(6).Spans)
	exportertest.WaitFor(t, 5*time.Second, "401 dropped", func() bool { return h.Stats().Dropped[exporter.DropPermanent] == 3 })
	got := rec.Received()
	if len(got) != 3 || h.Stats().Retries != 1 {
		t.Fatalf("%d requests, %d retries; want 3 and 1", len(got), h.Stats().Retries)
	}
	r := got[1]
	if r.Header.Get("Authorization") != "Bearer t0ken" || r.Header.Get("Content-Type") != "application/json" ||
		r.Header.Get("Content-Encoding") != "gzip" || r.Path != "/hooks/traces" {
		t.Errorf("headers %v path %s", r.Header, r.Path)
	}
	view, _ := exportertest.ViewOfPlainJSON(t, r.Body)
	exportertest.AssertSameSpans(t, "http_json", exportertest.ViewOfBatch(exportertest.BackendBatch(5)), view, false)

	// Without the client certificate the mTLS webhook refuses us.
	cfg.TLSClientCertFile, cfg.TLSClientKeyFile = "", ""
	exp := exportertest.NewExporter(t, cfg)
	if err := exportertest.ExportOnce(t, exp, exportertest.BackendBatch(7)); err == nil {
		t.Errorf("mTLS endpoint accepted a client without certificate")
	}
	// A webhook with a certificate we do not trust: dropped, not retried.
	cfg.TLSCAFile = pki.OtherCAFile
	exp = exportertest.NewExporter(t, cfg)
	if err := exportertest.ExportOnce(t, exp, exportertest.BackendBatch(7)); !exporter.IsPermanent(err) {
		t.Errorf("untrusted certificate: %v, want a permanent error", err)
	}
}

// A sender without a usable endpoint (a custom exporter's config is not
// checked by the schema) is refused when the pipeline starts, naming the
// field, and never shows credentials.
func TestHTTPSenderNeedsAnEndpoint(t *testing.T) {
	for _, endpoint := range []string{"", "ftp://x/y", "https://user:pw@/path?token=t"} {
		cfg := exportertest.Config(endpoint)
		_, err := exporter.NewHTTPSender(cfg, "application/json", exporter.Settings{})
		if err == nil || !strings.Contains(err.Error(), "config.traces_endpoint") || strings.Contains(err.Error(), "pw") || strings.Contains(err.Error(), "token=t") {
			t.Errorf("%q: err = %v", endpoint, err)
		}
	}
}

// Each span object carries its own resource when it has one.
func TestHTTPJSONPerSpanResource(t *testing.T) {
	_, spans := exportertest.ViewOfPlainJSON(t, appendPlainSpans(nil, exportertest.TwoResourceBatch()))
	want := []string{"kong", "tenant-a", "kong"}
	for i, s := range spans {
		if got := s.Resource["service.name"]; got != want[i] {
			t.Errorf("span %d: resource service.name %v, want %q", i, got, want[i])
		}
	}
}

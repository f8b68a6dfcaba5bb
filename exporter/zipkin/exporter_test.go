package zipkin

import (
	"net/http"
	"testing"
	"time"

	"github.com/trace-exporter/trace-exporter/exporter"
	"github.com/trace-exporter/trace-exporter/exporter/internal/exportertest"
	"github.com/trace-exporter/trace-exporter/schema"
)

// The Zipkin v2 mapping, field by field, as Kong's zipkin plugin and the
// OpenTelemetry Zipkin mapping define it.
func TestZipkinMapping(t *testing.T) {
	b := exportertest.BackendBatch(1)
	got, spans := exportertest.ViewOfZipkin(t, appendZipkinSpans(nil, b))
	exportertest.AssertSameSpans(t, "zipkin", exportertest.ViewOfBatch(b), got, true)

	root, try1, try2 := spans[0], spans[1], spans[2]
	if root.Kind != "SERVER" || try1.Kind != "CLIENT" || root.ParentID != "53995c3f42cd8ad8" {
		t.Errorf("kinds/parent: %s %s %q", root.Kind, try1.Kind, root.ParentID)
	}
	if root.Timestamp != 1_726_783_839_538_000 || root.Duration != 12_345 {
		t.Errorf("root timing µs: %d +%d", root.Timestamp, root.Duration)
	}
	for _, s := range spans {
		if s.LocalEndpoint == nil || s.LocalEndpoint.ServiceName != "edge-gw" {
			t.Errorf("%s: local endpoint %+v", s.ID, s.LocalEndpoint)
		}
		if s.Tags["deployment.environment"] != "test" || s.Tags["otel.scope.name"] != exporter.ScopeName || s.Tags["otel.scope.version"] != "9.9.9" {
			t.Errorf("%s: resource/scope tags %v", s.ID, s.Tags)
		}
		if _, ok := s.Tags["service.name"]; ok {
			t.Errorf("service.name belongs in localEndpoint, not tags")
		}
	}
	// The SERVER span's remote endpoint is the client, as Kong reports it.
	if re := root.RemoteEndpoint; re == nil || re.IPv4 != "203.0.113.7" || re.ServiceName != "" {
		t.Errorf("root remote endpoint %+v", re)
	}
	// Each try's remote endpoint is the peer it tried.
	if re := try1.RemoteEndpoint; re == nil || re.IPv4 != "10.0.0.5" || re.Port != 8080 || re.ServiceName != "echo.internal" {
		t.Errorf("try 1 remote endpoint %+v", re)
	}
	if re := try2.RemoteEndpoint; re == nil || re.IPv6 != "2001:db8::1" || re.Port != 8443 {
		t.Errorf("try 2 remote endpoint %+v", re)
	}
	if root.Tags["otel.status_code"] != "ERROR" || root.Tags["error"] != "true" || root.Tags["otel.status_description"] != "upstream answered 503" ||
		try1.Tags["error"] != "true" || try2.Tags["error"] != "" {
		t.Errorf("status tags: root %q/%q try1 %q try2 %q", root.Tags["otel.status_code"], root.Tags["error"], try1.Tags["error"], try2.Tags["error"])
	}
	if root.Tags["user_agent.original"] != `curl/8.5.0 "quoted"` || root.Tags["http.request.header.x-multi"] != `["a","b"]` ||
		root.Tags["kong.cache.hit"] != "false" || root.Tags["kong.latency.kong_ms"] != "1.5" {
		t.Errorf("tag values: %v", root.Tags)
	}
	if len(root.Annotations) != 1 || root.Annotations[0].Value != `kong.retry {"kong.balancer.try":2}` || root.Annotations[0].Timestamp != 1_726_783_839_541_000 {
		t.Errorf("annotations %+v", root.Annotations)
	}
	// Zipkin wants no empty tags; a sub-µs span lasts 1 µs.
	short := exporter.Span{TraceID: exporter.TraceID{1}, SpanID: exporter.SpanID{1}, Name: "x", StartUnixNano: 1000, EndUnixNano: 1500,
		Attributes: []exporter.Attribute{exporter.String("empty", "")}}
	_, one := exportertest.ViewOfZipkin(t, appendZipkinSpans(nil, &exporter.Batch{Spans: []exporter.Span{short}}))
	if _, ok := one[0].Tags["empty"]; ok || one[0].Duration != 1 || one[0].Kind != "" || one[0].LocalEndpoint.ServiceName != "kong" {
		t.Errorf("edge cases: %+v", one[0])
	}
}

// Over HTTP: 2xx is success, 429/502/503/504 are retried, other statuses
// are dropped and counted; gzip and headers as configured.
func TestZipkinDelivery(t *testing.T) {
	rec := exportertest.NewRecorder(t, nil, exportertest.StatusSequence(http.StatusServiceUnavailable, http.StatusTooManyRequests, http.StatusOK, http.StatusBadRequest))
	cfg := exportertest.Config(rec.Srv.URL + "/api/v2/spans")
	cfg.Exporter = schema.ExporterZipkin
	cfg.Compression = schema.CompressionGzip
	cfg.Headers = map[string]string{"X-Tenant": "acme"}
	reg := exportertest.NewRegistry(t, exporter.RegistryOptions{})
	h, err := reg.Acquire(cfg)
	if err != nil {
		t.Fatal(err)
	}
	h.Enqueue(exportertest.BackendBatch(2).Spans)
	exportertest.WaitFor(t, 5*time.Second, "first batch exported", func() bool { return h.Stats().Exported == 3 })
	h.Enqueue(exportertest.BackendBatch(3).Spans) // answered 400: dropped
	exportertest.WaitFor(t, 5*time.Second, "second batch dropped", func() bool { return h.Stats().Dropped[exporter.DropPermanent] == 3 })
	got := rec.Received()
	if len(got) != 4 {
		t.Fatalf("%d requests, want 4 (2 retries)", len(got))
	}
	r := got[2]
	if r.Path != "/api/v2/spans" || r.Header.Get("Content-Type") != "application/json" ||
		r.Header.Get("Content-Encoding") != "gzip" || r.Header.Get("X-Tenant") != "acme" || r.RawSize >= len(r.Body) {
		t.Errorf("request: path %s headers %v, %d bytes on the wire for %d", r.Path, r.Header, r.RawSize, len(r.Body))
	}
	view, _ := exportertest.ViewOfZipkin(t, r.Body)
	exportertest.AssertSameSpans(t, "zipkin", exportertest.ViewOfBatch(exportertest.BackendBatch(2)), view, true)
	if s := h.Stats(); s.Retries != 2 {
		t.Errorf("retries %d, want 2", s.Retries)
	}
}

// A span with a resource of its own names its service after it; the
// others keep the batch's.
func TestZipkinPerSpanResource(t *testing.T) {
	batch := exportertest.TwoResourceBatch()
	_, spans := exportertest.ViewOfZipkin(t, appendZipkinSpans(nil, batch))
	if len(spans) != 3 {
		t.Fatalf("%d spans", len(spans))
	}
	want := []string{"kong", "tenant-a", "kong"}
	for i, s := range spans {
		if got := s.LocalEndpoint.ServiceName; got != want[i] {
			t.Errorf("span %d: service %q, want %q", i, got, want[i])
		}
	}
	if _, leaked := spans[1].Tags["deployment.environment"]; leaked {
		t.Error("the batch resource's tags leaked into a span with its own resource")
	}
}

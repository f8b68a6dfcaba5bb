package e2e

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/trace-exporter/trace-exporter/test/harness"
	"github.com/trace-exporter/trace-exporter/test/otlpsink"
)

// The resource of exported spans, through the emulated Kong into a real
// OTLP receiver: service.instance.id is Kong's node id and service.version
// Kong's version; OTEL_SERVICE_NAME over OTEL_RESOURCE_ATTRIBUTES over the
// defaults, the config over both; templates rendered per request from its
// headers, query, URI captures and route, so that concurrent requests
// never see each other's values; and the PDK calls they cost: none for
// what serialize holds, one per request for uri_captures and one per
// shared key, kong.node.get_id once for the process.
func TestResourceEndToEnd(t *testing.T) {
	t.Setenv("OTEL_RESOURCE_ATTRIBUTES", "service.name=from-attributes,team=env-team,region=eu-1")
	t.Setenv("OTEL_SERVICE_NAME", "env-service")
	const version = "3.12"
	sink := otlpsink.Start(t)
	up := harness.StartUpstream(t, harness.UpstreamOptions{})
	queue := map[string]any{"max_coalescing_delay": 0.05}
	gw := harness.StartGateway(t, harness.GatewayOptions{KongVersion: version, Config: map[string]any{
		"services": []any{map[string]any{"name": "res", "url": up.URL(), "routes": []any{
			map[string]any{"name": "templated", "paths": []string{`~/templated/(?<item>[a-z0-9-]+)$`}, "plugins": []any{plugin(map[string]any{
				"traces_endpoint": sink.TracesURL(), "queue": queue, "http_response_header_for_traceid": "x-trace-id",
				"resource_attributes": map[string]any{
					"team":   "config-team",
					"tenant": "$(headers.x_tenant)",
					"page":   "${query_params.page}",
					"item":   "$(uri_captures.item)",
					"route":  "$(kong.route.name)",
					"plan":   "$(shared.plan)", // nothing sets it: left out
				},
			})}},
			map[string]any{"name": "static", "paths": []string{"/static"}, "plugins": []any{plugin(map[string]any{
				"traces_endpoint": sink.TracesURL(), "queue": queue, "http_response_header_for_traceid": "x-trace-id",
				"resource_attributes": map[string]any{"service.name": "config-service"},
			})}},
		}}},
	}})

	// Many requests at once, each with its own values.
	const n = 24
	type sent struct{ tenant, page, item, route, traceID string }
	results := make([]sent, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			s := sent{tenant: fmt.Sprintf("tenant-%d", i), page: fmt.Sprintf("p%d", i), item: fmt.Sprintf("item-%d", i), route: "templated"}
			url := fmt.Sprintf("%s/templated/%s?page=%s", gw.URL(), s.item, s.page)
			if i%4 == 3 {
				s = sent{route: "static"}
				url = gw.URL() + "/static"
			}
			req, _ := http.NewRequestWithContext(bounded(t, 30*time.Second), "GET", url, nil)
			if s.tenant != "" {
				req.Header.Set("X-Tenant", s.tenant)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Errorf("request %d: %v", i, err)
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 {
				t.Errorf("request %d: status %d", i, resp.StatusCode)
			}
			s.traceID = resp.Header.Get("X-Trace-Id")
			results[i] = s
		})
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	if err := gw.WaitIdle(bounded(t, 20*time.Second)); err != nil {
		t.Fatal(err)
	}

	for _, s := range results {
		spans, err := sink.WaitTrace(bounded(t, 15*time.Second), s.traceID, 2)
		if err != nil {
			t.Fatalf("trace %s (%s): %v", s.traceID, s.route, err)
		}
		want := map[string]string{
			"service.instance.id": gw.Sim().NodeID(),
			"service.version":     gw.Sim().Version().Release(),
			"region":              "eu-1",
		}
		if s.route == "templated" {
			want["service.name"] = "env-service" // OTEL_SERVICE_NAME over OTEL_RESOURCE_ATTRIBUTES
			want["team"] = "config-team"         // the config over the environment
			want["tenant"], want["page"], want["item"], want["route"] = s.tenant, s.page, s.item, "templated"
		} else {
			want["service.name"] = "config-service"
			want["team"] = "env-team"
		}
		for _, span := range spans {
			got := map[string]string{}
			for _, kv := range span.Resource.GetAttributes() {
				got[kv.GetKey()] = kv.GetValue().GetStringValue()
			}
			for k, v := range want {
				if got[k] != v {
					t.Errorf("%s span %s: resource %s = %q, want %q (resource %v)", s.route, span.GetName(), k, got[k], v, got)
				}
			}
			for k, v := range got {
				if _, ok := want[k]; !ok && !strings.HasPrefix(k, "telemetry.sdk.") {
					t.Errorf("%s span %s: unexpected resource attribute %s=%q", s.route, span.GetName(), k, v)
				}
			}
		}
	}

	// What the templates cost, per request: nothing for serialize's data,
	// one call for the captures and one for the shared key.
	records := gw.Records()
	if len(records) != n {
		t.Fatalf("%d records for %d requests", len(records), n)
	}
	for _, rec := range records {
		want := []string{pdkSerialize}
		if strings.HasPrefix(rec.URI, "/templated/") {
			want = []string{pdkSerialize, pdkGetURICaptures, pdkSharedGet}
		}
		if got, _ := withoutNodeID(rec.Calls("log")); !callsEqual(got, want) {
			t.Errorf("%s: log calls %s, want %s", rec.URI, fmtCalls(got), fmtCalls(want))
		}
		if v := rec.Violations(); len(v) > 0 {
			t.Errorf("%s: violations %v", rec.URI, v)
		}
	}
	checkNodeIDOnce(t, records)
}

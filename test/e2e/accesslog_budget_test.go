package e2e

import (
	"strconv"
	"testing"
	"time"

	"github.com/trace-exporter/trace-exporter/test/harness"
	"github.com/trace-exporter/trace-exporter/test/otlpsink"
)

// accessLogBudgetModes are the README budget table's access log rows, each
// next to the same configuration without access logs.
func accessLogBudgetModes(logsURL string) []budgetMode {
	withLogs := func(cfg map[string]any) map[string]any {
		out := map[string]any{"access_logs": map[string]any{"endpoint": logsURL}}
		for k, v := range cfg {
			out[k] = v
		}
		return out
	}
	unsampled := map[string]any{"sampling_rate": 0, "tail_sampling": map[string]any{"status_code_min": 0}}
	templates := map[string]any{"sampling_rate": 0, "tail_sampling": map[string]any{"status_code_min": 0},
		"resource_attributes": map[string]any{"service.name": "e2e-budget", "user": "$(uri_captures[1])", "plan": "$(shared.plan)"}}
	return []budgetMode{
		// Sampled: serialize, as without access logs.
		{name: "access-logs", config: withLogs(nil), requests: []budgetRequest{
			{name: "ok", access: defaultAccess, log: []string{pdkSerialize}, exported: true},
		}},
		// Unsampled: the small probe is off, every request reads serialize.
		{name: "unsampled-access-logs", config: withLogs(unsampled), requests: []budgetRequest{
			{name: "dropped", access: defaultAccess, log: []string{pdkSerialize}},
		}},
		{name: "unsampled-no-access-logs", config: unsampled, requests: []budgetRequest{
			{name: "dropped", access: defaultAccess, log: []string{pdkGetCtx}},
		}},
		// The record's resource needs the templates' calls, sampled or not.
		{name: "templates-access-logs", config: withLogs(templates), requests: []budgetRequest{
			{name: "dropped", access: defaultAccess, log: []string{pdkSerialize, pdkGetURICaptures, pdkSharedGet}},
		}},
		{name: "templates-no-access-logs", config: templates, requests: []budgetRequest{
			{name: "dropped", access: defaultAccess, log: []string{pdkGetCtx}},
		}},
		// A sampling rate of 0 is access logs off: the probe is back.
		{name: "access-logs-rate-0", config: map[string]any{"sampling_rate": 0, "tail_sampling": map[string]any{"status_code_min": 0},
			"access_logs": map[string]any{"endpoint": logsURL, "sampling_rate": 0}}, requests: []budgetRequest{
			{name: "dropped", access: defaultAccess, log: []string{pdkGetCtx}},
		}},
	}
}

// The PDK budget with access logs, through the Kong emulator running the
// real plugin: every request of an instance with access logs reads
// serialize (and its resource templates' values) whatever its sampling;
// the same configurations without access logs keep the small probe. Every
// request of an instance with access logs leaves one record.
func TestPDKBudgetWithAccessLogs(t *testing.T) {
	for _, version := range []string{"3.3", "3.9"} {
		t.Run("kong-"+version, func(t *testing.T) {
			traces, logs := otlpsink.Start(t), otlpsink.StartLogs(t)
			up := harness.StartUpstream(t, harness.UpstreamOptions{})
			modes := accessLogBudgetModes(logs.LogsURL())
			var routes []any
			for _, m := range modes {
				routes = append(routes, map[string]any{"name": m.name, "paths": []string{`~/` + m.name + `/(\w+)$`},
					"plugins": []any{plugin(pluginConfig(traces.TracesURL(), "e2e-budget", m.config))}})
			}
			gw := harness.StartGateway(t, harness.GatewayOptions{KongVersion: version, Config: map[string]any{
				"services": []any{map[string]any{"name": "budget", "url": up.URL(), "routes": routes}},
			}})
			const repeat = 5
			byURI := map[string]budgetRequest{}
			modeOf := map[string]string{}
			wantRecords := 0
			for _, m := range modes {
				for _, r := range m.requests {
					for i := range repeat {
						uri := "/" + m.name + "/u" + strconv.Itoa(i) + "?kind=" + randomHex(4)
						byURI[uri], modeOf[uri] = r, m.name
						harness.Do(t, "GET", gw.URL()+uri, nil)
						if _, on := m.config["access_logs"]; on && m.name != "access-logs-rate-0" {
							wantRecords++
						}
					}
				}
			}
			if err := gw.WaitIdle(bounded(t, 20*time.Second)); err != nil {
				t.Fatal(err)
			}
			records := gw.Records()
			if len(records) != len(byURI) {
				t.Fatalf("%d gateway records for %d requests", len(records), len(byURI))
			}
			for _, rec := range records {
				r, ok := byURI[rec.URI]
				if !ok {
					t.Fatalf("record for unexpected URI %s", rec.URI)
				}
				checkBudget(t, rec, modeOf[rec.URI], r)
			}
			checkNodeIDOnce(t, records)
			if _, err := logs.WaitRecords(bounded(t, 15*time.Second), wantRecords); err != nil {
				t.Fatal(err)
			}
			time.Sleep(200 * time.Millisecond)
			if n := len(logs.Records()); n != wantRecords {
				t.Errorf("%d access log records, want %d", n, wantRecords)
			}
			if _, err := traces.WaitSpans(bounded(t, 15*time.Second), 2*repeat); err != nil {
				t.Fatal(err)
			}
		})
	}
}

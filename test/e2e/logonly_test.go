package e2e

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/trace-exporter/trace-exporter/test/harness"
	"github.com/trace-exporter/trace-exporter/test/otlpsink"
	"github.com/trace-exporter/trace-exporter/test/testutil"
)

// The same binary installed as trace-exporter-log declares only the log
// phase: Kong sends it no access event, every request costs one
// kong.log.serialize, and every request is exported — with the caller's
// trace id and sampling decision when it sent one, as saved in serialize.
func TestLogOnlyPlugin(t *testing.T) {
	sink := otlpsink.Start(t)
	up := harness.StartUpstream(t, harness.UpstreamOptions{})
	cfg := pluginConfig(sink.TracesURL(), uniqueService("e2e-logonly"), map[string]any{"sampling_rate": 1})
	gw := harness.StartGateway(t, harness.GatewayOptions{
		Binary: testutil.LogOnlyPluginBinary(t),
		Config: map[string]any{
			"services": []any{map[string]any{"name": "echo", "url": up.URL(), "routes": []any{
				map[string]any{"name": "echo", "paths": []string{"/echo"},
					"plugins": []any{map[string]any{"name": "trace-exporter-log", "config": cfg}}},
			}}},
		},
	})
	if info := gw.Sim().Info(); info.Name != "trace-exporter-log" || strings.Join(info.Phases, ",") != "log" {
		t.Fatalf("dumped plugin %q with phases %v, want trace-exporter-log with [log]", info.Name, info.Phases)
	}
	const n = 20
	callers := map[string]bool{} // caller trace id → sampled
	for i := range n {
		var h http.Header
		if i%4 != 0 {
			tid, flags := randomHex(16), "01"
			if i%4 == 3 {
				flags = "00"
			}
			callers[tid] = flags == "01"
			h = http.Header{"Traceparent": {"00-" + tid + "-" + randomHex(8) + "-" + flags}}
		}
		if resp := harness.Do(t, "GET", gw.URL()+"/echo/x", h); resp.Status != http.StatusOK {
			t.Fatalf("request %d: status %d", i, resp.Status)
		}
	}
	if err := gw.WaitIdle(bounded(t, 20*time.Second)); err != nil {
		t.Fatal(err)
	}
	records := gw.Records()
	if len(records) != n {
		t.Fatalf("%d records for %d requests", len(records), n)
	}
	for _, rec := range records {
		if ev := rec.Event("access"); ev != nil {
			t.Fatalf("%s: Kong sent the log-only plugin an access event", rec.URI)
		}
		calls, _ := withoutNodeID(rec.Calls("log"))
		if !callsEqual(calls, []string{pdkSerialize}) {
			t.Errorf("%s: log calls %s, want one kong.log.serialize", rec.URI, fmtCalls(calls))
		}
		if v := rec.Violations(); len(v) > 0 {
			t.Errorf("%s: %v", rec.URI, v)
		}
	}
	checkNodeIDOnce(t, records)
	// Every request without a caller, and every caller that sampled, is
	// exported; an unsampled caller's decision is kept.
	want := n / 4
	for _, sampled := range callers {
		if sampled {
			want++
		}
	}
	ctx := bounded(t, 10*time.Second)
	if _, err := sink.WaitSpans(ctx, 2*want); err != nil {
		t.Fatal(err)
	}
	for tid, sampled := range callers {
		spans := sink.TraceSpans(tid)
		if sampled && len(spans) != 2 {
			t.Errorf("caller trace %s: %d spans, want root and try under the caller's id", tid, len(spans))
		}
		if !sampled && len(spans) != 0 {
			t.Errorf("caller trace %s said not sampled, yet %d spans were exported", tid, len(spans))
		}
	}
	if got := len(sink.Traces()); got != want {
		t.Errorf("%d traces exported, want %d", got, want)
	}
}

package faults

import (
	"context"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	commonpb "go.opentelemetry.io/proto/otlp/common/v1"

	"github.com/trace-exporter/trace-exporter/test/kongsim"
	"github.com/trace-exporter/trace-exporter/test/otlpsink"
)

// Secrets in the test traffic: none may appear in any exported span (name,
// attribute key or value, event, status, trace state, resource, scope), and
// the backend credential never in the plugin's output.
var secrets = map[string]string{
	"authorization":       "sec-authz-1111",
	"proxy-authorization": "sec-proxy-2222",
	"cookie":              "sec-cookie-3333",
	"set-cookie":          "sec-setcookie-4444",
	"redact_headers":      "sec-apikey-5555",
	"query token":         "sec-token-6666",
	"query api_key":       "sec-apikey-q-7777",
	"configured query":    "sec-custom-8888",
	"request body":        "sec-body-9999",
	"response body":       "sec-respbody-0000",
	"backend credential":  "sec-backend-cred-abcd",
}

// Through the emulator's gateway (real HTTP, every phase), with capture
// lists that ask for a header also listed in redact_headers: redaction
// wins. A capture list naming authorization, cookie... is refused outright
// (checked at the end).
func TestNoSecretLeavesTheGateway(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		http.SetCookie(w, &http.Cookie{Name: "sid", Value: secrets["set-cookie"]})
		w.Header().Set("X-Api-Key", secrets["redact_headers"])
		w.Header().Set("Content-Type", "text/plain")
		fmt.Fprint(w, "hello "+secrets["response body"])
	}))
	t.Cleanup(up.Close)
	sink := otlpsink.Start(t)
	// The backend refuses the first export (401): error paths log too.
	sink.SetResponder(otlpsink.FailFirst(1, otlpsink.Response{Status: 503}))
	t.Setenv("TRACE_EXPORTER_LOG_LEVEL", "debug")

	decl, err := kongsim.ParseDeclarative([]byte(fmt.Sprintf(`
_format_version: "3.0"
services:
  - name: api
    url: %s
    routes:
      - name: api-route
        paths: [/api]
plugins:
  - name: trace-exporter
    config:
      traces_endpoint: %s
      headers:
        authorization: Bearer %s
      queue: { max_coalescing_delay: 0.05, initial_retry_delay: 0.05 }
      capture_request_headers: [x-api-key, user-agent, x-tenant]
      capture_response_headers: [x-api-key, content-type]
      redact_headers: [x-api-key]
      redact_query_params: [token, api_key, tenant_secret]
      max_attributes: 40
      max_attribute_value_length: 64
`, up.URL, sink.TracesURL(), secrets["backend credential"])))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	gw, err := kongsim.StartGateway(ctx, kongsim.GatewayOptions{
		Options: kongsim.Options{Binary: pluginBin, Prefix: shortTempDir(t), Logger: quietLogger()},
		Config:  decl,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { gw.Close() })

	const n = 5
	var ids []string
	for i := range n {
		q := fmt.Sprintf("?page=%d&token=%s&api_key=%s&tenant_secret=%s", i, secrets["query token"], secrets["query api_key"], secrets["configured query"])
		req, _ := http.NewRequest(http.MethodPost, gw.URL()+"/api/orders"+q, strings.NewReader(`{"card":"`+secrets["request body"]+`"}`))
		req.Header.Set("Authorization", "Bearer "+secrets["authorization"])
		req.Header.Set("Proxy-Authorization", "Basic "+secrets["proxy-authorization"])
		req.Header.Set("Cookie", "session="+secrets["cookie"])
		req.Header.Set("X-Api-Key", secrets["redact_headers"])
		req.Header.Set("X-Tenant", "acme")
		req.Header.Set("User-Agent", strings.Repeat("long-agent/1.0 ", 20)) // 300 bytes: capped
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("proxy answered %d", resp.StatusCode)
		}
		ids = append(ids, resp.Header.Get("X-Kong-Request-Id"))
	}
	if err := gw.WaitIdle(ctx); err != nil {
		t.Fatal(err)
	}
	spans, err := sink.WaitSpans(ctx, n*2)
	if err != nil {
		t.Fatal(err)
	}
	checked := 0
	for _, s := range spans {
		var texts []string
		texts = append(texts, s.GetName(), s.GetTraceState(), s.GetStatus().GetMessage(), s.Scope.GetName(), s.Scope.GetVersion())
		texts = appendKVs(texts, s.GetAttributes())
		texts = appendKVs(texts, s.Resource.GetAttributes())
		for _, ev := range s.GetEvents() {
			texts = append(texts, ev.GetName())
			texts = appendKVs(texts, ev.GetAttributes())
		}
		for _, txt := range texts {
			for what, secret := range secrets {
				if strings.Contains(txt, secret) {
					t.Errorf("span %q leaks the %s: %q", s.GetName(), what, txt)
				}
			}
		}
		if len(s.GetAttributes()) > 40 {
			t.Errorf("span %q has %d attributes, max_attributes is 40", s.GetName(), len(s.GetAttributes()))
		}
		for _, kv := range s.GetAttributes() {
			if v := kv.GetValue().GetStringValue(); len(v) > 64 {
				t.Errorf("attribute %s is %d bytes, max_attribute_value_length is 64", kv.GetKey(), len(v))
			}
		}
		checked++
	}
	// The redacted query keeps its shape; the capture lists did capture
	// what they may.
	sawQuery, sawTenant := false, false
	for _, s := range spans {
		if v, ok := s.Attr("url.query"); ok && strings.Contains(v.GetStringValue(), "token=REDACTED") {
			sawQuery = true
		}
		if v, ok := s.Attr("http.request.header.x-tenant"); ok && strings.Contains(v.String(), "acme") {
			sawTenant = true
		}
	}
	if !sawQuery || !sawTenant {
		t.Errorf("redacted url.query seen %v, captured x-tenant seen %v: want both", sawQuery, sawTenant)
	}
	// Bodies are never read: no PDK call touches one.
	for _, id := range ids {
		rec := gw.Record(id)
		if rec == nil {
			t.Fatalf("no record of request %s", id)
		}
		for _, e := range rec.Events {
			for _, c := range e.Calls {
				if strings.Contains(c, "body") {
					t.Errorf("request %s: %s phase called %s", id, e.Phase, c)
				}
			}
		}
	}
	// Asking to capture an always-redacted header refuses the instance,
	// naming the field.
	bad, err := gw.Sim().Configure(kongsim.PluginEntity{ID: "bad-capture", Unchecked: true, Config: map[string]any{
		"traces_endpoint": sink.TracesURL(), "capture_request_headers": []any{"authorization"}}})
	if err != nil {
		t.Fatal(err)
	}
	if res := gw.Sim().RunLog(bad, &kongsim.LogData{Serialize: payload("bad", time.Now())}); res.Err == nil {
		t.Error("an instance capturing authorization was started")
	}
	waitOutput(t, gw.Sim(), "capture_request_headers", 5*time.Second)
	gw.Close() // SIGTERM: shutdown logs too
	for _, l := range gw.Sim().Output() {
		for what, secret := range secrets {
			if strings.Contains(l, secret) {
				t.Errorf("plugin output leaks the %s: %s", what, l)
			}
		}
	}
	if !t.Failed() {
		record(t, "secrets", "%d secrets (auth, proxy-auth, cookie, set-cookie, redact_headers, 3 query params, bodies, backend credential) in %d requests: 0 found in %d exported spans (every name, attribute, event, status, resource) nor in the plugin's debug output (%d lines); capturing authorization refused at StartInstance",
			len(secrets), n, checked, len(gw.Sim().Output()))
	}
}

func appendKVs(out []string, kvs []*commonpb.KeyValue) []string {
	for _, kv := range kvs {
		out = append(out, kv.GetKey(), kv.GetValue().String())
	}
	return out
}

// TLS verification is on by default: a self-signed backend gets nothing
// until its CA is configured.
func TestTLSVerifiedByDefault(t *testing.T) {
	sink := otlpsink.StartTLS(t, otlpsink.Options{})
	endpoint := sink.URL() + otlpsink.TracesPath
	p := startPlugin(t, "", pluginConfig(endpoint))
	burst(t, p, "tls", 5)
	time.Sleep(1500 * time.Millisecond)
	if got := sink.Stats().Accepted; got != 0 {
		t.Fatalf("an unverified backend accepted %d requests", got)
	}
	waitOutput(t, p.sim, "certificate", 5*time.Second)

	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: sink.Server().Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	config := pluginConfig(endpoint)
	config["tls_ca_file"] = ca
	q := startPlugin(t, "", config)
	burst(t, q, "tlsok", 5)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := sink.WaitSpans(ctx, 5*spansPerRequest); err != nil {
		t.Fatal(err)
	}
	record(t, "TLS", "self-signed backend refused by default (certificate error logged); accepted with tls_ca_file")
}

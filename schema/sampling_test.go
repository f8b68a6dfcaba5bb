package schema

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/trace-exporter/trace-exporter/test/kongsim"
)

// sampling_strategy loads with Kong's names; left out it is this plugin's
// parent-based default, written out it means what Kong means by it.
func TestSamplingStrategy(t *testing.T) {
	resetEnvForTest(noEnv)
	ep := `"traces_endpoint":"http://c:4318/v1/traces"`
	for js, want := range map[string]SamplingStrategy{
		`{` + ep + `}`: SamplingParentProbabilityFallback,
		`{` + ep + `,"sampling_strategy":"parent_drop_probability_fallback"}`: SamplingParentDropProbabilityFallback,
		`{` + ep + `,"sampling_strategy":"parent_probability_fallback"}`:      SamplingParentProbabilityFallback,
	} {
		c, err := decode(t, js)
		if err != nil {
			t.Fatalf("%s: %v", js, err)
		}
		if c.SamplingStrategy != want {
			t.Errorf("%s: sampling_strategy %q, want %q", js, c.SamplingStrategy, want)
		}
	}
	_, err := decode(t, `{`+ep+`,"sampling_strategy":"always_on"}`)
	if err == nil || !strings.Contains(err.Error(), "config.sampling_strategy: must be one of") {
		t.Errorf("unknown strategy: %v", err)
	}
}

func TestSamplingRulesAndRemoteSampling(t *testing.T) {
	resetEnvForTest(noEnv)
	c, err := decode(t, `{"traces_endpoint":"http://c:4318/v1/traces","max_traces_per_second":25,
		"sampling_rules":[{"header_name":"X-Debug","header_value":"1"},{"path_prefix":"/health","sampling_rate":0}],
		"remote_sampling":{"endpoint":"http://jaeger:5778/sampling"}}`)
	if err != nil {
		t.Fatal(err)
	}
	want := []SamplingRule{
		{HeaderName: "x-debug", HeaderValue: "1", SamplingRate: 1},
		{PathPrefix: "/health", SamplingRate: 0},
	}
	if len(c.SamplingRules) != 2 || c.SamplingRules[0] != want[0] || c.SamplingRules[1] != want[1] {
		t.Errorf("rules %+v, want %+v (rate 1 by default, header names lower-cased)", c.SamplingRules, want)
	}
	if c.MaxTracesPerSecond != 25 || c.RemoteSampling.PollEvery().Seconds() != 60 || c.RemoteSamplingService() != "kong" {
		t.Errorf("limit %v, poll %v, service %q", c.MaxTracesPerSecond, c.RemoteSampling.PollEvery(), c.RemoteSamplingService())
	}
	c.ResourceAttributes = map[string]string{"service.name": "edge"}
	if c.RemoteSamplingService() != "edge" {
		t.Errorf("service %q, want the resource's service.name", c.RemoteSamplingService())
	}
	c.RemoteSampling.ServiceName = "gateway"
	if c.RemoteSamplingService() != "gateway" {
		t.Errorf("service %q, want remote_sampling.service_name", c.RemoteSamplingService())
	}

	ep := `"traces_endpoint":"http://c:4318/v1/traces"`
	for _, tc := range []struct{ js, field string }{
		{`"sampling_rules":[{"sampling_rate":0.5}]`, "sampling_rules[1]"},
		{`"sampling_rules":[{"method":"GET"},{"header_value":"x"}]`, "sampling_rules[2]"},
		{`"sampling_rules":[{"method":"get"}]`, "sampling_rules[1].method"},
		{`"sampling_rules":[{"path_prefix":"api"}]`, "sampling_rules[1].path_prefix"},
		{`"sampling_rules":[{"header_name":"x y"}]`, "sampling_rules[1].header_name"},
		{`"sampling_rules":[{"method":"GET","sampling_rate":1.5}]`, "sampling_rules[1].sampling_rate"},
		{`"sampling_rules":[{"method":"GET","max_traces_per_second":-1}]`, "sampling_rules[1].max_traces_per_second"},
		{`"max_traces_per_second":-2`, "max_traces_per_second"},
		{`"remote_sampling":{"endpoint":"jaeger:5778"}`, "remote_sampling.endpoint"},
		{`"remote_sampling":{"endpoint":"http://jaeger:5778/sampling?service=kong"}`, "remote_sampling.endpoint"},
		{`"remote_sampling":{"endpoint":"http://j/sampling","poll_interval":0}`, "remote_sampling.poll_interval"},
	} {
		_, err := decode(t, `{`+ep+`,`+tc.js+`}`)
		if err == nil || !strings.Contains(err.Error(), "config."+tc.field+":") {
			t.Errorf("%s: error %v, want one naming %s", tc.js, err, tc.field)
		}
	}
}

// What Kong refuses when a sampling config is written, the plugin refuses at
// StartInstance, and the other way round (kongsim applies Kong's validators
// to the dumped schema).
func TestSamplingFieldsKongAndPluginAgree(t *testing.T) {
	resetEnvForTest(noEnv)
	raw, _ := json.Marshal(KongSchema("trace-exporter", nil))
	var m map[string]any
	_ = json.Unmarshal(raw, &m)
	ks, err := kongsim.ParseSchema(m)
	if err != nil {
		t.Fatal(err)
	}
	rule := func(kv ...any) map[string]any {
		r := map[string]any{}
		for i := 0; i < len(kv); i += 2 {
			r[kv[i].(string)] = kv[i+1]
		}
		return r
	}
	for _, tc := range []struct {
		field string
		value any
	}{
		{"sampling_strategy", "parent_drop_probability_fallback"},
		{"sampling_strategy", "parent_based"},
		{"max_traces_per_second", 10.5},
		{"max_traces_per_second", -1},
		{"sampling_rules", []any{rule("method", "POST", "sampling_rate", 0.5)}},
		{"sampling_rules", []any{rule("method", "post")}},
		{"sampling_rules", []any{rule("path_prefix", "/api")}},
		{"sampling_rules", []any{rule("path_prefix", "api")}},
		{"sampling_rules", []any{rule("header_name", "x-debug", "header_value", "on")}},
		{"sampling_rules", []any{rule("header_name", "bad name")}},
		{"sampling_rules", []any{rule("route_name", "r", "sampling_rate", 3)}},
		{"remote_sampling", rule("endpoint", "http://jaeger:5778/sampling", "poll_interval", 5)},
		{"remote_sampling", rule("endpoint", "http://jaeger:5778/sampling", "poll_interval", 0.5)},
	} {
		cfg := map[string]any{"traces_endpoint": "http://c:4318/v1/traces", tc.field: tc.value}
		_, kongErr := ks.Validate(cfg)
		js, _ := json.Marshal(cfg)
		var c Config
		pluginErr := json.Unmarshal(js, &c)
		if (kongErr == nil) != (pluginErr == nil) {
			t.Errorf("%s=%v: Kong says %v, plugin says %v", tc.field, tc.value, kongErr, pluginErr)
		}
		if pluginErr != nil && !strings.Contains(pluginErr.Error(), tc.field) {
			t.Errorf("%s=%v: plugin error %q does not name the field", tc.field, tc.value, pluginErr)
		}
	}
}

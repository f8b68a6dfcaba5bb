package deploy

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"math"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/trace-exporter/trace-exporter/schema"
)

var update = flag.Bool("update", false, "rewrite docker/kong.yml from kong.yml")

// kongYMLFiles are the declarative configs: the top-level one (emulator,
// make demo) and its compose variant.
var kongYMLFiles = []string{"kong.yml", "docker/kong.yml"}

// composeAddrs maps the top-level kong.yml's loopback addresses to compose
// service addresses. docker/kong.yml is kong.yml with exactly these
// replacements, so the two cannot drift.
var composeAddrs = []struct{ local, compose string }{
	{"127.0.0.1:9000", "echo:9000"},   // the echo upstream
	{"127.0.0.1:9001", "echo:9001"},   // a port nothing listens on (refused)
	{"127.0.0.1:4318", "jaeger:4318"}, // Jaeger's OTLP/HTTP receiver
}

const dockerKongYMLHeader = `# GENERATED from ../kong.yml: do not edit. Edit kong.yml, then run
#   go test ./test/deploy -run TestDockerKongYML -update
# The only difference: loopback addresses become compose service addresses
# (127.0.0.1:9000 -> echo:9000, 127.0.0.1:9001 -> echo:9001,
# 127.0.0.1:4318 -> jaeger:4318). docker/docker-compose.yml mounts this file.
`

func generateDockerKongYML(t *testing.T) []byte {
	t.Helper()
	text := string(readFile(t, "kong.yml"))
	for _, a := range composeAddrs {
		if !strings.Contains(text, a.local) {
			t.Errorf("kong.yml no longer uses %s: drop it from composeAddrs", a.local)
		}
		text = strings.ReplaceAll(text, a.local, a.compose)
	}
	// Every value must now name compose services (comments may still
	// mention localhost: that is the host's view, e.g. curl localhost:8000).
	var doc any
	if err := yaml.Unmarshal([]byte(text), &doc); err != nil {
		t.Fatalf("kong.yml: %v", err)
	}
	walkStrings(doc, func(s string) {
		for _, local := range []string{"127.0.0.1", "localhost", "[::1]"} {
			if strings.Contains(s, local) {
				t.Errorf("kong.yml value %q: %s has no compose equivalent: add it to composeAddrs", s, local)
			}
		}
	})
	return []byte(dockerKongYMLHeader + text)
}

func walkStrings(v any, fn func(string)) {
	switch x := v.(type) {
	case string:
		fn(x)
	case []any:
		for _, e := range x {
			walkStrings(e, fn)
		}
	case map[string]any:
		for k, e := range x {
			fn(k)
			walkStrings(e, fn)
		}
	}
}

func TestDockerKongYMLIsGeneratedFromKongYML(t *testing.T) {
	want := generateDockerKongYML(t)
	path := filepath.Join(repoRoot(t), "docker", "kong.yml")
	if *update {
		if err := os.WriteFile(path, want, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("docker/kong.yml is out of date with kong.yml; run\n  go test ./test/deploy -run TestDockerKongYML -update")
	}
}

// Keys of Kong 3.x declarative entities (kong/db/schema/entities/*.lua):
// anything else is refused by Kong at load time.
var declarativeKeys = map[string][]string{
	"top":      {"_format_version", "_transform", "_comment", "services", "routes", "upstreams", "targets", "plugins", "consumers", "certificates", "ca_certificates", "snis", "vaults"},
	"service":  {"id", "name", "url", "protocol", "host", "port", "path", "retries", "connect_timeout", "write_timeout", "read_timeout", "tags", "client_certificate", "tls_verify", "tls_verify_depth", "ca_certificates", "enabled", "routes", "plugins"},
	"route":    {"id", "name", "protocols", "methods", "hosts", "paths", "headers", "https_redirect_status_code", "regex_priority", "strip_path", "path_handling", "preserve_host", "request_buffering", "response_buffering", "snis", "sources", "destinations", "tags", "service", "plugins"},
	"plugin":   {"id", "name", "instance_name", "config", "enabled", "protocols", "tags", "route", "service", "consumer"},
	"upstream": {"id", "name", "algorithm", "hash_on", "hash_fallback", "hash_on_header", "hash_fallback_header", "hash_on_cookie", "hash_on_cookie_path", "hash_on_query_arg", "hash_fallback_query_arg", "hash_on_uri_capture", "hash_fallback_uri_capture", "slots", "healthchecks", "tags", "host_header", "client_certificate", "use_srv_name", "targets"},
	"target":   {"id", "target", "weight", "tags"},
}

func checkKeys(t *testing.T, file, kind, where string, m map[string]any) {
	t.Helper()
	for k := range m {
		if !slices.Contains(declarativeKeys[kind], k) {
			t.Errorf("%s: %s: %q is not a Kong %s field", file, where, k, kind)
		}
	}
}

// pluginUse is one plugin entity of a declarative config.
type pluginUse struct {
	where  string // "route echo-route", "service orders", "global"
	config map[string]any
}

// declarative is what the checks need from one kong.yml.
type declarative struct {
	file      string
	services  []map[string]any
	upstreams []map[string]any
	plugins   []pluginUse // trace-exporter entities only
}

func loadDeclarative(t *testing.T, file string) declarative {
	t.Helper()
	doc := readYAML(t, file)
	d := declarative{file: file}
	checkKeys(t, file, "top", "top level", doc)
	if v := doc["_format_version"]; v != "3.0" {
		t.Errorf("%s: _format_version %v; want \"3.0\" (a string)", file, v)
	}
	addPlugins := func(v any, where string) {
		for i, p := range asList(t, v, where+" plugins") {
			pm := asMap(t, p, fmt.Sprintf("%s plugins[%d]", where, i))
			checkKeys(t, file, "plugin", where, pm)
			name := asString(t, pm["name"], where+" plugin name")
			if name != pluginName {
				continue
			}
			cfg := map[string]any{}
			if c, ok := pm["config"]; ok {
				cfg = asMap(t, c, where+" plugin config")
			}
			d.plugins = append(d.plugins, pluginUse{where: where, config: cfg})
		}
	}
	for i, s := range asList(t, doc["services"], "services") {
		sm := asMap(t, s, fmt.Sprintf("services[%d]", i))
		name := asString(t, sm["name"], "service name")
		checkKeys(t, file, "service", "service "+name, sm)
		d.services = append(d.services, sm)
		if p, ok := sm["plugins"]; ok {
			addPlugins(p, "service "+name)
		}
		for j, r := range asList(t, sm["routes"], "service "+name+" routes") {
			rm := asMap(t, r, fmt.Sprintf("service %s routes[%d]", name, j))
			rname := asString(t, rm["name"], "route name")
			checkKeys(t, file, "route", "route "+rname, rm)
			if p, ok := rm["plugins"]; ok {
				addPlugins(p, "route "+rname)
			}
		}
	}
	if u, ok := doc["upstreams"]; ok {
		for i, up := range asList(t, u, "upstreams") {
			um := asMap(t, up, fmt.Sprintf("upstreams[%d]", i))
			checkKeys(t, file, "upstream", "upstream", um)
			for j, tg := range asList(t, um["targets"], "targets") {
				checkKeys(t, file, "target", "target", asMap(t, tg, fmt.Sprintf("targets[%d]", j)))
			}
			d.upstreams = append(d.upstreams, um)
		}
	}
	if p, ok := doc["plugins"]; ok {
		for i, pl := range asList(t, p, "plugins") {
			pm := asMap(t, pl, fmt.Sprintf("plugins[%d]", i))
			for _, k := range []string{"service", "route", "consumer"} {
				if _, scoped := pm[k]; scoped {
					t.Fatalf("%s: top-level plugin scoped to a %s: nest it instead", file, k)
				}
			}
		}
		addPlugins(p, "global")
	}
	return d
}

func TestKongYMLPluginOnRouteServiceAndGlobally(t *testing.T) {
	for _, file := range kongYMLFiles {
		d := loadDeclarative(t, file)
		var kinds []string
		for _, p := range d.plugins {
			kinds = append(kinds, strings.Fields(p.where)[0])
		}
		for _, want := range []string{"route", "service", "global"} {
			if !slices.Contains(kinds, want) {
				t.Errorf("%s: no %s-level %s instance (have %v)", file, want, pluginName, kinds)
			}
		}
		globals := 0
		for _, k := range kinds {
			if k == "global" {
				globals++
			}
		}
		if globals > 1 {
			t.Errorf("%s: more than one global instance: Kong refuses duplicates", file)
		}
	}
}

// TestKongYMLUpstreamWithRefusingTarget: a service balanced over two
// targets, the first one dead, so traces show a failed try then a good one.
func TestKongYMLUpstreamWithRefusingTarget(t *testing.T) {
	echoPort := "9000"
	for _, file := range kongYMLFiles {
		d := loadDeclarative(t, file)
		found := false
		for _, up := range d.upstreams {
			name := asString(t, up["name"], "upstream name")
			targets := asList(t, up["targets"], "upstream "+name+" targets")
			var service map[string]any
			for _, s := range d.services {
				if s["host"] == name {
					service = s
				}
			}
			if service == nil || len(targets) < 2 {
				continue
			}
			found = true
			var addrs []string
			for i, tg := range targets {
				addrs = append(addrs, asString(t, asMap(t, tg, "target")["target"], fmt.Sprintf("target %d", i)))
			}
			_, firstPort, err1 := net.SplitHostPort(addrs[0])
			_, secondPort, err2 := net.SplitHostPort(addrs[1])
			if err1 != nil || err2 != nil {
				t.Fatalf("%s: targets %v need host:port", file, addrs)
			}
			if firstPort == echoPort || secondPort != echoPort {
				t.Errorf("%s: targets %v; want a dead port first and the echo upstream (:%s) second", file, addrs, echoPort)
			}
			if r, ok := service["retries"].(int); ok && r < 1 {
				t.Errorf("%s: service %v has retries %d: no retried try", file, service["name"], r)
			}
			if alg, ok := up["algorithm"]; ok && alg != "round-robin" && alg != "least-connections" {
				t.Errorf("%s: algorithm %v would pin a client to one target", file, alg)
			}
		}
		if !found {
			t.Errorf("%s: no service balanced over an upstream with two targets", file)
		}
	}
}

// kongExtraKeys are added by Kong to the config of every StartInstance.
var kongExtraKeys = map[string]any{
	"__key__":       "plugins:0123:::::",
	"__seq__":       7,
	"__plugin_id":   "0123",
	"__ws_id":       "ws",
	"route_id":      "r1",
	"service_id":    nil,
	"consumer_id":   nil,
	"instance_name": nil,
}

// TestKongYMLPluginConfigsAreValid: every trace-exporter config uses only
// fields of the plugin's schema (Kong refuses unknown fields when it loads
// the file; the plugin's decoder ignores them, so this must be checked
// here) and passes the plugin's own decoder and validation, as it will at
// StartInstance.
func TestKongYMLPluginConfigsAreValid(t *testing.T) {
	for _, file := range kongYMLFiles {
		d := loadDeclarative(t, file)
		if len(d.plugins) == 0 {
			t.Fatalf("%s: no %s plugin", file, pluginName)
		}
		for _, p := range d.plugins {
			where := file + ": " + p.where
			for _, problem := range checkAgainstSchema(p.config, schema.Fields(), "") {
				t.Errorf("%s: %s", where, problem)
			}
			withKong := map[string]any{}
			for k, v := range p.config {
				withKong[k] = v
			}
			for k, v := range kongExtraKeys {
				withKong[k] = v
			}
			var c schema.Config
			if err := json.Unmarshal(toJSON(t, withKong), &c); err != nil {
				t.Errorf("%s: the plugin refuses this config: %v", where, err)
				continue
			}
			ep, _ := p.config["traces_endpoint"].(string)
			if ep == "" || c.TracesURL() != ep {
				t.Errorf("%s: traces_endpoint %q decoded as %q", where, ep, c.TracesURL())
			}
			u, err := url.Parse(ep)
			if err != nil {
				t.Errorf("%s: %v", where, err)
				continue
			}
			wantHost := "127.0.0.1:4318"
			if strings.HasPrefix(file, "docker/") {
				wantHost = "jaeger:4318"
			}
			if u.Host != wantHost || u.Path != "/v1/traces" {
				t.Errorf("%s: endpoint %s; want http://%s/v1/traces", where, ep, wantHost)
			}
			if !c.TLSVerify {
				t.Errorf("%s: tls_verify is off", where)
			}
		}
	}
}

// checkAgainstSchema lists the config's keys and values that Kong's schema
// (the plugin's field tree) would refuse by type or name.
func checkAgainstSchema(cfg map[string]any, fields []schema.Field, prefix string) []string {
	var problems []string
	byName := map[string]schema.Field{}
	for _, f := range fields {
		byName[f.Name] = f
	}
	keys := make([]string, 0, len(cfg))
	for k := range cfg {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		f, ok := byName[k]
		if !ok {
			problems = append(problems, fmt.Sprintf("config.%s%s: unknown field", prefix, k))
			continue
		}
		problems = append(problems, checkValue(cfg[k], f, prefix+k)...)
	}
	return problems
}

func checkValue(v any, f schema.Field, name string) []string {
	bad := func() []string { return []string{fmt.Sprintf("config.%s: want %s, got %T (%v)", name, f.Type, v, v)} }
	if v == nil {
		return nil // null: Kong applies the default
	}
	switch f.Type {
	case "string":
		if _, ok := v.(string); !ok {
			return bad()
		}
	case "boolean":
		if _, ok := v.(bool); !ok {
			return bad()
		}
	case "integer":
		switch n := v.(type) {
		case int:
		case float64:
			if n != math.Trunc(n) {
				return bad()
			}
		default:
			return bad()
		}
	case "number":
		switch v.(type) {
		case int, float64:
		default:
			return bad()
		}
	case "array":
		l, ok := v.([]any)
		if !ok {
			return bad()
		}
		var out []string
		for i, e := range l {
			if f.Elements != nil {
				out = append(out, checkValue(e, *f.Elements, name+"["+strconv.Itoa(i)+"]")...)
			}
		}
		return out
	case "map":
		m, ok := v.(map[string]any)
		if !ok {
			return bad()
		}
		var out []string
		for k, e := range m {
			if f.Values != nil {
				out = append(out, checkValue(e, *f.Values, name+"."+k)...)
			}
		}
		return out
	case "record":
		m, ok := v.(map[string]any)
		if !ok {
			return bad()
		}
		return checkAgainstSchema(m, f.Fields, name+".")
	}
	if len(f.OneOf) > 0 && !slices.Contains(f.OneOf, v) {
		return []string{fmt.Sprintf("config.%s: %v is not one of %v", name, v, f.OneOf)}
	}
	return nil
}

// TestSchemaCheckCatchesMistakes proves the checks above can fail: each
// mistake is one a user makes in kong.yml.
func TestSchemaCheckCatchesMistakes(t *testing.T) {
	cases := map[string]map[string]any{
		"typo":            {"traces_endpont": "http://x/v1/traces"},
		"nested typo":     {"queue": map[string]any{"max_batch": 10}},
		"wrong type":      {"sampling_rate": "half"},
		"fraction as int": {"connect_timeout": 1.5},
		"not one of":      {"exporter": "jaeger"},
		"array elements":  {"propagation": map[string]any{"extract": []any{"w3c", "nope"}}},
	}
	for name, cfg := range cases {
		if problems := checkAgainstSchema(cfg, schema.Fields(), ""); len(problems) == 0 {
			t.Errorf("%s: %v passed", name, cfg)
		}
	}
	if p := checkAgainstSchema(map[string]any{"queue": map[string]any{"max_batch_size": 10}, "resource_attributes": map[string]any{"a.b": "c"}}, schema.Fields(), ""); len(p) != 0 {
		t.Errorf("valid config refused: %v", p)
	}
	// And the plugin's decoder refuses a bad value the key check cannot see.
	var c schema.Config
	if err := json.Unmarshal([]byte(`{"traces_endpoint":"http://x:4318/v1/traces","sampling_rate":2}`), &c); err == nil {
		t.Error("sampling_rate 2 decoded without error")
	}
}

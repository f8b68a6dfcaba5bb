package deploy

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

// composeResults caches each compose file's validation (one
// docker-compose run per file and test binary).
var composeResults struct {
	sync.Mutex
	byFile map[string]*composeResult
}

type composeResult struct {
	once     sync.Once
	resolved map[string]any
	err      error
}

// resolvedCompose validates docker/docker-compose.yml with docker-compose
// (docker/check-compose.sh installs Debian's when missing) and returns the
// resolved configuration it prints: relative paths made absolute, ports and
// defaults normalized.
func resolvedCompose(t *testing.T) map[string]any {
	return resolvedComposeFile(t, "docker/docker-compose.yml")
}

// resolvedComposeFile is resolvedCompose for the compose file at rel.
func resolvedComposeFile(t *testing.T, rel string) map[string]any {
	t.Helper()
	composeResults.Lock()
	if composeResults.byFile == nil {
		composeResults.byFile = map[string]*composeResult{}
	}
	r := composeResults.byFile[rel]
	if r == nil {
		r = &composeResult{}
		composeResults.byFile[rel] = r
	}
	composeResults.Unlock()
	r.once.Do(func() {
		// apt-get may have to fetch package lists first on a fresh machine.
		ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
		defer cancel()
		root := repoRoot(t)
		out, err := runCommand(ctx, "", nil, filepath.Join(root, "docker", "check-compose.sh"), filepath.Join(root, rel))
		if err != nil {
			r.err = fmt.Errorf("docker-compose refused %s (or could not run): %w", rel, err)
			return
		}
		r.err = yaml.Unmarshal(out, &r.resolved)
	})
	if r.err != nil {
		t.Fatal(r.err)
	}
	return r.resolved
}

func composeService(t *testing.T, name string) map[string]any {
	t.Helper()
	services := asMap(t, resolvedCompose(t)["services"], "services")
	return asMap(t, services[name], "service "+name)
}

func composeEnv(t *testing.T, svc map[string]any, name string) map[string]string {
	t.Helper()
	out := map[string]string{}
	if e, ok := svc["environment"]; ok {
		for k, v := range asMap(t, e, name+" environment") {
			out[k] = fmt.Sprint(v)
		}
	}
	return out
}

// volumeSource returns the host path mounted at target, or "".
func volumeSource(t *testing.T, svc map[string]any, target string) string {
	t.Helper()
	for _, v := range asStrings(t, svc["volumes"], "volumes") {
		parts := strings.Split(v, ":")
		if len(parts) >= 2 && parts[1] == target {
			return parts[0]
		}
	}
	return ""
}

// publishedPorts maps container ports to their host binding ("ip:port").
func publishedPorts(t *testing.T, svc map[string]any, name string) map[string]string {
	t.Helper()
	out := map[string]string{}
	if _, ok := svc["ports"]; !ok {
		return out
	}
	for _, e := range asList(t, svc["ports"], name+" ports") {
		if m, ok := e.(map[string]any); ok {
			// docker-compose prints this long form when no host address is given.
			hostIP, _ := m["host_ip"].(string)
			if hostIP == "" {
				hostIP = "0.0.0.0"
			}
			out[fmt.Sprint(m["target"])] = hostIP + ":" + fmt.Sprint(m["published"])
			continue
		}
		p := asString(t, e, name+" port")
		spec, _, _ := strings.Cut(p, "/")
		parts := strings.Split(spec, ":")
		if len(parts) != 3 {
			t.Errorf("%s: port %q does not name the host address (publish on 127.0.0.1 only)", name, p)
			continue
		}
		out[parts[2]] = parts[0] + ":" + parts[1]
	}
	return out
}

func TestComposeFileValidates(t *testing.T) {
	services := asMap(t, resolvedCompose(t)["services"], "services")
	var names []string
	for n := range services {
		names = append(names, n)
	}
	slices.Sort(names)
	if !slices.Equal(names, []string{"echo", "jaeger", "kong"}) {
		t.Errorf("services %v; want echo, jaeger, kong", names)
	}
	for _, n := range names {
		svc := asMap(t, services[n], n)
		hc, ok := svc["healthcheck"]
		if !ok {
			t.Errorf("%s: no healthcheck (depends_on waits for service_healthy)", n)
			continue
		}
		test := asStrings(t, asMap(t, hc, n+" healthcheck")["test"], n+" healthcheck test")
		if len(test) < 2 || test[0] != "CMD" {
			t.Errorf("%s: healthcheck test %v; want the exec form [CMD, …] (no shell in some images)", n, test)
		}
		// The Admin API shows backend credentials: nothing is published
		// beyond this machine.
		for port, bind := range publishedPorts(t, svc, n) {
			if !strings.HasPrefix(bind, "127.0.0.1:") {
				t.Errorf("%s: port %s published on %s; want 127.0.0.1", n, port, bind)
			}
		}
	}
}

func TestComposeKong(t *testing.T) {
	root := repoRoot(t)
	kong := composeService(t, "kong")
	build := asMap(t, kong["build"], "kong build")
	if build["context"] != root || build["dockerfile"] != "docker/Dockerfile" {
		t.Errorf("kong build %v; want context = the repository root, dockerfile docker/Dockerfile", build)
	}
	env := composeEnv(t, kong, "kong")
	if env["KONG_DATABASE"] != "off" {
		t.Errorf("KONG_DATABASE=%q; want off (DB-less)", env["KONG_DATABASE"])
	}
	decl := env["KONG_DECLARATIVE_CONFIG"]
	if src := volumeSource(t, kong, decl); src != filepath.Join(root, "docker", "kong.yml") {
		t.Errorf("KONG_DECLARATIVE_CONFIG=%s is mounted from %q; want docker/kong.yml", decl, src)
	}
	if lvl := env["KONG_LOG_LEVEL"]; lvl != "info" && lvl != "debug" {
		t.Errorf("KONG_LOG_LEVEL=%q: Kong logs the plugin server's output at info only", lvl)
	}
	// The image's plugin-server settings are checked against Kong's rules in
	// dockerfile_test.go; compose must not override them differently.
	image := readKongDockerfile(t).env
	for k, v := range env {
		iv, inImage := image[k]
		if inImage && iv != v {
			t.Errorf("compose sets %s=%q, the image %q", k, v, iv)
		}
		if strings.HasPrefix(k, "KONG_PLUGINSERVER_") && !inImage {
			t.Errorf("compose sets %s, which the image does not: keep plugin-server settings in docker/Dockerfile", k)
		}
	}
	// Variables for the plugin server must be declared to nginx, or its
	// worker (which spawns the plugin server) never sees them.
	declared := nginxMainEnv(t, env["KONG_NGINX_MAIN_ENV"])
	for k := range env {
		if !strings.HasPrefix(k, "KONG_") && !slices.Contains(declared, k) {
			t.Errorf("%s is set for Kong but not declared in KONG_NGINX_MAIN_ENV: the plugin server will not see it", k)
		}
	}
	for _, k := range declared {
		if _, ok := env[k]; !ok {
			t.Errorf("KONG_NGINX_MAIN_ENV declares %s, which compose does not set", k)
		}
	}

	deps := asMap(t, kong["depends_on"], "kong depends_on")
	for _, dep := range []string{"echo", "jaeger"} {
		d, ok := deps[dep]
		if !ok || asMap(t, d, "depends_on "+dep)["condition"] != "service_healthy" {
			t.Errorf("kong depends_on %s: %v; want condition service_healthy", dep, d)
		}
	}
	proxyPort := portOf(t, env["KONG_PROXY_LISTEN"])
	if _, ok := publishedPorts(t, kong, "kong")[proxyPort]; !ok {
		t.Errorf("Kong's proxy port %s is not published", proxyPort)
	}
}

// nginxMainEnv reads kong.conf's nginx_main_env, which Kong injects as
// `env <value>;`: "A" or "A; env B; env C".
func nginxMainEnv(t *testing.T, v string) []string {
	t.Helper()
	if v == "" {
		return nil
	}
	var names []string
	for i, part := range strings.Split(v, ";") {
		part = strings.TrimSpace(part)
		if i > 0 {
			rest, ok := strings.CutPrefix(part, "env ")
			if !ok {
				t.Fatalf("KONG_NGINX_MAIN_ENV %q: after a ';' each entry must read \"env NAME\"", v)
			}
			part = strings.TrimSpace(rest)
		}
		if !regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`).MatchString(part) {
			t.Fatalf("KONG_NGINX_MAIN_ENV %q: %q is not a variable name", v, part)
		}
		names = append(names, part)
	}
	return names
}

func portOf(t *testing.T, listen string) string {
	t.Helper()
	addr := strings.Fields(listen)[0]
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatalf("listen address %q: %v", listen, err)
	}
	return port
}

// jaegerImageVersion maps the Jaeger module version tools/jaeger pins to the
// image tag of the same release: v1.N.P was released together with v2.(N-63).P
// (v2.0.0 = v1.63.0).
func jaegerImageVersion(t *testing.T) string {
	t.Helper()
	m := regexp.MustCompile(`(?m)^\s*github\.com/jaegertracing/jaeger v1\.(\d+)\.(\d+)\b`).FindStringSubmatch(string(readFile(t, "tools/jaeger/go.mod")))
	if m == nil {
		t.Fatal("tools/jaeger/go.mod pins no github.com/jaegertracing/jaeger v1.x")
	}
	minor, _ := strconv.Atoi(m[1])
	return fmt.Sprintf("2.%d.%s", minor-63, m[2])
}

func TestComposeJaeger(t *testing.T) {
	root := repoRoot(t)
	j := composeService(t, "jaeger")
	if want := "jaegertracing/jaeger:" + jaegerImageVersion(t); j["image"] != want {
		t.Errorf("jaeger image %v; want %s, the version the tests run", j["image"], want)
	}
	cmd := asStrings(t, j["command"], "jaeger command")
	cfg, ok := flagValue(cmd, "config")
	if !ok {
		t.Fatalf("jaeger command %v has no --config", cmd)
	}
	if src := volumeSource(t, j, cfg); src != filepath.Join(root, "docker", "jaeger.yml") {
		t.Errorf("--config %s is mounted from %q; want docker/jaeger.yml", cfg, src)
	}
	if composeEnv(t, j, "jaeger")["JAEGER_LISTEN_HOST"] != "0.0.0.0" {
		t.Error("JAEGER_LISTEN_HOST must be 0.0.0.0: Kong reaches Jaeger from another container")
	}
	ports := publishedPorts(t, j, "jaeger")
	listeners := jaegerListeners(t)
	for _, want := range []string{"extensions.jaeger_query.http", "receivers.otlp.protocols.http"} {
		if _, ok := ports[listeners[want]]; !ok {
			t.Errorf("%s (port %s) is not published", want, listeners[want])
		}
	}
	// The health check probes the health extension's port and path.
	test := asStrings(t, asMap(t, j["healthcheck"], "healthcheck")["test"], "test")
	u, err := url.Parse(test[len(test)-1])
	if err != nil || u.Port() != listeners["extensions.healthcheckv2.http"] || u.Path != "/status" {
		t.Errorf("jaeger healthcheck %v; want GET http://127.0.0.1:%s/status", test, listeners["extensions.healthcheckv2.http"])
	}
}

// jaegerListeners returns docker/jaeger.yml's listeners (dotted config path
// of the endpoint's parent → port).
func jaegerListeners(t *testing.T) map[string]string {
	return listenersOf(t, "docker/jaeger.yml", "JAEGER_LISTEN_HOST")
}

// listenersOf returns the listeners of the collector config at rel, each
// of which must be written ${env:<hostVar>:-127.0.0.1}:<port> (loopback
// unless the container sets hostVar); endpoints of other shapes (exporter
// destinations) are not listeners and are skipped.
func listenersOf(t *testing.T, rel, hostVar string) map[string]string {
	t.Helper()
	out := map[string]string{}
	prefix := "${env:" + hostVar + ":-127.0.0.1}:"
	var walk func(v any, path string)
	walk = func(v any, path string) {
		m, ok := v.(map[string]any)
		if !ok {
			return
		}
		for k, e := range m {
			if k == "endpoint" && (strings.HasPrefix(path, "receivers.") || strings.HasPrefix(path, "extensions.")) {
				s := asString(t, e, path+".endpoint")
				port, ok := strings.CutPrefix(s, prefix)
				if _, err := strconv.Atoi(port); !ok || err != nil {
					t.Errorf("%s %s.endpoint %q: want %s<port>", rel, path, s, prefix)
				}
				out[path] = port
				continue
			}
			walk(e, strings.TrimPrefix(path+"."+k, "."))
		}
	}
	walk(readYAML(t, rel), "")
	return out
}

func TestComposeEcho(t *testing.T) {
	e := composeService(t, "echo")
	build := asMap(t, e["build"], "echo build")
	if build["context"] != repoRoot(t) || build["dockerfile"] != "docker/echo/Dockerfile" {
		t.Errorf("echo build %v; want the repository root and docker/echo/Dockerfile", build)
	}
	listen, ok := flagValue(asStrings(t, e["command"], "echo command"), "listen")
	if !ok || !strings.HasPrefix(listen, "0.0.0.0:") {
		t.Fatalf("echo must listen on 0.0.0.0:<port> (Kong is in another container), got %q", listen)
	}
	test := asStrings(t, asMap(t, e["healthcheck"], "healthcheck")["test"], "test")
	if u, err := url.Parse(test[len(test)-1]); err != nil || u.Port() != portOf(t, listen) {
		t.Errorf("echo healthcheck %v does not probe its listen port %s", test, listen)
	}
}

// TestComposeAddressesInDockerKongYML: every address in docker/kong.yml
// names a compose service and a port that service listens on (except the
// deliberately dead balancer target).
func TestComposeAddressesInDockerKongYML(t *testing.T) {
	listen, _ := flagValue(asStrings(t, composeService(t, "echo")["command"], "echo command"), "listen")
	listening := map[string]string{
		"echo":   portOf(t, listen),
		"jaeger": jaegerListeners(t)["receivers.otlp.protocols.http"],
	}
	d := loadDeclarative(t, "docker/kong.yml")
	var addrs []string
	for _, s := range d.services {
		if u, ok := s["url"].(string); ok {
			addrs = append(addrs, hostPort(t, u))
		}
	}
	for _, p := range d.plugins {
		addrs = append(addrs, hostPort(t, p.config["traces_endpoint"].(string)))
	}
	dead := 0
	for _, up := range d.upstreams {
		for i, tg := range asList(t, up["targets"], "targets") {
			a := asString(t, asMap(t, tg, "target")["target"], "target")
			host, port, _ := net.SplitHostPort(a)
			if i == 0 && listening[host] != "" && port != listening[host] {
				dead++ // the refused try, on purpose
				continue
			}
			addrs = append(addrs, a)
		}
	}
	if dead != 1 {
		t.Errorf("want exactly one dead balancer target, found %d", dead)
	}
	for _, a := range addrs {
		host, port, err := net.SplitHostPort(a)
		if err != nil {
			t.Errorf("address %q: %v", a, err)
			continue
		}
		if want, ok := listening[host]; !ok || port != want {
			t.Errorf("docker/kong.yml uses %s; compose has %s listening on %v", a, host, want)
		}
	}
}

func hostPort(t *testing.T, raw string) string {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		t.Fatalf("URL %q: %v", raw, err)
	}
	if u.Port() == "" {
		return u.Host + ":80"
	}
	return u.Host
}

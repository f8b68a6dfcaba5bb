package deploy

import (
	"context"
	"encoding/json"
	"net"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// kongServerKey is the kong.conf key of one plugin-server setting, derived
// as Kong 3.x derives it (conf_loader): "pluginserver_" + the server name
// lowercased with '-' replaced by '_' + "_" + setting.
func kongServerKey(name, setting string) string {
	return "pluginserver_" + strings.ReplaceAll(strings.ToLower(name), "-", "_") + "_" + setting
}

// kongEnv is the environment variable Kong reads for a kong.conf key.
func kongEnv(key string) string { return "KONG_" + strings.ToUpper(key) }

func TestKongServerKeyDerivation(t *testing.T) {
	// The reference's example: my-plugin → KONG_PLUGINSERVER_MY_PLUGIN_SOCKET.
	if got := kongEnv(kongServerKey("My-Plugin", "socket")); got != "KONG_PLUGINSERVER_MY_PLUGIN_SOCKET" {
		t.Fatalf("got %s", got)
	}
}

// kongDockerfile is docker/Dockerfile split into what the checks need.
type kongDockerfile struct {
	build, final stage
	env          map[string]string
}

func readKongDockerfile(t *testing.T) kongDockerfile {
	t.Helper()
	stages := readDockerfile(t, "docker/Dockerfile")
	if len(stages) != 2 {
		t.Fatalf("docker/Dockerfile: want 2 stages (Go builder, Kong), got %d", len(stages))
	}
	d := kongDockerfile{build: stages[0], final: stages[1]}
	d.env = d.final.env(t)
	return d
}

// goBuildOutput finds the stage's `go build` RUN and returns its -o path
// and its words.
func goBuildOutput(t *testing.T, st stage) (string, []string) {
	t.Helper()
	for _, in := range st.all("RUN") {
		words := strings.Fields(in.Args)
		i := slices.Index(words, "build")
		if i < 1 || words[i-1] != "go" {
			continue
		}
		o := slices.Index(words, "-o")
		if o < 0 || o+1 >= len(words) {
			t.Fatalf("line %d: go build without -o", in.Line)
		}
		return words[o+1], words
	}
	t.Fatalf("stage %s: no RUN ... go build", st.Name)
	return "", nil
}

func TestDockerfileBuilderStage(t *testing.T) {
	d := readKongDockerfile(t)
	b := d.build
	if !strings.HasPrefix(b.Image, "golang:1.26") || b.Name == "" {
		t.Errorf("builder: FROM %s AS %q; want golang:1.26 AS <name>", b.Image, b.Name)
	}
	// The image's Go must be the go.mod's (major.minor): an older one would
	// try to download a toolchain, a newer one is untested.
	goMod := string(readFile(t, "go.mod"))
	m := regexp.MustCompile(`(?m)^go (\d+\.\d+)`).FindStringSubmatch(goMod)
	if m == nil || !strings.HasPrefix(b.Image, "golang:"+m[1]) {
		t.Errorf("builder image %s does not match go.mod's go %v", b.Image, m)
	}
	out, words := goBuildOutput(t, b)
	if out != "/out/"+pluginName {
		t.Errorf("go build -o %s; want /out/%s (the binary's name is the plugin's name)", out, pluginName)
	}
	if !slices.Contains(words, "CGO_ENABLED=0") {
		t.Errorf("go build without CGO_ENABLED=0: %v", words)
	}
	if words[len(words)-1] != "." {
		t.Errorf("go build must build the repository root package (.), got %q", words[len(words)-1])
	}
	copiesAll := false
	for _, in := range b.all("COPY") {
		if strings.Fields(in.Args)[0] == "." {
			copiesAll = true
		}
	}
	if !copiesAll {
		t.Error("builder does not COPY the build context (COPY . .)")
	}
}

func TestDockerfileKongStage(t *testing.T) {
	d := readKongDockerfile(t)
	f := d.final
	if f.Image != "kong:3.9" {
		t.Errorf("final image %s; want kong:3.9", f.Image)
	}
	binary := "/usr/local/bin/" + pluginName

	// The plugin binary: copied from the builder's output, as root, and
	// the image then runs as kong again.
	builderOut, _ := goBuildOutput(t, d.build)
	user, copied := "", false
	for _, in := range f.Instrs {
		switch in.Cmd {
		case "USER":
			user = in.Args
		case "COPY":
			from, _ := in.flag("from")
			words := strings.Fields(in.Args)
			if from != d.build.Name || len(words) != 2 {
				continue
			}
			copied = true
			if words[0] != builderOut || words[1] != binary {
				t.Errorf("line %d: COPY %s %s; want %s %s", in.Line, words[0], words[1], builderOut, binary)
			}
			if user != "root" {
				t.Errorf("line %d: COPY runs as %q; Kong's docs add files as USER root", in.Line, user)
			}
			if mode, ok := in.flag("chmod"); ok && mode != "0755" && mode != "755" {
				t.Errorf("line %d: --chmod=%s: the kong user must be able to run it", in.Line, mode)
			}
		}
	}
	if !copied {
		t.Fatalf("no COPY --from=%s of the plugin binary", d.build.Name)
	}
	if user != "kong" {
		t.Errorf("the image ends as USER %q; want kong (Kong's images never run as root)", user)
	}

	// HEALTHCHECK: Kong's own.
	hc := f.all("HEALTHCHECK")
	if len(hc) != 1 {
		t.Fatalf("want one HEALTHCHECK, got %d", len(hc))
	}
	if argv := execArgv(t, strings.TrimPrefix(hc[0].Args, "CMD ")); strings.Join(argv, " ") != "kong health" {
		t.Errorf("HEALTHCHECK %q; want CMD kong health", hc[0].Args)
	}

	// Plugin server settings, named as Kong derives them.
	env := d.env
	plugins := strings.Split(env["KONG_PLUGINS"], ",")
	if !slices.Contains(plugins, "bundled") || !slices.Contains(plugins, pluginName) {
		t.Errorf("KONG_PLUGINS=%q; want bundled and %s", env["KONG_PLUGINS"], pluginName)
	}
	var names []string
	for _, n := range strings.Split(env["KONG_PLUGINSERVER_NAMES"], ",") {
		names = append(names, strings.ToLower(strings.TrimSpace(n)))
	}
	if !slices.Equal(names, []string{pluginName}) {
		t.Fatalf("KONG_PLUGINSERVER_NAMES=%q; want %s", env["KONG_PLUGINSERVER_NAMES"], pluginName)
	}
	// Every per-server variable must belong to a declared server: a typo
	// (KONG_PLUGINSERVER_TRACE-EXPORTER_…, a wrong suffix) is ignored by Kong.
	allowed := map[string]bool{"KONG_PLUGINSERVER_NAMES": true}
	for _, n := range names {
		for _, s := range []string{"socket", "start_cmd", "query_cmd"} {
			allowed[kongEnv(kongServerKey(n, s))] = true
		}
	}
	for k := range env {
		if strings.HasPrefix(k, "KONG_PLUGINSERVER_") && !allowed[k] {
			t.Errorf("ENV %s is not a setting Kong reads for servers %v", k, names)
		}
	}

	prefix := env["KONG_PREFIX"]
	if prefix == "" {
		prefix = kongImagePrefix
	}
	socket := env[kongEnv(kongServerKey(pluginName, "socket"))]
	start := env[kongEnv(kongServerKey(pluginName, "start_cmd"))]
	query := env[kongEnv(kongServerKey(pluginName, "query_cmd"))]

	// go-pdk listens on <-kong-prefix>/<executable basename>.socket.
	startArgv, err := shellWords(start)
	if err != nil || len(startArgv) == 0 {
		t.Fatalf("start_cmd %q: %v", start, err)
	}
	if startArgv[0] != binary {
		t.Errorf("start_cmd runs %s; want %s (absolute: Kong gives it no PATH of yours)", startArgv[0], binary)
	}
	startPrefix, ok := flagValue(startArgv[1:], "kong-prefix")
	if !ok {
		startPrefix = kongImagePrefix // go-pdk's default
	}
	if startPrefix != prefix {
		t.Errorf("start_cmd uses -kong-prefix %s but Kong's prefix is %s", startPrefix, prefix)
	}
	if want := path.Join(startPrefix, path.Base(startArgv[0])+".socket"); socket != want {
		t.Errorf("socket setting %q; go-pdk will listen on %q", socket, want)
	}
	// Kong <= 3.8 ignores the prefix and would use this path by default:
	// with the setting spelled out that no longer matters, but keep them equal
	// so a missing setting fails safe.
	if socket != "/usr/local/kong/"+pluginName+".socket" {
		t.Errorf("socket %q differs from Kong <= 3.8's fixed default", socket)
	}

	queryArgv, err := shellWords(query)
	if err != nil || len(queryArgv) == 0 {
		t.Fatalf("query_cmd %q: %v", query, err)
	}
	if queryArgv[0] != binary || !slices.Contains(queryArgv[1:], "-dump") {
		t.Errorf("query_cmd %q; want %s -dump", query, binary)
	}
	if p, ok := flagValue(queryArgv[1:], "kong-prefix"); ok && p != prefix {
		t.Errorf("query_cmd uses -kong-prefix %s but Kong's prefix is %s", p, prefix)
	}
}

// flagValue finds -name v, -name=v, --name v or --name=v (Go's flag syntax).
func flagValue(args []string, name string) (string, bool) {
	for i, a := range args {
		trimmed := strings.TrimPrefix(strings.TrimPrefix(a, "-"), "-")
		if trimmed == a {
			continue
		}
		if k, v, ok := strings.Cut(trimmed, "="); ok && k == name {
			return v, true
		}
		if trimmed == name && i+1 < len(args) {
			return args[i+1], true
		}
	}
	return "", false
}

// buildImagePlugin executes docker/Dockerfile's builder stage here and
// returns the plugin binary it produces.
func buildImagePlugin(t *testing.T) string {
	t.Helper()
	d := readKongDockerfile(t)
	ignore := readDockerignore(t, "docker/Dockerfile.dockerignore")
	out, _ := goBuildOutput(t, d.build)
	root := simulateBuildStage(t, d.build, ignore, path.Dir(out)+"/")
	bin := filepath.Join(root, out)
	if fi, err := os.Stat(bin); err != nil || fi.Mode().Perm()&0o111 == 0 {
		t.Fatalf("builder did not produce an executable %s: %v", out, err)
	}
	return bin
}

// TestDockerImagePluginRunsAsKongRunsIt executes the builder stage here (the
// same COPY set, .dockerignore and RUN commands) and then runs the binary
// with the image's query_cmd and start_cmd, checking what Kong relies on:
// the dump names the plugin as configured, and the server listens where the
// socket setting says.
func TestDockerImagePluginRunsAsKongRunsIt(t *testing.T) {
	d := readKongDockerfile(t)
	bin := buildImagePlugin(t)
	if v := goBuildSetting(t, bin, "CGO_ENABLED"); v != "0" {
		t.Errorf("binary built with CGO_ENABLED=%q; want 0 (static)", v)
	}

	socket := d.env[kongEnv(kongServerKey(pluginName, "socket"))]
	queryArgv, _ := shellWords(d.env[kongEnv(kongServerKey(pluginName, "query_cmd"))])
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	dump, err := runCommand(ctx, "", nil, append([]string{bin}, queryArgv[1:]...)...)
	if err != nil {
		t.Fatal(err)
	}
	var info struct {
		Protocol   string
		SocketPath string
		Plugins    []struct {
			Name   string
			Phases []string
			Schema map[string]any
		}
	}
	if err := json.Unmarshal(dump, &info); err != nil {
		t.Fatalf("query_cmd output is not JSON (Kong refuses to start): %v\n%s", err, dump)
	}
	if info.Protocol != "ProtoBuf:1" || len(info.Plugins) == 0 {
		t.Fatalf("dump: protocol %q, %d plugins", info.Protocol, len(info.Plugins))
	}
	p := info.Plugins[0] // Kong 3.9 registers only the first
	if p.Name != pluginName || p.Schema["name"] != pluginName {
		t.Errorf("dump names the plugin %q (schema %v); KONG_PLUGINS says %s", p.Name, p.Schema["name"], pluginName)
	}
	if !slices.Contains(p.Phases, "log") {
		t.Errorf("phases %v: no log phase", p.Phases)
	}
	if info.SocketPath != "" && info.SocketPath != socket {
		t.Errorf("dump's SocketPath %s, Kong's socket setting %s", info.SocketPath, socket)
	}

	// start_cmd with the prefix moved to a temporary directory (a short path:
	// unix socket paths are limited to 108 bytes).
	prefix, err := os.MkdirTemp("", "kp")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(prefix) })
	startArgv, _ := shellWords(d.env[kongEnv(kongServerKey(pluginName, "start_cmd"))])
	argv := []string{bin}
	for i := 1; i < len(startArgv); i++ {
		if strings.TrimLeft(startArgv[i], "-") == "kong-prefix" && i+1 < len(startArgv) {
			argv = append(argv, startArgv[i], prefix)
			i++
			continue
		}
		argv = append(argv, startArgv[i])
	}
	proc := startProcess(t, nil, argv...)
	want := filepath.Join(prefix, path.Base(socket))
	deadline := time.Now().Add(15 * time.Second)
	for {
		conn, err := net.DialTimeout("unix", want, time.Second)
		if err == nil {
			conn.Close()
			break
		}
		select {
		case <-proc.exited:
			t.Fatalf("plugin server exited (%v) before listening on %s:\n%s", proc.err, want, proc.out)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("nothing listens on %s after 15 s:\n%s", want, proc.out)
		}
		time.Sleep(50 * time.Millisecond)
	}
	// Kong stops the plugin server with SIGTERM (on stop and every reload).
	if err := proc.stop(t, 10*time.Second); err != nil {
		t.Errorf("after SIGTERM: %v\n%s", err, proc.out)
	}
}

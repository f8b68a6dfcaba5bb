package deploy

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/trace-exporter/trace-exporter/test/testutil"
)

// TestEchoImage builds the echo upstream as docker/echo/Dockerfile does,
// runs it with the image's command (moved to a loopback port) and checks
// what compose relies on: it answers through Kong-like requests and its own
// health check (the image has no shell) passes while it runs and fails
// once it is gone.
func TestEchoImage(t *testing.T) {
	stages := readDockerfile(t, "docker/echo/Dockerfile")
	if len(stages) != 2 {
		t.Fatalf("docker/echo/Dockerfile: want a builder and a final stage, got %d", len(stages))
	}
	build, final := stages[0], stages[1]
	out, _ := goBuildOutput(t, build)
	root := simulateBuildStage(t, build, readDockerignore(t, "docker/echo/Dockerfile.dockerignore"), filepath.Dir(out)+"/")
	bin := filepath.Join(root, out)

	var entrypoint, cmd, health []string
	copied := false
	for _, in := range final.Instrs {
		switch in.Cmd {
		case "ENTRYPOINT":
			entrypoint = execArgv(t, in.Args)
		case "CMD":
			cmd = execArgv(t, in.Args)
		case "HEALTHCHECK":
			health = execArgv(t, strings.TrimPrefix(in.Args, "CMD "))
		case "COPY":
			words := strings.Fields(in.Args)
			if from, _ := in.flag("from"); from == build.Name && len(words) == 2 && words[0] == out {
				copied = true
				if words[1] != "/echo" {
					t.Errorf("COPY to %s; the ENTRYPOINT and health check run /echo", words[1])
				}
			}
		case "USER":
			if in.Args == "root" || in.Args == "0" {
				t.Error("echo runs as root")
			}
		}
	}
	if !copied || !slices.Equal(entrypoint, []string{"/echo"}) || len(health) == 0 || health[0] != "/echo" {
		t.Fatalf("final stage: copied=%v ENTRYPOINT %v HEALTHCHECK %v", copied, entrypoint, health)
	}
	if final.Image == "scratch" && goBuildSetting(t, bin, "CGO_ENABLED") != "0" {
		t.Error("a FROM scratch image needs a static binary (CGO_ENABLED=0)")
	}
	listen, ok := flagValue(cmd, "listen")
	if !ok || !strings.HasPrefix(listen, "0.0.0.0:") {
		t.Fatalf("CMD %v: want -listen 0.0.0.0:<port>", cmd)
	}

	// Run it on loopback only; rewrite the address in the health check the
	// same way.
	port := testutil.FreePort(t)
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	var argv []string
	for _, a := range append([]string{bin}, cmd...) {
		argv = append(argv, strings.Replace(a, listen, addr, 1))
	}
	healthArgv := []string{bin}
	for _, a := range health[1:] {
		healthArgv = append(healthArgv, strings.Replace(a, "127.0.0.1:"+strings.TrimPrefix(listen, "0.0.0.0:"), addr, 1))
	}
	if slices.Equal(healthArgv[1:], health[1:]) {
		t.Fatalf("HEALTHCHECK %v does not probe the listen port of %s", health, listen)
	}
	proc := startProcess(t, nil, argv...)
	if err := waitHTTP(proc, "http://"+addr+"/healthz", 10*time.Second); err != nil {
		t.Fatalf("echo not up: %v\n%s", err, proc.out)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := runCommand(ctx, "", nil, healthArgv...); err != nil {
		t.Errorf("health check failed against a running echo: %v", err)
	}

	req, _ := http.NewRequest("GET", "http://"+addr+"/orders?status=503", nil)
	req.Header.Set("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var reply struct {
		Path  string            `json:"path"`
		Trace map[string]string `json:"trace"`
	}
	err = json.NewDecoder(resp.Body).Decode(&reply)
	resp.Body.Close()
	if err != nil || resp.StatusCode != 503 || reply.Path != "/orders" || reply.Trace["traceparent"] == "" {
		t.Errorf("GET /orders?status=503: %d %+v %v", resp.StatusCode, reply, err)
	}

	if err := proc.stop(t, 10*time.Second); err != nil {
		t.Errorf("echo did not stop on SIGTERM: %v", err)
	}
	if _, err := runCommand(ctx, "", nil, healthArgv...); err == nil {
		t.Error("health check passed with echo stopped")
	}
}

package main

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/trace-exporter/trace-exporter/test/testutil"
)

func goBuild(t *testing.T, dir, out string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if err := testutil.Build(ctx, dir, ".", out); err != nil {
		t.Fatal(err)
	}
}

// The command proxies real requests through a real plugin with a
// declarative file, and stops the plugin server on SIGTERM.
func TestCommandProxiesAndStops(t *testing.T) {
	bin := t.TempDir()
	goBuild(t, ".", filepath.Join(bin, "kongsim"))
	goBuild(t, filepath.Join("..", "..", "testdata", "probe"), filepath.Join(bin, "kongsim-probe"))

	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "path="+r.URL.Path+" seen="+r.Header.Get("X-Probe-Seen"))
	}))
	defer up.Close()
	config := filepath.Join(t.TempDir(), "kong.yml")
	os.WriteFile(config, []byte(`_format_version: "3.0"
services:
- name: echo
  url: `+up.URL+`
  routes:
  - name: echo-route
    paths: ["/echo"]
    plugins:
    - name: kongsim-probe
      config: {mode: count}
    - name: zipkin
      config: {http_endpoint: "http://x"}
`), 0o644)
	addr := testutil.FreeAddr(t)

	var out testutil.SyncBuffer
	cmd := exec.Command(filepath.Join(bin, "kongsim"), "-config", config, "-plugin", filepath.Join(bin, "kongsim-probe"),
		"-listen", addr, "-kong-version", "3.6")
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	defer cmd.Process.Kill()

	client := &http.Client{Timeout: 5 * time.Second}
	var resp *http.Response
	var err error
	for deadline := time.Now().Add(20 * time.Second); ; {
		req, _ := http.NewRequest("GET", "http://"+addr+"/echo/x", nil)
		req.Header.Set("X-Probe", "cli")
		resp, err = client.Do(req)
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("gateway never answered: %v\n%s", err, out.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(body) != "path=/x seen=cli" {
		t.Fatalf("got %d %q\n%s", resp.StatusCode, body, out.String())
	}
	if !strings.Contains(out.String(), "zipkin") || !strings.Contains(out.String(), "ignored") {
		t.Errorf("no warning about the other plugin:\n%s", out.String())
	}
	m := regexp.MustCompile(`started" plugin=kongsim-probe pid=(\d+)`).FindStringSubmatch(out.String())
	if m == nil {
		t.Fatalf("no plugin pid in output:\n%s", out.String())
	}
	pluginPID, _ := strconv.Atoi(m[1])

	cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-exited:
		if err != nil {
			t.Errorf("exit: %v\n%s", err, out.String())
		}
	case <-time.After(15 * time.Second):
		t.Fatalf("gateway did not stop on SIGTERM:\n%s", out.String())
	}
	if err := syscall.Kill(pluginPID, 0); err != syscall.ESRCH {
		t.Errorf("plugin process %d still exists after stop (kill -0: %v)", pluginPID, err)
	}
}

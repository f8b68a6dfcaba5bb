package main

import (
	"io"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/trace-exporter/trace-exporter/test/testutil"
)

// The plugin server started as Kong starts it serves /metrics when the
// environment asks for it (a bare port: loopback), and still stops cleanly
// on SIGTERM.
func TestPluginServerServesMetrics(t *testing.T) {
	bin := testutil.PluginBinary(t)
	port := testutil.FreePort(t)
	cmd := exec.Command(bin, "-kong-prefix", t.TempDir())
	cmd.Env = append(os.Environ(), "TRACE_EXPORTER_METRICS_LISTEN="+strconv.Itoa(port))
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	defer func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case err := <-exited:
			if err != nil {
				t.Errorf("plugin server exit: %v", err)
			}
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			t.Error("plugin server ignored SIGTERM")
		}
	}()
	url := "http://127.0.0.1:" + strconv.Itoa(port) + "/metrics"
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := http.Get(url)
		if err == nil {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			for _, want := range []string{`trace_exporter_build_info{version="`, "trace_exporter_requests_total 0", "go_goroutines"} {
				if !strings.Contains(string(body), want) {
					t.Errorf("metrics lack %q", want)
				}
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no metrics at %s: %v", url, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

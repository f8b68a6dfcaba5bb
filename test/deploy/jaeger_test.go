package deploy

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/trace-exporter/trace-exporter/test/testutil"
)

// jaegerBinary returns the Jaeger v2 binary the tests use ($JAEGER_BIN, else
// .cache/bin/jaeger), building it with tools/jaeger/build.sh when missing.
// The build script pins the version, skips work when the binary is current
// and serializes concurrent builds.
func jaegerBinary(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("JAEGER_BIN"); p != "" {
		return p
	}
	root := repoRoot(t)
	bin := filepath.Join(root, ".cache", "bin", "jaeger")
	// Always asked: the script returns at once when the binary is the pinned
	// version, and rebuilds a stale one. A cold build takes ~3.5 min.
	ctx, cancel := context.WithTimeout(context.Background(), 12*time.Minute)
	defer cancel()
	if _, err := runCommand(ctx, root, nil, "sh", filepath.Join(root, "tools", "jaeger", "build.sh"), bin); err != nil {
		t.Fatalf("building Jaeger: %v", err)
	}
	return bin
}

// startComposeJaeger runs the real Jaeger with docker/jaeger.yml, each
// listener moved to a free loopback port; it returns the process and the
// ports by listener (see jaegerListeners).
func startComposeJaeger(t *testing.T) (*process, map[string]int) {
	t.Helper()
	return startJaegerConfig(t, "docker/jaeger.yml", "JAEGER_LISTEN_HOST", nil)
}

// startJaegerConfig runs the real Jaeger binary with the collector config
// at rel, whose listeners are written ${env:<hostVar>:-127.0.0.1}:<port>,
// each moved to a free loopback port, with env and extra --set args; it
// waits for the health extension and returns the ports by listener.
func startJaegerConfig(t *testing.T, rel, hostVar string, env []string, args ...string) (*process, map[string]int) {
	t.Helper()
	bin := jaegerBinary(t)
	listeners := listenersOf(t, rel, hostVar)
	paths := make([]string, 0, len(listeners))
	for p := range listeners {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	for attempt := 1; ; attempt++ {
		ports := map[string]int{}
		argv := []string{bin, "--config=" + filepath.Join(repoRoot(t), rel)}
		for _, p := range paths {
			ports[p] = testutil.FreePort(t)
			argv = append(argv, fmt.Sprintf("--set=%s.endpoint=127.0.0.1:%d", p, ports[p]))
		}
		argv = append(argv, args...)
		// Anything not moved stays on loopback.
		j := startProcess(t, append([]string{hostVar + "=127.0.0.1"}, env...), argv...)
		err := waitHTTP(j, fmt.Sprintf("http://127.0.0.1:%d/status", ports["extensions.healthcheckv2.http"]), 30*time.Second)
		if err == nil {
			return j, ports
		}
		_ = j.stop(t, 10*time.Second)
		if attempt == 3 || !strings.Contains(j.out.String(), "address already in use") {
			t.Fatalf("Jaeger with %s did not become healthy: %v\n%s", rel, err, j.out)
		}
	}
}

// TestComposeJaegerConfigRunsInRealJaeger runs the Jaeger the tests build
// (the image's version, see TestComposeJaeger) with docker/jaeger.yml, every
// listener moved to a free loopback port, and sends a span through the OTLP
// receiver Kong uses, then reads it back from the query API the UI uses.
func TestComposeJaegerConfigRunsInRealJaeger(t *testing.T) {
	j, ports := startComposeJaeger(t)

	traceID := fmt.Sprintf("%032x", time.Now().UnixNano())
	now := time.Now().UnixNano()
	body := fmt.Sprintf(`{"resourceSpans":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"deploy-test"}}]},
	  "scopeSpans":[{"spans":[{"traceId":%q,"spanId":"00f067aa0ba902b7","name":"GET /echo","kind":2,
	  "startTimeUnixNano":"%d","endTimeUnixNano":"%d"}]}]}]}`, traceID, now-int64(time.Millisecond), now)
	otlp := fmt.Sprintf("http://127.0.0.1:%d/v1/traces", ports["receivers.otlp.protocols.http"])
	resp, err := http.Post(otlp, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatalf("POST %s: %v", otlp, err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("OTLP receiver answered %s", resp.Status)
	}

	query := fmt.Sprintf("http://127.0.0.1:%d/api/traces/%s", ports["extensions.jaeger_query.http"], traceID)
	deadline := time.Now().Add(15 * time.Second)
	for {
		found, err := traceHasSpan(query, "GET /echo")
		if found {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("span not readable from %s after 15 s (last error %v)\n%s", query, err, j.out)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err := j.stop(t, 15*time.Second); err != nil {
		t.Errorf("Jaeger stop: %v", err)
	}
}

func waitHTTP(p *process, url string, timeout time.Duration) error {
	client := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(timeout)
	for {
		select {
		case <-p.exited:
			return fmt.Errorf("exited: %v", p.err)
		default:
		}
		resp, err := client.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s not 200 after %v (%v)", url, timeout, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func traceHasSpan(url, name string) (bool, error) {
	resp, err := http.Get(url)
	if err != nil {
		return false, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return false, fmt.Errorf("%s", resp.Status)
	}
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(resp.Body); err != nil {
		return false, err
	}
	var out struct {
		Data []struct {
			Spans []struct {
				OperationName string `json:"operationName"`
			} `json:"spans"`
		} `json:"data"`
	}
	if err := json.Unmarshal(buf.Bytes(), &out); err != nil {
		return false, err
	}
	for _, tr := range out.Data {
		for _, s := range tr.Spans {
			if s.OperationName == name {
				return true, nil
			}
		}
	}
	return false, fmt.Errorf("no span %s in %s", strconv.Quote(name), buf.String())
}

package deploy

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/trace-exporter/trace-exporter/test/kongsim"
	"github.com/trace-exporter/trace-exporter/test/testutil"
)

// TestComposeStackOnLoopback runs the compose topology without Docker: the
// plugin and the echo upstream built by their Dockerfiles' build stages,
// Jaeger with docker/jaeger.yml, and the Kong emulator in place of Kong,
// loaded with kong.yml whose addresses are moved to free loopback ports
// (as docker/kong.yml moves them to compose service names). It then does
// what docker/README.md tells a user to do and checks the outcome there:
// the trace id header, the upstream's parent span, the trace in Jaeger,
// a kept 5xx and a retried balancer try.
func TestComposeStackOnLoopback(t *testing.T) {
	plugin := buildImagePlugin(t)
	echoStages := readDockerfile(t, "docker/echo/Dockerfile")
	echoOut, _ := goBuildOutput(t, echoStages[0])
	echoRoot := simulateBuildStage(t, echoStages[0], readDockerignore(t, "docker/echo/Dockerfile.dockerignore"), filepath.Dir(echoOut)+"/")
	_, jaegerPorts := startComposeJaeger(t)

	echoAddr := fmt.Sprintf("127.0.0.1:%d", testutil.FreePort(t))
	echo := startProcess(t, nil, filepath.Join(echoRoot, echoOut), "-listen", echoAddr, "-quiet")
	if err := waitHTTP(echo, "http://"+echoAddr+"/healthz", 10*time.Second); err != nil {
		t.Fatalf("echo: %v\n%s", err, echo.out)
	}
	moves := map[string]string{
		"127.0.0.1:9000": echoAddr,
		"127.0.0.1:9001": fmt.Sprintf("127.0.0.1:%d", testutil.FreePort(t)), // stays dead
		"127.0.0.1:4318": fmt.Sprintf("127.0.0.1:%d", jaegerPorts["receivers.otlp.protocols.http"]),
	}
	text := string(readFile(t, "kong.yml"))
	for from, to := range moves {
		text = strings.ReplaceAll(text, from, to)
	}
	decl, err := kongsim.ParseDeclarative([]byte(text))
	if err != nil {
		t.Fatal(err)
	}
	pluginOut := &testutil.SyncBuffer{}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	gw, err := kongsim.StartGateway(ctx, kongsim.GatewayOptions{
		Options: kongsim.Options{Binary: plugin, Output: pluginOut},
		Config:  decl,
	})
	if err != nil {
		t.Fatalf("gateway with kong.yml: %v", err)
	}
	t.Cleanup(func() { gw.Close() })
	query := fmt.Sprintf("http://127.0.0.1:%d/api/traces/", jaegerPorts["extensions.jaeger_query.http"])

	// 1. The route's instance: trace id header, context passed upstream,
	// the upstream's parent span exported.
	status, traceID, body := get(t, gw.URL()+"/echo/hello")
	if status != 200 {
		t.Fatalf("/echo/hello: %d %s", status, body)
	}
	var reply struct {
		Trace map[string]string `json:"trace"`
	}
	if err := json.Unmarshal(body, &reply); err != nil {
		t.Fatalf("echo reply: %v\n%s", err, body)
	}
	tp := regexp.MustCompile(`^00-([0-9a-f]{32})-([0-9a-f]{16})-[0-9a-f]{2}$`).FindStringSubmatch(reply.Trace["traceparent"])
	if tp == nil || tp[1] != traceID {
		t.Fatalf("upstream got traceparent %q; x-trace-id %q", reply.Trace["traceparent"], traceID)
	}
	tr := waitJaegerTrace(t, query, traceID, func(tr jaegerTrace) bool { return tr.span(tp[2]) != nil })
	if s := tr.span(tp[2]); s.ParentSpanID() == "" {
		t.Errorf("the upstream's parent span %s has no parent in Kong's trace", tp[2])
	}
	if svc := tr.Processes[tr.Spans[0].ProcessID].ServiceName; svc != "kong" {
		t.Errorf("service.name %q; kong.yml sets kong", svc)
	}

	// 2. The service's instance: 1 in 4 sampled, but every 5xx is kept.
	status, traceID, _ = get(t, gw.URL()+"/orders?status=503")
	if status != 503 || traceID == "" {
		t.Fatalf("/orders?status=503: %d, x-trace-id %q", status, traceID)
	}
	waitJaegerTrace(t, query, traceID, func(tr jaegerTrace) bool { return len(tr.Spans) > 0 })

	// 3. The global instance on the balanced service: a refused first try
	// followed by a good one shows up within a few requests.
	var retried bool
	for i := 0; i < 4 && !retried; i++ {
		status, traceID, body = get(t, gw.URL()+"/flaky")
		if status != 200 {
			t.Fatalf("/flaky: %d %s", status, body)
		}
		tr := waitJaegerTrace(t, query, traceID, func(tr jaegerTrace) bool { return len(tr.Spans) >= 2 })
		var tries []jaegerSpan
		for _, s := range tr.Spans {
			if _, ok := s.tag("kong.balancer.try"); ok {
				tries = append(tries, s)
			}
		}
		if len(tries) >= 2 {
			retried = true
			failed := 0
			for _, s := range tries {
				if s.isError() {
					failed++
				}
			}
			if failed != len(tries)-1 {
				t.Errorf("/flaky: %d tries, %d marked as errors; want all but the last", len(tries), failed)
			}
		}
	}
	if !retried {
		t.Errorf("no /flaky trace with a retried try in 4 requests\nplugin output:\n%s", pluginOut)
	}
}

func get(t *testing.T, url string) (int, string, []byte) {
	t.Helper()
	client := &http.Client{Timeout: 15 * time.Second}
	resp, err := client.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header.Get("x-trace-id"), body
}

// Jaeger's /api/traces/{id} answer, the parts the checks use.
type jaegerTrace struct {
	Spans     []jaegerSpan `json:"spans"`
	Processes map[string]struct {
		ServiceName string `json:"serviceName"`
	} `json:"processes"`
}

type jaegerSpan struct {
	SpanID     string `json:"spanID"`
	ProcessID  string `json:"processID"`
	References []struct {
		RefType string `json:"refType"`
		SpanID  string `json:"spanID"`
	} `json:"references"`
	Tags []struct {
		Key   string `json:"key"`
		Value any    `json:"value"`
	} `json:"tags"`
}

func (tr jaegerTrace) span(id string) *jaegerSpan {
	for i := range tr.Spans {
		if tr.Spans[i].SpanID == id {
			return &tr.Spans[i]
		}
	}
	return nil
}

func (s jaegerSpan) ParentSpanID() string {
	for _, r := range s.References {
		if r.RefType == "CHILD_OF" {
			return r.SpanID
		}
	}
	return ""
}

func (s jaegerSpan) tag(key string) (any, bool) {
	for _, tg := range s.Tags {
		if tg.Key == key {
			return tg.Value, true
		}
	}
	return nil, false
}

// isError reads the error marks Jaeger derives from an OTLP error status.
func (s jaegerSpan) isError() bool {
	if v, ok := s.tag("error"); ok && v == true {
		return true
	}
	v, ok := s.tag("otel.status_code")
	return ok && v == "ERROR"
}

// waitJaegerTrace polls Jaeger until the trace satisfies ok (spans arrive
// in batches, possibly in several).
func waitJaegerTrace(t *testing.T, queryURL, traceID string, ok func(jaegerTrace) bool) jaegerTrace {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	var last string
	for {
		resp, err := http.Get(queryURL + traceID)
		if err == nil {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			last = resp.Status
			var out struct {
				Data []jaegerTrace `json:"data"`
			}
			if resp.StatusCode == 200 && json.Unmarshal(body, &out) == nil && len(out.Data) == 1 && ok(out.Data[0]) {
				return out.Data[0]
			}
		} else {
			last = err.Error()
		}
		if time.Now().After(deadline) {
			t.Fatalf("trace %s not (complete) in Jaeger after 20 s (last answer %s)", traceID, last)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

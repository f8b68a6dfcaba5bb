package deploy

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/trace-exporter/trace-exporter/exporter"
	_ "github.com/trace-exporter/trace-exporter/exporter/builtin"
	"github.com/trace-exporter/trace-exporter/schema"
	"github.com/trace-exporter/trace-exporter/test/jaegertest"
	"github.com/trace-exporter/trace-exporter/test/kafkatest"
	"github.com/trace-exporter/trace-exporter/test/kongsim"
	"github.com/trace-exporter/trace-exporter/test/testutil"
)

// The fleet profile: docker/fleet (Kong nodes → Kafka → Jaeger, and the
// collector tier: load balancing by trace id → tail sampling).
const (
	fleetCompose = "docker/fleet/docker-compose.yml"
	fleetKongYML = "docker/fleet/kong.yml"
)

var (
	fleetNodes        = []string{"kong-1", "kong-2"}
	fleetSamplers     = []string{"otelcol-sampler-1", "otelcol-sampler-2"}
	fleetCollectorSet = []string{"jaeger-sampled", "otelcol-lb", "otelcol-sampler-1", "otelcol-sampler-2"}
)

func fleetService(t *testing.T, name string) map[string]any {
	t.Helper()
	services := asMap(t, resolvedComposeFile(t, fleetCompose)["services"], "services")
	return asMap(t, services[name], "fleet service "+name)
}

// dependsOn returns a service's dependencies and their conditions.
func dependsOn(t *testing.T, svc map[string]any, name string) map[string]string {
	t.Helper()
	out := map[string]string{}
	if d, ok := svc["depends_on"]; ok {
		for dep, c := range asMap(t, d, name+" depends_on") {
			out[dep] = asString(t, asMap(t, c, name+" depends_on "+dep)["condition"], "condition")
		}
	}
	return out
}

func TestFleetComposeValidates(t *testing.T) {
	services := asMap(t, resolvedComposeFile(t, fleetCompose)["services"], "services")
	var names []string
	for n := range services {
		names = append(names, n)
	}
	slices.Sort(names)
	want := []string{"echo", "jaeger", "jaeger-sampled", "kafka", "kafka-init", "kong-1", "kong-2",
		"otelcol-lb", "otelcol-sampler-1", "otelcol-sampler-2"}
	if !slices.Equal(names, want) {
		t.Fatalf("services %v; want %v", names, want)
	}
	for _, n := range names {
		svc := asMap(t, services[n], n)
		var profiles []string
		if p, ok := svc["profiles"]; ok {
			profiles = asStrings(t, p, n+" profiles")
		}
		inTier := slices.Contains(fleetCollectorSet, n)
		if inTier != slices.Equal(profiles, []string{"collector-tier"}) {
			t.Errorf("%s: profiles %v; the collector tier (and only it) is in profile collector-tier", n, profiles)
		}
		for port, bind := range publishedPorts(t, svc, n) {
			if !strings.HasPrefix(bind, "127.0.0.1:") {
				t.Errorf("%s: port %s published on %s; want 127.0.0.1", n, port, bind)
			}
		}
		// The contrib image is distroless (nothing to probe with) and the
		// init job exits: every other service has an exec-form health check.
		hc, ok := svc["healthcheck"]
		switch {
		case n == "kafka-init" || strings.HasPrefix(n, "otelcol-"):
			if ok {
				t.Errorf("%s: unexpected healthcheck", n)
			}
		case !ok:
			t.Errorf("%s: no healthcheck (depends_on waits for service_healthy)", n)
		default:
			test := asStrings(t, asMap(t, hc, n+" healthcheck")["test"], n+" healthcheck test")
			if len(test) < 2 || test[0] != "CMD" {
				t.Errorf("%s: healthcheck test %v; want the exec form", n, test)
			}
		}
		for dep, cond := range dependsOn(t, svc, n) {
			depSvc := asMap(t, services[dep], dep)
			_, healthchecked := depSvc["healthcheck"]
			switch {
			case dep == "kafka-init" && cond != "service_completed_successfully":
				t.Errorf("%s waits for kafka-init %s; want service_completed_successfully (the topic exists)", n, cond)
			case dep != "kafka-init" && healthchecked && cond != "service_healthy":
				t.Errorf("%s waits for %s %s; want service_healthy", n, dep, cond)
			case !healthchecked && dep != "kafka-init" && cond != "service_started":
				t.Errorf("%s waits for %s %s, which has no health check", n, dep, cond)
			}
			if !inTier && slices.Contains(fleetCollectorSet, dep) {
				t.Errorf("%s depends on %s of profile collector-tier: it would not start without the profile", n, dep)
			}
		}
	}
}

// The images are the versions the tests run: Jaeger's as in
// docker-compose.yml, the Collector contrib release Jaeger is built on
// (same kafka receiver, same tail sampling processor).
func TestFleetImagesArePinned(t *testing.T) {
	jaegerImage := "jaegertracing/jaeger:" + jaegerImageVersion(t)
	m := regexp.MustCompile(`(?m)^\s*github\.com/open-telemetry/opentelemetry-collector-contrib/receiver/kafkareceiver v(\d+\.\d+\.\d+)\b`).
		FindStringSubmatch(string(readFile(t, "tools/jaeger/go.mod")))
	if m == nil {
		t.Fatal("tools/jaeger/go.mod names no kafkareceiver version")
	}
	contribImage := "otel/opentelemetry-collector-contrib:" + m[1]
	for name, want := range map[string]string{
		"jaeger": jaegerImage, "jaeger-sampled": jaegerImage,
		"otelcol-lb": contribImage, "otelcol-sampler-1": contribImage, "otelcol-sampler-2": contribImage,
	} {
		if got := fleetService(t, name)["image"]; got != want {
			t.Errorf("%s image %v; want %s", name, got, want)
		}
	}
	kafkaImage := fleetService(t, "kafka")["image"]
	if !regexp.MustCompile(`^apache/kafka:\d+\.\d+\.\d+$`).MatchString(fmt.Sprint(kafkaImage)) || fleetService(t, "kafka-init")["image"] != kafkaImage {
		t.Errorf("kafka %v, kafka-init %v: want the same pinned apache/kafka image", kafkaImage, fleetService(t, "kafka-init")["image"])
	}
}

// Each Kong node is the demo's Kong image with the fleet's kong.yml, on
// its own proxy port.
func TestFleetKongNodes(t *testing.T) {
	root := repoRoot(t)
	image := readKongDockerfile(t).env
	seen := map[string]string{}
	for _, n := range fleetNodes {
		kong := fleetService(t, n)
		build := asMap(t, kong["build"], n+" build")
		if build["context"] != root || build["dockerfile"] != "docker/Dockerfile" {
			t.Errorf("%s build %v; want the repository root and docker/Dockerfile", n, build)
		}
		env := composeEnv(t, kong, n)
		if env["KONG_DATABASE"] != "off" || env["KONG_LOG_LEVEL"] != "info" {
			t.Errorf("%s: KONG_DATABASE=%q KONG_LOG_LEVEL=%q; want off and info", n, env["KONG_DATABASE"], env["KONG_LOG_LEVEL"])
		}
		if src := volumeSource(t, kong, env["KONG_DECLARATIVE_CONFIG"]); src != filepath.Join(root, fleetKongYML) {
			t.Errorf("%s: KONG_DECLARATIVE_CONFIG is mounted from %q; want %s", n, src, fleetKongYML)
		}
		for k, v := range env {
			if iv, ok := image[k]; ok && iv != v {
				t.Errorf("%s sets %s=%q, the image %q", n, k, v, iv)
			}
		}
		declared := nginxMainEnv(t, env["KONG_NGINX_MAIN_ENV"])
		for k := range env {
			if !strings.HasPrefix(k, "KONG_") && !slices.Contains(declared, k) {
				t.Errorf("%s: %s is not declared in KONG_NGINX_MAIN_ENV", n, k)
			}
		}
		deps := dependsOn(t, kong, n)
		if deps["kafka-init"] != "service_completed_successfully" || deps["echo"] != "service_healthy" {
			t.Errorf("%s depends_on %v; want kafka-init done and echo healthy", n, deps)
		}
		ports := publishedPorts(t, kong, n)
		bind, ok := ports[portOf(t, env["KONG_PROXY_LISTEN"])]
		if !ok {
			t.Errorf("%s: proxy port not published", n)
		}
		if other, dup := seen[bind]; dup {
			t.Errorf("%s and %s both publish %s", n, other, bind)
		}
		seen[bind] = n
	}
}

// kafkaInitTopic reads the topic and partition count kafka-init creates.
func kafkaInitTopic(t *testing.T) (string, int32) {
	t.Helper()
	cmd := asStrings(t, fleetService(t, "kafka-init")["command"], "kafka-init command")
	topic, ok1 := flagValue(cmd, "topic")
	parts, ok2 := flagValue(cmd, "partitions")
	n, err := strconv.Atoi(parts)
	if !ok1 || !ok2 || err != nil || n < 2 {
		t.Fatalf("kafka-init command %v: want --topic and --partitions (at least 2)", cmd)
	}
	return topic, int32(n)
}

// kafkaAddress is where the compose network reaches the broker: the
// advertised PLAINTEXT listener.
func kafkaAddress(t *testing.T) string {
	t.Helper()
	adv := composeEnv(t, fleetService(t, "kafka"), "kafka")["KAFKA_ADVERTISED_LISTENERS"]
	addr, ok := strings.CutPrefix(adv, "PLAINTEXT://")
	if !ok || strings.Contains(addr, ",") {
		t.Fatalf("KAFKA_ADVERTISED_LISTENERS %q: want one PLAINTEXT://host:port", adv)
	}
	return addr
}

// The pieces agree: the Kong nodes produce to the topic kafka-init creates,
// at the broker's advertised address, one message per trace keyed by its
// id; Jaeger and the collector tier consume it in groups of their own; the
// load balancer routes by trace id to exactly the samplers, which export
// to the Jaeger of sampled traces.
func TestFleetConfigsAgree(t *testing.T) {
	topic, _ := kafkaInitTopic(t)
	broker := kafkaAddress(t)

	var dumped map[string]any
	if err := json.Unmarshal(toJSON(t, schema.KongSchema(pluginName, nil)), &dumped); err != nil {
		t.Fatal(err)
	}
	ks, err := kongsim.ParseSchema(dumped)
	if err != nil {
		t.Fatal(err)
	}
	d, err := kongsim.LoadDeclarative(filepath.Join(repoRoot(t), fleetKongYML))
	if err != nil {
		t.Fatalf("%s: the emulator refuses it: %v", fleetKongYML, err)
	}
	plugins := 0
	for _, p := range d.Plugins {
		if p.Name != pluginName {
			continue
		}
		plugins++
		cfg, err := ks.Validate(p.Config)
		if err != nil {
			t.Fatalf("Kong would refuse the plugin config: %v", err)
		}
		for k, v := range kongExtraKeys {
			cfg[k] = v
		}
		var c schema.Config
		if err := json.Unmarshal(toJSON(t, cfg), &c); err != nil {
			t.Fatalf("refused at StartInstance: %v", err)
		}
		if c.Exporter != schema.ExporterKafka || c.Kafka.Topic != topic || !slices.Equal(c.Kafka.Brokers, []string{broker}) {
			t.Errorf("plugin exports %s to %v/%s; want kafka to [%s]/%s", c.Exporter, c.Kafka.Brokers, c.Kafka.Topic, broker, topic)
		}
		if !c.Kafka.PartitionTracesByID || c.SpoolDir == "" || c.SamplingRate != 1 {
			t.Errorf("plugin: partition_traces_by_id %v, spool_dir %q, sampling_rate %v; want whole traces per partition, a spool, every trace (the tier samples)",
				c.Kafka.PartitionTracesByID, c.SpoolDir, c.SamplingRate)
		}
	}
	if plugins != 1 {
		t.Errorf("%d trace-exporter plugins in %s; want one global instance", plugins, fleetKongYML)
	}

	groups := map[string]string{}
	for _, f := range []struct{ service, file string }{{"jaeger", "docker/fleet/jaeger.yml"}, {"otelcol-lb", "docker/fleet/otelcol-lb.yml"}} {
		cfg := readYAML(t, f.file)
		k := asMap(t, asMap(t, cfg["receivers"], f.file+" receivers")["kafka"], f.file+" kafka receiver")
		brokers := asStrings(t, k["brokers"], "brokers")
		if len(brokers) != 1 || brokers[0] != "${env:KAFKA_BROKERS:-127.0.0.1:9092}" {
			t.Errorf("%s: brokers %v; want [${env:KAFKA_BROKERS:-127.0.0.1:9092}]", f.file, brokers)
		}
		if env := composeEnv(t, fleetService(t, f.service), f.service)["KAFKA_BROKERS"]; env != broker {
			t.Errorf("%s: KAFKA_BROKERS=%q; the broker is %s", f.service, env, broker)
		}
		tr := asMap(t, k["traces"], f.file+" traces")
		if tr["topic"] != topic || tr["encoding"] != "otlp_proto" {
			t.Errorf("%s: consumes %v as %v; want %s as otlp_proto", f.file, tr["topic"], tr["encoding"], topic)
		}
		g := asString(t, k["group_id"], f.file+" group_id")
		if other, dup := groups[g]; dup {
			t.Errorf("%s and %s share consumer group %s: each would see only part of the traces", f.file, other, g)
		}
		groups[g] = f.file
		pipeline := asMap(t, asMap(t, asMap(t, cfg["service"], "service")["pipelines"], "pipelines")["traces"], "traces pipeline")
		if !slices.Contains(asStrings(t, pipeline["receivers"], "receivers"), "kafka") {
			t.Errorf("%s: the traces pipeline does not use the kafka receiver", f.file)
		}
	}

	lb := asMap(t, asMap(t, readYAML(t, "docker/fleet/otelcol-lb.yml")["exporters"], "exporters")["loadbalancing"], "loadbalancing")
	if lb["routing_key"] != "traceID" {
		t.Errorf("loadbalancing routing_key %v; want traceID", lb["routing_key"])
	}
	samplerPort := listenersOf(t, "docker/fleet/otelcol-sampler.yml", "LISTEN_HOST")["receivers.otlp.protocols.grpc"]
	var wantHosts []string
	for _, s := range fleetSamplers {
		wantHosts = append(wantHosts, s+":"+samplerPort)
		env := composeEnv(t, fleetService(t, s), s)
		if env["LISTEN_HOST"] != "0.0.0.0" {
			t.Errorf("%s: LISTEN_HOST=%q; the load balancer reaches it from another container", s, env["LISTEN_HOST"])
		}
		host, port, err := net.SplitHostPort(env["SAMPLED_OTLP_ENDPOINT"])
		if err != nil || host != "jaeger-sampled" || port != jaegerListeners(t)["receivers.otlp.protocols.grpc"] {
			t.Errorf("%s exports to %q; want jaeger-sampled's OTLP/gRPC receiver", s, env["SAMPLED_OTLP_ENDPOINT"])
		}
	}
	hosts := asStrings(t, asMap(t, asMap(t, lb["resolver"], "resolver")["static"], "static")["hostnames"], "hostnames")
	if !slices.Equal(hosts, wantHosts) {
		t.Errorf("load balancer backends %v; want the samplers %v", hosts, wantHosts)
	}
}

// The fleet on loopback, without Docker: two Kong nodes (the emulator with
// the plugin as the image builds it, docker/fleet/kong.yml) produce to an
// in-process Kafka broker with the topic kafka-init creates; the real Jaeger
// with docker/fleet/jaeger.yml consumes it; each node's trace is read back
// from Jaeger's query API.
func TestFleetStackOnLoopback(t *testing.T) {
	plugin := buildImagePlugin(t)
	topic, partitions := kafkaInitTopic(t)
	b := kafkatest.Start(t, kfake.SeedTopics(partitions, topic))
	_, ports := startJaegerConfig(t, "docker/fleet/jaeger.yml", "JAEGER_LISTEN_HOST", []string{"KAFKA_BROKERS=" + b.Addr()})
	query := fmt.Sprintf("http://127.0.0.1:%d/api/traces/", ports["extensions.jaeger_query.http"])

	echoStages := readDockerfile(t, "docker/echo/Dockerfile")
	echoOut, _ := goBuildOutput(t, echoStages[0])
	echoRoot := simulateBuildStage(t, echoStages[0], readDockerignore(t, "docker/echo/Dockerfile.dockerignore"), filepath.Dir(echoOut)+"/")
	echoAddr := fmt.Sprintf("127.0.0.1:%d", testutil.FreePort(t))
	echo := startProcess(t, nil, filepath.Join(echoRoot, echoOut), "-listen", echoAddr, "-quiet")
	if err := waitHTTP(echo, "http://"+echoAddr+"/healthz", 10*time.Second); err != nil {
		t.Fatalf("echo: %v\n%s", err, echo.out)
	}
	text := strings.NewReplacer(kafkaAddress(t), b.Addr(), "echo:9000", echoAddr).Replace(string(readFile(t, fleetKongYML)))
	for i := range fleetNodes {
		decl, err := kongsim.ParseDeclarative([]byte(text))
		if err != nil {
			t.Fatal(err)
		}
		out := &testutil.SyncBuffer{}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		gw, err := kongsim.StartGateway(ctx, kongsim.GatewayOptions{
			Options: kongsim.Options{Binary: plugin, Output: out},
			Config:  decl,
		})
		cancel()
		if err != nil {
			t.Fatalf("node %d: %v", i+1, err)
		}
		t.Cleanup(func() { gw.Close() })
		status, traceID, body := get(t, gw.URL()+"/echo/node-"+strconv.Itoa(i+1))
		if status != 200 || traceID == "" {
			t.Fatalf("node %d: %d, x-trace-id %q: %s", i+1, status, traceID, body)
		}
		tr := waitJaegerTrace(t, query, traceID, func(tr jaegerTrace) bool { return len(tr.Spans) >= 2 })
		if svc := tr.Processes[tr.Spans[0].ProcessID].ServiceName; svc != "kong" {
			t.Errorf("node %d: service.name %q; the fleet's kong.yml sets kong", i+1, svc)
		}
	}
}

// The samplers' config runs in the real Jaeger binary (the Collector's
// tail_sampling processor and OTLP receiver and exporter ship in it too)
// and keeps what its policies say: every error trace and every slow one,
// and about one in ten of the rest.
func TestFleetSamplerKeepsErrorsSlowAndAFewOthers(t *testing.T) {
	sampled := jaegertest.Start(t)
	_, ports := startJaegerConfig(t, "docker/fleet/otelcol-sampler.yml", "LISTEN_HOST",
		[]string{"SAMPLED_OTLP_ENDPOINT=" + sampled.OTLPGRPCAddr()},
		"--set=processors.tail_sampling.decision_wait=1s")
	cfg := schema.Defaults()
	cfg.Protocol = schema.ProtocolGRPC
	cfg.TracesEndpoint = fmt.Sprintf("http://127.0.0.1:%d", ports["receivers.otlp.protocols.grpc"])
	exp, err := exporter.New(&cfg, exporter.Settings{})
	if err != nil {
		t.Fatal(err)
	}
	defer exp.Shutdown(context.Background())

	const fast = 60
	start := uint64(time.Now().Add(-time.Minute).UnixNano())
	run := byte(time.Now().UnixNano())
	span := func(i int, status exporter.StatusCode, d time.Duration) exporter.Span {
		return exporter.Span{TraceID: exporter.TraceID{0xf1, run, byte(i), byte(i >> 8), 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16},
			SpanID: exporter.SpanID{1, byte(i)}, Name: "GET /orders", Kind: exporter.KindServer, Status: status,
			StartUnixNano: start, EndUnixNano: start + uint64(d)}
	}
	spans := []exporter.Span{span(0, exporter.StatusError, time.Millisecond), span(1, exporter.StatusUnset, 800*time.Millisecond)}
	for i := range fast {
		spans = append(spans, span(2+i, exporter.StatusUnset, time.Millisecond))
	}
	batch := exporter.Batch{Resource: exporter.NewResource(&cfg), Scope: exporter.NewScope(), Spans: spans}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := exp.Export(ctx, batch); err != nil {
		t.Fatal(err)
	}
	for _, s := range spans[:2] {
		if _, err := sampled.WaitTrace(ctx, s.TraceID.String(), 1); err != nil {
			t.Fatalf("trace %s (%s) not kept: %v", s.TraceID, map[bool]string{true: "error", false: "slow"}[s.Status == exporter.StatusError], err)
		}
	}
	time.Sleep(2 * time.Second) // every decision is due by now
	kept := 0
	for _, s := range spans[2:] {
		if _, err := sampled.Trace(ctx, s.TraceID.String()); err == nil {
			kept++
		}
	}
	if kept > fast/3 {
		t.Errorf("%d of %d fast, successful traces kept; the policy keeps about one in ten", kept, fast)
	}
	t.Logf("kept %d of %d fast successful traces", kept, fast)
}

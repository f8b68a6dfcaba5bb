package plugin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	kpp "github.com/Kong/go-pdk/server/kong_plugin_protocol"
	"google.golang.org/protobuf/encoding/prototext"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/trace-exporter/trace-exporter/exporter"
	"github.com/trace-exporter/trace-exporter/schema"
	"github.com/trace-exporter/trace-exporter/test/otlpsink"
)

func resourceMap(r *exporter.Resource) map[string]string {
	m := map[string]string{}
	for _, a := range r.Attributes {
		m[a.Key] = a.Value.AsString()
	}
	return m
}

// parsedEntry parses a serialize payload as the log handler does, keeping
// what the instance's templates read.
func parsedEntry(t *testing.T, r *resources, payload string) *logEntry {
	t.Helper()
	w := parseWants{}
	r.want(&w)
	a := newArena(1024)
	e, err := parseSerialized(payload, &w, &a)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

const templatedPayload = `{"request":{"method":"GET","uri":"\/orders\/42?env=prod&token=abc&flag","url":"http:\/\/kong:8000\/orders\/42?env=prod&token=abc&flag",
 "headers":{"x-tenant":"acme","x-team":["a","b"],"authorization":"REDACTED"},"querystring":{"env":"prod","token":"abc","flag":true}},
 "route":{"id":"r-1","name":"orders-route","paths":["\/orders"]},"service":{"id":"s-1","name":"orders"},
 "consumer":{"id":"c-1","username":"ann","custom_id":"A-1"},"response":{"status":200},"latencies":{"request":1}}`

// Defaults, then the environment, then static values, then templates: each
// over the ones before; a template that renders empty leaves what was below.
func TestResourcePrecedence(t *testing.T) {
	cfg := &schema.Config{
		ResourceAttributes: map[string]string{
			"team":                        "core",
			"tenant":                      "$(headers.x_tenant)",
			"service.name":                "$(headers.x_service_name)", // absent: falls back
			"deployment.environment.name": "${query_params.env}",
			"token":                       "$(query_params.token)",
			"flag":                        "$(query_params.flag)",
			"route":                       "$(kong.route.name)/$(kong.service.name)/$(kong.consumer.username)",
			"teams":                       "$(headers[\"X-Team\"])",
		},
		RedactQueryParams: []string{"token"},
	}
	env := testEnv()
	r, err := newResources(cfg, env)
	if err != nil {
		t.Fatal(err)
	}
	if got := r.pipelineAttributes(); len(got) != 1 || got["team"] != "core" {
		t.Errorf("pipeline attributes %v: templates must not reach the pipeline's resource", got)
	}
	res := r.forRequest(parsedEntry(t, r, templatedPayload), pdkValues{})
	got := resourceMap(res)
	want := map[string]string{
		"service.name": "kong", "service.instance.id": testNodeID, "team": "core", "tenant": "acme",
		"deployment.environment.name": "prod", "token": "REDACTED", "flag": "true",
		"route": "orders-route/orders/ann", "teams": "a, b",
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q, want %q (resource %v)", k, got[k], v, got)
		}
	}
}

// Requests that render alike share one resource; others get their own, and
// one request's values never show in another's resource.
func TestResourcesInternedPerRenderedValues(t *testing.T) {
	env := testEnv()
	r, err := newResources(&schema.Config{ResourceAttributes: map[string]string{"tenant": "$(headers.x_tenant)"}}, env)
	if err != nil {
		t.Fatal(err)
	}
	acme := &logEntry{capturedRequest: []capturedHeader{{name: "x-tenant", values: []string{"acme"}}}}
	other := &logEntry{capturedRequest: []capturedHeader{{name: "x-tenant", values: []string{"globex"}}}}
	a1, a2, o := r.forRequest(acme, pdkValues{}), r.forRequest(acme, pdkValues{}), r.forRequest(other, pdkValues{})
	if a1 != a2 {
		t.Error("same rendered values: want one shared resource")
	}
	if a1 == o || resourceMap(a1)["tenant"] != "acme" || resourceMap(o)["tenant"] != "globex" {
		t.Errorf("resources %v and %v", resourceMap(a1), resourceMap(o))
	}
	for i := range 3 * maxResources {
		e := &logEntry{capturedRequest: []capturedHeader{{name: "x-tenant", values: []string{string(rune('a'+i%26)) + string(rune(i))}}}}
		r.forRequest(e, pdkValues{})
	}
	if len(r.cache) > maxResources {
		t.Errorf("%d resources interned, bound %d", len(r.cache), maxResources)
	}
}

// pdkCaller answers the template calls.
type pdkCaller struct {
	calls []string
}

func (c *pdkCaller) Ask(method string, args, out proto.Message) error {
	c.calls = append(c.calls, method)
	switch method {
	case mGetURICaptures:
		res := out.(*kpp.UriCapturesResult)
		res.Unnamed = [][]byte{[]byte("42")}
		res.Named = map[string][]byte{"id": []byte("42")}
	case mSharedGet:
		switch args.(*kpp.String).V {
		case "tenant":
			proto.Merge(out, structpb.NewStringValue("acme"))
		case "count":
			proto.Merge(out, structpb.NewNumberValue(3))
		default:
			return errors.New("not there")
		}
	default:
		return errors.New("unexpected " + method)
	}
	return nil
}

// uri_captures costs one call, each shared key one; nothing else is asked.
func TestResourceValuesFromKong(t *testing.T) {
	env := testEnv()
	r, err := newResources(&schema.Config{ResourceAttributes: map[string]string{
		"user": "$(uri_captures.id)-$(uri_captures[1])-$(uri_captures[2])", "tenant": "$(shared.tenant)",
		"count": "$(shared.count)", "gone": "$(shared.gone)",
	}}, env)
	if err != nil {
		t.Fatal(err)
	}
	k := &pdkCaller{}
	pv, _ := r.fetch(k)
	if len(k.calls) != 4 || k.calls[0] != mGetURICaptures {
		t.Errorf("calls %v, want get_uri_captures then one shared.get per key", k.calls)
	}
	got := resourceMap(r.forRequest(&logEntry{}, pv))
	if got["user"] != "42-42-" || got["tenant"] != "acme" || got["count"] != "3" {
		t.Errorf("resource %v", got)
	}
	if _, ok := got["gone"]; ok {
		t.Errorf("an unset shared value rendered: %v", got)
	}
	none, _ := newResources(&schema.Config{ResourceAttributes: map[string]string{"a": "$(headers.a)"}}, env)
	k = &pdkCaller{}
	none.fetch(k)
	if len(k.calls) != 0 {
		t.Errorf("headers only: calls %v, want none", k.calls)
	}
}

// Each instance that sets a field whose data is not exported says so.
func TestNotExportedFieldsNamed(t *testing.T) {
	cfg := &schema.Config{LogsEndpoint: "http://c/v1/logs", AccessLogsEndpoint: "http://c/v1/logs",
		AccessLogs: schema.AccessLogs{CustomAttributesByLua: map[string]string{"k": "return 1"}},
		Metrics:    schema.Metrics{Endpoint: "http://c/v1/metrics", EnableRequestMetrics: true}}
	var fields []string
	for _, n := range notExported(cfg) {
		fields = append(fields, n.field)
	}
	// Request metrics and access logs are exported (requestmetrics.go and
	// accesslog.go say what is not).
	want := []string{"access_logs.custom_attributes_by_lua"}
	if len(fields) != len(want) {
		t.Fatalf("notices for %v, want %v", fields, want)
	}
	for i := range want {
		if fields[i] != want[i] {
			t.Errorf("notices for %v, want %v", fields, want)
		}
	}
	if n := notExported(&schema.Config{Metrics: schema.Metrics{PushInterval: 60}}); len(n) != 0 {
		t.Errorf("defaults only: notices %v", n)
	}
}

// Kong 3.12 names the upstream service on its balancer spans (peer.service,
// the Kong service's name); the SERVER span has none.
func TestPeerServiceOnClientSpans(t *testing.T) {
	_, spans := parseAndBuild(t, "3.9-retried.json", nil)
	if len(spans) < 3 {
		t.Fatalf("%d spans", len(spans))
	}
	if _, ok := attr(spans[0], "peer.service"); ok {
		t.Error("SERVER span has peer.service")
	}
	for _, s := range spans[1:] {
		if v, ok := attr(s, "peer.service"); !ok || v.AsString() != "flaky" {
			t.Errorf("CLIENT span %s: peer.service %v", s.Name, v.AsString())
		}
	}
}

// Without templates every request shares one resource, until the node id
// or version become known.
func TestResourceWithoutTemplatesShared(t *testing.T) {
	env := testEnv()
	r, err := newResources(&schema.Config{ResourceAttributes: map[string]string{"team": "core"}}, env)
	if err != nil {
		t.Fatal(err)
	}
	a, b := r.forRequest(&logEntry{}, pdkValues{}), r.forRequest(&logEntry{}, pdkValues{})
	if a != b || resourceMap(a)["team"] != "core" || resourceMap(a)["service.name"] != "kong" {
		t.Errorf("resources %p %p %v", a, b, resourceMap(a))
	}
	v := "3.16.0"
	env.node.version.Store(&v)
	c := r.forRequest(&logEntry{}, pdkValues{})
	if c == a || resourceMap(c)["service.version"] != "3.16.0" {
		t.Errorf("after the version became known: %v", resourceMap(c))
	}
}

// Through the log path into a real OTLP receiver: every span of a request
// leaves with that request's resource (its rendered templates over the
// static values, Kong's node id as service.instance.id), at the PDK cost
// the templates announce; within one export, requests that render alike
// share one ResourceSpans and no two ResourceSpans are equal.
func TestSpansCarryTheirRequestsResource(t *testing.T) {
	sink := otlpsink.Start(t)
	p := newTestPlugin(t, sink, `,"resource_attributes":{"team":"core","tenant":"$(headers.x_tenant)",`+
		`"item":"$(query_params.id)","user":"$(uri_captures[1])","plan":"$(shared.plan)"}`)
	tenants := []string{"acme", "globex", "acme", "initech"}
	traceTenant := map[string]string{}
	for i, tenant := range tenants {
		f := newFakeKong(t, "3.9-proxied-consumer.json", nil)
		f.payload["request"].(map[string]any)["headers"].(map[string]any)["x-tenant"] = tenant
		f.captures = []string{"u-" + tenant}
		f.shared = map[string]string{"plan": "gold-" + tenant}
		f.run(p)
		if want := []string{mSerialize, mGetURICaptures, mSharedGet}; !reflect.DeepEqual(f.calls["log"], want) {
			t.Errorf("request %d: log calls %v, want %v", i, f.calls["log"], want)
		}
		traceTenant[strings.Split(f.upstream["traceparent"], "-")[1]] = tenant
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	spans, err := sink.WaitSpans(ctx, 2*len(tenants))
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range spans {
		tenant := traceTenant[s.TraceID()]
		got := map[string]string{}
		for _, kv := range s.Resource.GetAttributes() {
			got[kv.GetKey()] = kv.GetValue().GetStringValue()
		}
		want := map[string]string{"service.name": "kong", "service.instance.id": testNodeID, "team": "core",
			"tenant": tenant, "item": "42", "user": "u-" + tenant, "plan": "gold-" + tenant}
		for k, v := range want {
			if got[k] != v {
				t.Errorf("span %s of the %s request: resource %s = %q, want %q", s.GetName(), tenant, k, got[k], v)
			}
		}
	}
	for _, r := range sink.Requests() {
		seen := map[string]bool{}
		for _, rs := range r.Export.GetResourceSpans() {
			key := prototext.Format(rs.GetResource())
			if seen[key] {
				t.Errorf("one export holds two ResourceSpans with the resource %s", key)
			}
			seen[key] = true
		}
	}
}

// Instances of one process share equal resources, so a batch mixing their
// spans has one ResourceSpans per distinct resource.
func TestEqualResourcesSharedAcrossInstances(t *testing.T) {
	env := testEnv()
	cfg := &schema.Config{ResourceAttributes: map[string]string{"team": "core", "tenant": "$(headers.x_tenant)"}}
	a, err := newResources(cfg, env)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := newResources(cfg, env)
	e := &logEntry{capturedRequest: []capturedHeader{{name: "x-tenant", values: []string{"acme"}}}}
	if a.forRequest(e, pdkValues{}) != b.forRequest(e, pdkValues{}) {
		t.Error("two instances built equal resources as two objects")
	}
	static, _ := newResources(&schema.Config{ResourceAttributes: map[string]string{"team": "core"}}, env)
	other, _ := newResources(&schema.Config{ResourceAttributes: map[string]string{"team": "core"}}, env)
	if static.forRequest(&logEntry{}, pdkValues{}) != other.forRequest(&logEntry{}, pdkValues{}) {
		t.Error("two instances without templates built equal resources as two objects")
	}
	if a.forRequest(e, pdkValues{}) == static.forRequest(&logEntry{}, pdkValues{}) {
		t.Error("different resources share an object")
	}
}

// A template value can hold any byte (a query parameter decodes to any):
// no value passes for two, so different renderings never share a resource.
func TestResourceKeysAreUnambiguous(t *testing.T) {
	env := testEnv()
	r, err := newResources(&schema.Config{ResourceAttributes: map[string]string{"a": "$(query_params.a)", "b": "$(query_params.b)"}}, env)
	if err != nil {
		t.Fatal(err)
	}
	query := func(kv ...string) *logEntry {
		e := &logEntry{}
		for i := 0; i < len(kv); i += 2 {
			e.capturedQuery = append(e.capturedQuery, capturedHeader{name: kv[i], values: []string{kv[i+1]}})
		}
		return e
	}
	one := r.forRequest(query("a", "x\x00y"), pdkValues{})
	two := r.forRequest(query("a", "x", "b", "y"), pdkValues{})
	if one == two || resourceMap(two)["b"] != "y" || resourceMap(one)["b"] != "" {
		t.Errorf("resources %v and %v", resourceMap(one), resourceMap(two))
	}
}

// The processors get the request headers they asked for, not those only a
// resource template reads.
func TestTemplateHeadersReachNoProcessor(t *testing.T) {
	sink := otlpsink.Start(t)
	p := New().(*Plugin)
	config := fmt.Sprintf(`{"traces_endpoint":%q,"static_attributes":{%q:"on"},`+
		`"resource_attributes":{"multi":"$(headers.x_multi)","agent":"$(headers[\"user-agent\"])"}}`, sink.TracesURL(), spyMarker)
	if err := json.Unmarshal([]byte(config), p); err != nil {
		t.Fatal(err)
	}
	p.LogPayload(fixture(t, "3.9-proxied-consumer.json"))
	var names []string
	for _, h := range lastSpy.seen.RequestHeaders {
		names = append(names, h.Name)
	}
	// The spy asks for apikey and x-tenant (and credentials, never given).
	if got := strings.Join(names, ","); got != "apikey,x-tenant" {
		t.Errorf("request headers handed to the processor: %s, want apikey,x-tenant", got)
	}
}

// batchRecorder keeps the resources of the batches a pipeline exports (an
// exporter may keep nothing of the batch itself).
type batchRecorder struct {
	mu      sync.Mutex
	batches []recordedBatch
}

type recordedBatch struct {
	resource map[string]string
	spans    []map[string]string // each span's resource
}

func (r *batchRecorder) Export(_ context.Context, b exporter.Batch) error {
	rb := recordedBatch{resource: resourceMap(b.Resource)}
	for i := range b.Spans {
		rb.spans = append(rb.spans, resourceMap(b.ResourceOf(i)))
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.batches = append(r.batches, rb)
	return nil
}

func (r *batchRecorder) Shutdown(context.Context) error { return nil }

var recorder = &batchRecorder{}

func init() {
	exporter.Register("test-recorder", func(*schema.Config, exporter.Settings) (exporter.Exporter, error) { return recorder, nil })
}

// The pipeline's own resource (a backend's batch resource) holds the
// environment's and the static attributes, never a template's text; the
// spans carry the rendered one.
func TestPipelineResourceHoldsNoTemplate(t *testing.T) {
	p := New().(*Plugin)
	config := `{"exporter":"test-recorder","traces_endpoint":"http://127.0.0.1:1/v1/traces","queue":{"max_coalescing_delay":0.01},` +
		`"resource_attributes":{"team":"core","tenant":"$(headers.x_tenant)"}}`
	if err := json.Unmarshal([]byte(config), p); err != nil {
		t.Fatal(err)
	}
	if p.Config.ResourceAttributes["tenant"] != "$(headers.x_tenant)" {
		t.Errorf("the instance's config changed: %v", p.Config.ResourceAttributes)
	}
	p.LogPayload(fixture(t, "3.9-proxied-consumer.json"))
	deadline := time.Now().Add(10 * time.Second)
	for {
		recorder.mu.Lock()
		n := len(recorder.batches)
		recorder.mu.Unlock()
		if n > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no batch exported")
		}
		time.Sleep(5 * time.Millisecond)
	}
	recorder.mu.Lock()
	defer recorder.mu.Unlock()
	b := recorder.batches[0]
	if got := b.resource; got["team"] != "core" || got["tenant"] != "" {
		t.Errorf("pipeline resource %v: want team, and no tenant template", got)
	}
	for i, got := range b.spans {
		if got["tenant"] != "acme" || got["team"] != "core" || got["service.instance.id"] != testNodeID {
			t.Errorf("span %d resource %v", i, got)
		}
	}
}

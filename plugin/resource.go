package plugin

import (
	"math"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"

	kpp "github.com/Kong/go-pdk/server/kong_plugin_protocol"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/trace-exporter/trace-exporter/exporter"
	"github.com/trace-exporter/trace-exporter/plugin/resourcetmpl"
	"github.com/trace-exporter/trace-exporter/schema"
)

// resources builds the resource of an instance's spans. From lowest to
// highest precedence: what Kong's own plugin reports (service.name "kong",
// service.instance.id = the Kong node id, service.version = Kong's version,
// both learned once per process, node.go), the environment's
// OTEL_RESOURCE_ATTRIBUTES and OTEL_SERVICE_NAME, the config's static
// resource_attributes, and the config's templates rendered for the request.
//
// Resources are interned: spans whose resources are equal share one
// *exporter.Resource (encoders group spans by it into ResourceSpans), across
// the instances of the process; a value rendered for one request is never
// part of another request's resource.
type resources struct {
	node   *kongNode
	table  *resourceTable
	static map[string]string  // environment, then the config's static values
	tmpl   *resourcetmpl.Set  // nil: no templates
	needs  resourcetmpl.Needs // what rendering reads

	// cache maps what varies (node, version, rendered values) to the
	// interned resource, so a request does not build one to look it up.
	mu    sync.Mutex
	cache map[string]*exporter.Resource
	// last is the resource of an instance without templates: it changes
	// only when the node id or version become known, and is read without a
	// lock on every request.
	last atomic.Pointer[nodeResource]
}

type nodeResource struct {
	id, version string
	res         *exporter.Resource
}

// maxResources bounds the resources an instance caches and the process
// interns: templates of high-cardinality values (a request id) must not
// grow memory without end. Past it a table starts over; resources already
// handed out stay valid.
const maxResources = 1024

// resourceTable interns resources by content for the process (Env).
type resourceTable struct {
	mu sync.Mutex
	m  map[string]*exporter.Resource
}

// intern returns the process's resource equal to res, res if it is the
// first.
func (t *resourceTable) intern(res *exporter.Resource) *exporter.Resource {
	key := appendKeyPart(nil, res.SchemaURL)
	for _, a := range res.Attributes {
		key = appendKeyPart(appendKeyPart(key, a.Key), a.Value.AsString())
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if prev := t.m[string(key)]; prev != nil {
		return prev
	}
	if t.m == nil || len(t.m) >= 4*maxResources {
		t.m = map[string]*exporter.Resource{}
	}
	t.m[string(key)] = res
	return res
}

// appendKeyPart appends s length-prefixed, so no value can pass for two
// parts of a key (a query parameter may decode to any byte).
func appendKeyPart(key []byte, s string) []byte {
	key = strconv.AppendInt(key, int64(len(s)), 10)
	key = append(key, ':')
	return append(key, s...)
}

// newResources compiles the config's resource attributes for spans of the
// Kong node env serves, interned in env.
func newResources(cfg *schema.Config, env *Env) (*resources, error) {
	static, tmpl, err := resourcetmpl.Compile(cfg.ResourceAttributes, resourcetmpl.Options{
		RedactHeaders: redactedHeaders(cfg.RedactHeaders),
		RedactQuery:   cfg.RedactQueryParams,
	})
	if err != nil {
		return nil, &schema.FieldError{Field: "resource_attributes", Reason: err.Error()}
	}
	r := &resources{node: &env.node, table: &env.resources, static: map[string]string{}, tmpl: tmpl, cache: map[string]*exporter.Resource{}}
	for k, v := range schema.EnvResourceAttributes() {
		r.static[k] = v
	}
	for k, v := range static {
		r.static[k] = v
	}
	if tmpl != nil {
		r.needs = tmpl.Needs()
	}
	return r, nil
}

// redactedHeaders are the headers a template must never render.
func redactedHeaders(configured []string) []string {
	out := append([]string(nil), configured...)
	for _, h := range schema.AlwaysRedactedHeaders {
		out = append(out, h)
	}
	return out
}

// pipelineAttributes are the attributes of the pipeline's own resource
// (exporter.NewResource): the environment and the static config values,
// never a template's text.
func (r *resources) pipelineAttributes() map[string]string {
	if len(r.static) == 0 {
		return nil
	}
	return r.static
}

// want adds what the templates read from the serialize payload to what the
// parser keeps.
func (r *resources) want(w *parseWants) {
	// The lists may be shared with their makers: never append in place.
	w.captureRequest = slices.Clip(w.captureRequest)
	w.captureQuery = slices.Clip(w.captureQuery)
	for _, h := range r.needs.Headers {
		if !containsString(w.captureRequest, h) {
			w.captureRequest = append(w.captureRequest, h)
		}
	}
	w.captureQuery = append(w.captureQuery, r.needs.Query...)
}

// pdkValues are the template values that cost a call to Kong: a regex
// route's captures and kong.ctx.shared values.
type pdkValues struct {
	named map[string]string
	// indexed are the numbered captures from the first group on: Kong's
	// uri_captures[1] is indexed[0] (the PDK's list leaves out [0], the
	// whole match).
	indexed []string
	shared  map[string]string
}

// fetch makes the calls the templates need: one kong.request.get_uri_captures
// when a template reads uri_captures, one kong.ctx.shared.get per shared key.
// Kong serves both from saved data in the log timer. failed counts the calls
// that failed (their values render empty).
func (r *resources) fetch(k kongCaller) (v pdkValues, failed int) {
	if r.needs.URICaptures {
		out := &kpp.UriCapturesResult{}
		if err := k.Ask(mGetURICaptures, nil, out); err != nil {
			failed++
		} else {
			v.named = make(map[string]string, len(out.Named))
			for name, val := range out.Named {
				v.named[name] = string(val)
			}
			for _, val := range out.Unnamed {
				v.indexed = append(v.indexed, string(val))
			}
		}
	}
	for _, key := range r.needs.Shared {
		out := &structpb.Value{}
		if err := k.Ask(mSharedGet, &kpp.String{V: key}, out); err != nil {
			failed++
			continue
		}
		if s := scalarString(out); s != "" {
			if v.shared == nil {
				v.shared = map[string]string{}
			}
			v.shared[key] = s
		}
	}
	return v, failed
}

// scalarString renders a string, number or boolean as Lua's tostring does;
// tables render empty.
func scalarString(v *structpb.Value) string {
	switch x := v.GetKind().(type) {
	case *structpb.Value_StringValue:
		return x.StringValue
	case *structpb.Value_BoolValue:
		if x.BoolValue {
			return "true"
		}
		return "false"
	case *structpb.Value_NumberValue:
		// Lua's tostring: integers without a fraction, others in %.14g.
		if n := x.NumberValue; n == math.Trunc(n) && math.Abs(n) < 1e15 {
			return strconv.FormatInt(int64(n), 10)
		}
		return strconv.FormatFloat(x.NumberValue, 'g', 14, 64)
	}
	return ""
}

// forRequest is the resource of one request's spans.
func (r *resources) forRequest(e *logEntry, pv pdkValues) *exporter.Resource {
	id, version := r.node.ID(), r.node.Version()
	if r.tmpl == nil {
		if last := r.last.Load(); last != nil && last.id == id && last.version == version {
			return last.res
		}
		res := r.build(id, version, nil)
		r.last.Store(&nodeResource{id: id, version: version, res: res})
		return res
	}
	var buf [8]resourcetmpl.Attr
	rendered := r.tmpl.Render(newEntryValues(e, pv), buf[:0])
	var kb [256]byte
	key := appendKeyPart(appendKeyPart(kb[:0], id), version)
	for _, a := range rendered {
		// A template that renders empty is left out: the key names each.
		key = appendKeyPart(appendKeyPart(key, a.Key), a.Value)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if res := r.cache[string(key)]; res != nil {
		return res
	}
	res := r.build(id, version, rendered)
	if len(r.cache) >= maxResources {
		clear(r.cache)
	}
	r.cache[string(key)] = res
	return res
}

// build makes a resource, interned: defaults, then the static attributes,
// then the rendered ones.
func (r *resources) build(id, version string, rendered []resourcetmpl.Attr) *exporter.Resource {
	attrs := make(map[string]string, len(r.static)+len(rendered)+3)
	attrs["service.name"] = exporter.DefaultServiceName
	if id != "" {
		attrs["service.instance.id"] = id
	}
	if version != "" {
		attrs["service.version"] = version
	}
	for k, v := range r.static {
		attrs[k] = v
	}
	for _, a := range rendered {
		attrs[a.Key] = a.Value
	}
	return r.table.intern(exporter.NewResource(&schema.Config{ResourceAttributes: attrs}))
}

// entryValues offers a request's serialize data and fetched values to the
// templates. It copies what they read rather than point at the entry, which
// the log handler keeps on its stack.
type entryValues struct {
	headers, query                                 []capturedHeader
	routeID, routeName, serviceID, serviceName     string
	consumerID, consumerUsername, consumerCustomID string
	pdk                                            pdkValues
}

func newEntryValues(e *logEntry, pv pdkValues) *entryValues {
	return &entryValues{
		headers: e.capturedRequest, query: e.capturedQuery,
		routeID: e.routeID, routeName: e.routeName, serviceID: e.serviceID, serviceName: e.serviceName,
		consumerID: e.consumerID, consumerUsername: e.consumerUsername, consumerCustomID: e.consumerCustomID,
		pdk: pv,
	}
}

func (v *entryValues) Header(name string) ([]string, bool) { return capturedValues(v.headers, name) }
func (v *entryValues) Query(name string) ([]string, bool)  { return capturedValues(v.query, name) }

func (v *entryValues) URICapture(key string, index bool) (string, bool) {
	if !index {
		s, ok := v.pdk.named[key]
		return s, ok
	}
	i := 0
	for _, c := range key {
		i = i*10 + int(c-'0')
		if i > len(v.pdk.indexed) {
			return "", false
		}
	}
	if i == 0 {
		return "", false // the whole match: not in the PDK's list
	}
	return v.pdk.indexed[i-1], true
}

func (v *entryValues) Shared(key string) (string, bool) { s, ok := v.pdk.shared[key]; return s, ok }

func (v *entryValues) Kong(field string) (string, bool) {
	var s string
	switch field {
	case "route.id":
		s = v.routeID
	case "route.name":
		s = v.routeName
	case "service.id":
		s = v.serviceID
	case "service.name":
		s = v.serviceName
	case "consumer.id":
		s = v.consumerID
	case "consumer.username":
		s = v.consumerUsername
	case "consumer.custom_id":
		s = v.consumerCustomID
	}
	return s, s != ""
}

func capturedValues(hs []capturedHeader, name string) ([]string, bool) {
	for _, h := range hs {
		if h.name == name {
			return h.values, true
		}
	}
	return nil, false
}

func containsString(list []string, s string) bool {
	for _, e := range list {
		if e == s {
			return true
		}
	}
	return false
}

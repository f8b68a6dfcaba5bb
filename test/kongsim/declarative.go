package kongsim

import (
	"fmt"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Declarative is a parsed DB-less configuration (`_format_version: "3.0"`):
// the entities the gateway serves. Relations may be given by nesting or by
// top-level entries naming the service, route, upstream or consumer.
type Declarative struct {
	Services  []*Service
	Routes    []*Route
	Upstreams []*Upstream
	Consumers []*Consumer
	Plugins   []PluginEntity // every plugin entry, whatever its name; enabled only
}

// LoadDeclarative reads a declarative YAML or JSON file.
func LoadDeclarative(path string) (*Declarative, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	d, err := ParseDeclarative(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return d, nil
}

type declParser struct {
	d         *Declarative
	services  map[string]*Service // by name and id
	routes    map[string]*Route
	upstreams map[string]*Upstream
	consumers map[string]*Consumer
	// references resolved after every entity is known
	routeService  map[*Route]any
	pluginRefs    []pluginRef
	targetRefs    []targetRef
	generatedSeen map[string]int
}

type pluginRef struct {
	idx                      int
	service, route, consumer any
}

type targetRef struct {
	upstream any
	target   string
}

// ParseDeclarative parses declarative config text (YAML, which includes JSON).
func ParseDeclarative(data []byte) (*Declarative, error) {
	var root map[string]any
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, fmt.Errorf("declarative config is invalid: %w", err)
	}
	if root == nil {
		return nil, fmt.Errorf("declarative config is empty")
	}
	fv, _ := root["_format_version"].(string)
	if fv != "3.0" && fv != "2.1" {
		return nil, fmt.Errorf(`declarative config is invalid: _format_version: expected "3.0", got %v`, root["_format_version"])
	}
	p := &declParser{d: &Declarative{}, services: map[string]*Service{}, routes: map[string]*Route{},
		upstreams: map[string]*Upstream{}, consumers: map[string]*Consumer{},
		routeService: map[*Route]any{}, generatedSeen: map[string]int{}}
	for key := range root {
		switch key {
		case "_format_version", "_transform", "_workspace", "_info", "services", "routes", "upstreams",
			"targets", "consumers", "plugins":
		default:
			// Entities the emulator does not model (certificates, vaults, ...).
		}
	}
	for _, item := range listOf(root["upstreams"]) {
		if err := p.upstream(item); err != nil {
			return nil, err
		}
	}
	for _, item := range listOf(root["targets"]) {
		m, _ := asTable(item)
		t, _ := m["target"].(string)
		p.targetRefs = append(p.targetRefs, targetRef{upstream: m["upstream"], target: t})
	}
	for _, item := range listOf(root["consumers"]) {
		if err := p.consumer(item); err != nil {
			return nil, err
		}
	}
	for _, item := range listOf(root["services"]) {
		if err := p.service(item); err != nil {
			return nil, err
		}
	}
	for _, item := range listOf(root["routes"]) {
		m, _ := asTable(item)
		if _, err := p.route(item, m["service"]); err != nil {
			return nil, err
		}
	}
	for _, item := range listOf(root["plugins"]) {
		if err := p.plugin(item, nil, nil, nil); err != nil {
			return nil, err
		}
	}
	if err := p.resolve(); err != nil {
		return nil, err
	}
	return p.d, nil
}

func listOf(v any) []any {
	l, _ := v.([]any)
	return l
}

func str(m map[string]any, key string) string {
	switch v := m[key].(type) {
	case string:
		return v
	case int:
		return strconv.Itoa(v)
	}
	return ""
}

func intOr(m map[string]any, key string, def int) (int, error) {
	v, ok := m[key]
	if !ok || v == nil {
		return def, nil
	}
	f, ok := toFloat(v)
	if !ok || f != float64(int(f)) {
		return 0, fmt.Errorf("%s: expected an integer, got %v", key, v)
	}
	return int(f), nil
}

func boolOr(m map[string]any, key string, def bool) bool {
	if b, ok := m[key].(bool); ok {
		return b
	}
	return def
}

func stringList(v any) []string {
	var out []string
	for _, e := range listOf(v) {
		if s, ok := e.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

// id returns the entity's id, or a stable one generated from its name.
func (p *declParser) id(kind string, m map[string]any, name string) string {
	if id := str(m, "id"); id != "" {
		return id
	}
	key := kind + ":" + name
	p.generatedSeen[key]++
	if n := p.generatedSeen[key]; n > 1 {
		key += "#" + strconv.Itoa(n)
	}
	return entityID(kind, key)
}

func (p *declParser) upstream(item any) error {
	m, ok := asTable(item)
	if !ok {
		return fmt.Errorf("upstreams: expected a record")
	}
	u := &Upstream{Name: str(m, "name")}
	if u.Name == "" {
		return fmt.Errorf("upstreams: name: required field missing")
	}
	u.ID = p.id("upstream", m, u.Name)
	for _, t := range listOf(m["targets"]) {
		tm, _ := asTable(t)
		if w, err := intOr(tm, "weight", 100); err == nil && w == 0 {
			continue // weight 0 disables a target
		}
		target, err := normalizeTarget(str(tm, "target"))
		if err != nil {
			return fmt.Errorf("upstream %s: %w", u.Name, err)
		}
		u.Targets = append(u.Targets, target)
	}
	p.d.Upstreams = append(p.d.Upstreams, u)
	p.upstreams[u.Name], p.upstreams[u.ID] = u, u
	return nil
}

// normalizeTarget adds Kong's default target port, 8000.
func normalizeTarget(t string) (string, error) {
	if t == "" {
		return "", fmt.Errorf("target: required field missing")
	}
	if _, _, err := net.SplitHostPort(t); err != nil {
		return net.JoinHostPort(t, "8000"), nil
	}
	return t, nil
}

func (p *declParser) consumer(item any) error {
	m, ok := asTable(item)
	if !ok {
		return fmt.Errorf("consumers: expected a record")
	}
	c := &Consumer{Username: str(m, "username"), CustomID: str(m, "custom_id"),
		Tags: stringList(m["tags"]), CreatedAt: nowSeconds()}
	if c.Username == "" && c.CustomID == "" {
		return fmt.Errorf("consumers: at least one of these fields must be non-empty: 'custom_id', 'username'")
	}
	c.ID = p.id("consumer", m, c.Username+"/"+c.CustomID)
	p.d.Consumers = append(p.d.Consumers, c)
	for _, k := range []string{c.ID, c.Username, c.CustomID} {
		if k != "" {
			p.consumers[k] = c
		}
	}
	for _, pl := range listOf(m["plugins"]) {
		if err := p.plugin(pl, nil, nil, c); err != nil {
			return err
		}
	}
	return nil
}

func (p *declParser) service(item any) error {
	m, ok := asTable(item)
	if !ok {
		return fmt.Errorf("services: expected a record")
	}
	s := &Service{Name: str(m, "name"), Protocol: "http", Tags: stringList(m["tags"]), CreatedAt: nowSeconds()}
	var err error
	if raw := str(m, "url"); raw != "" {
		u, perr := url.Parse(raw)
		if perr != nil || u.Host == "" {
			return fmt.Errorf("service %s: url: invalid url %q", s.Name, raw)
		}
		s.Protocol, s.Host, s.Path = u.Scheme, u.Hostname(), u.EscapedPath()
		if u.Port() != "" {
			s.Port, _ = strconv.Atoi(u.Port())
		}
	} else {
		if pr := str(m, "protocol"); pr != "" {
			s.Protocol = pr
		}
		s.Host, s.Path = str(m, "host"), str(m, "path")
		if s.Port, err = intOr(m, "port", 0); err != nil {
			return fmt.Errorf("service %s: %w", s.Name, err)
		}
	}
	if s.Protocol != "http" && s.Protocol != "https" {
		return fmt.Errorf("service %s: protocol %q: the emulator proxies http and https only", s.Name, s.Protocol)
	}
	if s.Host == "" {
		return fmt.Errorf("service %s: host: required field missing", s.Name)
	}
	if s.Port == 0 {
		s.Port = 80
		if s.Protocol == "https" {
			s.Port = 443
		}
	}
	for key, dst := range map[string]*int{"retries": &s.Retries, "connect_timeout": &s.ConnectTimeout,
		"write_timeout": &s.WriteTimeout, "read_timeout": &s.ReadTimeout} {
		def := 60000
		if key == "retries" {
			def = 5
		}
		if *dst, err = intOr(m, key, def); err != nil {
			return fmt.Errorf("service %s: %w", s.Name, err)
		}
	}
	s.ID = p.id("service", m, s.Name)
	p.d.Services = append(p.d.Services, s)
	if s.Name != "" {
		p.services[s.Name] = s
	}
	p.services[s.ID] = s
	for _, r := range listOf(m["routes"]) {
		if _, err := p.route(r, s); err != nil {
			return err
		}
	}
	for _, pl := range listOf(m["plugins"]) {
		if err := p.plugin(pl, s, nil, nil); err != nil {
			return err
		}
	}
	return nil
}

// route parses a route; svc is a *Service when nested, or a reference.
func (p *declParser) route(item any, svc any) (*Route, error) {
	m, ok := asTable(item)
	if !ok {
		return nil, fmt.Errorf("routes: expected a record")
	}
	r := &Route{Name: str(m, "name"), Paths: stringList(m["paths"]), Methods: stringList(m["methods"]),
		Hosts: stringList(m["hosts"]), Protocols: stringList(m["protocols"]), Tags: stringList(m["tags"]),
		StripPath: boolOr(m, "strip_path", true), PreserveHost: boolOr(m, "preserve_host", false),
		CreatedAt: nowSeconds()}
	var err error
	if r.RegexPriority, err = intOr(m, "regex_priority", 0); err != nil {
		return nil, fmt.Errorf("route %s: %w", r.Name, err)
	}
	if len(r.Protocols) == 0 {
		r.Protocols = []string{"http", "https"}
	}
	for i, meth := range r.Methods {
		r.Methods[i] = strings.ToUpper(meth)
	}
	if len(r.Paths) == 0 && len(r.Methods) == 0 && len(r.Hosts) == 0 {
		return nil, fmt.Errorf("route %s: must set one of 'methods', 'hosts', 'headers', 'paths', 'snis' when 'protocols' is 'https'", r.Name)
	}
	for _, path := range r.Paths {
		if !strings.HasPrefix(path, "/") && !strings.HasPrefix(path, "~") {
			return nil, fmt.Errorf("route %s: paths: should start with: / (fixed path) or ~/ (regex path)", r.Name)
		}
	}
	r.ID = p.id("route", m, r.Name)
	p.d.Routes = append(p.d.Routes, r)
	if r.Name != "" {
		p.routes[r.Name] = r
	}
	p.routes[r.ID] = r
	if s, ok := svc.(*Service); ok {
		r.Service = s
	} else if svc != nil {
		p.routeService[r] = svc
	}
	for _, pl := range listOf(m["plugins"]) {
		if err := p.plugin(pl, r.Service, r, nil); err != nil {
			return nil, err
		}
	}
	return r, nil
}

// plugin records a plugin entry; nested entries get their parent's scope.
// A plugin nested in a route is scoped to the route only, as in Kong.
func (p *declParser) plugin(item any, svc *Service, route *Route, consumer *Consumer) error {
	m, ok := asTable(item)
	if !ok {
		return fmt.Errorf("plugins: expected a record")
	}
	if !boolOr(m, "enabled", true) {
		return nil
	}
	e := PluginEntity{Name: str(m, "name"), ID: str(m, "id"), InstanceName: str(m, "instance_name"),
		Protocols: stringList(m["protocols"])}
	if e.Name == "" {
		return fmt.Errorf("plugins: name: required field missing")
	}
	if cfg, ok := asTable(m["config"]); ok {
		e.Config = cfg
	} else if m["config"] != nil {
		return fmt.Errorf("plugin %s: config: expected a record", e.Name)
	}
	switch {
	case route != nil:
		e.RouteID = route.ID
	case svc != nil:
		e.ServiceID = svc.ID
	case consumer != nil:
		e.ConsumerID = consumer.ID
	}
	p.d.Plugins = append(p.d.Plugins, e)
	p.pluginRefs = append(p.pluginRefs, pluginRef{idx: len(p.d.Plugins) - 1,
		service: m["service"], route: m["route"], consumer: m["consumer"]})
	return nil
}

// refKey reads a foreign reference: "name", "id" or {name: ...}/{id: ...}.
func refKey(v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	if m, ok := asTable(v); ok {
		if id := str(m, "id"); id != "" {
			return id
		}
		return str(m, "name")
	}
	return ""
}

func (p *declParser) resolve() error {
	for r, ref := range p.routeService {
		s := p.services[refKey(ref)]
		if s == nil {
			return fmt.Errorf("route %s: service %q not found", r.Name, refKey(ref))
		}
		r.Service = s
	}
	for _, tr := range p.targetRefs {
		u := p.upstreams[refKey(tr.upstream)]
		if u == nil {
			return fmt.Errorf("target %s: upstream %q not found", tr.target, refKey(tr.upstream))
		}
		t, err := normalizeTarget(tr.target)
		if err != nil {
			return err
		}
		u.Targets = append(u.Targets, t)
	}
	for _, ref := range p.pluginRefs {
		e := &p.d.Plugins[ref.idx]
		if k := refKey(ref.service); k != "" {
			s := p.services[k]
			if s == nil {
				return fmt.Errorf("plugin %s: service %q not found", e.Name, k)
			}
			e.ServiceID = s.ID
		}
		if k := refKey(ref.route); k != "" {
			r := p.routes[k]
			if r == nil {
				return fmt.Errorf("plugin %s: route %q not found", e.Name, k)
			}
			e.RouteID = r.ID
		}
		if k := refKey(ref.consumer); k != "" {
			c := p.consumers[k]
			if c == nil {
				return fmt.Errorf("plugin %s: consumer %q not found", e.Name, k)
			}
			e.ConsumerID = c.ID
		}
	}
	return nil
}

package kongsim

import (
	"fmt"
	"math"
	"sort"
	"strings"
)

// Schema is a plugin's dumped Kong schema, reduced to its config record and
// the protocols its entities may list.
type Schema struct {
	Name   string
	Config *Field
	// Protocols is the plugin's protocols field, or nil: the plugins
	// entity's own (every protocol, default grpc, grpcs, http, https).
	Protocols *Field
}

// Field is one field definition of a Kong schema. Only the attributes Kong
// plugins commonly dump are understood; others are ignored, as a check the
// emulator cannot make is better skipped than guessed.
type Field struct {
	Name       string
	Type       string // string, integer, number, boolean, array, set, map, record, ...
	Required   bool
	Default    any
	HasDefault bool
	OneOf      []any
	Between    *[2]float64
	Gt         *float64
	Eq, Ne     any // Kong's eq and ne (nil: none)
	LenMin     *int
	LenMax     *int
	Match      string      // Lua pattern every value must match (Kong's `match`)
	MatchNone  []MatchRule // Lua patterns no value may match (Kong's `match_none`)
	MatchAny   *MatchAny   // Lua patterns of which a value must match one (Kong's `match_any`)
	// Referenceable: a {vault://...} reference is accepted as is when the
	// config is written and resolved before the plugin sees it.
	Referenceable bool
	Elements      *Field
	Keys          *Field
	Values        *Field
	Fields        []*Field
	EntityChecks  []EntityCheck // records: Kong's entity_checks
}

// MatchAny is Kong's match_any: patterns, and the message when none matches.
type MatchAny struct {
	Patterns []string
	Err      string
}

// MatchRule is one entry of Kong's match_none: a Lua pattern and the error
// reported when a value matches it.
type MatchRule struct {
	Pattern string
	Err     string
}

// ParseSchema reads {"name": ..., "fields": [{"config": {...}}, ...]}.
func ParseSchema(raw map[string]any) (*Schema, error) {
	s := &Schema{}
	s.Name, _ = raw["name"].(string)
	fields, err := parseFields(raw["fields"])
	if err != nil {
		return nil, err
	}
	for _, f := range fields {
		switch f.Name {
		case "config":
			s.Config = f
		case "protocols":
			if f.Type != "set" && f.Type != "array" {
				return nil, fmt.Errorf("protocols field has type %q, want set", f.Type)
			}
			s.Protocols = f
		}
	}
	if s.Config == nil {
		return nil, fmt.Errorf("no config field")
	}
	if s.Config.Type != "record" {
		return nil, fmt.Errorf("config field has type %q, want record", s.Config.Type)
	}
	return s, nil
}

func parseFields(v any) ([]*Field, error) {
	list, ok := v.([]any)
	if !ok {
		return nil, fmt.Errorf("error in schema definition: no 'fields' table")
	}
	out := make([]*Field, 0, len(list))
	for _, item := range list {
		m, ok := item.(map[string]any)
		if !ok || len(m) != 1 {
			return nil, fmt.Errorf("each field must be a table with one key, got %v", item)
		}
		for name, def := range m {
			dm, ok := def.(map[string]any)
			if !ok {
				return nil, fmt.Errorf("field %s: expected a definition table", name)
			}
			f, err := parseField(name, dm)
			if err != nil {
				return nil, err
			}
			out = append(out, f)
		}
	}
	return out, nil
}

func parseField(name string, m map[string]any) (*Field, error) {
	f := &Field{Name: name}
	f.Type, _ = m["type"].(string)
	if f.Type == "" {
		return nil, fmt.Errorf("field %s: missing type", name)
	}
	f.Required, _ = m["required"].(bool)
	if d, ok := m["default"]; ok && d != nil {
		f.Default, f.HasDefault = d, true
	}
	if l, ok := m["one_of"].([]any); ok {
		f.OneOf = l
	}
	if l, ok := m["between"].([]any); ok && len(l) == 2 {
		lo, ok1 := toFloat(l[0])
		hi, ok2 := toFloat(l[1])
		if !ok1 || !ok2 {
			return nil, fmt.Errorf("field %s: between needs two numbers", name)
		}
		f.Between = &[2]float64{lo, hi}
	}
	if g, ok := toFloat(m["gt"]); ok {
		f.Gt = &g
	}
	if n, ok := toFloat(m["len_min"]); ok {
		i := int(n)
		f.LenMin = &i
	}
	if p, ok := m["match"].(string); ok {
		f.Match = p
	}
	if l, ok := m["match_none"].([]any); ok {
		for _, item := range l {
			r, _ := item.(map[string]any)
			pat, _ := r["pattern"].(string)
			if pat == "" {
				return nil, fmt.Errorf("field %s: match_none entries need a pattern", name)
			}
			msg, _ := r["err"].(string)
			f.MatchNone = append(f.MatchNone, MatchRule{Pattern: pat, Err: msg})
		}
	}
	if n, ok := toFloat(m["len_max"]); ok {
		i := int(n)
		f.LenMax = &i
	}
	if ma, ok := m["match_any"].(map[string]any); ok {
		f.MatchAny = &MatchAny{}
		for _, p := range listOf(ma["patterns"]) {
			ps, _ := p.(string)
			f.MatchAny.Patterns = append(f.MatchAny.Patterns, ps)
		}
		f.MatchAny.Err, _ = ma["err"].(string)
		if len(f.MatchAny.Patterns) == 0 {
			return nil, fmt.Errorf("field %s: match_any needs patterns", name)
		}
	}
	f.Eq, f.Ne = m["eq"], m["ne"]
	f.Referenceable, _ = m["referenceable"].(bool)
	if checks, ok := m["entity_checks"]; ok {
		if f.Type != "record" {
			return nil, fmt.Errorf("field %s: entity_checks on a %s", name, f.Type)
		}
		var err error
		if f.EntityChecks, err = parseEntityChecks(checks); err != nil {
			return nil, fmt.Errorf("record %s: %w", name, err)
		}
	}
	var err error
	sub := func(key string) *Field {
		dm, ok := m[key].(map[string]any)
		if !ok || err != nil {
			return nil
		}
		var sf *Field
		sf, err = parseField(name+"."+key, dm)
		return sf
	}
	f.Elements, f.Keys, f.Values = sub("elements"), sub("keys"), sub("values")
	if err != nil {
		return nil, err
	}
	if f.Type == "record" {
		if f.Fields, err = parseFields(m["fields"]); err != nil {
			return nil, fmt.Errorf("record %s: %w", name, err)
		}
	}
	if (f.Type == "array" || f.Type == "set") && f.Elements == nil {
		return nil, fmt.Errorf("field %s: %s without elements", name, f.Type)
	}
	return f, nil
}

// SchemaError lists every violation found, keyed by the dotted field path
// (for example "config.queue.max_batch_size"), with Kong's messages.
type SchemaError struct{ Fields map[string]string }

func (e *SchemaError) Error() string {
	paths := make([]string, 0, len(e.Fields))
	for p := range e.Fields {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	parts := make([]string, len(paths))
	for i, p := range paths {
		parts[i] = p + ": " + e.Fields[p]
	}
	return "schema violation (" + strings.Join(parts, "; ") + ")"
}

// Validate checks a plugin config against the schema as Kong does when the
// config is written, and returns it as Kong hands it to the plugin: defaults
// filled (nested records too when the record is required or has a default),
// nulls and unset fields removed, unknown fields refused, numbers as float64.
// config may be nil (an absent config).
func (s *Schema) Validate(config map[string]any) (map[string]any, error) {
	errs := map[string]string{}
	var in any = config
	if config == nil {
		in = map[string]any{}
	}
	out := validateRecord(s.Config, in, "config", errs)
	if len(errs) > 0 {
		return nil, &SchemaError{Fields: errs}
	}
	return out.(map[string]any), nil
}

func validateRecord(f *Field, v any, path string, errs map[string]string) any {
	m, ok := asTable(v)
	if !ok {
		errs[path] = "expected a record"
		return nil
	}
	known := make(map[string]bool, len(f.Fields))
	out := make(map[string]any, len(f.Fields))
	// filled is the record as entity checks see it: defaults filled,
	// values as written, valid or not.
	filled := make(map[string]any, len(f.Fields))
	for _, sf := range f.Fields {
		known[sf.Name] = true
		fp := path + "." + sf.Name
		val, present := m[sf.Name]
		if !present || val == nil {
			switch {
			case sf.HasDefault:
				val = copyValue(sf.Default)
			case sf.Type == "record" && sf.Required:
				val = map[string]any{}
			case sf.Required:
				errs[fp] = "required field missing"
				continue
			default:
				continue // Kong stores null and strips it on read
			}
		}
		filled[sf.Name] = normalizeValue(val)
		if nv := validateField(sf, val, fp, errs); nv != nil {
			out[sf.Name] = nv
			if sf.Type == "record" {
				filled[sf.Name] = nv
			}
		}
	}
	for k := range m {
		if !known[k] {
			errs[path+"."+k] = "unknown field"
		}
	}
	runEntityChecks(f, filled, path, errs)
	return out
}

func validateField(f *Field, v any, path string, errs map[string]string) any {
	var out any
	switch f.Type {
	case "record":
		return validateRecord(f, v, path, errs)
	case "string":
		s, ok := v.(string)
		if !ok {
			errs[path] = "expected a string"
			return nil
		}
		if f.Referenceable && IsVaultReference(s) {
			return s // validated once resolved, by the plugin
		}
		minLen := 1 // Kong refuses empty strings unless len_min says otherwise
		if f.LenMin != nil {
			minLen = *f.LenMin
		}
		if len(s) < minLen {
			errs[path] = fmt.Sprintf("length must be at least %d", minLen)
			return nil
		}
		if f.LenMax != nil && len(s) > *f.LenMax {
			errs[path] = fmt.Sprintf("length must be at most %d", *f.LenMax)
			return nil
		}
		if msg := matchErrors(f, s); msg != "" {
			errs[path] = msg
			return nil
		}
		out = s
	case "integer":
		n, ok := toFloat(v)
		if !ok || n != math.Floor(n) || math.IsInf(n, 0) {
			errs[path] = "expected an integer"
			return nil
		}
		out = n
	case "number":
		n, ok := toFloat(v)
		if !ok {
			errs[path] = "expected a number"
			return nil
		}
		out = n
	case "boolean":
		b, ok := v.(bool)
		if !ok {
			errs[path] = "expected a boolean"
			return nil
		}
		out = b
	case "array", "set":
		l, ok := asArray(v)
		if !ok {
			errs[path] = "expected an array"
			if f.Type == "set" {
				errs[path] = "expected a set"
			}
			return nil
		}
		if f.LenMin != nil && len(l) < *f.LenMin {
			errs[path] = fmt.Sprintf("length must be at least %d", *f.LenMin)
			return nil
		}
		if f.LenMax != nil && len(l) > *f.LenMax {
			errs[path] = fmt.Sprintf("length must be at most %d", *f.LenMax)
			return nil
		}
		res := make([]any, 0, len(l))
		for i, e := range l {
			if nv := validateField(f.Elements, e, fmt.Sprintf("%s[%d]", path, i+1), errs); nv != nil {
				res = append(res, nv)
			}
		}
		return res
	case "map":
		m, ok := asTable(v)
		if !ok {
			errs[path] = "expected a map"
			return nil
		}
		res := make(map[string]any, len(m))
		for k, e := range m {
			if f.Keys != nil {
				validateField(f.Keys, k, path+"."+k+"(key)", errs)
			}
			nv := e
			if f.Values != nil {
				nv = validateField(f.Values, e, path+"."+k, errs)
			}
			if nv != nil {
				res[k] = nv
			}
		}
		return res
	default:
		// Types Kong knows but go-pdk plugins do not dump (json, foreign, ...).
		return normalizeValue(v)
	}
	if f.Eq != nil && normalizeValue(f.Eq) != out {
		errs[path] = "value must be " + luaToString(normalizeValue(f.Eq))
		return nil
	}
	if f.Ne != nil && normalizeValue(f.Ne) == out {
		errs[path] = "value must not be " + luaToString(normalizeValue(f.Ne))
		return nil
	}
	if len(f.OneOf) > 0 && !oneOf(out, f.OneOf) {
		opts := make([]string, len(f.OneOf))
		for i, o := range f.OneOf {
			opts[i] = luaToString(normalizeValue(o))
		}
		errs[path] = "expected one of: " + strings.Join(opts, ", ")
		return nil
	}
	if n, ok := out.(float64); ok {
		if f.Gt != nil && !(n > *f.Gt) {
			errs[path] = "value must be greater than " + luaToString(*f.Gt)
			return nil
		}
		if f.Between != nil && (n < f.Between[0] || n > f.Between[1]) {
			// Kong formats the limits with %d.
			errs[path] = fmt.Sprintf("value should be between %d and %d", int64(f.Between[0]), int64(f.Between[1]))
			return nil
		}
	}
	return out
}

func oneOf(v any, options []any) bool {
	for _, o := range options {
		if normalizeValue(o) == v {
			return true
		}
	}
	return false
}

func asTable(v any) (map[string]any, bool) {
	switch m := v.(type) {
	case map[string]any:
		return m, true
	case map[any]any:
		out := make(map[string]any, len(m))
		for k, e := range m {
			ks, ok := k.(string)
			if !ok {
				return nil, false
			}
			out[ks] = e
		}
		return out, true
	}
	return nil, false
}

func asArray(v any) ([]any, bool) {
	switch l := v.(type) {
	case []any:
		return l, true
	case []string:
		out := make([]any, len(l))
		for i, s := range l {
			out[i] = s
		}
		return out, true
	case map[string]any:
		// An empty YAML/JSON object is also an empty Lua table.
		return nil, len(l) == 0
	}
	return nil, false
}

// normalizeValue converts decoded JSON/YAML into the emulator's Lua value
// model: numbers as float64, tables as map[string]any and []any.
func normalizeValue(v any) any {
	if n, ok := toFloat(v); ok {
		return n
	}
	if m, ok := asTable(v); ok {
		out := make(map[string]any, len(m))
		for k, e := range m {
			if e != nil {
				out[k] = normalizeValue(e)
			}
		}
		return out
	}
	if l, ok := v.([]any); ok {
		out := make([]any, len(l))
		for i, e := range l {
			out[i] = normalizeValue(e)
		}
		return out
	}
	return v
}

func copyValue(v any) any { return normalizeValue(v) }

// matchErrors applies Kong's match and match_none validators (Lua patterns,
// string.find semantics) and returns Kong's message, or "".
func matchErrors(f *Field, s string) string {
	if f.Match != "" {
		ok, err := LuaFind(s, f.Match)
		if err != nil {
			return "schema pattern: " + err.Error()
		}
		if !ok {
			return "invalid value: " + s
		}
	}
	for _, r := range f.MatchNone {
		hit, err := LuaFind(s, r.Pattern)
		if err != nil {
			return "schema pattern: " + err.Error()
		}
		if hit {
			if r.Err != "" {
				return r.Err
			}
			return "invalid value: " + s
		}
	}
	if f.MatchAny != nil {
		for _, p := range f.MatchAny.Patterns {
			hit, err := LuaFind(s, p)
			if err != nil {
				return "schema pattern: " + err.Error()
			}
			if hit {
				return ""
			}
		}
		if f.MatchAny.Err != "" {
			return f.MatchAny.Err
		}
		return "invalid value: " + s
	}
	return ""
}

// kongProtocols are the protocols a plugin entity may list when its schema
// says nothing (Kong's plugins entity, typedefs.protocols), and its default.
var (
	kongProtocols        = []string{"grpc", "grpcs", "http", "https", "tcp", "tls", "tls_passthrough", "udp", "ws", "wss"}
	kongDefaultProtocols = []string{"grpc", "grpcs", "http", "https"}
)

// ValidateProtocols checks a plugin entity's protocols against the schema's
// protocols field (else Kong's plugins entity's) and returns them as Kong
// stores them: the default when none were given, duplicates removed.
func (s *Schema) ValidateProtocols(protocols []string) ([]string, error) {
	allowed, def := kongProtocols, kongDefaultProtocols
	if f := s.Protocols; f != nil {
		def = stringList(f.Default)
		if f.Elements != nil && len(f.Elements.OneOf) > 0 {
			allowed = stringList(f.Elements.OneOf)
		}
	}
	if len(protocols) == 0 {
		return append([]string(nil), def...), nil
	}
	var out []string
	for i, p := range protocols {
		if !containsString(allowed, p) {
			return nil, &SchemaError{Fields: map[string]string{
				fmt.Sprintf("protocols[%d]", i+1): "expected one of: " + strings.Join(allowed, ", ")}}
		}
		if !containsString(out, p) {
			out = append(out, p)
		}
	}
	return out, nil
}

func containsString(list []string, s string) bool {
	for _, e := range list {
		if e == s {
			return true
		}
	}
	return false
}

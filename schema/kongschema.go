package schema

// KongSchema returns the plugin schema Kong registers from the -dump output:
// {"name": name, "fields": [{"protocols": ...}, {"config": {record}}]}, the
// top-level shape go-pdk produces, with what go-pdk's reflection cannot
// express: defaults, constraints, vault-referenceable fields, the rules
// across fields (Kong's entity_checks) and the protocols the plugin serves.
// Kong then fills defaults and refuses what cannot work when the config is
// written (Admin API, decK, declarative load). exporters lists the values of
// `exporter` this binary accepts (nil: the built-in ones).
func KongSchema(name string, exporters []string) map[string]any {
	return map[string]any{
		"name": name,
		"fields": []any{
			map[string]any{"protocols": kongProtocols()},
			map[string]any{"config": map[string]any{
				"type":          "record",
				"required":      true,
				"fields":        kongFields(Fields(), exporters),
				"entity_checks": configChecks(),
			}},
		},
	}
}

// Protocols are the route protocols the plugin runs on by default, Kong's
// default for its opentelemetry plugin; AllowedProtocols are those a plugin
// entity may list (Kong's typedefs.protocols_http): the HTTP subsystem,
// where the serialize data spans are built from exists.
var (
	Protocols        = []string{"grpc", "grpcs", "http", "https"}
	AllowedProtocols = []string{"grpc", "grpcs", "http", "https"}
)

func kongProtocols() map[string]any {
	return map[string]any{
		"type":     "set",
		"required": true,
		"default":  toAny(Protocols),
		"elements": map[string]any{"type": "string", "one_of": toAny(AllowedProtocols)},
	}
}

func toAny(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}

func kongFields(fields []Field, extensible []string) []any {
	out := make([]any, 0, len(fields))
	for _, f := range fields {
		if f.Extensible && extensible != nil {
			f.OneOf = oneOf(extensible...)
		}
		if f.Type == "record" {
			m := kongField(f)
			m["fields"] = kongFields(f.Fields, extensible)
			out = append(out, map[string]any{f.Name: m})
			continue
		}
		out = append(out, map[string]any{f.Name: kongField(f)})
	}
	return out
}

// kongField keeps to attributes Kong's metaschema accepts in every 3.x
// (type, required, default, one_of, between, gt, ne, match, match_none,
// match_any, referenceable, elements, keys, values, fields, a record's
// entity_checks); descriptions
// are left out: not every 3.x metaschema lists them.
func kongField(f Field) map[string]any {
	m := map[string]any{"type": f.Type}
	if f.Required {
		m["required"] = true
	}
	if f.Default != nil && f.EnvVar == "" {
		m["default"] = f.Default
	}
	if len(f.OneOf) > 0 {
		m["one_of"] = f.OneOf
	}
	if f.Between != nil {
		m["between"] = []any{number(f.Between[0]), number(f.Between[1])}
	}
	if f.Gt != nil {
		m["gt"] = number(*f.Gt)
	}
	if f.Ne != nil {
		m["ne"] = number(*f.Ne)
	}
	if f.Match != "" {
		m["match"] = f.Match
	}
	if len(f.MatchNone) > 0 {
		m["match_none"] = f.MatchNone
	}
	if f.MatchAny != nil {
		m["match_any"] = f.MatchAny
	}
	if f.Referenceable {
		m["referenceable"] = true
	}
	if f.Elements != nil {
		m["elements"] = kongField(*f.Elements)
	}
	if f.Keys != nil {
		m["keys"] = kongField(*f.Keys)
	}
	if f.Values != nil {
		m["values"] = kongField(*f.Values)
	}
	if f.Type == "record" {
		m["fields"] = kongFields(f.Fields, nil)
		if len(f.Checks) > 0 {
			m["entity_checks"] = f.Checks
		}
	}
	return m
}

// number keeps whole values integral in the JSON (1000000, not 1e+06): Kong's
// metaschema wants integers in between.
func number(v float64) any {
	if v == float64(int64(v)) {
		return int64(v)
	}
	return v
}

package kongsim

import (
	"encoding/json"
	"log/slog"
	"strconv"
	"strings"
)

// Vault references, as Kong resolves them for every plugin, external ones
// included: a field the schema marks referenceable may hold a reference such
// as {vault://env/OTEL_TOKEN}. Kong accepts it as is when the config is
// written (the field's validators and the entity checks reading it are
// skipped), and resolves it when it reads the config for the plugins
// iterator (kong/db/schema/init.lua process_auto_fields, "select"): the
// plugin receives the secret, and the record gains a "$refs" member mapping
// the field to its reference, which cjson sends along. An unresolvable
// reference becomes "" (with a warning in Kong's log).
//
// Only the env vault is emulated: {vault://env/NAME} reads the variable NAME
// upper-cased, "-" read as "_"; {vault://env/NAME/KEY} reads the JSON object
// in NAME and takes its KEY.

// IsVaultReference is kong.vault.is_reference.
func IsVaultReference(s string) bool {
	return len(s) > len("{vault://}") && strings.HasPrefix(s, "{vault://") && strings.HasSuffix(s, "}")
}

// resolveReferences replaces the references of a validated config by their
// values and records them in "$refs", record by record.
func resolveReferences(rec *Field, m map[string]any, lookup func(string) (string, bool), log *slog.Logger) {
	refs := map[string]any{}
	for _, f := range rec.Fields {
		v, ok := m[f.Name]
		if !ok {
			continue
		}
		switch x := v.(type) {
		case map[string]any:
			if f.Type == "record" {
				resolveReferences(f, x, lookup, log)
				continue
			}
			if f.Type == "map" && f.Values != nil && f.Values.Referenceable {
				mapRefs := map[string]any{}
				for k, e := range x {
					if s, ok := e.(string); ok && IsVaultReference(s) {
						mapRefs[k] = s
						x[k] = resolveReference(s, lookup, log)
					}
				}
				if len(mapRefs) > 0 {
					refs[f.Name] = mapRefs
				}
			}
		case []any:
			if f.Elements != nil && f.Elements.Referenceable {
				elemRefs := map[string]any{}
				for i, e := range x {
					if s, ok := e.(string); ok && IsVaultReference(s) {
						elemRefs[strconv.Itoa(i+1)] = s
						x[i] = resolveReference(s, lookup, log)
					}
				}
				if len(elemRefs) > 0 {
					refs[f.Name] = elemRefs
				}
			}
		case string:
			if f.Referenceable && IsVaultReference(x) {
				refs[f.Name] = x
				m[f.Name] = resolveReference(x, lookup, log)
			}
		}
	}
	if len(refs) > 0 {
		m["$refs"] = refs
	}
}

func resolveReference(ref string, lookup func(string) (string, bool), log *slog.Logger) string {
	v, ok := vaultValue(ref, lookup)
	if !ok {
		log.Warn("unable to resolve reference " + ref)
	}
	return v
}

func vaultValue(ref string, lookup func(string) (string, bool)) (string, bool) {
	body := strings.TrimSuffix(strings.TrimPrefix(ref, "{vault://"), "}")
	body, query, _ := strings.Cut(body, "?")
	name, rest, _ := strings.Cut(body, "/")
	if name != "env" || rest == "" {
		return "", false
	}
	resource, key, _ := strings.Cut(rest, "/")
	prefix := ""
	for _, kv := range strings.Split(query, "&") {
		if p, ok := strings.CutPrefix(kv, "prefix="); ok {
			prefix = p
		}
	}
	v, ok := lookup(strings.ToUpper(strings.ReplaceAll(prefix+resource, "-", "_")))
	if !ok {
		return "", false
	}
	if key == "" {
		return v, true
	}
	var obj map[string]any
	if json.Unmarshal([]byte(v), &obj) != nil {
		return "", false
	}
	s, ok := obj[key].(string)
	return s, ok
}

package kongsim

import (
	"fmt"
	"strings"
)

// EntityCheck is one of Kong's entity checks (rules across the fields of a
// record), as kong/db/schema/init.lua runs them when a config is written.
// Only the checks a dumped schema can carry are known (custom_entity_check
// needs a Lua function); Kong's metaschema refuses any other name, and so
// does ParseSchema.
type EntityCheck struct {
	Name string
	// Fields for at_least_one_of, only_one_of, distinct, mutually_required,
	// mutually_exclusive.
	Fields []string
	// conditional and conditional_at_least_one_of.
	IfField              string
	IfMatch              map[string]any
	ThenField            string
	ThenMatch            map[string]any
	ThenAtLeastOneOf     []string
	ElseMatch            map[string]any
	ElseThenAtLeastOneOf []string
	ThenErr, ElseThenErr string
	// mutually_exclusive_sets.
	Set1, Set2 []string
}

func parseEntityChecks(v any) ([]EntityCheck, error) {
	list, ok := v.([]any)
	if !ok {
		return nil, fmt.Errorf("entity_checks: expected an array")
	}
	var out []EntityCheck
	for _, item := range list {
		m, ok := item.(map[string]any)
		if !ok || len(m) != 1 {
			return nil, fmt.Errorf("entity_checks: each check must be a table with one key, got %v", item)
		}
		for name, arg := range m {
			c := EntityCheck{Name: name}
			switch name {
			case "at_least_one_of", "only_one_of", "distinct", "mutually_required", "mutually_exclusive":
				c.Fields = stringList(arg)
				if len(c.Fields) == 0 {
					return nil, fmt.Errorf("entity check %s: expected a list of field names", name)
				}
			case "conditional", "conditional_at_least_one_of":
				a, _ := asTable(arg)
				c.IfField = str(a, "if_field")
				c.IfMatch, _ = asTable(a["if_match"])
				c.ThenField = str(a, "then_field")
				c.ThenMatch, _ = asTable(a["then_match"])
				c.ThenAtLeastOneOf = stringList(a["then_at_least_one_of"])
				c.ElseMatch, _ = asTable(a["else_match"])
				c.ElseThenAtLeastOneOf = stringList(a["else_then_at_least_one_of"])
				c.ThenErr, c.ElseThenErr = str(a, "then_err"), str(a, "else_then_err")
				if c.IfField == "" || c.IfMatch == nil || (name == "conditional" && (c.ThenField == "" || c.ThenMatch == nil)) {
					return nil, fmt.Errorf("entity check %s: incomplete %v", name, arg)
				}
			case "mutually_exclusive_sets":
				a, _ := asTable(arg)
				c.Set1, c.Set2 = stringList(a["set1"]), stringList(a["set2"])
			default:
				return nil, fmt.Errorf("entity check %q: not one Kong's metaschema accepts in a dumped schema", name)
			}
			out = append(out, c)
		}
	}
	return out, nil
}

// checkSpec is how Kong's run_entity_check treats a checker.
type checkSpec struct {
	runWithMissing, runWithInvalid bool
}

var entityCheckers = map[string]checkSpec{
	"at_least_one_of":             {runWithMissing: true, runWithInvalid: true},
	"conditional_at_least_one_of": {runWithMissing: true, runWithInvalid: true},
	"only_one_of":                 {runWithInvalid: true},
	"distinct":                    {runWithInvalid: true},
	"conditional":                 {runWithInvalid: true},
	"mutually_required":           {runWithMissing: true},
	"mutually_exclusive":          {runWithMissing: true},
	"mutually_exclusive_sets":     {runWithMissing: true},
}

// runEntityChecks runs a record's checks on the record as written with its
// defaults filled (a full insert), adding Kong's messages: field errors
// under the field, the others under "<record>.@entity".
func runEntityChecks(f *Field, rec map[string]any, path string, errs map[string]string) {
	for _, c := range f.EntityChecks {
		spec := entityCheckers[c.Name]
		names, required := c.involved()
		allNil, invalid, reference := true, false, false
		var missing []string
		for _, n := range names {
			v := getPath(rec, n)
			if v == nil {
				if !spec.runWithMissing && required[n] {
					missing = append(missing, n)
				}
				continue
			}
			allNil = false
			// Kong skips a check when one of its fields holds a vault
			// reference: only the resolved value could be checked.
			if sf := fieldAt(f, n); sf != nil && sf.Referenceable {
				if s, ok := v.(string); ok && IsVaultReference(s) {
					reference = true
				}
			}
			if _, bad := errs[path+"."+n]; bad {
				invalid = true
			}
		}
		if reference || (invalid && !spec.runWithInvalid) {
			continue
		}
		if allNil && !spec.runWithMissing {
			continue
		}
		if len(missing) > 0 {
			for _, n := range missing {
				errs[path+"."+n] = "field required for entity check"
			}
			continue
		}
		if msg := c.run(f, rec, path, errs); msg != "" {
			key := path + ".@entity"
			if prev, ok := errs[key]; ok {
				msg = prev + "; " + msg
			}
			errs[key] = msg
		}
	}
}

// involved lists the fields a check reads, and those it cannot run without.
func (c EntityCheck) involved() ([]string, map[string]bool) {
	required := map[string]bool{}
	switch c.Name {
	case "conditional":
		required[c.IfField] = true
		return []string{c.IfField, c.ThenField}, required
	case "conditional_at_least_one_of":
		required[c.IfField] = true
		names := append([]string{c.IfField}, c.ThenAtLeastOneOf...)
		return append(names, c.ElseThenAtLeastOneOf...), required
	case "mutually_exclusive_sets":
		for _, n := range append(append([]string{}, c.Set1...), c.Set2...) {
			required[n] = true
		}
		return append(append([]string{}, c.Set1...), c.Set2...), required
	}
	for _, n := range c.Fields {
		required[n] = true
	}
	return c.Fields, required
}

// run applies the check and returns the record-level message, if any.
func (c EntityCheck) run(f *Field, rec map[string]any, path string, errs map[string]string) string {
	nonEmpty := func(names []string) []string {
		var out []string
		for _, n := range names {
			if isNonEmpty(getPath(rec, n)) {
				out = append(out, n)
			}
		}
		return out
	}
	switch c.Name {
	case "at_least_one_of":
		if len(nonEmpty(c.Fields)) == 0 {
			return "at least one of these fields must be non-empty: " + quotedList(c.Fields)
		}
	case "only_one_of":
		if len(nonEmpty(c.Fields)) != 1 {
			return "exactly one of these fields must be non-empty: " + quotedList(c.Fields)
		}
	case "mutually_required":
		if n := len(nonEmpty(c.Fields)); n != 0 && n != len(c.Fields) {
			return "all or none of these fields must be set: " + quotedList(c.Fields)
		}
	case "mutually_exclusive":
		if len(nonEmpty(c.Fields)) > 1 {
			return "only one or none of these fields must be set: " + quotedList(c.Fields)
		}
	case "mutually_exclusive_sets":
		a, b := nonEmpty(c.Set1), nonEmpty(c.Set2)
		if len(a) > 0 && len(b) > 0 {
			return fmt.Sprintf("these sets are mutually exclusive: (%s), (%s)", quotedList(a), quotedList(b))
		}
	case "distinct":
		seen := map[any]bool{}
		for _, n := range c.Fields {
			v := getPath(rec, n)
			if isNonEmpty(v) {
				if seen[v] {
					return "values of these fields must be distinct: " + quotedList(c.Fields)
				}
				seen[v] = true
			}
		}
	case "conditional":
		if !matches(f, c.IfField, c.IfMatch, getPath(rec, c.IfField)) {
			return ""
		}
		then := getPath(rec, c.ThenField)
		if req, _ := c.ThenMatch["required"].(bool); req && then == nil {
			errs[path+"."+c.ThenField] = "required field missing"
			return c.conditionalErr()
		}
		if then == nil {
			return ""
		}
		tf := overlay(fieldAt(f, c.ThenField), c.ThenMatch)
		sub := map[string]string{}
		validateField(tf, then, "x", sub)
		if msg, bad := sub["x"]; bad {
			errs[path+"."+c.ThenField] = msg
			return c.conditionalErr()
		}
	case "conditional_at_least_one_of":
		v := getPath(rec, c.IfField)
		if v == nil {
			return ""
		}
		list, errFmt := c.ThenAtLeastOneOf, c.ThenErr
		if !matches(f, c.IfField, c.IfMatch, v) {
			if c.ElseMatch == nil || !matches(f, c.IfField, c.ElseMatch, v) {
				return ""
			}
			list, errFmt = c.ElseThenAtLeastOneOf, c.ElseThenErr
		}
		if len(nonEmpty(list)) == 0 {
			if errFmt != "" {
				return strings.ReplaceAll(errFmt, "%s", quotedList(list))
			}
			return "at least one of these fields must be non-empty: " + quotedList(list)
		}
	}
	return ""
}

func (c EntityCheck) conditionalErr() string {
	if c.ThenErr != "" {
		return strings.ReplaceAll(c.ThenErr, "%s", c.IfField)
	}
	return fmt.Sprintf("failed conditional validation given value of field '%s'", c.IfField)
}

// matches validates v with the if_match attributes over the field's own
// definition, as Kong does with a metatable.
func matches(rec *Field, name string, attrs map[string]any, v any) bool {
	sub := map[string]string{}
	validateField(overlay(fieldAt(rec, name), attrs), v, "x", sub)
	return len(sub) == 0
}

// overlay is the field definition with a check's attributes over it.
func overlay(base *Field, attrs map[string]any) *Field {
	m := map[string]any{"type": "string"}
	if base != nil {
		m["type"] = base.Type
	}
	for k, v := range attrs {
		m[k] = v
	}
	f, err := parseField("check", m)
	if err != nil {
		return &Field{Type: "string"}
	}
	if base != nil {
		// Unset attributes fall back to the field's.
		if f.OneOf == nil {
			f.OneOf = base.OneOf
		}
		if f.Match == "" && f.MatchNone == nil && f.MatchAny == nil {
			f.Match, f.MatchNone, f.MatchAny = base.Match, base.MatchNone, base.MatchAny
		}
		if f.Between == nil {
			f.Between = base.Between
		}
		f.Referenceable = f.Referenceable || base.Referenceable
		f.Elements, f.Keys, f.Values, f.Fields = base.Elements, base.Keys, base.Values, base.Fields
	}
	return f
}

// fieldAt finds a field by dotted path inside a record definition.
func fieldAt(rec *Field, name string) *Field {
	head, tail, nested := strings.Cut(name, ".")
	for _, sf := range rec.Fields {
		if sf.Name == head {
			if nested {
				return fieldAt(sf, tail)
			}
			return sf
		}
	}
	return nil
}

func getPath(rec map[string]any, name string) any {
	head, tail, nested := strings.Cut(name, ".")
	v := rec[head]
	if !nested {
		return v
	}
	sub, ok := v.(map[string]any)
	if !ok {
		return nil
	}
	return getPath(sub, tail)
}

// isNonEmpty is Kong's is_nonempty: not nil, not "", not an empty table.
func isNonEmpty(v any) bool {
	switch x := v.(type) {
	case nil:
		return false
	case string:
		return x != ""
	case map[string]any:
		return len(x) > 0
	case []any:
		return len(x) > 0
	}
	return true
}

func quotedList(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = "'" + n + "'"
	}
	return strings.Join(q, ", ")
}

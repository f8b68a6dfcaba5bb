package schema

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// releaseField is a field of Kong's opentelemetry schema in one release, as
// testdata/kong-opentelemetry-versions.json records it.
type releaseField struct {
	Type                string    `json:"type"`
	Default             any       `json:"default"`
	OneOf               []any     `json:"one_of"`
	Between             []float64 `json:"between"`
	Required            bool      `json:"required"`
	Referenceable       bool      `json:"referenceable"`
	ValuesReferenceable bool      `json:"values_referenceable"`
	Deprecated          string    `json:"deprecated"`
	Note                string    `json:"note"`
}

type kongRelease struct {
	Version string                  `json:"version"`
	Source  string                  `json:"source"`
	Add     map[string]releaseField `json:"add"`
	Change  map[string]releaseField `json:"change"`
	Remove  []string                `json:"remove"`
}

// kongReleases expands the fixture: every release's full field set, and the
// first release of each field.
func kongReleases(t *testing.T) (releases []kongRelease, fields []map[string]releaseField, since map[string]string) {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", "kong-opentelemetry-versions.json"))
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Versions []kongRelease `json:"versions"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	since = map[string]string{}
	cur := map[string]releaseField{}
	for _, r := range doc.Versions {
		next := map[string]releaseField{}
		for k, v := range cur {
			next[k] = v
		}
		for k, v := range r.Add {
			if _, ok := next[k]; ok {
				t.Fatalf("%s adds %s, which %s already has", r.Version, k, since[k])
			}
			next[k] = v
			since[k] = r.Version
		}
		for k, v := range r.Change {
			if _, ok := next[k]; !ok {
				t.Fatalf("%s changes %s, which it does not have", r.Version, k)
			}
			next[k] = v
		}
		for _, k := range r.Remove {
			delete(next, k)
		}
		releases = append(releases, r)
		fields = append(fields, next)
		cur = next
	}
	return releases, fields, since
}

func TestSchemaCoversEveryKongRelease(t *testing.T) {
	releases, sets, since := kongReleases(t)
	ours := map[string]Field{}
	var index func(fields []Field, prefix string)
	index = func(fields []Field, prefix string) {
		for _, f := range fields {
			ours[prefix+f.Name] = f
			if f.Type == "record" {
				index(f.Fields, prefix+f.Name+".")
			}
		}
	}
	index(Fields(), "")
	differing := map[string]bool{}
	for i, r := range releases {
		for path, k := range sets[i] {
			f, ok := ours[path]
			if !ok {
				t.Errorf("Kong %s: %s is not in the schema", r.Version, path)
				continue
			}
			for _, p := range compareField(f, k) {
				if _, ok := deliberateDifferences[path]; ok {
					differing[path] = true
					continue
				}
				t.Errorf("Kong %s: %s: %s", r.Version, path, p)
			}
		}
	}
	for path, why := range deliberateDifferences {
		if !differing[path] {
			t.Errorf("%s is listed as a deliberate difference (%s) but matches Kong", path, why)
		}
	}
	for path, f := range ours {
		switch {
		case f.Since == "" && since[path] != "":
			t.Errorf("%s is Kong's (since %s) but marked as ours", path, since[path])
		case f.Since != "" && f.Since != since[path]:
			t.Errorf("%s: Since %q, but Kong's schemas have it from %q", path, f.Since, since[path])
		}
	}
}

// compareField lists how our field differs from Kong's: a Kong config must
// load with the same meaning.
func compareField(f Field, k releaseField) []string {
	var out []string
	if f.Type != k.Type {
		out = append(out, fmt.Sprintf("type %s, Kong's %s", f.Type, k.Type))
	}
	if !sameDefault(f.Default, k.Default) {
		out = append(out, fmt.Sprintf("default %v, Kong's %v", f.Default, k.Default))
	}
	allowed := f.OneOf
	if f.Type == "array" && f.Elements != nil {
		allowed = f.Elements.OneOf
	}
	for _, v := range k.OneOf {
		if len(allowed) > 0 && !containsValue(allowed, v) {
			out = append(out, fmt.Sprintf("refuses Kong's value %v", v))
		}
	}
	if len(k.Between) == 2 && f.Between != nil && (f.Between[0] > k.Between[0] || f.Between[1] < k.Between[1]) {
		out = append(out, fmt.Sprintf("range %v, Kong's %v", *f.Between, k.Between))
	}
	if k.Referenceable && !f.Referenceable {
		out = append(out, "not referenceable")
	}
	if k.ValuesReferenceable && (f.Values == nil || !f.Values.Referenceable) {
		out = append(out, "values not referenceable")
	}
	if k.Deprecated != "" && f.Deprecated != k.Deprecated {
		out = append(out, fmt.Sprintf("deprecated for %q, Kong's for %q", f.Deprecated, k.Deprecated))
	}
	return out
}

func sameDefault(ours, kongs any) bool {
	if kongs == nil {
		return ours == nil
	}
	a, _ := json.Marshal(ours)
	b, _ := json.Marshal(kongs)
	return string(a) == string(b) || reflect.DeepEqual(ours, kongs)
}

func containsValue(list []any, v any) bool {
	for _, e := range list {
		if fmt.Sprint(e) == fmt.Sprint(v) {
			return true
		}
	}
	return false
}

// Every release's fixture entry says where it comes from.
func TestKongReleasesFixtureSources(t *testing.T) {
	releases, _, _ := kongReleases(t)
	var versions []string
	for _, r := range releases {
		versions = append(versions, r.Version)
		if strings.TrimSpace(r.Source) == "" {
			t.Errorf("%s has no source", r.Version)
		}
	}
	want := "3.4 3.5 3.6 3.7 3.8 3.9 3.10 3.11 3.12 3.13 3.14 3.15 3.16"
	if got := strings.Join(versions, " "); got != want {
		t.Errorf("releases %s, want %s", got, want)
	}
}

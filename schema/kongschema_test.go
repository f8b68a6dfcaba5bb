package schema

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"
)

var update = flag.Bool("update", false, "rewrite golden files")

// The schema Kong registers from -dump is part of the plugin's contract:
// any change must be a deliberate one (go test ./schema -update).
func TestKongSchemaGolden(t *testing.T) {
	got, err := json.MarshalIndent(KongSchema("trace-exporter", nil), "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	got = append(got, '\n')
	golden := filepath.Join("testdata", "kong-schema.golden.json")
	if *update {
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test ./schema -update)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("Kong schema changed; review and run go test ./schema -update\n%s", got)
	}
}

// Kong fills dumped defaults into every config it sends: those must decode
// to exactly Defaults().
func TestDumpedDefaultsDecodeToDefaults(t *testing.T) {
	resetEnvForTest(noEnv)
	cfg := map[string]any{"traces_endpoint": "http://c:4318/v1/traces"}
	var fill func(fields []any, into map[string]any)
	fill = func(fields []any, into map[string]any) {
		for _, item := range fields {
			for name, def := range item.(map[string]any) {
				d := def.(map[string]any)
				if d["type"] == "record" {
					sub := map[string]any{}
					fill(d["fields"].([]any), sub)
					into[name] = sub
				} else if v, ok := d["default"]; ok {
					into[name] = v
				}
			}
		}
	}
	var top map[string]any
	for _, f := range KongSchema("trace-exporter", nil)["fields"].([]any) {
		if c, ok := f.(map[string]any)["config"]; ok {
			top = c.(map[string]any)
		}
	}
	fill(top["fields"].([]any), cfg)
	js, _ := json.Marshal(cfg)
	var c Config
	if err := json.Unmarshal(js, &c); err != nil {
		t.Fatalf("Kong-filled defaults refused: %v\n%s", err, js)
	}
	want := Defaults()
	want.TracesEndpoint = "http://c:4318/v1/traces"
	if got, _ := json.Marshal(c); string(got) != string(mustJSON(want)) {
		t.Errorf("defaults drift between the dump and Defaults():\n got %s\nwant %s", got, mustJSON(want))
	}
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

// docs/configuration.md is generated from the field tree; it must match.
func TestReferenceUpToDate(t *testing.T) {
	path := filepath.Join("..", "docs", "configuration.md")
	got := Reference()
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./schema -update)", err)
	}
	if got != string(want) {
		t.Errorf("docs/configuration.md is out of date: run go test ./schema -update")
	}
}

package main

import (
	"encoding/json"
	"os/exec"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/trace-exporter/trace-exporter/exporter"
	"github.com/trace-exporter/trace-exporter/schema"
)

// buildPlugin compiles this command under the name Kong knows it by.
func buildPlugin(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "trace-exporter")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// Kong runs `<bin> -dump` (query_cmd) and reads stdout as JSON.
func TestDumpAnswersKong(t *testing.T) {
	bin := buildPlugin(t)
	out, err := exec.Command(bin, "-dump", "-kong-prefix", "/tmp/kp").Output()
	if err != nil {
		t.Fatalf("-dump: %v", err)
	}
	var info struct {
		Protocol   string
		SocketPath string
		Plugins    []struct {
			Name     string
			Phases   []string
			Version  string
			Priority int
			Schema   map[string]any
		}
	}
	if err := json.Unmarshal(out, &info); err != nil {
		t.Fatalf("-dump output is not JSON: %v\n%s", err, out)
	}
	if info.Protocol != "ProtoBuf:1" || info.SocketPath != "/tmp/kp/trace-exporter.socket" || len(info.Plugins) != 1 {
		t.Fatalf("dump header: %+v", info)
	}
	p := info.Plugins[0]
	if p.Name != "trace-exporter" || !reflect.DeepEqual(p.Phases, []string{"access", "log"}) || p.Version == "" || p.Priority != 14 {
		t.Errorf("plugin info: %+v", p)
	}
	// Compare as decoded JSON: key order is not part of the contract.
	var want map[string]any
	raw, _ := json.Marshal(schema.KongSchema("trace-exporter", exporter.Names()))
	_ = json.Unmarshal(raw, &want)
	if !reflect.DeepEqual(p.Schema, want) {
		got, _ := json.Marshal(p.Schema)
		t.Errorf("dumped schema differs from schema.KongSchema:\n%s", got)
	}
}

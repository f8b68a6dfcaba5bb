package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"reflect"
	"testing"

	"github.com/trace-exporter/trace-exporter/exporter"
	"github.com/trace-exporter/trace-exporter/schema"
	"github.com/trace-exporter/trace-exporter/test/testutil"
)

// The plugin server is built once for this test binary (or taken from
// $TRACE_EXPORTER_BIN), under the name Kong knows it by.
func TestMain(m *testing.M) { os.Exit(testutil.Main(m)) }

// Kong runs `<bin> -dump` (query_cmd) and reads stdout as JSON.
func TestDumpAnswersKong(t *testing.T) {
	bin := testutil.PluginBinary(t)
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

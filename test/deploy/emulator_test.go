package deploy

import (
	"encoding/json"
	"path/filepath"
	"testing"

	"github.com/trace-exporter/trace-exporter/schema"
	"github.com/trace-exporter/trace-exporter/test/kongsim"
)

// TestKongYMLLoadsInEmulator loads both declarative files with the Kong
// emulator's loader and takes each trace-exporter config the way Kong does:
// validated against the schema the plugin dumps (unknown fields refused,
// defaults filled, nulls dropped), then handed to the plugin's decoder with
// Kong's extra StartInstance keys, as at StartInstance.
func TestKongYMLLoadsInEmulator(t *testing.T) {
	// The schema as Kong reads it: the JSON the plugin prints for -dump.
	var dumped map[string]any
	if err := json.Unmarshal(toJSON(t, schema.KongSchema(pluginName, nil)), &dumped); err != nil {
		t.Fatal(err)
	}
	s, err := kongsim.ParseSchema(dumped)
	if err != nil {
		t.Fatalf("the plugin's Kong schema: %v", err)
	}
	for _, file := range kongYMLFiles {
		d, err := kongsim.LoadDeclarative(filepath.Join(repoRoot(t), file))
		if err != nil {
			t.Errorf("%s: the emulator refuses it: %v", file, err)
			continue
		}
		if len(d.Services) == 0 || len(d.Routes) == 0 || len(d.Upstreams) == 0 {
			t.Errorf("%s: %d services, %d routes, %d upstreams", file, len(d.Services), len(d.Routes), len(d.Upstreams))
		}
		var global, scoped int
		for _, p := range d.Plugins {
			if p.Name != pluginName {
				continue
			}
			if p.RouteID == "" && p.ServiceID == "" && p.ConsumerID == "" {
				global++
			} else {
				scoped++
			}
			cfg, err := s.Validate(p.Config)
			if err != nil {
				t.Errorf("%s: plugin %s: Kong would refuse this config: %v", file, p.ID, err)
				continue
			}
			for k, v := range kongExtraKeys {
				cfg[k] = v
			}
			var c schema.Config
			if err := json.Unmarshal(toJSON(t, cfg), &c); err != nil {
				t.Errorf("%s: plugin %s: refused at StartInstance: %v", file, p.ID, err)
			}
		}
		if global != 1 || scoped < 2 {
			t.Errorf("%s: %d global and %d scoped %s instances; want 1 and at least 2", file, global, scoped, pluginName)
		}
	}
}

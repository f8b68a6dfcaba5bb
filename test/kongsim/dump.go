package kongsim

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"time"
)

// PluginInfo is what Kong keeps from the plugin's -dump output.
type PluginInfo struct {
	Name     string
	Version  string
	Priority int
	Phases   []string
	Schema   *Schema
	// RawSchema is the dumped schema as decoded JSON.
	RawSchema map[string]any
}

// HasPhase reports whether the plugin registered a handler for phase.
func (p PluginInfo) HasPhase(phase string) bool {
	for _, ph := range p.Phases {
		if ph == phase {
			return true
		}
	}
	return false
}

// QueryPlugin runs `<binary> -dump -kong-prefix <prefix>` as Kong 3.9 runs
// its query_command (only stdout is read) and returns the first plugin, the
// only one Kong 3.9 registers.
func QueryPlugin(ctx context.Context, binary, prefix string) (PluginInfo, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, "-dump", "-kong-prefix", prefix)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return PluginInfo{}, fmt.Errorf("query %s -dump: %w (stderr: %s)", binary, err, bytes.TrimSpace(stderr.Bytes()))
	}
	return ParseDump(stdout.Bytes())
}

// ParseDump decodes a -dump output. Like Kong it falls back to a top-level
// array when Plugins is missing and to "MsgPack:1" when Protocol is missing;
// unlike Kong it supports only ProtoBuf:1, the protocol go-pdk speaks.
func ParseDump(out []byte) (PluginInfo, error) {
	type dumpPlugin struct {
		Name     string
		Version  string
		Priority int
		Phases   []string
		Schema   map[string]any
	}
	var info struct {
		Protocol string
		Plugins  []dumpPlugin
	}
	trimmed := bytes.TrimSpace(out)
	if len(trimmed) == 0 {
		return PluginInfo{}, fmt.Errorf("failed decoding plugin info: Expected value but found T_END at character 1")
	}
	if trimmed[0] == '[' {
		if err := json.Unmarshal(trimmed, &info.Plugins); err != nil {
			return PluginInfo{}, fmt.Errorf("failed decoding plugin info: %w", err)
		}
	} else if err := json.Unmarshal(trimmed, &info); err != nil {
		return PluginInfo{}, fmt.Errorf("failed decoding plugin info: %w", err)
	}
	if info.Protocol == "" {
		info.Protocol = "MsgPack:1"
	}
	if info.Protocol != "ProtoBuf:1" {
		return PluginInfo{}, fmt.Errorf("plugin protocol %q: only ProtoBuf:1 is emulated", info.Protocol)
	}
	if len(info.Plugins) == 0 {
		return PluginInfo{}, fmt.Errorf("not a plugin info table: no plugins in %s", trimmed)
	}
	p := info.Plugins[0]
	if p.Name == "" {
		return PluginInfo{}, fmt.Errorf("not a plugin info table: plugin without Name")
	}
	schema, err := ParseSchema(p.Schema)
	if err != nil {
		return PluginInfo{}, fmt.Errorf("plugin %s schema: %w", p.Name, err)
	}
	return PluginInfo{Name: p.Name, Version: p.Version, Priority: p.Priority, Phases: p.Phases,
		Schema: schema, RawSchema: p.Schema}, nil
}

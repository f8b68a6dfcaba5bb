package kongsim

import (
	"fmt"
	"log/slog"
	"os"
	"sync/atomic"
)

// Configurer is Kong's side of a plugin entity's config, without a plugin
// server: the schema check when the config is written, then what Kong's
// plugins iterator hands the plugin at StartInstance (defaults filled, nulls
// removed, vault references resolved into the config and "$refs", Kong's
// extra keys added, cjson-encoded). Sim.Configure uses it; tests of a
// plugin's config decoding can use it alone.
type Configurer struct {
	Name      string  // the plugin's name
	Schema    *Schema // its dumped schema
	Version   Version
	Workspace string                      // default: the emulator's default workspace id
	LookupEnv func(string) (string, bool) // env vault; default os.LookupEnv
	Logger    *slog.Logger                // Kong's log; default slog.Default()
	seq       *atomic.Int64               // __seq__; shared with the Sim when it owns this
	ownSeq    atomic.Int64
}

// NewConfigurer reads a plugin's schema as -dump prints it.
func NewConfigurer(name string, rawSchema map[string]any, version string) (*Configurer, error) {
	schema, err := ParseSchema(rawSchema)
	if err != nil {
		return nil, err
	}
	v, err := ParseVersion(version)
	if err != nil {
		return nil, err
	}
	return &Configurer{Name: name, Schema: schema, Version: v}, nil
}

// Configure validates an entity's config and protocols against the schema
// (unless Unchecked), resolves its vault references, and prepares its
// StartInstance payload.
func (c *Configurer) Configure(e PluginEntity) (*Plugin, error) {
	if e.Name == "" {
		e.Name = c.Name
	}
	if e.Name != c.Name {
		return nil, fmt.Errorf("plugin %q is not the loaded plugin %q", e.Name, c.Name)
	}
	lookup, log, ws, seq := c.LookupEnv, c.Logger, c.Workspace, c.seq
	if lookup == nil {
		lookup = os.LookupEnv
	}
	if log == nil {
		log = slog.Default()
	}
	if ws == "" {
		ws = entityID("workspace", "default")
	}
	if seq == nil {
		seq = &c.ownSeq
	}
	cfg := e.Config
	if e.Unchecked {
		if n, ok := normalizeValue(cfg).(map[string]any); ok {
			cfg = n
		} else {
			cfg = map[string]any{}
		}
	} else {
		var err error
		if cfg, err = c.Schema.Validate(e.Config); err != nil {
			return nil, fmt.Errorf("plugin %s: %w", e.Name, err)
		}
	}
	protocols, err := c.Schema.ValidateProtocols(e.Protocols)
	if err != nil {
		return nil, fmt.Errorf("plugin %s: %w", e.Name, err)
	}
	resolveReferences(c.Schema.Config, cfg, lookup, log)
	if e.ID == "" {
		e.ID = entityID("plugin", e.Name+":"+e.RouteID+":"+e.ServiceID+":"+e.ConsumerID)
	}
	p := &Plugin{ID: e.ID, Name: e.Name, RouteID: e.RouteID, ServiceID: e.ServiceID,
		ConsumerID: e.ConsumerID, Protocols: protocols, Config: cfg, Seq: seq.Add(1)}
	conf := make(map[string]any, len(cfg)+8)
	for k, v := range cfg {
		conf[k] = v
	}
	if e.RouteID != "" {
		conf["route_id"] = e.RouteID
	}
	if e.ServiceID != "" {
		conf["service_id"] = e.ServiceID
	}
	if e.ConsumerID != "" {
		conf["consumer_id"] = e.ConsumerID
	}
	if e.InstanceName != "" {
		conf["plugin_instance_name"] = e.InstanceName
	}
	conf["__plugin_id"] = e.ID
	if c.Version.AtLeast(9) {
		conf["__ws_id"] = ws
	}
	conf["__key__"] = fmt.Sprintf("plugins:%s:%s:%s:%s::%s", e.Name, e.RouteID, e.ServiceID, e.ConsumerID, ws)
	conf["__seq__"] = float64(p.Seq)
	if p.configJSON, err = EncodeLuaJSON(conf, c.Version.jsonPrecision()); err != nil {
		return nil, fmt.Errorf("plugin %s: encoding config: %w", e.Name, err)
	}
	return p, nil
}

package plugin

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"

	"github.com/trace-exporter/trace-exporter/schema"
)

// pluginID reads the id of the plugin entity Kong adds to every config it
// sends (__plugin_id); "" when absent (a config from elsewhere).
func pluginID(config []byte) string {
	var k struct {
		ID string `json:"__plugin_id"`
	}
	_ = json.Unmarshal(config, &k) // the config itself was decoded already
	return k.ID
}

// samplingScope names whose rate limits an instance shares: its plugin
// entity's (the instance Kong starts after a config change keeps the
// buckets), or, without a plugin id, every instance of an identical config.
func samplingScope(cfg *schema.Config, id string) string {
	if id != "" {
		return "plugin " + id
	}
	js, _ := json.Marshal(cfg)
	sum := sha256.Sum256(js)
	return "config " + hex.EncodeToString(sum[:8])
}

package schema

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// UnmarshalJSON decodes the config JSON Kong sends at StartInstance, applies
// defaults (built-in, then OTEL_EXPORTER_OTLP_* variables) and validates.
// An error here makes go-pdk refuse the instance, so the message names the
// field. Keys Kong adds (__key__, __seq__, __plugin_id, __ws_id, route_id,
// service_id, consumer_id, plugin_instance_name) and any other unknown key are
// ignored: Kong's schema already refused unknown fields when the config was
// written, and a future Kong may add internal keys.
func (c *Config) UnmarshalJSON(data []byte) error {
	env, err := processEnv()
	if err != nil {
		return err
	}
	type plain Config // no UnmarshalJSON: avoids recursion
	*c = Defaults()
	if err := json.Unmarshal(data, (*plain)(c)); err != nil {
		return decodeError(err)
	}
	// OTEL_EXPORTER_OTLP_* configure OTLP only: a zipkin, webhook or custom
	// backend must never receive the OTLP backend's endpoint or credentials.
	if c.Exporter == ExporterOTLP {
		*c = Defaults()
		env.applyScalars(c)
		// Maps from the environment are replaced, not merged, by the config:
		// decode into nil maps and fill afterwards.
		if err := json.Unmarshal(data, (*plain)(c)); err != nil {
			return decodeError(err)
		}
		if c.Headers == nil && len(env.headers) > 0 {
			c.Headers = env.headers
		}
		if c.TracesURL() == "" {
			c.TracesEndpoint = env.tracesEndpoint(c.Protocol)
		}
		env.applyInsecure(c)
	}
	c.normalize()
	return c.Validate()
}

// normalize maps deprecated fields onto their replacements and puts names
// into the form the plugin compares against.
func (c *Config) normalize() {
	d := Defaults()
	if c.BatchSpanCount > 0 && c.Queue.MaxBatchSize == d.Queue.MaxBatchSize {
		c.Queue.MaxBatchSize = c.BatchSpanCount
	}
	if c.BatchFlushDelay > 0 && c.Queue.MaxCoalescingDelay == d.Queue.MaxCoalescingDelay {
		c.Queue.MaxCoalescingDelay = float64(c.BatchFlushDelay)
	}
	lower(c.Propagation.Clear)
	lower(c.RedactHeaders)
	lower(c.RedactQueryParams)
	lower(c.CaptureRequestHeaders)
	lower(c.CaptureResponseHeaders)
	for i := range c.SamplingRules {
		c.SamplingRules[i].HeaderName = strings.ToLower(c.SamplingRules[i].HeaderName)
	}
}

func lower(names []string) {
	for i, n := range names {
		names[i] = strings.ToLower(n)
	}
}

func decodeError(err error) error {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) && te.Field != "" {
		return &FieldError{Field: te.Field, Reason: fmt.Sprintf("expected %s, got JSON %s", kongType(te.Type.Kind().String()), te.Value)}
	}
	return fmt.Errorf("config: not a JSON object: %w", err)
}

func kongType(goKind string) string {
	switch goKind {
	case "int":
		return "an integer"
	case "float64":
		return "a number"
	case "bool":
		return "a boolean"
	case "string":
		return "a string"
	case "slice":
		return "an array"
	case "map", "struct":
		return "an object"
	}
	return goKind
}

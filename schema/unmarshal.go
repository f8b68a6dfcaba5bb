package schema

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// UnmarshalJSON decodes the config JSON Kong sends at StartInstance, applies
// defaults (built-in, then the plugin server's OTEL_* variables) and
// validates. An error here makes go-pdk refuse the instance, so the message
// names the field. Keys Kong adds (__key__, __seq__, __plugin_id, __ws_id,
// route_id, service_id, consumer_id, plugin_instance_name, $refs) and any
// other unknown key are ignored: Kong's schema already refused unknown
// fields when the config was written, and a future Kong may add internal
// keys.
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
			c.TracesEndpoint = env.endpoint(c.Protocol)
		}
		env.applyInsecure(c)
	}
	errs := emptyStrings(data)
	c.normalize()
	if err := c.Validate(); err != nil {
		errs = append(errs, err)
	}
	if len(errs) == 0 {
		c.accessLogs, err = c.resolveAccessLogs(data, env)
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// normalize applies deprecated fields where Kong applies them and puts names
// into the form the plugin compares against. Kong's queue takes
// batch_span_count and batch_flush_delay whenever they are set and differ
// from their old defaults (200 and 3), over whatever queue says, even a value
// written explicitly (kong/tools/queue.lua, 3.3 to 3.16).
func (c *Config) normalize() {
	if n := c.BatchSpanCount; n != nil && *n != oldBatchSpanCount {
		c.Queue.MaxBatchSize = *n
	}
	if n := c.BatchFlushDelay; n != nil && *n != oldBatchFlushDelay {
		c.Queue.MaxCoalescingDelay = float64(*n)
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

// The defaults the deprecated fields had; Kong ignores these values.
const (
	oldBatchSpanCount  = 200
	oldBatchFlushDelay = 3
)

func lower(names []string) {
	for i, n := range names {
		names[i] = strings.ToLower(n)
	}
}

// emptyStrings finds the empty strings of the config: Kong refuses them in
// every string field (a string's len_min is 1 unless a schema says
// otherwise), so one reaches the plugin only from a vault reference Kong
// could not resolve, or from a Kong that did not check the config. An empty
// string is never "off": leave the field out.
func emptyStrings(data []byte) []error {
	var root map[string]any
	if json.Unmarshal(data, &root) != nil {
		return nil // decodeError already reported it
	}
	var errs []error
	var walk func(fields []Field, m map[string]any, prefix string)
	walk = func(fields []Field, m map[string]any, prefix string) {
		refs, _ := m["$refs"].(map[string]any)
		for _, f := range fields {
			v, ok := m[f.Name]
			if !ok {
				continue
			}
			path := prefix + f.Name
			empty := func(what string, ref any) {
				reason := what + " is empty: leave the field out instead (Kong refuses empty strings)"
				if r, ok := ref.(string); ok && r != "" {
					reason = fmt.Sprintf("%s is empty: the vault reference %s could not be resolved", what, r)
				}
				errs = append(errs, &FieldError{Field: path, Reason: reason})
			}
			switch x := v.(type) {
			case string:
				if x == "" && f.Type == "string" {
					empty("the value", refs[f.Name])
				}
			case []any:
				for i, e := range x {
					if s, ok := e.(string); ok && s == "" {
						empty(fmt.Sprintf("element %d", i+1), nil)
					}
				}
			case map[string]any:
				if f.Type == "record" {
					walk(f.Fields, x, path+".")
					continue
				}
				mapRefs, _ := refs[f.Name].(map[string]any)
				for k, e := range x {
					if k == "" {
						empty("a key", nil)
					}
					if s, ok := e.(string); ok && s == "" {
						empty(fmt.Sprintf("the value of %q", k), mapRefs[k])
					}
				}
			}
		}
	}
	walk(configFields, root, "")
	return errs
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

package schema

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
)

// Reference renders the configuration reference (docs/configuration.md) from
// the field tree, so it cannot drift from the code: a test regenerates and
// compares it.
func Reference() string {
	var b strings.Builder
	b.WriteString("# Configuration reference\n\n")
	b.WriteString("<!-- Generated from schema/fields.go and schema/defaults.go by `go test ./schema -update`. Do not edit. -->\n\n")
	b.WriteString("Field names follow Kong's bundled `opentelemetry` plugin (3.9), so its configuration works after\n")
	b.WriteString("renaming the plugin to `trace-exporter`. Units follow Kong: timeouts in milliseconds, queue delays in seconds.\n")
	b.WriteString("Every constraint below is checked by Kong when the configuration is written (it is part of the\n")
	b.WriteString("schema the plugin dumps) and again when the plugin instance starts, with an error naming the field.\n\n")
	b.WriteString("| Field | Type | Default | Allowed | Description |\n|---|---|---|---|---|\n")
	writeRows(&b, Fields(), "")
	b.WriteString("\nFields marked *env* take their default from the named `OTEL_EXPORTER_OTLP_*` variable of the plugin\n")
	b.WriteString("server's environment when the plugin config leaves them out (the `TRACES_` variant first). Kong's nginx\n")
	b.WriteString("clears its workers' environment, so declare such variables to nginx (see the README, \"Environment\").\n")
	return b.String()
}

func writeRows(b *strings.Builder, fields []Field, prefix string) {
	for _, f := range fields {
		name := prefix + f.Name
		if f.Type == "record" {
			fmt.Fprintf(b, "| `%s` | record | | | %s |\n", name, escape(f.Doc))
			writeRows(b, f.Fields, name+".")
			continue
		}
		doc := f.Doc
		if f.Deprecated != "" {
			doc = "**Deprecated** (use `" + f.Deprecated + "`). " + strings.TrimPrefix(doc, "Deprecated: "+f.Deprecated+".")
		}
		def := defaultText(f)
		if f.EnvVar != "" {
			def += " (env `" + f.EnvVar + "`)"
		}
		fmt.Fprintf(b, "| `%s` | %s | %s | %s | %s |\n", name, typeText(f), def, allowedText(f), escape(strings.TrimSpace(doc)))
	}
}

func typeText(f Field) string {
	switch f.Type {
	case "array":
		return "array of " + f.Elements.Type
	case "map":
		return "map " + f.Keys.Type + " → " + f.Values.Type
	}
	return f.Type
}

func defaultText(f Field) string {
	if f.Default == nil {
		return ""
	}
	switch v := f.Default.(type) {
	case []string:
		return "`" + strings.Join(v, "`, `") + "`"
	case map[string]string:
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		return "`" + strings.Join(keys, ", ") + "`"
	}
	js, _ := json.Marshal(f.Default)
	return "`" + string(js) + "`"
}

func allowedText(f Field) string {
	c := f
	if f.Type == "array" && f.Elements != nil {
		c = *f.Elements
	}
	var parts []string
	if len(c.OneOf) > 0 {
		vals := make([]string, len(c.OneOf))
		for i, v := range c.OneOf {
			vals[i] = fmt.Sprintf("`%v`", v)
		}
		parts = append(parts, strings.Join(vals, ", "))
	}
	if c.Between != nil {
		parts = append(parts, fmt.Sprintf("%v … %v", number(c.Between[0]), number(c.Between[1])))
	}
	if c.Gt != nil {
		parts = append(parts, fmt.Sprintf("> %v", number(*c.Gt)))
	}
	switch c.Match {
	case luaHeaderName:
		parts = append(parts, "a header name")
	case luaBroker:
		parts = append(parts, "host:port")
	case luaTopic:
		parts = append(parts, "a Kafka topic name")
	}
	if len(c.MatchNone) > 0 {
		parts = append(parts, "not "+strings.Join(AlwaysRedactedHeaders, ", "))
	}
	return strings.Join(parts, "; ")
}

func escape(s string) string { return strings.ReplaceAll(s, "|", "\\|") }

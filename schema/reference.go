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
	b.WriteString("Every field of Kong's bundled `opentelemetry` plugin from Kong 3.4 to 3.16 loads with the same name,\n")
	b.WriteString("type, default and meaning, so its configuration works after renaming the plugin to `trace-exporter`.\n")
	b.WriteString("The **Kong** column says since which Kong release the `opentelemetry` plugin has a field (3.4 stands\n")
	b.WriteString("for 3.4 and older); *ours* marks the fields only trace-exporter has. Units follow Kong: timeouts in\n")
	b.WriteString("milliseconds, queue delays in seconds.\n\n")
	b.WriteString("Every constraint below is checked by Kong when the configuration is written (it is part of the\n")
	b.WriteString("schema the plugin dumps) and again when the plugin instance starts, with an error naming the field.\n")
	b.WriteString("Fields marked *vault* may hold a Kong vault reference such as `{vault://env/OTEL_TOKEN}`: Kong\n")
	b.WriteString("resolves it before the plugin sees the configuration, and skips the field's checks when it is written.\n\n")
	b.WriteString("| Field | Type | Default | Allowed | Kong | Description |\n|---|---|---|---|---|---|\n")
	writeRows(&b, Fields(), "")
	b.WriteString("\n## Rules across fields\n\n")
	b.WriteString("Dumped as Kong entity checks, so Kong refuses a configuration that breaks them when it is written:\n\n")
	for _, r := range crossFieldRules {
		b.WriteString("- " + r + "\n")
	}
	b.WriteString("\nThe plugin checks these when the instance starts, since they depend on its environment or on\n")
	b.WriteString("resolved vault references:\n\n")
	for _, r := range pluginOnlyRules {
		b.WriteString("- " + r + "\n")
	}
	b.WriteString("\nThe plugin runs on routes of the protocols `" + strings.Join(Protocols, "`, `") + "` (the plugin\n")
	b.WriteString("entity's `protocols`, Kong's default for `opentelemetry`); Kong refuses it on a route that shares none\n")
	b.WriteString("of its protocols. A gRPC call's span comes from the same data as an HTTP request's: method `POST`,\n")
	b.WriteString("path `/package.Service/Method`, the HTTP status; its `grpc-status` is a trailer, which Kong does not hand\n")
	b.WriteString("the plugin. The Kong emulator the tests use proxies HTTP/1.1 only, so gRPC calls are not tested end to end.\n")
	b.WriteString("\n## Differences from Kong\n\n")
	b.WriteString("A Kong configuration loads with the same meaning, except where a value means something this plugin\n")
	b.WriteString("cannot do, or where its default would lose spans:\n\n")
	paths := make([]string, 0, len(deliberateDifferences))
	for p := range deliberateDifferences {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	for _, p := range paths {
		b.WriteString("- `" + p + "`: " + deliberateDifferences[p] + ".\n")
	}
	b.WriteString("- `queue.concurrency_limit`: Kong's -1 (\"unlimited\") exports up to 8 batches at once; 2 to 64 are ours.\n")
	b.WriteString("- `resource_attributes` templates: the variables listed below, not any Lua expression.\n")
	b.WriteString("- `metrics`: request metrics only, what the serialize payload holds (the README's Request metrics).\n")
	b.WriteString(accessLogsDifferences)
	b.WriteString(deprecatedSection)
	b.WriteString(resourceSection)
	b.WriteString(accessLogsSection)
	b.WriteString(notExportedSection)
	b.WriteString("\n## Environment\n\n")
	b.WriteString("Fields marked *env* take their default from the named `OTEL_EXPORTER_OTLP_*` variable of the plugin\n")
	b.WriteString("server's environment when the plugin config leaves them out (the `TRACES_` variant first).\n")
	b.WriteString("`OTEL_RESOURCE_ATTRIBUTES` and `OTEL_SERVICE_NAME` add resource attributes under `resource_attributes`.\n")
	b.WriteString("Kong's nginx clears its workers' environment, so declare such variables to nginx (see the README,\n")
	b.WriteString("\"Environment\").\n")
	return b.String()
}

// deliberateDifferences are where a field's type, default or range differs
// from Kong's on purpose (schema/versions_test.go checks each still differs).
var deliberateDifferences = map[string]string{
	"sampling_strategy": "default `parent_probability_fallback` (a caller's sampled flag is kept); Kong's default `parent_drop_probability_fallback` re-samples a caller's sampled trace and breaks it (Kong/kong#13015). A configuration that names either value gets Kong's meaning",
	"sampling_rate":     "default 1; Kong falls back to kong.conf's `tracing_sampling_rate`, which an external plugin cannot read",
	"queue.max_bytes":   "default 32 MiB, so memory stays bounded; Kong's queue has no byte bound by default",
	"connect_timeout":   "0 is refused: a backend that never answers would hold a batch forever",
	"send_timeout":      "0 is refused, as connect_timeout",
	"read_timeout":      "0 is refused, as connect_timeout",
}

const deprecatedSection = `
## Deprecated fields

They take effect exactly when Kong applies them, on the configuration as Kong sends it (defaults filled):

- ` + "`endpoint`" + ` (required up to Kong 3.7): used when ` + "`traces_endpoint`" + ` is not set, as Kong 3.8+ does with its
  ` + "`endpoint`" + ` shorthand; ` + "`traces_endpoint`" + ` wins when both are set.
- ` + "`batch_span_count`" + `: any value but 200 (its old default) replaces ` + "`queue.max_batch_size`" + `, even when the
  configuration also writes ` + "`queue.max_batch_size`" + ` (also with its default 200); 200 is ignored.
- ` + "`batch_flush_delay`" + `: any value but 3 replaces ` + "`queue.max_coalescing_delay`" + ` the same way; 3 is ignored.
- ` + "`header_type`" + ` (default ` + "`preserve`" + `): used when none of ` + "`propagation.extract`" + `, ` + "`inject`" + ` and ` + "`clear`" + ` is set
  (an empty list counts as set; ` + "`default_format`" + ` does not).
- ` + "`access_logs_endpoint`" + ` (Kong 3.13): the same field as ` + "`access_logs.endpoint`" + ` (3.14+).
`

const resourceSection = `
## Resource attributes

The resource of every span is, from lowest to highest precedence: ` + "`service.name`" + ` = ` + "`kong`" + `,
` + "`service.instance.id`" + ` = Kong's node id (read once per plugin server with ` + "`kong.node.get_id`" + `) and
` + "`service.version`" + ` = Kong's version (read from the ` + "`Via`" + ` or ` + "`Server`" + ` response header Kong adds, when it
adds one); then ` + "`OTEL_RESOURCE_ATTRIBUTES`" + `, then ` + "`OTEL_SERVICE_NAME`" + `; then ` + "`resource_attributes`" + `.

A ` + "`resource_attributes`" + ` value may contain templates (Kong 3.10+), rendered for each request:
` + "`$(headers.NAME)`" + ` (also ` + "`$(headers[\"x-name\"])`" + `; names are case-insensitive and ` + "`_`" + ` reads as ` + "`-`" + `),
` + "`$(query_params.NAME)`" + `, ` + "`$(uri_captures.NAME)`" + ` or ` + "`$(uri_captures[N])`" + `, ` + "`$(shared.NAME)`" + ` (` + "`kong.ctx.shared`" + `),
` + "`$(kong.route.id)`" + `, ` + "`$(kong.route.name)`" + `, ` + "`$(kong.service.id)`" + `, ` + "`$(kong.service.name)`" + `, ` + "`$(kong.consumer.id)`" + `,
` + "`$(kong.consumer.username)`" + `, ` + "`$(kong.consumer.custom_id)`" + `; each may also be written ` + "`${...}`" + `
(the newest Kong documentation's style), with text around it (` + "`tenant-$(headers.x_tenant)`" + `).
Headers, query parameters and the route, service and consumer come with the data Kong already hands
the plugin: no extra call to Kong. ` + "`uri_captures`" + ` costs one call per exported request and each
` + "`shared`" + ` key one call. A missing value renders empty; a value that renders empty falls back to the
environment's or the default value, or is left out. Redacted query parameters render ` + "`REDACTED`" + `;
headers in ` + "`redact_headers`" + ` render empty, and the credential headers (` + "`authorization`" + `,
` + "`proxy-authorization`" + `, ` + "`cookie`" + `, ` + "`set-cookie`" + `) are refused.

Kong evaluates a template as Lua; an external plugin cannot, so any other variable or Lua expression
(` + "`$(ngx.var.host)`" + `, ` + "`$(headers.host or \"x\")`" + `) is refused when the configuration is written, as is a
` + "`$(`" + ` or ` + "`${`" + ` that does not start a template (Kong would send it literally). Spans of requests with
different rendered resources go to different ` + "`ResourceSpans`" + `; a rendered value never reaches another
request's resource.
`

const notExportedSection = `
## Accepted, not exported (yet)

These load with Kong's names, types and defaults. Each instance that sets one logs one warning saying what
is not exported:

- ` + "`metrics.enable_upstream_health_metrics`" + `, ` + "`metrics.enable_principal_attribute`" + ` (3.13+, 3.16+): upstream
  health checks and principals are not in the serialize payload; Kong's node-level metrics and part of its AI
  metrics neither (one warning per process says which).
- ` + "`access_logs.custom_attributes_by_lua`" + ` (3.14+) is Lua code, which a Go plugin cannot run (see "Access logs").
`

func writeRows(b *strings.Builder, fields []Field, prefix string) {
	for _, f := range fields {
		name := prefix + f.Name
		if f.Type == "record" {
			fmt.Fprintf(b, "| `%s` | record | | | %s | %s |\n", name, sinceText(f), escape(f.Doc))
			writeRows(b, f.Fields, name+".")
			continue
		}
		if f.Type == "array" && f.Elements.Type == "record" {
			fmt.Fprintf(b, "| `%s` | array of record | | | %s | %s |\n", name, sinceText(f), escape(f.Doc))
			writeRows(b, f.Elements.Fields, name+"[].")
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
		typ := typeText(f)
		if f.Referenceable || (f.Values != nil && f.Values.Referenceable) {
			typ += " (vault)"
		}
		fmt.Fprintf(b, "| `%s` | %s | %s | %s | %s | %s |\n", name, typ, def, allowedText(f), sinceText(f), escape(strings.TrimSpace(doc)))
	}
}

func sinceText(f Field) string {
	if f.Since == "" {
		return "*ours*"
	}
	return f.Since
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
	if c.Ne != nil {
		parts = append(parts, fmt.Sprintf("not %v", number(*c.Ne)))
	}
	switch {
	case c.Match == luaHeaderName && c.Doc != "":
		parts = append(parts, c.Doc) // a token that is not a header name
	case c.Match == luaHeaderName:
		parts = append(parts, "a header name")
	case c.Match == luaMethod:
		parts = append(parts, "upper-case letters")
	case c.Match == luaPathPrefix:
		parts = append(parts, "starts with /")
	case c.Match == luaBroker:
		parts = append(parts, "host:port")
	case c.Match == luaTopic:
		parts = append(parts, "a Kafka topic name")
	}
	if len(c.MatchNone) > 0 && c.goCheck != nil && c.Match == luaHeaderName {
		parts = append(parts, "not "+strings.Join(AlwaysRedactedHeaders, ", "))
	}
	switch c.MatchAny {
	case urlRule:
		parts = append(parts, "an http(s) URL")
	case endpointRule:
		parts = append(parts, "an http(s) URL, or host:port for OTLP/gRPC")
	}
	if f.Type == "map" && f.Values == resourceValue {
		parts = append(parts, "values: text and templates (below)")
	}
	return strings.Join(parts, "; ")
}

func escape(s string) string { return strings.ReplaceAll(s, "|", "\\|") }

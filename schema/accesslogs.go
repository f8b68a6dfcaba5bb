package schema

import (
	"encoding/json"
	"fmt"
)

// Where access log records go. An endpoint field (access_logs.endpoint, its
// 3.13 spelling access_logs_endpoint, or logs_endpoint, whose runtime logs
// an external plugin never sees) turns access logs on and sends them there
// over OTLP, whatever exporter sends the spans. access_logs.enabled turns
// them on without an endpoint: they then go to the backend's own logs
// destination (the OTLP logs endpoint of the environment, the file, stdout,
// the Kafka logs topic).

// AccessLogsDestination is the config of the instance's access log
// pipeline, as UnmarshalJSON resolved it: a copy of the instance's config
// whose destination fields point where the records go (traces_endpoint for
// OTLP, as the backend reads it; file_path; kafka.topic). Nil when access
// logs are off, or for a Config not decoded by UnmarshalJSON.
func (c *Config) AccessLogsDestination() *Config { return c.accessLogs }

// AccessLogsEndpointField names the field whose URL access logs go to:
// access_logs.endpoint, access_logs_endpoint or logs_endpoint, in that
// order; "" when none is set.
func (c *Config) AccessLogsEndpointField() string {
	field, _ := c.accessLogsEndpoint()
	return field
}

func (c *Config) accessLogsEndpoint() (field, url string) {
	switch {
	case c.AccessLogs.Endpoint != "":
		return "access_logs.endpoint", c.AccessLogs.Endpoint
	case c.AccessLogsEndpoint != "":
		return "access_logs_endpoint", c.AccessLogsEndpoint
	case c.LogsEndpoint != "":
		return "logs_endpoint", c.LogsEndpoint
	}
	return "", ""
}

// resolveAccessLogs finds the access log destination of a valid config
// decoded from data.
func (c *Config) resolveAccessLogs(data []byte, env envDefaults) (*Config, error) {
	field, url := c.accessLogsEndpoint()
	switch {
	case url == "" && !c.AccessLogs.Enabled:
		return nil, nil
	case url == "" && c.Exporter != ExporterOTLP:
		return c.accessLogsToBackend()
	}
	return accessLogsOverOTLP(data, env, field, url)
}

// accessLogsToBackend sends the records where the backend keeps logs.
func (c *Config) accessLogsToBackend() (*Config, error) {
	switch c.Exporter {
	case ExporterZipkin, ExporterHTTPJSON:
		return nil, &FieldError{Field: "access_logs.enabled", Reason: fmt.Sprintf(
			"exporter %q takes no logs: set access_logs.endpoint to an OTLP logs URL, or use exporter otlp, file, stdout or kafka", c.Exporter)}
	}
	l := *c
	l.accessLogs = nil
	switch c.Exporter {
	case ExporterFile:
		if c.AccessLogs.FilePath != "" {
			l.FilePath = c.AccessLogs.FilePath
		}
	case ExporterKafka:
		l.Kafka.Topic = c.Kafka.LogsTopic
	}
	return &l, nil
}

// accessLogsOverOTLP decodes data again as an OTLP logs destination: the
// OTEL_EXPORTER_OTLP_LOGS_* variables (then the generic ones) fill what the
// config leaves out, as the traces' do for spans, and the endpoint is url
// (from field), else the environment's.
func accessLogsOverOTLP(data []byte, env envDefaults, field, url string) (*Config, error) {
	if env.logsErr != nil {
		return nil, env.logsErr
	}
	type plain Config
	l := Defaults()
	env.logs.applyScalars(&l)
	if err := json.Unmarshal(data, (*plain)(&l)); err != nil {
		return nil, decodeError(err)
	}
	if l.Headers == nil && len(env.logs.headers) > 0 {
		l.Headers = env.logs.headers
	}
	l.normalize()
	l.Exporter = ExporterOTLP
	if url == "" {
		if url = env.logs.endpoint(l.Protocol); url == "" {
			return nil, &FieldError{Field: "access_logs.endpoint", Reason: "required to export access logs with exporter otlp " +
				"(or set OTEL_EXPORTER_OTLP_LOGS_ENDPOINT / OTEL_EXPORTER_OTLP_ENDPOINT in the plugin server's environment)"}
		}
		field = env.logs.signalVar
		if env.logs.signalURL == "" {
			field = "OTEL_EXPORTER_OTLP_ENDPOINT"
		}
		// A config field was checked with the others; a variable is checked here.
		problem := endpointProblem(url)
		if problem == "" && l.Protocol != ProtocolGRPC && !validURL(url) {
			problem = fmt.Sprintf("host:port is for OTLP/gRPC only: protocol %s needs an http:// or https:// URL", l.Protocol)
		}
		if problem != "" {
			return nil, fmt.Errorf("%s (the access logs' endpoint) %q: %s", field, url, problem)
		}
	}
	l.TracesEndpoint, l.Endpoint = url, ""
	env.logs.applyInsecure(&l)
	return &l, nil
}

// checkAccessLogs: access_logs.file_path belongs to the file backend.
func checkAccessLogs(c *Config, add func(string, string, ...any)) {
	if c.AccessLogs.FilePath != "" && c.Exporter != ExporterFile {
		add("access_logs.file_path", "only with exporter \"file\" (exporter is %q)", c.Exporter)
	}
}

// accessLogsChecks are checkAccessLogs as Kong entity checks (a
// conditional's if_field must always be present, so the rule is written
// from exporter's side: elsewhere, file_path must be empty, and Kong
// refuses an empty string anyway).
func accessLogsChecks() []any {
	return []any{
		map[string]any{"conditional": map[string]any{
			"if_field": "exporter", "if_match": map[string]any{"ne": string(ExporterFile)},
			"then_field": "access_logs.file_path", "then_match": map[string]any{"len_max": 0},
			"then_err": "access_logs.file_path is only for exporter file",
		}},
	}
}

const accessLogsRule = "`access_logs.file_path` only with `exporter: file`."

// accessLogsDifferences lists, among the differences from Kong, those of
// access logs.
const accessLogsDifferences = "- `logs_endpoint`: Kong's runtime logs never reach an external plugin; the access log records go there " +
	"when `access_logs` names no endpoint (below).\n" +
	"- `access_logs`: the records carry a severity from the status, the request's start as their time, the spans' " +
	"scope and attribute names (Kong's own names too where they differ: the README's \"Access logs\"); " +
	"`custom_attributes_by_lua` is never run.\n"

const accessLogsSection = `
## Access logs

One OTLP log record per request the instance sees, sampled or not, with the request's trace id and root
span id (the trace flags say whether its spans were exported), the same resource and scope as its spans,
and the root span's attributes. ` + "`access_logs.sampling_rate`" + ` (1) keeps a share of them, decided from
the trace id. Where they go:

| Configuration | Access log records go to |
|---|---|
| ` + "`access_logs.endpoint`" + ` (Kong 3.14) or ` + "`access_logs_endpoint`" + ` (3.13) | that URL over OTLP, whatever ` + "`exporter`" + ` sends the spans, with the instance's ` + "`protocol`" + `, ` + "`headers`" + `, ` + "`compression`" + `, TLS and timeouts |
| ` + "`logs_endpoint`" + ` (3.8), when ` + "`access_logs`" + ` names no endpoint | the same, with one warning per instance: Kong's runtime logs cannot reach an external plugin |
| ` + "`access_logs.enabled: true`" + ` and no endpoint | the backend's own logs destination: ` + "`exporter: otlp`" + `: ` + "`OTEL_EXPORTER_OTLP_LOGS_ENDPOINT`" + `, else ` + "`OTEL_EXPORTER_OTLP_ENDPOINT`" + ` + ` + "`/v1/logs`" + ` (HTTP; as is for gRPC); ` + "`file`" + `: ` + "`access_logs.file_path`" + `, else ` + "`file_path`" + `; ` + "`stdout`" + `; ` + "`kafka`" + `: ` + "`kafka.logs_topic`" + `; ` + "`zipkin`" + ` and ` + "`http_json`" + ` take no logs (refused) |

An OTLP destination takes what the config leaves out from ` + "`OTEL_EXPORTER_OTLP_LOGS_*`" + `, then
` + "`OTEL_EXPORTER_OTLP_*`" + ` (never the ` + "`TRACES_`" + ` variables). The records have a pipeline of their own, with the
instance's ` + "`queue`" + ` settings (` + "`max_entries`" + ` and ` + "`max_bytes`" + ` count log records) and, with ` + "`spool_dir`" + `, a spool
file of their own. ` + "`access_logs.custom_attributes_by_lua`" + ` is accepted and never run (one warning per
instance): ` + "`static_attributes`" + ` and ` + "`capture_request_headers`" + `/` + "`capture_response_headers`" + ` apply to the
records as to the root span, and a Go log processor (the README's "Access logs") computes anything else.
`

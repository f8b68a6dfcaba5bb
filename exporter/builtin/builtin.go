// Package builtin registers every backend that ships with the plugin
// (otlp over HTTP and gRPC, zipkin, http_json, file, stdout, kafka). The plugin
// server imports it; so do tests that start pipelines of those backends.
package builtin

import (
	_ "github.com/trace-exporter/trace-exporter/exporter/file"
	_ "github.com/trace-exporter/trace-exporter/exporter/httpjson"
	_ "github.com/trace-exporter/trace-exporter/exporter/kafka"
	_ "github.com/trace-exporter/trace-exporter/exporter/otlpgrpc"
	_ "github.com/trace-exporter/trace-exporter/exporter/otlphttp"
	_ "github.com/trace-exporter/trace-exporter/exporter/stdout"
	_ "github.com/trace-exporter/trace-exporter/exporter/zipkin"
)

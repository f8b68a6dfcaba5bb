#!/bin/sh
# Runs Jaeger v2 in the foreground on loopback only (builds it first if
# missing). Ports default to Jaeger's usual ones and can be moved with
# JAEGER_OTLP_GRPC_PORT, JAEGER_OTLP_HTTP_PORT, JAEGER_ZIPKIN_PORT,
# JAEGER_QUERY_HTTP_PORT, JAEGER_QUERY_GRPC_PORT, JAEGER_HEALTH_PORT.
# Extra arguments go to jaeger (e.g. --set=processors.batch.timeout=1s).
set -eu

tool_dir=$(cd "$(dirname "$0")" && pwd)
repo_root=$(cd "$tool_dir/../.." && pwd)
bin=${JAEGER_BIN:-$repo_root/.cache/bin/jaeger}

"$tool_dir/build.sh" "$bin" >&2
echo "jaeger: query API http://127.0.0.1:${JAEGER_QUERY_HTTP_PORT:-16686}/api/traces," \
	"OTLP/HTTP http://127.0.0.1:${JAEGER_OTLP_HTTP_PORT:-4318}/v1/traces," \
	"OTLP/gRPC 127.0.0.1:${JAEGER_OTLP_GRPC_PORT:-4317}" >&2
exec "$bin" --config="$tool_dir/config.yaml" "$@"

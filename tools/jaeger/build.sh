#!/bin/sh
# Builds the Jaeger v2 binary used by tests and `make demo BACKEND=jaeger`.
#
# Usage: tools/jaeger/build.sh [OUTPUT]     (default: <repo>/.cache/bin/jaeger)
#        JAEGER_BIN=/path tools/jaeger/build.sh
#
# The binary is built only when it is missing, or when it was built from a
# different Jaeger version than tools/jaeger/go.mod pins (read from the
# binary's embedded build info), so a version bump in go.mod takes effect
# without anyone having to remember to delete the old binary.
#
# Jaeger lives in its own module (tools/jaeger/go.mod): in the project's
# module, MVS would raise otel/grpc versions and Jaeger's build breaks.
# Modules come from the Go module proxy; a cold build takes ~3.5 min and
# ~2.2 GB RAM on 2 cores, a warm one (Go build cache) a few seconds.
set -eu

tool_dir=$(cd "$(dirname "$0")" && pwd)
repo_root=$(cd "$tool_dir/../.." && pwd)
out=${1:-${JAEGER_BIN:-$repo_root/.cache/bin/jaeger}}
pkg=github.com/jaegertracing/jaeger/cmd/jaeger

# A go.work above the repo must not pull Jaeger into another module graph.
GOWORK=off
export GOWORK

# The pinned version, read from go.mod directly (no module graph load, no network).
want=$(awk '$1 == "github.com/jaegertracing/jaeger" && $2 ~ /^v/ { print $2; exit }' "$tool_dir/go.mod")
if [ -z "$want" ]; then
	echo "build.sh: no github.com/jaegertracing/jaeger requirement in $tool_dir/go.mod" >&2
	exit 1
fi

built_version() {
	# Prints the main module version recorded in the binary, or nothing.
	go version -m "$1" 2>/dev/null | awk '$1 == "mod" && $2 == "github.com/jaegertracing/jaeger" { print $3 }'
}

up_to_date() {
	[ -x "$out" ] && [ "$(built_version "$out")" = "$want" ]
}

if up_to_date; then
	echo "jaeger $want: already built at $out"
	exit 0
fi

mkdir -p "$(dirname "$out")"

# Two test packages may ask for the binary at the same time: one builds, the
# other waits and then finds it (a cold build twice at once would need 4+ GB).
if command -v flock >/dev/null 2>&1; then
	exec 9>"$out.lock"
	flock 9
	if up_to_date; then
		echo "jaeger $want: already built at $out (by a concurrent build)"
		exit 0
	fi
fi

echo "jaeger $want: building $out (cold build: ~3.5 min, ~2.2 GB RAM on 2 cores) ..."
start=$(date +%s)
# Build next to the target and rename, so an interrupted build never leaves a
# truncated binary that the "already built" check would trust.
tmp="$out.tmp.$$"
trap 'rm -f "$tmp"' EXIT INT TERM
(cd "$tool_dir" && go build -ldflags "-s -w" -o "$tmp" "$pkg")
mv -f "$tmp" "$out"
end=$(date +%s)
echo "jaeger $want: built $out in $((end - start)) s"

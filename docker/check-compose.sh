#!/bin/sh
# Validates a compose file (default docker/docker-compose.yml; the fleet's is
# docker/fleet/docker-compose.yml) without a Docker engine and prints the
# resolved configuration (YAML) on stdout for test/deploy to inspect.
#   docker/check-compose.sh [compose-file]
#
# Uses Debian's docker-compose (1.29, the Python one): `config` needs no
# engine and rejects unknown keys, bad types and dependencies on undefined
# services. It is installed with apt-get when missing (CI runs as root on
# Debian); if that is impossible the script fails loudly rather than let the
# check pass unchecked. When the Compose v2 plugin (`docker compose`) is
# there too, the file must satisfy it as well: that is what users run.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
file="${1:-$here/docker-compose.yml}"

if ! command -v docker-compose >/dev/null 2>&1; then
	if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
		echo "check-compose.sh: docker-compose is missing and cannot be installed here" \
			"(needs root and apt-get): install Debian's docker-compose package" >&2
		exit 1
	fi
	echo "check-compose.sh: installing docker-compose with apt-get ..." >&2
	# The package list may be missing or stale on a fresh machine: update once
	# and retry. Wait for another apt/dpkg run instead of failing at once.
	install() {
		DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=120 \
			install -y --no-install-recommends docker-compose >&2
	}
	if ! install; then
		apt-get -o DPkg::Lock::Timeout=120 update >&2
		install
	fi
	command -v docker-compose >/dev/null 2>&1 || {
		echo "check-compose.sh: docker-compose still missing after apt-get install" >&2
		exit 1
	}
fi

# Compose v2 first, quietly: only its verdict matters.
if docker compose version >/dev/null 2>&1; then
	docker compose -f "$file" config --quiet
fi

exec docker-compose -f "$file" config

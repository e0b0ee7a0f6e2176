#!/usr/bin/env bash
# Checks the systemd unit of the deploy guide (docs/operations/shopd.service):
# `systemd-analyze verify` (syntax, directives, the ExecStart binary), and
# `systemd-analyze security --offline` holding it to an exposure of at most
# 2.0 ("OK"). CI has no running systemd, so the unit is checked, not started.
# Usage: .ci/deploy.sh BINARY (a built shopd; ExecStart is pointed at it).
set -euo pipefail
cd "$(dirname "$0")/.."
binary=$(realpath "${1:?usage: .ci/deploy.sh path/to/shopd}")

if ! command -v systemd-analyze >/dev/null 2>&1; then
  echo "== installing systemd (systemd-analyze)"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq systemd >/dev/null
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
unit="$work/shopd.service"
# The same unit, with the binary where this machine has it.
sed "s|^ExecStart=/usr/local/bin/shopd |ExecStart=$binary |" docs/operations/shopd.service >"$unit"
grep -q "^ExecStart=$binary serve " "$unit" || {
  echo "docs/operations/shopd.service: ExecStart no longer starts /usr/local/bin/shopd serve" >&2
  exit 1
}

# The command line the unit runs must be one shopd accepts.
args=$(sed -n "s|^ExecStart=$binary ||p" "$unit")
# shellcheck disable=SC2086
if ! "$binary" $args --help >/dev/null; then
  echo "shopd does not accept the unit's command line: $args" >&2
  exit 1
fi

echo "== systemd-analyze verify"
out=$(SYSTEMD_LOG_LEVEL=notice systemd-analyze verify --man=no "$unit" 2>&1) || {
  echo "$out" >&2
  exit 1
}
# verify exits 0 on some warnings (unknown directives among them): none allowed.
if [ -n "$out" ]; then
  echo "$out" >&2
  echo "systemd-analyze verify warned about the unit" >&2
  exit 1
fi

echo "== systemd-analyze security (at most 2.0)"
systemd-analyze security --offline=true --threshold=20 --no-pager "$unit" | tail -n 3

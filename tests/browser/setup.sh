#!/usr/bin/env bash
# What the admin pages' browser test needs, installed if missing
# (idempotent, never reads stdin): Debian's Chromium, and playwright-core
# from the npm registry at the version tests/browser/package-lock.json pins.
# Prints the Chromium path on stdout; progress goes to stderr.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
log() { printf 'browser setup: %s\n' "$*" >&2; }

if ! command -v chromium >/dev/null 2>&1; then
  # One apt-get at a time with the other test scripts (benches/baseline/setup.sh).
  exec 9>"${TMPDIR:-/tmp}/shopd-apt.lock"
  flock 9
  if ! command -v chromium >/dev/null 2>&1; then
    log "installing Debian's chromium"
    apt-get -o DPkg::Lock::Timeout=600 update -qq >&2
    DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq chromium >&2
  fi
  flock -u 9
  exec 9>&-
fi
if [ ! -f "$here/node_modules/playwright-core/package.json" ]; then
  log "npm ci (playwright-core)"
  npm ci --prefix "$here" --no-audit --no-fund >&2
fi
command -v chromium

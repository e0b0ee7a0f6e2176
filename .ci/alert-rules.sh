#!/usr/bin/env bash
# Checks the Prometheus alerting rules of the docs (docs/operations/alerts.rules.yml)
# with promtool (Debian's prometheus package, installed when missing): the
# file's syntax and expressions, then its tests (alerts.rules.test.yml).
set -euo pipefail
cd "$(dirname "$0")/../docs/operations"

if ! command -v promtool >/dev/null 2>&1; then
  echo "== installing prometheus (promtool)"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus >/dev/null
fi

promtool check rules alerts.rules.yml
promtool test rules alerts.rules.test.yml

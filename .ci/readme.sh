#!/usr/bin/env bash
# Runs README.md's first command exactly as written (`cargo run -- serve
# --demo`) on this checkout, in the background and in its own process group;
# checks that it serves /health and a catalogue page; stops the group (cargo
# and the shopd it started) and checks nothing is left running.
#
# Only the environment differs from a person's terminal: SHOPD_LISTEN (a free
# loopback port, so CI never collides with a running server) and
# SHOPD_DATA_DIR (a temporary directory, so the clone stays clean).
#
# `.ci/readme.sh command N` prints the README's Nth fenced command (1-based).
set -euo pipefail
cd "$(dirname "$0")/.."
source .ci/lib.sh

# The Nth ```sh block's first command line in README.md.
readme_command() {
  awk -v n="$1" '
    /^```sh[[:space:]]*$/ { inside = 1; count++; next }
    /^```/ { inside = 0; next }
    inside && count == n && $0 !~ /^[[:space:]]*(#|$)/ { print; exit }
  ' README.md
}

if [[ ${1:-} == command ]]; then
  readme_command "$2"
  exit 0
fi

cmd=$(readme_command 1)
[[ -n $cmd ]] || { echo "README.md has no fenced command" >&2; exit 1; }
port=$(free_port)
data=$(mktemp -d)
log=$(mktemp)
pgid=
cleanup() {
  if [[ -n $pgid ]]; then stop_group "$pgid" || true; fi
  rm -rf "$data"
}
trap cleanup EXIT

echo "README's first command: $cmd (on 127.0.0.1:$port)"
# setsid: the command leads a new process group (a background job of a
# non-interactive shell is no group leader, so setsid does not fork and $!
# is the group id).
SHOPD_LISTEN="127.0.0.1:$port" SHOPD_DATA_DIR="$data" \
  setsid bash -c "$cmd" </dev/null >"$log" 2>&1 &
pgid=$!

# It compiles first: allow a cold build.
if ! wait_http "http://127.0.0.1:$port/health" 1500 "$pgid"; then
  tail -n 40 "$log" >&2
  exit 1
fi
page=$(curl -fsS --max-time 10 "http://127.0.0.1:$port/api/v1/products?limit=1")
python3 -c '
import json, sys
page = json.loads(sys.argv[1])
assert len(page["data"]) == 1 and page["data"][0]["id"], page
assert page["meta"]["total"] > 0, page["meta"]
print("first product:", page["data"][0]["id"], "of", page["meta"]["total"])
' "$page"

stop_group "$pgid"
pgid=
if curl -fsS -o /dev/null --max-time 2 "http://127.0.0.1:$port/health" 2>/dev/null; then
  echo "something still answers on port $port after the stop" >&2
  exit 1
fi
echo "README's first command works"

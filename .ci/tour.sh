#!/usr/bin/env bash
# Checks that the documentation's examples still answer what they say.
#
#   .ci/tour.sh [PATH-TO-SHOPD]        (default: target/debug/shopd)
#
# Starts `shopd serve --demo` (a built binary: this script does not build) on
# a free loopback port with a fresh data dir (the demo makes its admin key
# there, as for a reader), in its own process group; waits for /health and /ready; runs every example of
# README.md and of docs/**/*.md (in that order: README first, then the docs
# pages sorted by path) against it; stops the group. Exit 1 lists every
# example whose answer differs.
#
# The examples: fenced blocks whose info string is `sh tour`:
#
#   ```sh tour
#   curl -s localhost:8080/api/v1/products/prod-000005 | jq -c '.data | {title, price}'
#   # → {"title":"Modern Aluminum Mouse S570","price":24.99}
#   T=$(curl -s … | jq -r .token)
#   curl -s localhost:8080/api/v1/cart -H "X-Cart-Token: $T" \
#     | jq -r .data.itemCount
#   # → 2
#   ```
#
# - A command is a line that is neither blank nor a comment, plus the lines
#   that follow it while a line ends with `\`.
# - The `# → TEXT` lines right after a command are its expected standard
#   output, one line each, compared exactly (trailing blanks and trailing
#   empty lines ignored). Use jq to pick fields that do not change between
#   runs (no generated ids or times).
# - A command without a `# →` line must print nothing (an assignment such as
#   `T=$(…)`, whose value a later command uses).
# - Every command must exit 0 (the last command of a pipeline).
# - Other comment lines are prose and are ignored.
# - All the blocks of one file run in one bash process, in order, so shell
#   variables carry from one command to the next; every file starts afresh,
#   but all share the one server (a file sees the writes of the files before
#   it).
# - Before running, in commands and expectations alike, `localhost:8080` and
#   `127.0.0.1:8080` become the test server's address, and `data/` (the
#   demo's data dir, where it keeps its admin key `data/admin.token`) the
#   test server's data dir.
#
# .ci/readme.sh counts only blocks opened by exactly ```sh (its awk matches
# ^```sh[[:space:]]*$), so `sh tour` blocks never shift its "Nth ```sh
# block".
set -euo pipefail
export LC_ALL=C

bin=${1:-}
if [[ -n $bin ]]; then
  bin=$(realpath -- "$bin")
fi
cd "$(dirname "$0")/.."
source .ci/lib.sh
bin=${bin:-$PWD/target/debug/shopd}
[[ -x $bin ]] || { echo "no shopd binary at $bin (build it first, e.g. cargo build)" >&2; exit 1; }

# jq picks the stable parts of answers in the examples.
if ! command -v jq >/dev/null 2>&1; then
  echo "== installing jq"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq jq
fi
command -v curl >/dev/null 2>&1 || { echo "curl is missing" >&2; exit 1; }

doc_host=localhost:8080
doc_host_ip=127.0.0.1:8080
port=$(free_port)
addr=127.0.0.1:$port

work=$(mktemp -d)
data=$work/data
log=$work/server.log
pgid=
cleanup() {
  if [[ -n $pgid ]]; then stop_group "$pgid" || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

# The files, README first.
files=(README.md)
if [[ -d docs ]]; then
  while IFS= read -r f; do files+=("$f"); done < <(find docs -name '*.md' -type f | sort)
fi

# parse FILE: prints one record per step, fields separated by \x1f and
# records by \x1e: line number, command (lines joined by \n), expected
# output (lines joined by \n), whether an expectation was given (0/1).
parse() {
  awk '
    BEGIN { FS = "\n"; US = "\037"; RS_OUT = "\036" }
    function flush() {
      if (cmd != "") printf "%s%s%s%s%s%s%s%s", line, US, cmd, US, want, US, has, RS_OUT
      cmd = ""; want = ""; has = 0; cont = 0
    }
    /^```sh tour[[:space:]]*$/ { inside = 1; next }
    inside && /^```/ { flush(); inside = 0; next }
    !inside { next }
    cont { cmd = cmd "\n" $0; cont = ($0 ~ /\\$/); next }
    /^[[:space:]]*# →/ {
      if (cmd == "") { printf "%s:%d: an expectation with no command before it\n", FILENAME, NR > "/dev/stderr"; bad = 1; next }
      text = $0; sub(/^[[:space:]]*# →[[:space:]]?/, "", text)
      want = has ? want "\n" text : text; has = 1; next
    }
    /^[[:space:]]*(#|$)/ { next }
    { flush(); line = NR; cmd = $0; cont = ($0 ~ /\\$/) }
    END { flush(); if (inside) { printf "%s: a sh tour block is not closed\n", FILENAME > "/dev/stderr"; bad = 1 } exit bad }
  ' "$1"
}

# What the docs say, on this server.
localize() {
  local s=$1
  s=${s//"$doc_host"/$addr}
  s=${s//"$doc_host_ip"/$addr}
  s=${s//"data/admin.token"/$data/admin.token}
  printf '%s' "$s"
}

# Trailing blanks of each line dropped (command substitution drops the
# trailing empty lines).
normalize() {
  sed -e 's/[[:space:]]*$//'
}

echo "== tour: starting $bin serve --demo on $addr"
# A clean environment for the server: no SHOPD_* of the caller's (a config
# file, rate limits off, …) changes the answers.
while IFS= read -r v; do unset "$v"; done < <(compgen -e | grep '^SHOPD_' || true)
mkdir -p "$data"
# setsid: the server leads a new process group (see .ci/readme.sh).
SHOPD_LISTEN=$addr SHOPD_DATA_DIR=$data \
  setsid "$bin" serve --demo </dev/null >"$log" 2>&1 &
pgid=$!
if ! wait_http "http://$addr/health" 120 "$pgid" || ! wait_http "http://$addr/ready" 120 "$pgid"; then
  tail -n 40 "$log" >&2
  exit 1
fi

# No example may hang the run.
printf 'max-time = 20\n' >"$work/.curlrc"
export CURL_HOME=$work

failures=()
steps=0
for file in "${files[@]}"; do
  records=$(parse "$file") || exit 1
  [[ -n $records ]] || continue
  lines=() cmds=() wants=() hases=()
  script=$work/run.sh
  out=$work/out
  rm -rf "$out"
  mkdir -p "$out"
  : >"$script"
  n=0
  while IFS=$'\037' read -r -d $'\036' line cmd want has; do
    lines[n]=$line cmds[n]=$cmd wants[n]=$want hases[n]=$has
    {
      printf '{\n%s\n} >%q 2>%q; echo $? >%q\n' "$(localize "$cmd")" \
        "$out/$n.out" "$out/$n.err" "$out/$n.rc"
    } >>"$script"
    n=$((n + 1))
  done < <(printf '%s' "$records")
  echo "== $file: $n commands"
  (cd "$work" && timeout 300 bash "$script" </dev/null >/dev/null 2>&1) || true
  for ((i = 0; i < n; i++)); do
    steps=$((steps + 1))
    where="$file:${lines[i]}"
    first=${cmds[i]%%$'\n'*}
    rc=$(cat "$out/$i.rc" 2>/dev/null || echo "not run")
    got=$(normalize 2>/dev/null <"$out/$i.out" || true)
    want=$(localize "${wants[i]}" | normalize)
    problem=
    if [[ $rc != 0 ]]; then
      problem="exit status $rc"
    elif [[ ${hases[i]} == 0 && -n $got ]]; then
      problem="printed output where none is documented"
    elif [[ $got != "$want" ]]; then
      problem="answer differs"
    fi
    if [[ -z $problem ]]; then
      printf '  ok    %s  %s\n' "$where" "${first:0:110}"
    else
      printf '  FAIL  %s  %s\n' "$where" "${first:0:110}"
      report="$where: $problem"$'\n'"    command:  $(localize "${cmds[i]}" | sed '2,$s/^/              /')"
      if [[ ${hases[i]} == 1 ]]; then
        report+=$'\n'"    expected: $(sed '2,$s/^/              /' <<<"$want")"
      fi
      report+=$'\n'"    got:      $(sed '2,$s/^/              /' <<<"$got")"
      if [[ -s $out/$i.err ]]; then
        report+=$'\n'"    stderr:   $(head -n 5 "$out/$i.err" | sed '2,$s/^/              /')"
      fi
      failures+=("$report")
    fi
  done
done

((steps > 0)) || { echo "no sh tour examples found in README.md or docs/" >&2; exit 1; }

stop_group "$pgid"
pgid=

if ((${#failures[@]} > 0)); then
  echo
  echo "${#failures[@]} of $steps examples do not answer what the docs say:" >&2
  for f in "${failures[@]}"; do
    printf '%s\n\n' "$f" >&2
  done
  exit 1
fi
echo "== all $steps examples answer what the docs say"

#!/usr/bin/env bash
# The long crash run: `benches/crash.sh [CYCLES]` (default 100) kills the
# real binary with `kill -9` CYCLES times under the mixed write load
# (products, reviews, checkouts, jobs) and, separately, under the product
# writers alone, checking after every restart what tests/crash.rs checks.
# CI runs the same tests with 2–3 cycles. Release build: more writes per
# cycle. Prints one line per cycle and the total time.
set -euo pipefail
cd "$(dirname "$0")/.."
cycles=${1:-100}
start=$SECONDS
SHOPD_CRASH_CYCLES=$cycles cargo test --release --test crash -- --nocapture --test-threads 1 \
  a_mixed_write_load_survives_kill_9 acknowledged_writes_survive_kill_9_and_indexes_and_search_agree
echo "$cycles kill -9 cycles per scenario passed in $((SECONDS - start)) s"

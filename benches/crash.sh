#!/usr/bin/env bash
# The long crash run: `benches/crash.sh [CYCLES]` (default 100) kills the
# real binary with `kill -9` CYCLES times under the mixed write load
# (products, reviews, checkouts, jobs, sign-ups, password changes, logouts)
# and, separately, under the product writers alone, checking after every
# restart what tests/crash.rs checks (every acknowledged write there with its
# value, indexes equal to a recount, stock conserved, search in step). Every
# node checkpoints every 150 ms (tests/crash.rs), so kills land before,
# during and right after checkpoints. CI runs the same tests with 2–3 cycles.
# Release build: more writes per cycle.
#
# Writes benches/results/crash-results.md: cycles, time, what was
# acknowledged by kind, and how full the write-ahead log was at each kill.
set -euo pipefail
cd "$(dirname "$0")/.."
cycles=${1:-100}
out=target/crash-run.log
start=$SECONDS
SHOPD_CRASH_CYCLES=$cycles cargo test --release --test crash -- --nocapture --test-threads 1 \
  a_mixed_write_load_survives_kill_9 acknowledged_writes_survive_kill_9_and_indexes_and_search_agree \
  2>&1 | tee "$out"
took=$((SECONDS - start))
echo "$cycles kill -9 cycles per scenario passed in $took s"
python3 - "$out" "$cycles" "$took" "$(git rev-parse --short HEAD)" > benches/results/crash-results.md <<'PY'
import re, statistics, sys, datetime
log, cycles, took, commit = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
text = open(log, encoding="utf8", errors="replace").read()
mixed = re.findall(r"cycle (\d+): acknowledged so far Progress \{ products: (\d+), reviews: (\d+), orders: (\d+), jobs: (\d+), accounts: (\d+) \}", text)
products = [int(n) for n in re.findall(r"cycle \d+: (\d+) more writes acknowledged before kill -9", text)]
logs = [int(n) for n in re.findall(r"killed with (\d+) bytes in the write-ahead log", text)]
print(f"# Long crash run\n")
print(f"`benches/crash.sh {cycles}` at {commit}, {datetime.date.today()}, release build, this 2-core machine; "
      f"{took} s in all. Every node checkpoints every 150 ms.\n")
print("| scenario | kills | acknowledged writes | lost |\n|---|---:|---|---:|")
if mixed:
    last = mixed[-1]
    print(f"| mixed load | {len(mixed)} | {int(last[1]):,} product writes, {int(last[2]):,} reviews, "
          f"{int(last[3]):,} orders, {int(last[4]):,} jobs, {int(last[5]):,} sign-ups | 0 |")
if products:
    print(f"| product writers | {len(products)} | {sum(products):,} creates and updates | 0 |")
print()
if logs:
    empty = sum(1 for n in logs if n == 0)
    print(f"Write-ahead log at the {len(logs)} kills: from {min(logs):,} to {max(logs):,} bytes, median "
          f"{statistics.median(logs):,.0f} ({empty} empty). Under a load that never pauses, the log at a kill "
          f"holds the batches since the last checkpoint (every 150 ms, or sooner at 64 MiB), so its size says "
          f"where in the checkpoint cycle the kill landed; an empty log would mean a kill between a "
          f"checkpoint and the next batch.\n")
print("Lost means an acknowledged write missing or with another value after the restart, a list "
      "index or counter differing from a recount, stock not conserved, or an order without its mail "
      "job: the run stops at the first, so a finished run has none.")
PY
echo "wrote benches/results/crash-results.md"

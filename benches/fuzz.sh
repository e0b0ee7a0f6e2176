#!/usr/bin/env bash
# Runs each fuzz target of src/api/fuzz.rs (query strings, JSON bodies of every
# write type, record decoding, the search analyser, webhook signatures) for
# a bounded time: `benches/fuzz.sh [SECONDS-PER-TARGET]` (default 60).
#
# Debug build on purpose: overflow checks and debug assertions turn silent
# wrong arithmetic into a failure. A failing case is shrunk by proptest and
# printed; add it to the regressions at the end of src/api/fuzz.rs.
# CI runs the same targets with a fixed number of cases (`cargo test`).
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-60}
cargo test --lib --all-features --no-run -q
mapfile -t targets < <(cargo test --lib --all-features -q -- --list fuzz:: 2>/dev/null | sed -n 's/: test$//p')
[ ${#targets[@]} -gt 0 ] || { echo "no fuzz targets found" >&2; exit 1; }
failed=0
for t in "${targets[@]}"; do
  echo "== $t: $secs s"
  set +e
  PROPTEST_CASES=1000000000 timeout "$secs" cargo test --lib --all-features -q -- --exact "$t" >"target/fuzz-$t.log" 2>&1
  rc=$?
  set -e
  case $rc in
    124) echo "   no failure found" ;;
    0) echo "   all cases passed" ;;
    *) echo "   FAILED (exit $rc): target/fuzz-$t.log"; grep -m5 -E "minimal failing input|panicked|Test failed" "target/fuzz-$t.log" || true; failed=1 ;;
  esac
done
exit $failed

#!/usr/bin/env bash
# Runs every fuzz target for a bounded time: `benches/fuzz.sh [SECONDS-PER-TARGET]`
# (default 60). The targets:
# - src/api/fuzz.rs: query strings through every query extractor, JSON
#   objects through every write type's parser, record decoding, the search
#   analyser, webhook signatures;
# - src/store/db/wal.rs (tests::fuzz): the write-ahead log's reader and the
#   replay of redo bytes; src/replication/log.rs (tests::fuzz): the
#   change-batch decoder;
# - tests/api/fuzz.rs: the real server over real HTTP — raw bodies to every
#   route that takes one, forged credentials, admin forms, path parameters,
#   request headers.
#
# Debug build on purpose: overflow checks and debug assertions turn silent
# wrong arithmetic into a failure. A failing case is shrunk by proptest and
# printed; add it as a named regression test beside its target.
# CI runs the same targets with a fixed number of cases (`cargo test`).
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-60}
cargo test --all-features --no-run -q --lib --test api
failed=0
# (cargo test selector, targets listed by it)
for selector in "--lib" "--test api"; do
  # shellcheck disable=SC2086
  mapfile -t targets < <(cargo test --all-features -q $selector -- --list fuzz:: 2>/dev/null | sed -n 's/: test$//p')
  [ ${#targets[@]} -gt 0 ] || { echo "no fuzz targets found in $selector" >&2; exit 1; }
  for t in "${targets[@]}"; do
    echo "== $t: $secs s"
    log="target/fuzz-${t//::/-}.log"
    set +e
    # shellcheck disable=SC2086
    PROPTEST_CASES=1000000000 timeout "$secs" cargo test --all-features -q $selector -- --exact "$t" >"$log" 2>&1
    rc=$?
    set -e
    case $rc in
      124) echo "   no failure found" ;;
      0) echo "   all cases passed" ;;
      *) echo "   FAILED (exit $rc): $log"; grep -m5 -E "minimal failing input|panicked|Test failed" "$log" || true; failed=1 ;;
    esac
  done
done
exit $failed

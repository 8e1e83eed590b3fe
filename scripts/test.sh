#!/usr/bin/env bash
# Installs what is missing, builds (optimised and ASan/UBSan), runs every
# test suite and ends with one line: "N passed, N failed" summed over all.
set -u
cd "$(dirname "$0")/.."
root=$(pwd)
logdir=${CONC_TEST_LOGS:-/tmp/conc-test-logs}
mkdir -p "$logdir"

scripts/setup.sh || { echo "setup failed"; echo "0 passed, 1 failed"; exit 1; }
if ! scripts/build.sh --sanitize --fuzz > "$logdir/build.log" 2>&1; then
  tail -40 "$logdir/build.log"
  echo "build failed (log: $logdir/build.log)"
  echo "0 passed, 1 failed"
  exit 1
fi

suite_limit=${CONC_SUITE_LIMIT:-900}  # seconds; the slowest suite takes about 4 minutes
total_passed=0
total_failed=0
# run_suite NAME COMMAND...: the suite prints "N passed, N failed" last.
run_suite() {
  local name=$1; shift
  local log="$logdir/$name.log"
  echo "=== $name"
  local start=$SECONDS
  # A suite that hangs is a failure, not the end of the run: SIGTERM lets a
  # system test's trap take its namespaces and processes down.
  timeout --kill-after=60 "$suite_limit" "$@" > "$log" 2>&1
  local rc=$?
  [ "$rc" = 124 ] || [ "$rc" = 137 ] && echo "$name: still running after ${suite_limit} s, stopped" >> "$log"
  grep -E '^(PASS|FAIL)' "$log" | grep -v '^PASS' | head -50
  local summary
  summary=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$log" | tail -1)
  if [ -z "$summary" ]; then
    tail -30 "$log"
    echo "$name: no summary line (exit $rc), counted as 1 failure"
    total_failed=$((total_failed + 1))
    return
  fi
  local p f
  p=$(echo "$summary" | cut -d' ' -f1)
  f=$(echo "$summary" | cut -d' ' -f3)
  if [ "$rc" != 0 ] && [ "$f" = 0 ]; then
    tail -30 "$log"
    echo "$name: exit $rc with no failed test, counted as 1 failure"
    f=1
  fi
  # CI keeps only this output: show what a failing suite said.
  [ "$f" != 0 ] && [ "$rc" != 0 ] && tail -40 "$log"
  echo "$name: $summary ($((SECONDS - start)) s, log $log)"
  total_passed=$((total_passed + p))
  total_failed=$((total_failed + f))
}

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
run_suite unit-asan build-asan/tests/unit_tests
run_suite unit build/tests/unit_tests
run_suite integration-asan build-asan/tests/integration_tests
run_suite integration build/tests/integration_tests
run_suite fuzz tests/fuzz/run_fuzzers.sh
for t in tests/system/test_*.sh; do
  run_suite "system-$(basename "$t" .sh)" bash "$t"
done
# Once more against the ASan/UBSan build of the daemons: what only real
# peers, real ports and a second process reach. The tests fail on any
# sanitizer report in their processes' logs (tests/system/checks.sh).
for t in tests/system/test_*.sh; do
  CONC_BUILD=$root/build-asan CONC_DP=$root/build-asan/dataplane/concentrator-dp \
  LSAN_OPTIONS=suppressions=$root/tests/system/lsan.supp:print_suppressions=0 \
    run_suite "system-asan-$(basename "$t" .sh)" bash "$t"
done

echo "$total_passed passed, $total_failed failed"
[ "$total_failed" = 0 ]

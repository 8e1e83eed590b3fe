#!/usr/bin/env bash
# Runs every libFuzzer target for a while from its seed corpus (a copy: the
# checked-in seeds stay as they are). A crash, a leak or a sanitizer report
# fails the target. Ends with "N passed, N failed".
set -u
cd "$(dirname "$0")/../.."
seconds=${CONC_FUZZ_SECONDS:-30}
bin=build-fuzz/tests/fuzz
export LSAN_OPTIONS="suppressions=$(pwd)/tests/fuzz/lsan.supp"
passed=0 failed=0
# The running target's directory goes if the run is stopped; a failed
# target's stays, for its log and crash input.
work=''
trap '[ -n "$work" ] && rm -rf "$work"' EXIT
trap 'trap "" INT TERM; exit 130' INT TERM
for target in fuzz_access_frame fuzz_config fuzz_control_rings fuzz_cp_input fuzz_esp_trailer fuzz_l2tp_ppp \
    fuzz_net_headers; do
  work=$(mktemp -d /tmp/conc-fuzz.XXXXXX)
  cp -r "tests/fuzz/corpus/$target" "$work/corpus"
  if [ ! -x "$bin/$target" ]; then
    echo "FAIL $target: $bin/$target not built"; failed=$((failed + 1)); rm -rf "$work"; work=''; continue
  fi
  if (cd "$work" && timeout $((seconds + 60)) "$OLDPWD/$bin/$target" -max_total_time="$seconds" \
        -max_len=2048 -print_final_stats=1 corpus) > "$work/log" 2>&1; then
    runs=$(grep -E '^stat::number_of_executed_units' "$work/log" | awk '{print $2}')
    echo "PASS $target ($runs runs in ${seconds}s)"
    passed=$((passed + 1))
    rm -rf "$work"
    work=''
  else
    echo "FAIL $target: see $work/log"; grep -E 'ERROR|SUMMARY|artifact' "$work/log" | head -5
    failed=$((failed + 1))
    work=''
  fi
done
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]

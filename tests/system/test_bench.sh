#!/usr/bin/env bash
# System test: the data plane benchmark (tests/bench/dataplane_bench.cc, run
# by scripts/bench.sh) runs end to end and its table adds up. It measures
# nothing here (a few thousand packets a point, timings not judged): every
# point's own checks must pass (every packet through the data plane, none
# dropped), and each row must be consistent: cycles/pkt and IPsec-MB's
# alone measured, the overhead their difference (not judged: on a few
# thousand packets either can come out ahead), Mpps the TSC over the cycles, a
# many-client point's ratio to one client given; with --runs 3 each row must
# be the run with the median cycles of the three it lists. Bad arguments
# exit 2 with the usage line.
#
# Usage: tests/system/test_bench.sh
# Environment: CONC_BUILD (default: build/ of this repo; the ASan tree in
#   scripts/test.sh's second pass). Needs root and hugepages (scripts/setup.sh).
# Prints PASS/FAIL per check, then "N passed, N failed"; exit 1 on any failure.

set -u
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
BENCH=${CONC_BUILD:-$ROOT/build}/tests/dataplane_bench

# shellcheck source=tests/system/checks.sh
source "$HERE/checks.sh"
WORK=$(mktemp -d /tmp/conc-bench-test.XXXXXX)
# shellcheck disable=SC2317  # run at exit
cleanup() { [ "$failed" -eq 0 ] && rm -rf "$WORK"; }
trap cleanup EXIT

if [ ! -x "$BENCH" ]; then
    fail "benchmark binary: $BENCH not built"
    finish
fi

# The table's rows: direction algorithm clients size mode Mpps Gbps cycles crypto all-keys overhead vs-1 ours [runs].
rows() { grep -E '^(upstream|downstream) ' "$1"; }

# Checks one row (its fields as arguments) for consistency; $1 names it.
check_row() {
    local name=$1; shift
    local mpps=$6 cycles=$8 crypto=$9 all_keys=${10} overhead=${11} vs1=${12} ours=${13}
    if awk -v m="$mpps" -v c="$cycles" -v k="$crypto" -v o="$overhead" 'BEGIN {
            # Mpps x cycles/pkt is the TSC rate in MHz (times the workers): checked loosely.
            exit !(c > 0 && k > 0 && (o - (c - k)) ^ 2 <= 1 && m * c > 500 && m * c < 10000)
        }'; then
        pass "$name: cycles $cycles, IPsec-MB alone $crypto, overhead $overhead, $mpps Mpps"
    else
        fail "$name: inconsistent row: cycles $cycles, crypto-only $crypto, overhead $overhead, Mpps $mpps"
    fi
    case $3 in
        1) if [ "$all_keys" = - ] && [ "$vs1" = - ] && [ "$ours" = - ]; then
               pass "$name: one client, no all-keys, vs-1 or ours figure"
           else
               fail "$name: one client but all-keys '$all_keys', vs-1 '$vs1', ours '$ours'"
           fi ;;
        *) if [[ $all_keys =~ ^[0-9]+$ ]] && [[ $vs1 =~ ^[+-][0-9]+\.[0-9]%$ ]] && [[ $ours =~ ^[+-][0-9]+\.[0-9]%$ ]]; then
               pass "$name: $3 clients: all-keys $all_keys, against one client $vs1, ours $ours"
           else
               fail "$name: $3 clients but all-keys '$all_keys', vs-1 '$vs1', ours '$ours'"
           fi
           # ours = vs-1 - (all-keys - crypto-only) / one client's cycles, and
           # one client's cycles = cycles / (1 + vs-1): checked to a rounding.
           if awk -v c="$cycles" -v k="$crypto" -v a="$all_keys" -v v="${vs1%\%}" -v o="${ours%\%}" 'BEGIN {
                   one = c / (1 + v / 100); want = v - (a - k) / one * 100
                   exit !((o - want) ^ 2 <= 0.25)
               }'; then
               pass "$name: ours $ours is vs-1 less the clients' keys' own cost"
           else
               fail "$name: ours $ours does not add up (cycles $cycles, crypto $crypto, all-keys $all_keys, vs-1 $vs1)"
           fi ;;
    esac
}

# 1. A many-client point, both directions, through the whole worker loop.
"$BENCH" --packets 3000 --only 'aes128gcm16 10000 64 1w' > "$WORK/many.log" 2>&1
rc=$?
if [ "$rc" = 0 ]; then pass "10k clients, 64 B: exit 0"; else
    fail "10k clients, 64 B: exit $rc"
    sed 's/^/  | /' "$WORK/many.log"
fi
if [ "$(rows "$WORK/many.log" | wc -l)" = 2 ]; then pass "10k clients, 64 B: two rows (upstream, downstream)"; else
    fail "10k clients, 64 B: $(rows "$WORK/many.log" | wc -l) rows"
fi
while read -r -a f; do check_row "${f[0]} ${f[2]} ${f[3]} ${f[4]}w" "${f[@]}"; done < <(rows "$WORK/many.log")

# 2. Three runs of a point (the ESP stage alone, one client): the median run and all three.
"$BENCH" --runs 3 --packets 3000 --only 'upstream aes128-sha1 1 IMIX ew' > "$WORK/runs.log" 2>&1
rc=$?
if [ "$rc" = 0 ]; then pass "--runs 3: exit 0"; else
    fail "--runs 3: exit $rc"
    sed 's/^/  | /' "$WORK/runs.log"
fi
mapfile -t lines < <(rows "$WORK/runs.log")
if [ "${#lines[@]}" = 1 ]; then
    read -r -a f <<< "${lines[0]}"
    check_row "--runs 3 upstream aes128-sha1 IMIX ESP stage" "${f[@]}"
    IFS=/ read -r -a runs <<< "${f[13]:-}"
    median=$(printf '%s\n' "${runs[@]}" | sort -n | sed -n 2p)
    if [ "${#runs[@]}" = 3 ] && [ "$median" = "${f[7]}" ]; then
        pass "--runs 3: the row is the median run (${f[7]} of ${f[13]})"
    else
        fail "--runs 3: row cycles ${f[7]}, runs '${f[13]:-}'"
    fi
else
    fail "--runs 3: ${#lines[@]} rows"
    sed 's/^/  | /' "$WORK/runs.log"
fi

# 3. Bad arguments: the usage line and exit 2, before any hugepage is touched.
for args in "--runs 0" "--runs" "--frobnicate"; do
    # shellcheck disable=SC2086  # split on purpose
    out=$("$BENCH" $args 2>&1)
    rc=$?
    if [ "$rc" = 2 ] && [[ $out == usage:* ]]; then pass "'$args': exit 2 with the usage line"; else
        fail "'$args': exit $rc, output '$out'"
    fi
done

finish

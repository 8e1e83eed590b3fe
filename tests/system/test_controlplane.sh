#!/usr/bin/env bash
# System test: concentrator-cp attached to concentrator-dp through the
# shared-memory contract, in the namespace lab of scripts/lab.sh.
#
# concentrator-dp starts with --no-static, so the SAs and sessions exist only
# if concentrator-cp installs them through the command ring. Then
# (tests/system/esp_peer.py cp-suite, scapy as the clients): traffic both
# ways; concentratorctl show sessions / sas / stats (--json) with the shared
# per-session counters; an LCP Echo-Request answered through punt and inject
# rings; L2TP control and IKE punts counted by the control plane; a NAT-T
# client's new NAT port followed (the SA pair moved); SIGKILL of
# concentrator-cp during traffic with nothing lost; a new concentrator-cp
# re-attaches and reads the tables back. Finally the management socket's mode
# and the human tables are checked here.
#
# Environment: CONC_BUILD (default build/ of this repo). Needs root,
# hugepages (scripts/setup.sh) and Debian's python3-scapy.
# Prints PASS/FAIL per check, then "N passed, N failed"; exit 1 on any failure.

set -u
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
BUILD=${CONC_BUILD:-$ROOT/build}
DP=$BUILD/dataplane/concentrator-dp
CP=$BUILD/controlplane/concentrator-cp
CTL=$BUILD/controlplane/concentratorctl
PY=/usr/bin/python3
PEER=$HERE/esp_peer.py
# shellcheck source=scripts/lab.sh
source "$ROOT/scripts/lab.sh"

# shellcheck source=tests/system/checks.sh
source "$HERE/checks.sh"

DP_PID='' LAB_UP='' WORK='' PREFIX=''
# shellcheck disable=SC2317  # called by the EXIT trap
cleanup() {
    [ -n "$WORK" ] && [ -f "$WORK/cp.pid" ] && stop_pid "$(cat "$WORK/cp.pid")"
    end_lab_run "$DP_PID" "$LAB_UP" "$PREFIX" "$WORK"
}
trap cleanup EXIT
exit_on_signal

if [ "$(id -u)" != 0 ]; then fail "preflight: needs root (namespaces, hugepages)"; finish; fi
for bin in "$DP" "$CP" "$CTL"; do
    [ -x "$bin" ] || { fail "preflight: $bin not built (scripts/build.sh)"; finish; }
done

WORK=$(mktemp -d /tmp/conc-cp.XXXXXX)
PREFIX=conccp$$
LAB_UP=cp$(printf '%04x' $((RANDOM)))
lab_up "$LAB_UP" >/dev/null || { LAB_UP=; fail "preflight: lab"; finish; }
"$PY" "$PEER" plan --out "$WORK/plan.json" --combos aes128gcm16/none/natt,aes256/sha256/esp,aes128/sha1/natt \
    --with-probe >/dev/null || { fail "preflight: plan"; finish; }
SOCK=$WORK/ctl.sock
"$PY" "$PEER" config --plan "$WORK/plan.json" --out "$WORK/concentrator.conf" --file-prefix "$PREFIX" \
    --shared --mgmt-socket "$SOCK" >/dev/null || { fail "preflight: config"; finish; }

ip netns exec "$LAB_NS_DP" "$DP" -c "$WORK/concentrator.conf" --no-static --stats-json "$WORK/stats.json" \
    >"$WORK/dp.log" 2>&1 &
DP_PID=$!
for _ in $(seq 100); do grep -q "running" "$WORK/dp.log" && break; sleep 0.1; done
grep -q "0 SA(s); running" "$WORK/dp.log" && pass "dp/no-static-starts-empty" ||
    fail "dp/no-static-starts-empty: $(tail -3 "$WORK/dp.log")"

CP_CMD="ip netns exec $LAB_NS_DP $CP -c $WORK/concentrator.conf"
$CP_CMD >"$WORK/cp.log" 2>&1 &
echo $! >"$WORK/cp.pid"
for _ in $(seq 100); do [ -S "$SOCK" ] && break; sleep 0.1; done
[ -S "$SOCK" ] && pass "cp/attaches-and-opens-socket" || fail "cp/attaches-and-opens-socket: $(cat "$WORK/cp.log")"
mode=$(stat -c %a "$SOCK" 2>/dev/null)
[ "$mode" = 600 ] && pass "cp/socket-mode-0600" || fail "cp/socket-mode-0600: mode $mode"

# A second control plane must refuse to attach while the first runs (and
# must not stay: one that attached would run until killed).
timeout -s KILL 30 $CP_CMD --socket "$WORK/second.sock" >"$WORK/cp-second.log" 2>&1
rc=$?
if [ "$rc" = 0 ] || [ "$rc" = 137 ]; then
    fail "cp/second-instance-refused: it ran (exit $rc)"
elif grep -q "another concentrator-cp" "$WORK/cp-second.log"; then
    pass "cp/second-instance-refused"
else
    fail "cp/second-instance-refused: $(tail -2 "$WORK/cp-second.log")"
fi

# Human tables: a header and one row per session / SA.
sessions_text=$("$CTL" -s "$SOCK" show sessions 2>&1)
echo "$sessions_text" | head -1 | grep -q "^NAME .*TUNNEL .*CLIENT" && echo "$sessions_text" | grep -q "^4 session(s)$" &&
    pass "ctl/show-sessions-table" || fail "ctl/show-sessions-table: $sessions_text"
sas_text=$("$CTL" -s "$SOCK" show sas 2>&1)
echo "$sas_text" | grep -q "^8 SA(s)$" && pass "ctl/show-sas-table" || fail "ctl/show-sas-table: $sas_text"
"$CTL" -s "$SOCK" show nonsense >/dev/null 2>"$WORK/ctl.err"
rc=$?
[ "$rc" != 0 ] && grep -q "unknown command" "$WORK/ctl.err" && pass "ctl/unknown-command-is-an-error" ||
    fail "ctl/unknown-command-is-an-error: exit $rc, $(cat "$WORK/ctl.err")"

run_checks "esp_peer.py cp-suite" "$PY" "$PEER" cp-suite --plan "$WORK/plan.json" --dp-pid "$DP_PID" \
    --stats "$WORK/stats.json" --ctl "$CTL" --socket "$SOCK" --cp-pid-file "$WORK/cp.pid" --cp-cmd "$CP_CMD" \
    --cp-log "$WORK/cp2.log"

stats_text=$("$CTL" -s "$SOCK" show stats 2>&1)
echo "$stats_text" | grep -q "rx_esp_decrypted" && echo "$stats_text" | grep -q "^port access" &&
    pass "ctl/show-stats-table" || fail "ctl/show-stats-table: $stats_text"
# One worker: its column equals the total, counter by counter.
echo "$stats_text" | awk '/^  rx_esp_decrypted / { found = 1; if ($2 != $3 || $2 == 0) bad = 1 }
    END { exit !(found && !bad) }' && pass "ctl/show-stats-worker-column" ||
    fail "ctl/show-stats-worker-column: $(echo "$stats_text" | grep rx_esp_decrypted)"

# Clean stop: the control plane detaches, the data plane exits 0.
stop_pid "$(cat "$WORK/cp.pid")"
[ ! -e "$SOCK" ] && pass "cp/sigterm-removes-socket" || fail "cp/sigterm-removes-socket"
kill -TERM "$DP_PID"
wait "$DP_PID"
rc=$?
DP_PID=
[ "$rc" = 0 ] && pass "dp/exit-0-after-sigterm" || fail "dp/exit-0-after-sigterm: exit $rc; $(tail -3 "$WORK/dp.log")"
finish

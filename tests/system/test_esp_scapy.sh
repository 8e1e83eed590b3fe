#!/usr/bin/env bash
# System test: concentrator-dp's L2TP/IPsec data path (IP in PPP in L2TPv2 in
# UDP 1701 in ESP transport mode, plain or RFC 3948 ESP-in-UDP) against an
# independent peer: scapy's SecurityAssociation and hand-made L2TP and PPP
# (tests/system/esp_peer.py).
#
# One data-plane run carries, per cipher/integrity combination and
# encapsulation, a client: a static SA pair and a static L2TP session with its
# own IPv4 address and IPv6 prefix. In the lab of scripts/lab.sh the client
# namespace sends its IP packets through PPP/L2TP/ESP and the core namespace
# must see them exactly (TTL-1); the core sends plain packets and the client
# must get ESP that scapy decrypts with the ICV verified, carrying L2TP with
# the client's ids and PPP with the exact packet. Then the L2TP/PPP cases
# (IPv6, framings, anti-spoof, SA binding, punts, MSS clamping, ICMP too big,
# fragmentation, all at each session's effective MTU: its PPP MTU or, if less,
# what fits the access MTU once wrapped) and malformed and unwanted input, one
# kind at a time, each of which must land in its own counter of the stats JSON
# (SIGUSR1) by exactly the expected count; the data plane must still forward afterwards and exit 0
# on SIGTERM. A second run puts clients behind one NAT address with the same
# L2TP ids: only their SAs may tell them apart.
#
# Usage: tests/system/test_esp_scapy.sh [--peer-only]
#   --peer-only   test the scapy peer alone (every algorithm, over a veth)
# Environment: CONC_DP (default: build/dataplane/concentrator-dp of this repo),
#   ESP_TEST_SEED (keys, SPIs and L2TP ids; default random, printed),
#   ESP_TEST_KEEP=1 keeps the work directory. Needs root, hugepages
#   (scripts/setup.sh) and Debian's python3-scapy.
# Prints PASS/FAIL per check, then "N passed, N failed"; exit 1 on any failure.

set -u
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
DP=${CONC_DP:-$ROOT/build/dataplane/concentrator-dp}
PY=/usr/bin/python3 # Debian's, for python3-scapy
PEER=$HERE/esp_peer.py
# shellcheck source=scripts/lab.sh
source "$ROOT/scripts/lab.sh"

# shellcheck source=tests/system/checks.sh
source "$HERE/checks.sh"

WORK=
DP_PID=
LAB_UP=
SECONDS=0
# shellcheck disable=SC2317  # called by the EXIT trap
cleanup() {
    stop_pid "$DP_PID"
    [ -n "$LAB_UP" ] && lab_down "$LAB_UP"
    remove_work "$WORK" "${ESP_TEST_KEEP:-0}"
}
trap cleanup EXIT
exit_on_signal

# --- preflight --------------------------------------------------------------
if [ "$(id -u)" != 0 ]; then fail "preflight: needs root (namespaces, hugepages)"; finish; fi
if ! "$PY" -c 'import scapy.layers.ipsec' 2>/dev/null; then
    fail "preflight: $PY has no scapy (apt-get install python3-scapy)"; finish
fi
run_checks "esp_peer.py selftest" "$PY" "$PEER" selftest --seed "${ESP_TEST_SEED:-$RANDOM}"

WORK=$(mktemp -d /tmp/esptest.XXXXXX)
LAB_NAME_WANTED=esp$(printf '%04x%04x' $RANDOM $RANDOM)

if [ "${1:-}" = --peer-only ]; then
    lab_up "$LAB_NAME_WANTED" || { fail "lab: could not create namespaces"; finish; }
    LAB_UP=$LAB_NAME_WANTED
    # The client's eth0 and the data plane's dpacc are the two ends of one veth.
    run_checks "selftest over veth" "$PY" "$PEER" selftest --ns-a "$LAB_NS_CL" --if-a "$LAB_IF_CL" \
        --ns-b "$LAB_NS_DP" --if-b "$LAB_IF_DPACC"
    finish
fi

if [ ! -x "$DP" ]; then
    fail "preflight: no concentrator-dp at $DP (build it: scripts/build.sh, or set CONC_DP)"
    finish
fi
pass "preflight: $DP"

hugepages_free() { awk '/^HugePages_Free/ {print $2}' /proc/meminfo; }
if [ "$(hugepages_free)" -lt 64 ] 2>/dev/null; then
    # What scripts/setup.sh does, so the test also runs on a machine set up by hand.
    mkdir -p /dev/hugepages
    mountpoint -q /dev/hugepages || mount -t hugetlbfs nodev /dev/hugepages
    echo 512 >/sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages
fi
if [ "$(hugepages_free)" -lt 64 ] 2>/dev/null; then
    fail "preflight: only $(hugepages_free) free 2 MB hugepages (scripts/setup.sh)"; finish
fi

# --- lab, plan, config --------------------------------------------------------
lab_up "$LAB_NAME_WANTED" || { fail "lab: could not create namespaces"; finish; }
LAB_UP=$LAB_NAME_WANTED
seed=${ESP_TEST_SEED:-}
"$PY" "$PEER" plan --out "$WORK/plan.json" --with-probe ${seed:+--seed "$seed"} || { fail "plan"; finish; }
"$PY" "$PEER" config --plan "$WORK/plan.json" --out "$WORK/concentrator.conf" \
    --file-prefix "$LAB_NAME_WANTED" || { fail "config"; finish; }

# --- the data plane -------------------------------------------------------------
# start_dp CONFIG STATS LOG: concentrator-dp in the lab's dp namespace, pid in DP_PID.
start_dp() {
    ip netns exec "$LAB_NS_DP" "$DP" -c "$1" --stats-json "$2" >"$3" 2>&1 &
    DP_PID=$!
    echo "  concentrator-dp pid $DP_PID in netns $LAB_NS_DP, log $3"
}

# stop_dp NAME STATS: SIGTERM; it must exit 0 within 10 s and leave final
# stats no older than the last ones the suite saved (STATS.last).
stop_dp() {
    local name=$1 stats=$2 rc
    if ! kill -0 "$DP_PID" 2>/dev/null; then
        wait "$DP_PID"
        fail "$name: concentrator-dp was not running at the end (status $?)"
        DP_PID=
        return
    fi
    rm -f "$stats"
    kill -TERM "$DP_PID"
    for _ in $(seq 100); do kill -0 "$DP_PID" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$DP_PID" 2>/dev/null; then
        fail "$name: still running 10 s after SIGTERM"
        return
    fi
    wait "$DP_PID"
    rc=$?
    DP_PID=
    if [ "$rc" = 0 ]; then pass "$name: status 0 after SIGTERM"; else fail "$name: status $rc after SIGTERM"; fi
    run_checks "$name stats" "$PY" - "$stats" "$stats.last" "$name" <<'EOF'
import json, sys
name = sys.argv[3]
try:
    final = json.load(open(sys.argv[1]))
except Exception as e:
    print("FAIL %s: stats at exit: %s" % (name, e)); sys.exit(1)
try:
    last = json.load(open(sys.argv[2]))
except Exception:
    last = {"counters": {}}
back = [k for k, v in last.get("counters", {}).items() if final.get("counters", {}).get(k, -1) < v]
ports = final.get("ports", {})
ok = "counters" in final and not back and {"access", "core"} <= set(ports)
print(("PASS %s: stats at exit, %d counters, ports %s" % (name, len(final["counters"]), ",".join(sorted(ports))))
      if ok else "FAIL %s: stats at exit: counters went back (%s) or ports missing (%s)" % (name, back, sorted(ports)))
EOF
}

STATS=$WORK/stats.json
LOGS=$WORK/dp.log
start_dp "$WORK/concentrator.conf" "$STATS" "$WORK/dp.log"
run_checks "esp_peer.py suite" timeout --foreground 120 "$PY" "$PEER" suite --plan "$WORK/plan.json" --dp-pid "$DP_PID" \
    --stats "$STATS"
stop_dp dp-exit "$STATS"

# --- clients behind one NAT: one address, own ports and SAs, the same L2TP ids -------
if [ -n "$DP_PID" ]; then
    fail "nat: not run, the first concentrator-dp would not stop"
elif ! { "$PY" "$PEER" plan --out "$WORK/nat-plan.json" --with-probe --shared-nat ${seed:+--seed "$seed"} \
             --combos aes128gcm16/none/natt,aes256/sha256/natt,3des/sha1/natt --first-peer-host 77 \
             --client-net 100.64.1 --client-net6 2001:db8:101 &&
         "$PY" "$PEER" config --plan "$WORK/nat-plan.json" --out "$WORK/nat.conf" \
             --file-prefix "${LAB_NAME_WANTED}n"; } >/dev/null; then
    fail "nat: plan or config"
elif ! "$DP" --check -c "$WORK/nat.conf" >"$WORK/nat-check.log" 2>&1; then
    fail "nat: concentrator-dp rejects clients behind one NAT address: $(head -n 2 "$WORK/nat-check.log" | tr '\n' ' ')"
else
    NAT_STATS=$WORK/nat-stats.json
    LOGS="$LOGS $WORK/nat-dp.log"
    start_dp "$WORK/nat.conf" "$NAT_STATS" "$WORK/nat-dp.log"
    run_checks "esp_peer.py nat-suite" timeout --foreground 60 "$PY" "$PEER" nat-suite --plan "$WORK/nat-plan.json" \
        --dp-pid "$DP_PID" --stats "$NAT_STATS" --count 8
    stop_dp nat/dp-exit "$NAT_STATS"
fi

echo "  run time ${SECONDS} s"
if [ "$failed" -gt 0 ]; then
    for log in $LOGS; do
        echo "  --- last lines of $log ---"
        tail -n 20 "$log" | sed 's/^/  | /'
    done
    ESP_TEST_KEEP=${ESP_TEST_KEEP:-1}
fi
finish

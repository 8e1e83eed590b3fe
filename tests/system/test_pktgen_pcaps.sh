#!/usr/bin/env bash
# System test: the pktgen-dpdk traffic of scripts/pktgen/ against the real
# concentrator-dp, with pcap files for NICs (DPDK's net_pcap) and no pktgen.
#
# make_pcaps.py --write-config writes a config for 64 sessions, each with its
# own SA pair (every transform, plain ESP and UDP 4500, in turn), and the
# pcaps for it: upstream.pcap (IMIX IP in PPP in L2TP in ESP, 16 packets per
# session) and downstream.pcap (plain IP to each client). concentrator-dp
# reads them as its two ports' input and writes each port's output to a pcap;
# once it has consumed both inputs (stats JSON on SIGUSR1) it is stopped, and
# make_pcaps.py --verify opens everything with scapy: the core port must have
# sent exactly the inner packets (TTL-1), the access port ESP that decrypts
# with the outbound SAs to L2TP/PPP carrying exactly the downstream packets
# (TTL-1), and no drop counter may have moved. Then the verifier must catch a
# missing core frame and a forged ICV, and a second run receives upstream.pcap
# in a loop (net_pcap infinite_rx=1): each packet is forwarded once and every
# repeat is an rx_esp_replay_drop.
#
# Usage: tests/system/test_pktgen_pcaps.sh
# Environment: CONC_DP (default: build/dataplane/concentrator-dp of this repo),
#   PKTGEN_TEST_KEEP=1 keeps the work directory (kept anyway after a failure).
#   Needs root, hugepages (scripts/setup.sh) and Debian's python3-scapy.
# Prints PASS/FAIL per check, then "N passed, N failed"; exit 1 on any failure.

set -u
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
DP=${CONC_DP:-$ROOT/build/dataplane/concentrator-dp}
PY=/usr/bin/python3 # Debian's, for python3-scapy
MAKE_PCAPS=$ROOT/scripts/pktgen/make_pcaps.py
SESSIONS=64
PACKETS=16
# net_pcap numbers its ports' MACs 02:70:63:61:70:<n> in probe order: access first.
ACCESS_MAC=02:70:63:61:70:00
CORE_MAC=02:70:63:61:70:01

# shellcheck source=tests/system/checks.sh
source "$HERE/checks.sh"
# shellcheck disable=SC2317  # called by finish
before_finish() {
    echo "  run time ${SECONDS} s"
    if [ "$failed" -gt 0 ] && [ -n "$WORK" ]; then
        tail -n 15 "$WORK"/*.log 2>/dev/null | sed 's/^/  | /'
        PKTGEN_TEST_KEEP=1
    fi
}

WORK=
DP_PID=
SECONDS=0
# shellcheck disable=SC2317  # called by the EXIT trap
cleanup() {
    if [ -n "$DP_PID" ] && kill -0 "$DP_PID" 2>/dev/null; then
        kill -KILL "$DP_PID" 2>/dev/null
        wait "$DP_PID" 2>/dev/null
    fi
    remove_work "$WORK" "${PKTGEN_TEST_KEEP:-0}"
}
trap cleanup EXIT
exit_on_signal

# --- preflight --------------------------------------------------------------
if [ "$(id -u)" != 0 ]; then fail "preflight: needs root (hugepages)"; finish; fi
if ! "$PY" -c 'import scapy.layers.ipsec' 2>/dev/null; then
    fail "preflight: $PY has no scapy (apt-get install python3-scapy)"; finish
fi
if [ ! -x "$DP" ]; then
    fail "preflight: no concentrator-dp at $DP (build it: scripts/build.sh, or set CONC_DP)"; finish
fi
free_pages=$(awk '/^HugePages_Free/ {print $2}' /proc/meminfo)
if [ "${free_pages:-0}" -lt 64 ]; then
    fail "preflight: only ${free_pages:-0} free 2 MB hugepages (scripts/setup.sh reserves them)"; finish
fi

WORK=$(mktemp -d /tmp/pktgentest.XXXXXX)
PREFIX=pktgen$$
CONF=$WORK/concentrator.conf
STATS=$WORK/stats.json

# --- config and pcaps -----------------------------------------------------------
if "$PY" "$MAKE_PCAPS" --write-config "$SESSIONS" --config "$CONF" --transforms all --out-dir "$WORK" \
        --packets-per-session "$PACKETS" --inner-size imix --access-mac "$ACCESS_MAC" --core-mac "$CORE_MAC" \
        --access-device "net_pcap0,rx_pcap=$WORK/upstream.pcap,tx_pcap=$WORK/out-access.pcap" \
        --core-device "net_pcap1,rx_pcap=$WORK/downstream.pcap,tx_pcap=$WORK/out-core.pcap" \
        --eal-args "-l 0-1 --in-memory --no-pci --file-prefix $PREFIX" >"$WORK/make.log" 2>&1 &&
    "$DP" -c "$CONF" --check >>"$WORK/make.log" 2>&1; then
    pass "make_pcaps: $(tail -n 2 "$WORK/make.log" | head -n 1)"
else
    fail "make_pcaps: $(tail -n 3 "$WORK/make.log" | tr '\n' ' ')"; finish
fi
read -r UP DOWN < <("$PY" -c 'import json, sys; m = json.load(open(sys.argv[1]))
print(m["upstream_frames"], m["downstream_frames"])' "$WORK/pcaps.json")
if [ "$UP" = $((SESSIONS * PACKETS)) ] && [ "$DOWN" = $((SESSIONS * PACKETS)) ]; then
    pass "pcaps: $UP upstream and $DOWN downstream frames"
else
    fail "pcaps: $UP upstream and $DOWN downstream frames, want $((SESSIONS * PACKETS)) each"
fi

# --- the data plane on pcap ports ------------------------------------------------
# run_dp NAME CONFIG UNTIL [looping]: start concentrator-dp and, once it says
# it is running (SIGUSR1 before that would kill it), wait (SIGUSR1 stats)
# until UNTIL (a Python expression on the stats s) holds and no counter moved
# since the snapshot before (a looping input: at once), then SIGTERM; it must
# exit 0 and leave its final stats in $STATS.
run_dp() {
    local name=$1 config=$2 until=$3 looping=${4:-} rc
    rm -f "$STATS"
    "$DP" -c "$config" --stats-json "$STATS" >"$WORK/$name.log" 2>&1 &
    DP_PID=$!
    for _ in $(seq 200); do
        grep -q 'running$' "$WORK/$name.log" 2>/dev/null || ! kill -0 "$DP_PID" 2>/dev/null && break
        sleep 0.1
    done
    if timeout --foreground 30 "$PY" - "$HERE" "$DP_PID" "$STATS" "$until" "$looping" <<'EOF'; then
import sys, time
sys.path.insert(0, sys.argv[1])
from esp_peer import DataPlane
dp, until, looping = DataPlane(int(sys.argv[2]), sys.argv[3]), sys.argv[4], sys.argv[5]
start, last = time.monotonic(), None
while dp.alive():
    s = dp.snapshot()
    moved = {k: v for k, v in (s or {}).get("counters", {}).items() if not k.startswith("busy_")}
    if s and eval(until, {"s": s}) and (looping or moved == last):
        print("  %s after %.1f s" % (until, time.monotonic() - start))
        sys.exit(0)
    last = moved
    time.sleep(0.2)
print("  concentrator-dp exited")
sys.exit(1)
EOF
        pass "$name: concentrator-dp consumed its input"
    else
        fail "$name: concentrator-dp did not get through its input within 30 s (or died)"
    fi
    kill -TERM "$DP_PID" 2>/dev/null
    for _ in $(seq 100); do kill -0 "$DP_PID" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$DP_PID" 2>/dev/null; then fail "$name: still running 10 s after SIGTERM"; return; fi
    wait "$DP_PID"
    rc=$?
    DP_PID=
    if [ "$rc" = 0 ] && [ -s "$STATS" ]; then pass "$name: status 0 after SIGTERM, final stats written"
    else fail "$name: status $rc after SIGTERM, stats file $(test -s "$STATS" && echo written || echo missing)"; fi
}

run_dp dp-run "$CONF" "s['ports']['access']['ipackets'] >= $UP and s['ports']['core']['ipackets'] >= $DOWN"
run_checks verify "$PY" "$MAKE_PCAPS" --verify --config "$CONF" --out-dir "$WORK" --core-out "$WORK/out-core.pcap" \
    --access-out "$WORK/out-access.pcap" --stats "$STATS"

# --- the verifier catches a missing frame and a forged ICV ------------------------
"$PY" - "$WORK" <<'EOF'
import sys
from scapy.utils import RawPcapReader, RawPcapWriter
work = sys.argv[1]
def copy(src, dst, change):
    frames = change([bytes(d) for d, _ in RawPcapReader(work + src)])
    w = RawPcapWriter(work + dst, linktype=1)
    for f in frames:
        w.write(f)
    w.close()
copy("/out-core.pcap", "/bad-core.pcap", lambda f: f[:-1])
copy("/out-access.pcap", "/bad-access.pcap", lambda f: f[:7] + [f[7][:-1] + bytes([f[7][-1] ^ 1])] + f[8:])
EOF
bad=$("$PY" "$MAKE_PCAPS" --verify --config "$CONF" --out-dir "$WORK" --core-out "$WORK/bad-core.pcap" \
    --access-out "$WORK/bad-access.pcap" 2>&1)
if grep -q '^FAIL upstream/core-port-sent: .*never arrived' <<<"$bad" &&
    grep -q '^FAIL downstream/access-port-sent: .*ICV' <<<"$bad"; then
    pass "verify/negative: a missing core frame and a forged ICV are both caught"
else
    fail "verify/negative: the verifier passed damaged output: $(grep -E '^(PASS|FAIL)' <<<"$bad" | tr '\n' ' ')"
fi

# --- anti-replay: upstream.pcap received over and over -----------------------------
sed -e "s|upstream.pcap,tx_pcap=[^\"]*\"|upstream.pcap,infinite_rx=1\"|" \
    -e "s|\"net_pcap1,[^\"]*\"|\"net_pcap1,tx_pcap=$WORK/replay-core.pcap\"|" \
    -e "s|$PREFIX|${PREFIX}r|" "$CONF" >"$WORK/replay.conf"
run_dp replay-run "$WORK/replay.conf" "s['counters']['rx_esp_replay_drops'] >= 2 * $UP" looping
run_checks verify-replay "$PY" "$MAKE_PCAPS" --verify --looped --config "$WORK/replay.conf" --out-dir "$WORK" \
    --core-out "$WORK/replay-core.pcap" --stats "$STATS"

finish

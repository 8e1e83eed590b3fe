#!/usr/bin/env bash
# demo.sh: watch concentrator-dp carry L2TP/IPsec traffic both ways, from a
# fresh checkout, in a couple of minutes. It
#   1. prepares the machine (scripts/setup.sh: packages, hugepages),
#   2. builds the project if it is not built (scripts/build.sh),
#   3. brings up the namespace lab (scripts/lab.sh): clients, the data plane
#      and a core host, joined by veths,
#   4. starts concentrator-dp with two clients, each a static SA pair and a
#      static L2TP session (what IKE, L2TP and PPP would have negotiated):
#      AES-128-GCM in UDP 4500 (a client behind NAT) and AES-256-CBC with
#      HMAC-SHA256 as plain ESP,
#   5. has scapy (tests/system/esp_peer.py) be each client, sending IPv4 and
#      IPv6 in PPP in L2TP in ESP, and the core host, sending plain packets to
#      the clients' addresses, and says what each layer carried: ESP SPI and
#      sequence numbers, L2TP ids, PPP protocol, the inner packet,
#   6. stops everything and removes the lab.
# Exit status 0 only if traffic flowed both ways for both clients.
#
# Usage: scripts/demo.sh        (as root; CONC_DP=path uses another binary)

set -u
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DP=${CONC_DP:-$ROOT/build/dataplane/concentrator-dp}
PY=/usr/bin/python3 # Debian's, for python3-scapy
PEER=$ROOT/tests/system/esp_peer.py
# shellcheck source=scripts/lab.sh
source "$ROOT/scripts/lab.sh"

if [ -t 1 ]; then
    step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
else
    step() { printf '\n== %s\n' "$*"; }
fi
die() { printf '\ndemo: %s\n' "$*" >&2; exit 1; }

WORK=
DP_PID=
LAB=
# shellcheck disable=SC2317  # called by the EXIT trap
cleanup() {
    if [ -n "$DP_PID" ] && kill -0 "$DP_PID" 2>/dev/null; then
        kill -TERM "$DP_PID"
        for _ in $(seq 50); do kill -0 "$DP_PID" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$DP_PID" 2>/dev/null
    fi
    [ -n "$LAB" ] && lab_down "$LAB"
    [ -n "$WORK" ] && rm -rf "$WORK"
}
trap cleanup EXIT
# A second signal (timeout(1) signals the script and then its process group)
# must not cut the EXIT trap's cleanup short.
trap 'trap "" INT TERM; exit 130' INT TERM

[ "$(id -u)" = 0 ] || die "run me as root: I create network namespaces and use hugepages"

step "1. Preparing the machine (scripts/setup.sh: packages, hugepages)"
[ -x "$ROOT/scripts/setup.sh" ] || die "scripts/setup.sh is missing"
"$ROOT/scripts/setup.sh" || die "scripts/setup.sh failed"

if [ -x "$DP" ]; then
    step "2. Using the data plane at $DP"
else
    step "2. Building (scripts/build.sh)"
    [ -x "$ROOT/scripts/build.sh" ] || die "scripts/build.sh is missing"
    "$ROOT/scripts/build.sh" || die "the build failed"
    [ -x "$DP" ] || die "the build did not produce $DP"
fi

step "3. Bringing up the lab"
LAB=demo$(printf '%04x' $RANDOM)
lab_up "$LAB" || { LAB=; die "could not create the lab's namespaces"; }
cat <<EOF
  netns $LAB_NS_CL   the clients (internet side), on $LAB_IF_CL $LAB_CL_MAC
  netns $LAB_NS_DP   concentrator-dp: access port on $LAB_IF_DPACC $LAB_DPACC_MAC (address $LAB_ACCESS_ADDRESS)
                    core port on $LAB_IF_DPCORE $LAB_DPCORE_MAC (address $LAB_CORE_ADDRESS)
  netns $LAB_NS_CO   the core host $LAB_CORE_HOST, on $LAB_IF_CO $LAB_CO_MAC
EOF

step "4. Starting concentrator-dp with two clients' SAs and L2TP sessions (fresh random keys and ids)"
WORK=$(mktemp -d /tmp/concdemo.XXXXXX)
"$PY" "$PEER" plan --out "$WORK/plan.json" --combos aes128gcm16/none/natt,aes256/sha256/esp \
    --with-probe >/dev/null ||
    die "could not make the SA plan"
"$PY" "$PEER" config --plan "$WORK/plan.json" --out "$WORK/concentrator.conf" --file-prefix "$LAB" >/dev/null ||
    die "could not write the config"
"$PY" - "$WORK/plan.json" <<'EOF'
import json, sys
for p in json.load(open(sys.argv[1]))["pairs"]:
    if p["name"].endswith("-probe"):
        print("  (and a probe client %s, only used to see when the data plane is ready)" % p["peer"])
        continue
    alg = p["cipher"] + ("" if p["integrity"] == "none" else "/" + p["integrity"])
    how = "ESP in UDP, client behind NAT at port %d" % p["peer_port"] if p["udp_encap"] else "plain ESP"
    s = p["session"]
    print("  client %-14s %-15s %-40s SPI in 0x%08x, out 0x%08x"
          % (p["peer"], alg, how, p["in"]["spi"], p["out"]["spi"]))
    print("         L2TP tunnel/session %d/%d (ours), %d/%d (the client's); PPP address %s, prefix %s, MTU %d"
          % (s["tunnel_id"], s["session_id"], s["peer_tunnel_id"], s["peer_session_id"], s["client_ipv4"],
             s["client_ipv6_prefix"], s["mtu"]))
EOF
echo "  config: $WORK/concentrator.conf"
STATS=$WORK/stats.json
ip netns exec "$LAB_NS_DP" "$DP" -c "$WORK/concentrator.conf" --stats-json "$STATS" >"$WORK/dp.log" 2>&1 &
DP_PID=$!
echo "  concentrator-dp running as pid $DP_PID"

step "5. Traffic"
"$PY" "$PEER" demo --plan "$WORK/plan.json" --dp-pid "$DP_PID" --stats "$STATS" --count 5
flowed=$?

step "6. Stopping concentrator-dp (SIGTERM)"
if kill -0 "$DP_PID" 2>/dev/null; then
    kill -TERM "$DP_PID"
    wait "$DP_PID"
    echo "  exited with status $?"
else
    wait "$DP_PID"
    echo "  it had already exited, with status $?; its log:"
    tail -n 20 "$WORK/dp.log" | sed 's/^/  | /'
    flowed=1
fi
DP_PID=
if [ "$flowed" != 0 ]; then
    echo "  last lines of its log:"
    tail -n 20 "$WORK/dp.log" | sed 's/^/  | /'
    die "traffic did not flow"
fi
echo
echo "Done: both clients' IPv4 and IPv6 traffic went through ESP, L2TP and PPP in both directions. The lab is removed."

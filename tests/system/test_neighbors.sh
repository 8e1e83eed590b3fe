#!/usr/bin/env bash
# System test: concentrator-dp resolves its next hops (ARP, RFC 826; Neighbor
# Discovery, RFC 4861) and answers for its own addresses, with real Linux
# kernels as the neighbours, in the namespace lab of scripts/lab.sh.
#
# The client namespace's kernel is the access gateway (198.51.100.254), the
# core namespace's kernel the core gateway (10.0.0.2, 2001:db8:ffff::2) and
# the core host; the config names them with gateway / gateway_ipv6 and no
# gateway_mac, and gives the core port 2001:db8:ffff::1/64. Checks: worker 0
# asks (arp_requests_sent, nd_solicitations_sent) and learns the three MACs
# (neighbor_updates); the kernels ping our addresses (our ARP replies, our
# Neighbor Advertisement, echo replies) and their neighbour tables hold our
# MACs; UDP the core kernel sends to a client's IPv4 address and into its IPv6
# prefix leaves the access port as ESP to the client kernel's MAC
# (esp_peer.py opens it: ICV, L2TP, PPP, the datagram); ESP from the clients
# (esp_peer.py) reaches a UDP socket of the core kernel, IPv4 and IPv6, so
# the frames carry the learned MACs; after the core kernel changes its MAC,
# its next ARP request and Neighbor Solicitation teach the data plane the new
# one; nothing is counted as tx_no_neighbor_drops once resolved; SIGTERM
# gives status 0.
#
# Environment: CONC_BUILD (default build/ of this repo). Needs root,
# hugepages (scripts/setup.sh) and Debian's python3-scapy.
# Prints PASS/FAIL per check, then "N passed, N failed"; exit 1 on any failure.

set -u
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
BUILD=${CONC_BUILD:-$ROOT/build}
DP=$BUILD/dataplane/concentrator-dp
PY=/usr/bin/python3
PEER=$HERE/esp_peer.py
# shellcheck source=scripts/lab.sh
source "$ROOT/scripts/lab.sh"

# shellcheck source=tests/system/checks.sh
source "$HERE/checks.sh"

ACCESS_GATEWAY=198.51.100.254
CORE_ADDRESS6=2001:db8:ffff::1
CORE_HOST6=2001:db8:ffff::2
CORE_MOVED_MAC=02:00:00:00:02:03

DP_PID='' LAB_UP='' WORK='' PREFIX=''
SECONDS=0
stop_pid() {
    local pid=$1
    [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 0
    kill -TERM "$pid" 2>/dev/null
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null
}
# shellcheck disable=SC2317  # called by the EXIT trap
cleanup() {
    stop_pid "$DP_PID"
    [ -n "$LAB_UP" ] && lab_down "$LAB_UP"
    [ -n "$PREFIX" ] && rm -rf /dev/hugepages/"$PREFIX"map_* /var/run/dpdk/"$PREFIX"
    [ -n "$WORK" ] && rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if [ "$(id -u)" != 0 ]; then fail "preflight: needs root (namespaces, hugepages)"; finish; fi
[ -x "$DP" ] || { fail "preflight: $DP not built (scripts/build.sh)"; finish; }
"$PY" -c 'import scapy.layers.ipsec' 2>/dev/null ||
    { fail "preflight: $PY has no scapy (apt-get install python3-scapy)"; finish; }

WORK=$(mktemp -d /tmp/conc-nb.XXXXXX)
PREFIX=concnb$$
LAB_UP=nb$(printf '%04x' $((RANDOM)))
lab_up "$LAB_UP" >/dev/null || { LAB_UP=; fail "preflight: lab"; finish; }
CL=$LAB_NS_CL CO=$LAB_NS_CO

# --- the kernels as neighbours --------------------------------------------------
# IPv6 comes back in the core namespace only, without duplicate address
# detection (its probes would only delay the address).
kernels_up() {
    ip -n "$CL" addr add "$ACCESS_GATEWAY/24" dev "$LAB_IF_CL" &&
    ip netns exec "$CO" sysctl -qw net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0 \
        "net.ipv6.conf.$LAB_IF_CO.accept_dad=0" >/dev/null &&
    ip netns exec "$CO" sysctl -qw net.ipv6.conf.all.disable_ipv6=0 net.ipv6.conf.default.disable_ipv6=0 \
        "net.ipv6.conf.$LAB_IF_CO.disable_ipv6=0" >/dev/null &&
    ip -n "$CO" addr add "$LAB_CORE_HOST/24" dev "$LAB_IF_CO" &&
    ip -n "$CO" addr add "$CORE_HOST6/64" dev "$LAB_IF_CO" nodad &&
    # The clients' addresses (esp_peer.py plan: 100.64.0.N, 2001:db8:100:N::/64) are behind the concentrator.
    ip -n "$CO" route add 100.64.0.0/10 via "$LAB_CORE_ADDRESS" &&
    ip -n "$CO" route add 2001:db8:100::/48 via "$CORE_ADDRESS6"
}
kernels_up || { fail "preflight: kernel addresses and routes in the lab"; finish; }

# --- plan and config: gateways by address, no gateway_mac ----------------------------
"$PY" "$PEER" plan --out "$WORK/plan.json" --combos aes128gcm16/none/esp,aes256/sha256/natt \
    --core-host6 "$CORE_HOST6" >/dev/null || { fail "preflight: plan"; finish; }
"$PY" "$PEER" config --plan "$WORK/plan.json" --out "$WORK/generated.conf" --file-prefix "$PREFIX" \
    >/dev/null || { fail "preflight: config"; finish; }
sed -e "s|gateway_mac = \"$LAB_CL_MAC\";|gateway = \"$ACCESS_GATEWAY\";|" \
    -e "s|gateway_mac = \"$LAB_CO_MAC\";|gateway = \"$LAB_CORE_HOST\";\n    ipv6_address = \"$CORE_ADDRESS6/64\";\n    gateway_ipv6 = \"$CORE_HOST6\";|" \
    "$WORK/generated.conf" >"$WORK/concentrator.conf"
if grep -q gateway_mac "$WORK/concentrator.conf" || [ "$(grep -c 'gateway = ' "$WORK/concentrator.conf")" != 2 ]; then
    fail "preflight: config still names gateway MACs: $(grep gateway "$WORK/concentrator.conf" | tr -s ' \n' ' ')"
    finish
fi
"$DP" --check -c "$WORK/concentrator.conf" >"$WORK/check.log" 2>&1 && pass "config/gateways-by-address-accepted" ||
    fail "config/gateways-by-address-accepted: $(head -3 "$WORK/check.log" | tr '\n' ' ')"

# --- the data plane ----------------------------------------------------------------
STATS=$WORK/stats.json
ip netns exec "$LAB_NS_DP" "$DP" -c "$WORK/concentrator.conf" --stats-json "$STATS" >"$WORK/dp.log" 2>&1 &
DP_PID=$!
for _ in $(seq 100); do grep -q "running" "$WORK/dp.log" && break; kill -0 "$DP_PID" 2>/dev/null || break; sleep 0.1; done
if ! grep -q "running" "$WORK/dp.log"; then
    fail "dp/starts: $(tail -3 "$WORK/dp.log" | tr '\n' ' ')"
    finish
fi
pass "dp/starts"

# snapshot OUT: SIGUSR1, then the counters of the stats JSON it writes, one "name value" a line.
snapshot() {
    rm -f "$STATS"
    kill -USR1 "$DP_PID" 2>/dev/null || return 1
    for _ in $(seq 50); do
        "$PY" -c 'import json, sys
for k, v in json.load(open(sys.argv[1]))["counters"].items(): print(k, v)' "$STATS" >"$1" 2>/dev/null && return 0
        sleep 0.1
    done
    return 1
}
counter() { [ -f "$1" ] || { echo -1; return; }; awk -v k="$2" '$1 == k { print $2; found = 1 } END { if (!found) print -1 }' "$1"; }
counters() { local f=$1 k; shift; for k; do printf '%s=%s ' "$k" "$(counter "$f" "$k")"; done; }

# Worker 0 asks once a second; one answer from each kernel is enough.
resolved=''
for _ in $(seq 20); do
    if snapshot "$WORK/resolved.txt" && [ "$(counter "$WORK/resolved.txt" arp_requests_sent)" -ge 2 ] &&
        [ "$(counter "$WORK/resolved.txt" nd_solicitations_sent)" -ge 1 ] &&
        [ "$(counter "$WORK/resolved.txt" neighbor_updates)" -ge 3 ]; then
        resolved=yes
        break
    fi
    sleep 0.25
done
seen=$(counters "$WORK/resolved.txt" arp_requests_sent nd_solicitations_sent neighbor_updates)
[ -n "$resolved" ] && pass "resolve/three-gateways-learned: $seen after ${SECONDS} s" ||
    fail "resolve/three-gateways-learned: want arp_requests_sent>=2 nd_solicitations_sent>=1 neighbor_updates>=3, have $seen"

# --- the kernels reach our addresses ---------------------------------------------------
# ping_check NAME NETNS ARGS...: the kernel's ping gets every echo answered.
ping_check() {
    local name=$1 ns=$2 out
    shift 2
    if out=$(ip netns exec "$ns" ping -q -c 3 -i 0.2 -W 1 "$@" 2>&1); then
        pass "$name"
    else
        fail "$name: $(echo "$out" | tail -2 | tr '\n' ' ')"
    fi
}
ping_check "local/core-kernel-pings-$LAB_CORE_ADDRESS" "$CO" "$LAB_CORE_ADDRESS"
ping_check "local/core-kernel-pings-$CORE_ADDRESS6" "$CO" -6 "$CORE_ADDRESS6"
ping_check "local/client-kernel-pings-$LAB_ACCESS_ADDRESS" "$CL" "$LAB_ACCESS_ADDRESS"

# neighbour_check NAME NETNS ADDRESS MAC: the kernel's neighbour table maps ADDRESS to MAC.
neighbour_check() {
    local entry
    entry=$(ip -n "$2" neigh show "$3" dev eth0 2>&1)
    echo "$entry" | grep -qi "lladdr $4 " && pass "$1: $entry" || fail "$1: want lladdr $4, have '$entry'"
}
neighbour_check "local/core-kernel-neighbour-$LAB_CORE_ADDRESS" "$CO" "$LAB_CORE_ADDRESS" "$LAB_DPCORE_MAC"
neighbour_check "local/core-kernel-neighbour-$CORE_ADDRESS6" "$CO" "$CORE_ADDRESS6" "$LAB_DPCORE_MAC"
neighbour_check "local/client-kernel-neighbour-$LAB_ACCESS_ADDRESS" "$CL" "$LAB_ACCESS_ADDRESS" "$LAB_DPACC_MAC"

# --- traffic through the learned next hops -------------------------------------------------
# The kernels' sockets and esp_peer.py's clients in one process: "down" has the core
# kernel send UDP to every client (IPv4 and IPv6) and opens the ESP the client
# namespace's eth0 receives; "up FIRST_SEQ TAG" has every client send ESP and
# the core kernel's UDP sockets on port 9 receive the datagrams.
cat >"$WORK/kernel_traffic.py" <<'EOF'
import select
import socket
import sys
import time

sys.path.insert(0, sys.argv[1])
import esp_peer as ep  # noqa: E402
from scapy.layers.inet import IP, UDP  # noqa: E402
from scapy.layers.inet6 import IPv6  # noqa: E402

mode, plan = sys.argv[2], ep.load_plan(sys.argv[3])
lab, pairs, res = plan["lab"], plan["pair_objs"], ep.Results()
client = ep.Port(lab["ns_cl"], lab["if_cl"])


def core_socket(family):
    """A UDP socket of the core namespace's kernel (a socket stays in the namespace it was made in)."""
    with ep.netns(lab["ns_co"]):
        s = socket.socket(family, socket.SOCK_DGRAM)
    if family == socket.AF_INET6:
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
    return s


def family(v6):
    return "ipv6" if v6 else "ipv4"


if mode == "down":
    sockets = {False: core_socket(socket.AF_INET), True: core_socket(socket.AF_INET6)}
    by_spi = {p.outbound.spi: p for p in pairs}
    want = {}
    client.drain()
    for n, pair in enumerate(pairs):
        for v6 in (False, True):
            data = ("from the core kernel to %s over %s" % (pair.name, family(v6))).encode()
            dst = pair.client_ipv6(7) if v6 else pair.client_ipv4
            sockets[v6].sendto(data, (dst, 5000 + n))
            want[(pair.name, v6)] = (dst, 5000 + n, data)
    got, stray = {}, []
    deadline = time.monotonic() + 3
    while len(got) < len(want) and time.monotonic() < deadline:
        for frame in client.receive(0.2, src_mac=lab["dpacc_mac"]):
            if frame[12:14] != b"\x08\x00":
                continue  # the data plane's ARP requests
            d, why = ep.open_downstream(lab, frame, by_spi)
            if d is None or "fatal" in d:
                stray.append(why or d["fatal"])
                continue
            v6 = d["ppp_protocol"] == ep.PPP_IPV6
            inner = (IPv6 if v6 else IP)(d["inner"])
            errs = list(d["errs"])
            dst, dport, data = want.get((d["pair"].name, v6), (None, None, None))
            src = lab["core_host6"] if v6 else lab["core_host"]
            if (inner.src, inner.dst) != (src, dst) or UDP not in inner or inner[UDP].dport != dport:
                errs.append("inner %s" % inner.summary())
            elif bytes(inner[UDP].payload) != data:
                errs.append("inner UDP data %r" % bytes(inner[UDP].payload)[:40])
            got[(d["pair"].name, v6)] = (d, errs)
    for pair in pairs:
        for v6 in (False, True):
            name = "down/%s/%s" % (pair.name, family(v6))
            if (pair.name, v6) not in got:
                res.check(name, False, "nothing arrived on the client's eth0%s" %
                          ("; other frames: %s" % "; ".join(stray[:3]) if stray else ""))
                continue
            d, errs = got[(pair.name, v6)]
            res.check(name, not errs, "; ".join(errs),
                      "core kernel's UDP arrived as %s to %s (learned by ARP), ICV, L2TP, PPP and datagram exact"
                      % ("ESP in UDP 4500" if pair.udp_encap else "ESP", lab["cl_mac"]))
elif mode == "up":
    first_seq, tag = int(sys.argv[4]), sys.argv[5]
    sockets = {False: core_socket(socket.AF_INET), True: core_socket(socket.AF_INET6)}
    sockets[False].bind(("0.0.0.0", 9))
    sockets[True].bind(("::", 9))
    want = {}
    for n, pair in enumerate(pairs):
        for v6 in (False, True):
            seq = first_seq + 2 * n + v6
            user = ep.user_up(lab, pair, seq, size=200, v6=v6, tag=tag)
            client.send(ep.scapy_encrypt(lab, pair, seq, user=user)[0], 0.001)
            want[(user.src, ep.payload_for(pair, tag, seq, 200))] = (pair, v6)
    got = set()
    deadline = time.monotonic() + 3
    while len(got) < len(want) and time.monotonic() < deadline:
        ready, _, _ = select.select(list(sockets.values()), [], [], max(0, deadline - time.monotonic()))
        for s in ready:
            data, addr = s.recvfrom(2048)
            got.add((addr[0], data))
    for (src, data), (pair, v6) in want.items():
        res.check("%s/%s/%s" % (tag, pair.name, family(v6)), (src, data) in got,
                  "the core kernel's UDP socket got nothing from %s" % src,
                  "core kernel's socket received it from %s" % src)
print("%d passed, %d failed" % (res.passed, res.failed))
sys.exit(1 if res.failed else 0)
EOF
traffic() { "$PY" "$WORK/kernel_traffic.py" "$HERE" "$1" "$WORK/plan.json" "${@:2}"; }

run_checks "downstream" traffic down
run_checks "upstream" traffic up 1 up

# --- the core gateway moves to another MAC: its next ARP request and NS tell us -------------
if ip -n "$CO" link set "$LAB_IF_CO" address "$CORE_MOVED_MAC" && ip -n "$CO" neigh flush dev "$LAB_IF_CO"; then
    ping_check "moved/core-kernel-pings-$LAB_CORE_ADDRESS" "$CO" "$LAB_CORE_ADDRESS"
    ping_check "moved/core-kernel-pings-$CORE_ADDRESS6" "$CO" -6 "$CORE_ADDRESS6"
    run_checks "upstream after the move" traffic up 100 up-moved
else
    fail "moved: could not give the core kernel's eth0 $CORE_MOVED_MAC"
fi

# --- counters ------------------------------------------------------------------------------
if snapshot "$WORK/end.txt"; then
    have=$(counters "$WORK/end.txt" neighbor_updates)
    [ "$(counter "$WORK/end.txt" neighbor_updates)" = "$(($(counter "$WORK/resolved.txt" neighbor_updates) + 2))" ] &&
        pass "counters/moved-gateway-relearned: $have" ||
        fail "counters/moved-gateway-relearned: want 2 more neighbor_updates (ARP and NS from the new MAC) than $(counters "$WORK/resolved.txt" neighbor_updates), have $have"
    before=$(counter "$WORK/resolved.txt" tx_no_neighbor_drops)
    after=$(counter "$WORK/end.txt" tx_no_neighbor_drops)
    [ "$after" = "$before" ] && pass "counters/no-neighbor-drops-once-resolved: tx_no_neighbor_drops=$after" ||
        fail "counters/no-neighbor-drops-once-resolved: tx_no_neighbor_drops $before -> $after"
    have=$(counters "$WORK/end.txt" arp_replies nd_advertisements icmp_echo_replies)
    [ "$(counter "$WORK/end.txt" arp_replies)" -ge 2 ] && [ "$(counter "$WORK/end.txt" nd_advertisements)" -ge 1 ] &&
        [ "$(counter "$WORK/end.txt" icmp_echo_replies)" -ge 15 ] && pass "counters/answers: $have" ||
        fail "counters/answers: want arp_replies>=2 nd_advertisements>=1 icmp_echo_replies>=15 (5 pings of 3), have $have"
else
    fail "counters: no stats file after SIGUSR1"
fi

kill -TERM "$DP_PID"
wait "$DP_PID"
rc=$?
DP_PID=
[ "$rc" = 0 ] && pass "dp/exit-0-after-sigterm" || fail "dp/exit-0-after-sigterm: exit $rc; $(tail -3 "$WORK/dp.log")"
echo "  run time ${SECONDS} s"
if [ "$failed" -gt 0 ]; then
    echo "  --- last lines of the data plane's log ---"
    tail -n 20 "$WORK/dp.log" | sed 's/^/  | /'
    [ -f "$WORK/end.txt" ] && grep -v ' 0$' "$WORK/end.txt" | sed 's/^/  | /'
fi
finish

#!/usr/bin/env bash
# System test: concentrator-dp resolves its next hops (ARP, RFC 826; Neighbor
# Discovery, RFC 4861) and answers for its own addresses, with real Linux
# kernels as the neighbours, in the namespace lab of scripts/lab.sh.
#
# The client namespace's kernel is the access gateway (198.51.100.254), the
# core namespace's kernel the core gateway (10.0.0.2, 2001:db8:ffff::2) and
# the core host. The config names them with gateway and gateway_ipv6, no
# gateway_mac, and gives the core port 2001:db8:ffff::1/64. Checks:
# - worker 0 asks (arp_requests_sent, nd_solicitations_sent) and learns the
#   core gateways' MACs (neighbor_updates); while the access gateway has no
#   address yet it asks again every second, and the core kernel's datagrams to
#   clients are tx_no_neighbor_drops: nothing leaves the access port and no
#   ESP sequence number is spent; once the address is up it learns that MAC too;
# - the kernels, their neighbour tables flushed, ping our three addresses:
#   our ARP replies, our Neighbor Advertisement, the echo replies, exactly
#   counted; their tables then hold our MACs;
# - UDP the core kernel sends to a client's IPv4 address and into its IPv6
#   prefix leaves the access port as ESP to the client kernel's MAC
#   (esp_peer.py opens it: ICV, L2TP, PPP, the exact datagram, sequence
#   numbers 1 and 2); ESP from the clients (esp_peer.py) reaches UDP sockets of
#   the core kernel, IPv4 and IPv6 (a kernel takes only frames to its own MAC);
# - the core kernel changes its MAC: its next ARP request and Neighbor
#   Solicitation teach us the new one (two neighbor_updates), and ESP from the
#   clients reaches it again;
# - no tx_no_neighbor_drops once resolved; SIGTERM gives status 0.
#
# Environment: CONC_BUILD (default build/ of this repo). Needs root,
# hugepages (scripts/setup.sh) and Debian's python3-scapy. About 15 s.
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
trap 'end_lab_run "$DP_PID" "$LAB_UP" "$PREFIX" "$WORK"' EXIT
exit_on_signal

if [ "$(id -u)" != 0 ]; then fail "preflight: needs root (namespaces, hugepages)"; finish; fi
[ -x "$DP" ] || { fail "preflight: $DP not built (scripts/build.sh)"; finish; }
"$PY" -c 'import scapy.layers.ipsec' 2>/dev/null ||
    { fail "preflight: $PY has no scapy (apt-get install python3-scapy)"; finish; }

WORK=$(mktemp -d /tmp/conc-nb.XXXXXX)
PREFIX=concnb$$
LAB_UP=nb$(printf '%04x' $((RANDOM)))
lab_up "$LAB_UP" >/dev/null || { LAB_UP=; fail "preflight: lab"; finish; }
CL=$LAB_NS_CL CO=$LAB_NS_CO

# --- the core kernel as a neighbour (the client kernel gets its address later) ---------------
# IPv6 comes back in the core namespace only, without duplicate address
# detection (its probes would only delay the address).
core_kernel_up() {
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
core_kernel_up || { fail "preflight: the core kernel's addresses and routes"; finish; }

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

# --- the kernels' side, in one Python helper ----------------------------------------------
# Sockets made in a namespace stay its kernel's, so one process can be the
# kernels and esp_peer.py's clients at once:
#   ping NETNS ADDRESS NAME  the kernel pings ADDRESS 3 times (a raw ICMP socket:
#                            the kernel resolves our MAC first); all answered?
#   down PLAN [unresolved]   the core kernel sends UDP to every client (IPv4 and
#                            IPv6); the client namespace's eth0 must get ESP
#                            that esp_peer.py opens to the exact datagram
#                            (unresolved: must get nothing but ARP)
#   up PLAN FIRST_SEQ TAG    every client sends ESP (esp_peer.py); the core
#                            kernel's UDP sockets on port 9 must receive it
cat >"$WORK/kernels.py" <<'EOF'
import os
import select
import socket
import sys
import time

sys.path.insert(0, sys.argv[1])
import esp_peer as ep  # noqa: E402
from scapy.layers.inet import ICMP, IP, UDP  # noqa: E402
from scapy.layers.inet6 import ICMPv6EchoRequest, IPv6  # noqa: E402
from scapy.layers.l2 import Ether  # noqa: E402
from scapy.packet import raw  # noqa: E402

res = ep.Results()


def kernel_socket(ns, family, kind, proto=0):
    with ep.netns(ns):
        return socket.socket(family, kind, proto)


def wait_readable(socks, deadline):
    return select.select(socks, [], [], max(0.0, deadline - time.monotonic()))[0]


def ping(ns, address, name, count=3):
    v6 = ":" in address
    s = kernel_socket(ns, socket.AF_INET6 if v6 else socket.AF_INET, socket.SOCK_RAW,
                      socket.IPPROTO_ICMPV6 if v6 else socket.IPPROTO_ICMP)
    ident, answered = os.getpid() & 0xFFFF, 0
    for seq in range(1, count + 1):
        data = b"concentrator-dp neighbours %d" % seq
        # The kernel fills in the ICMPv6 checksum of a raw ICMPv6 socket (RFC 3542 3.1).
        request = ICMPv6EchoRequest(id=ident, seq=seq, data=data, cksum=0) if v6 else ICMP(id=ident, seq=seq) / data
        s.sendto(raw(request), (address, 0))
        deadline = time.monotonic() + 1
        while wait_readable([s], deadline):
            reply = s.recv(2048)
            if not v6:
                reply = reply[(reply[0] & 0x0F) * 4:]  # an IPv4 raw socket gets the IP header too
            if reply[0] == (129 if v6 else 0) and reply[4:8] == raw(request)[4:8] and reply[8:] == data:
                answered += 1
                break
    res.check(name, answered == count, "%d of %d echo requests answered" % (answered, count))


def family(v6):
    return "ipv6" if v6 else "ipv4"


def down(lab, pairs, client, unresolved=False):
    sockets = {v6: kernel_socket(lab["ns_co"], socket.AF_INET6 if v6 else socket.AF_INET, socket.SOCK_DGRAM)
               for v6 in (False, True)}
    want, got, stray, seqs = {}, {}, [], {p.name: [] for p in pairs}
    client.drain()
    for n, pair in enumerate(pairs):
        for v6 in (False, True):
            data = ("from the core kernel to %s over %s" % (pair.name, family(v6))).encode()
            dst = pair.client_ipv6(7) if v6 else pair.client_ipv4
            sockets[v6].sendto(data, (dst, 5000 + n))
            want[(pair.name, v6)] = (dst, 5000 + n, data)
    if unresolved:
        left = [Ether(f).summary() for f in client.receive(1.5, src_mac=lab["dpacc_mac"])
                if f[12:14] != b"\x08\x06"]  # the data plane's ARP requests may come, nothing else
        res.check("unresolved/nothing-leaves-the-access-port", not left, "; ".join(left[:3]),
                  "%d datagrams from the core kernel, the access gateway unknown" % len(want))
        return
    by_spi = {p.outbound.spi: p for p in pairs}
    deadline = time.monotonic() + 3
    while len(got) < len(want) and time.monotonic() < deadline:
        for frame in client.receive(0.2, src_mac=lab["dpacc_mac"]):
            if frame[12:14] != b"\x08\x00":
                continue  # the data plane's ARP requests
            d, why = ep.open_downstream(lab, frame, by_spi)  # checks the Ethernet destination too
            if d is None or "fatal" in d:
                stray.append(why or d["fatal"])
                continue
            v6 = d["ppp_protocol"] == ep.PPP_IPV6
            inner = (IPv6 if v6 else IP)(d["inner"])
            dst, dport, data = want.get((d["pair"].name, v6), (None, None, None))
            src = lab["core_host6"] if v6 else lab["core_host"]
            errs = list(d["errs"])
            if (inner.src, inner.dst) != (src, dst) or UDP not in inner or inner[UDP].dport != dport:
                errs.append("inner %s" % inner.summary())
            elif bytes(inner[UDP].payload) != data:
                errs.append("inner UDP data %r" % bytes(inner[UDP].payload)[:40])
            got[(d["pair"].name, v6)] = errs
            seqs[d["pair"].name].append(d["seq"])
    for pair in pairs:
        for v6 in (False, True):
            errs = got.get((pair.name, v6), ["nothing arrived on the client's eth0%s" %
                                             ("; other frames: %s" % "; ".join(stray[:3]) if stray else "")])
            res.check("down/%s/%s" % (pair.name, family(v6)), not errs, "; ".join(errs),
                      "the core kernel's UDP arrived as %s to %s (learned by ARP), opened to the exact datagram"
                      % ("ESP in UDP 4500" if pair.udp_encap else "ESP", lab["cl_mac"]))
        # The datagrams dropped while the access gateway was unknown spent no sequence number.
        res.check("down/%s/sequence-numbers" % pair.name, sorted(seqs[pair.name]) == [1, 2],
                  "ESP sequence numbers %s, want 1 and 2" % sorted(seqs[pair.name]), "1 and 2")


def up(lab, pairs, client, first_seq, tag):
    sockets = []
    for family_, any_address in ((socket.AF_INET, "0.0.0.0"), (socket.AF_INET6, "::")):
        s = kernel_socket(lab["ns_co"], family_, socket.SOCK_DGRAM)
        if family_ == socket.AF_INET6:
            s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        s.bind((any_address, 9))
        sockets.append(s)
    want, got = {}, set()
    for n, pair in enumerate(pairs):
        for v6 in (False, True):
            seq = first_seq + 2 * n + v6
            user = ep.user_up(lab, pair, seq, size=200, v6=v6, tag=tag)
            client.send(ep.scapy_encrypt(lab, pair, seq, user=user)[0], 0.001)
            want[(user.src, ep.payload_for(pair, tag, seq, 200))] = (pair, v6)
    deadline = time.monotonic() + 3
    while len(got) < len(want) and time.monotonic() < deadline:
        for s in wait_readable(sockets, deadline):
            data, address = s.recvfrom(2048)
            got.add((address[0], data))
    for (src, data), (pair, v6) in want.items():
        res.check("%s/%s/%s" % (tag, pair.name, family(v6)), (src, data) in got,
                  "the core kernel's UDP socket got nothing from %s" % src,
                  "the core kernel's socket received it from %s" % src)


def main(mode, *args):
    if mode == "ping":
        return ping(*args)
    plan = ep.load_plan(args[0])
    lab, pairs = plan["lab"], plan["pair_objs"]
    client = ep.Port(lab["ns_cl"], lab["if_cl"])
    if mode == "down":
        return down(lab, pairs, client, args[1:] == ("unresolved",))
    return up(lab, pairs, client, int(args[1]), args[2])


main(*sys.argv[2:])
print("%d passed, %d failed" % (res.passed, res.failed))
sys.exit(1 if res.failed else 0)
EOF
# shellcheck disable=SC2317  # called through run_checks
kernels() { "$PY" "$WORK/kernels.py" "$HERE" "$@"; }
# ping_check NAME NETNS ADDRESS: the kernel's pings to ADDRESS are all answered.
ping_check() { run_checks "$1" kernels ping "$2" "$3" "$1"; }

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
# wait_counters OUT COUNTER=MIN...: snapshots into OUT, for up to 5 s, until every COUNTER >= MIN.
wait_counters() {
    local out=$1 kv ok
    shift
    for _ in $(seq 20); do
        ok=yes
        snapshot "$out" || ok=''
        for kv; do [ -n "$ok" ] && [ "$(counter "$out" "${kv%=*}")" -ge "${kv#*=}" ] || ok=''; done
        [ -n "$ok" ] && return 0
        sleep 0.25
    done
    return 1
}
# expect_deltas NAME BEFORE AFTER COUNTER=N...: each COUNTER moved by exactly N between two snapshots.
expect_deltas() {
    local name=$1 before=$2 after=$3 kv k d bad='' have=''
    shift 3
    for kv; do
        k=${kv%=*}
        d=$(($(counter "$after" "$k") - $(counter "$before" "$k")))
        have+="$k+$d "
        [ "$d" = "${kv#*=}" ] || bad=yes
    done
    [ -z "$bad" ] && pass "$name: $have" || fail "$name: want $*, have $have"
}
# neighbour_check NAME NETNS ADDRESS MAC: the kernel's neighbour table maps ADDRESS to MAC.
neighbour_check() {
    local entry
    entry=$(ip -n "$2" neigh show "$3" 2>&1)
    echo "$entry" | grep -qi "lladdr $4 " && pass "$1: $entry" || fail "$1: want lladdr $4, have '$entry'"
}

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

# --- resolution: the core kernel answers at once, the client kernel has no address yet -------------
# Worker 0 asks once a second: an ARP request per port and a Neighbor Solicitation.
wait_counters "$WORK/core-resolved.txt" arp_requests_sent=2 nd_solicitations_sent=1 neighbor_updates=2 &&
    pass "resolve/core-gateways-learned: $(counters "$WORK/core-resolved.txt" arp_requests_sent \
        nd_solicitations_sent neighbor_updates)after ${SECONDS} s" ||
    fail "resolve/core-gateways-learned: want arp_requests_sent>=2 nd_solicitations_sent>=1 neighbor_updates>=2," \
        "have $(counters "$WORK/core-resolved.txt" arp_requests_sent nd_solicitations_sent neighbor_updates)"
run_checks "unresolved" kernels down "$WORK/plan.json" unresolved
snapshot "$WORK/unresolved.txt" || fail "unresolved: no stats file after SIGUSR1"
# Four datagrams (two clients, IPv4 and IPv6) dropped for want of the access gateway's MAC.
expect_deltas "counters/unresolved-drops" "$WORK/core-resolved.txt" "$WORK/unresolved.txt" \
    tx_no_neighbor_drops=4 tx_esp_packets=0 neighbor_updates=0
[ "$(counter "$WORK/unresolved.txt" arp_requests_sent)" -gt "$(counter "$WORK/core-resolved.txt" arp_requests_sent)" ] &&
    pass "resolve/unanswered-gateway-asked-again" ||
    fail "resolve/unanswered-gateway-asked-again: arp_requests_sent stayed $(counter "$WORK/unresolved.txt" arp_requests_sent)"

ip -n "$CL" addr add "$ACCESS_GATEWAY/24" dev "$LAB_IF_CL" || fail "preflight: the client kernel's address"
wait_counters "$WORK/resolved.txt" neighbor_updates=3 &&
    pass "resolve/access-gateway-learned-once-it-answers: $(counters "$WORK/resolved.txt" arp_requests_sent \
        neighbor_updates)" ||
    fail "resolve/access-gateway-learned-once-it-answers: $(counters "$WORK/resolved.txt" arp_requests_sent \
        neighbor_updates)"

# --- the kernels reach our addresses ---------------------------------------------------
# Our requests already told the kernels our MACs: forgotten, they must ask us.
ip -n "$CO" neigh flush dev "$LAB_IF_CO"
ip -n "$CL" neigh flush dev "$LAB_IF_CL"
snapshot "$WORK/before-pings.txt" || fail "local: no stats file after SIGUSR1"
ping_check "local/core-kernel-pings-$LAB_CORE_ADDRESS" "$CO" "$LAB_CORE_ADDRESS"
ping_check "local/core-kernel-pings-$CORE_ADDRESS6" "$CO" "$CORE_ADDRESS6"
ping_check "local/client-kernel-pings-$LAB_ACCESS_ADDRESS" "$CL" "$LAB_ACCESS_ADDRESS"
neighbour_check "local/core-kernel-neighbour-$LAB_CORE_ADDRESS" "$CO" "$LAB_CORE_ADDRESS" "$LAB_DPCORE_MAC"
neighbour_check "local/core-kernel-neighbour-$CORE_ADDRESS6" "$CO" "$CORE_ADDRESS6" "$LAB_DPCORE_MAC"
neighbour_check "local/client-kernel-neighbour-$LAB_ACCESS_ADDRESS" "$CL" "$LAB_ACCESS_ADDRESS" "$LAB_DPACC_MAC"
snapshot "$WORK/after-pings.txt" || fail "local: no stats file after SIGUSR1"
# Two ARP requests and a Neighbor Solicitation, all from the gateways' known MACs.
expect_deltas "counters/local-answers" "$WORK/before-pings.txt" "$WORK/after-pings.txt" arp_replies=2 \
    nd_advertisements=1 icmp_echo_replies=9 neighbor_updates=0 rx_arp_ignored=0

# --- traffic through the learned next hops -------------------------------------------------
run_checks "downstream" kernels down "$WORK/plan.json"
run_checks "upstream" kernels up "$WORK/plan.json" 1 up

# --- the core gateway moves to another MAC: its next ARP request and NS tell us -------------
# Linux forgets its neighbours when its MAC changes, so its pings ask for ours
# again; without them we would keep sending to the old MAC (the ESP below
# would not reach the kernel) until the next refresh, 30 s on.
snapshot "$WORK/before-move.txt" || fail "moved: no stats file after SIGUSR1"
if ip -n "$CO" link set "$LAB_IF_CO" address "$CORE_MOVED_MAC"; then
    ping_check "moved/core-kernel-pings-$LAB_CORE_ADDRESS" "$CO" "$LAB_CORE_ADDRESS"
    ping_check "moved/core-kernel-pings-$CORE_ADDRESS6" "$CO" "$CORE_ADDRESS6"
    run_checks "upstream after the move" kernels up "$WORK/plan.json" 100 up-moved
else
    fail "moved: could not give the core kernel's eth0 $CORE_MOVED_MAC"
fi

# --- counters ------------------------------------------------------------------------------
if snapshot "$WORK/end.txt"; then
    # The ARP request and the Neighbor Solicitation from the new MAC, each answered, each learned from.
    expect_deltas "counters/moved-gateway-relearned" "$WORK/before-move.txt" "$WORK/end.txt" neighbor_updates=2 \
        arp_replies=1 nd_advertisements=1 icmp_echo_replies=6
    expect_deltas "counters/no-neighbor-drops-once-resolved" "$WORK/resolved.txt" "$WORK/end.txt" \
        tx_no_neighbor_drops=0
else
    fail "counters: no stats file after SIGUSR1"
fi

stop_pid "$DP_PID"  # SIGTERM; SIGKILL after 5 s
wait "$DP_PID"
rc=$?
DP_PID=
[ "$rc" = 0 ] && pass "dp/exit-0-after-sigterm" || fail "dp/exit-0-after-sigterm: exit $rc; $(tail -3 "$WORK/dp.log")"
echo "  run time ${SECONDS} s"
if [ "$failed" -gt 0 ]; then
    echo "  --- last lines of the data plane's log ---"
    tail -n 20 "$WORK/dp.log" | sed 's/^/  | /'
fi
finish

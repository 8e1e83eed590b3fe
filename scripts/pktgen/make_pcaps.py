#!/usr/bin/python3
"""Traffic for benchmarking concentrator-dp with pktgen-dpdk: pcaps made from a concentrator.conf.

  upstream.pcap    what the clients send to the access port: Ethernet, IPv4, ESP (plain or in
                   UDP 4500, as each inbound SA says), really encrypted with the SA's keys, with
                   increasing sequence numbers per SA; inside, UDP 1701, an L2TP data message with
                   the session's ids, PPP, and the client's own IPv4 packet (UDP) to a core host.
  downstream.pcap  what the core network sends to the core port: plain IPv4 UDP packets from the
                   core host to each session's client address.
  pcaps.json       what was made (frame counts, MACs, addresses), for people and for --verify.
  pktgen-params.lua  the same for scripts/pktgen/concentrator.lua.

Frames are interleaved across sessions (packet 1 of every session, then packet 2, ...), so every
burst meets many SAs. Each pass through upstream.pcap uses every SA's sequence numbers once:
replaying it again with anti-replay on ends in rx_esp_replay_drops (see README.md here).

Modes:
  --write-config N   write a matching concentrator.conf (to --config) for N sessions, each a static SA
                     pair with its own SPIs and keys and a static L2TP session with its own ids and
                     client address; with --out-dir the pcaps for it are made too.
  (default)          read --config and write the pcaps into --out-dir.
  --verify           after a dry run of concentrator-dp on net_pcap ports (no NIC, no pktgen), check
                     what it wrote: the core port's pcap holds exactly the inner packets of
                     upstream.pcap (TTL-1), the access port's pcap ESP that decrypts with the outbound
                     SAs to L2TP/PPP carrying exactly downstream.pcap's packets (TTL-1), and the
                     stats JSON no drops. Prints PASS/FAIL lines and "N passed, N failed".

Run with Debian's /usr/bin/python3 (python3-scapy). The ESP, L2TP and PPP come from
tests/system/esp_peer.py, the system tests' independent client (scapy's SecurityAssociation).
"""

import argparse
import ipaddress
import json
import multiprocessing
import os
import random
import re
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "tests", "system"))
import esp_peer as peer  # noqa: E402
from scapy.layers.inet import IP  # noqa: E402
from scapy.layers.ipsec import ESP  # noqa: E402
from scapy.layers.l2 import Ether  # noqa: E402
from scapy.packet import Raw, raw  # noqa: E402
from scapy.utils import RawPcapReader, RawPcapWriter  # noqa: E402

# The data plane benchmark's IMIX (tests/bench/dataplane_bench.cc): inner IP packet sizes.
IMIX = [64] * 7 + [576] * 4 + [1400]


# --------------------------------------------------------------------------
# A small reader for libconfig files: what concentrator-dp reads, enough of the
# syntax for any file it accepts (groups, lists, arrays, @include, comments).

class ConfigError(Exception):
    pass


TOKEN = re.compile(r"""
    (?P<space>\s+)
  | (?P<comment>\#[^\n]*|//[^\n]*|/\*.*?\*/)
  | (?P<include>@include\b)
  | (?P<string>"(?:[^"\\]|\\.)*")
  | (?P<number>[-+]?(?:0[xX][0-9A-Fa-f]+L{0,2}
                      |(?:\d+\.\d*|\.\d+)(?:[eE][-+]?\d+)?|\d+[eE][-+]?\d+
                      |\d+L{0,2}))
  | (?P<name>[A-Za-z*][-A-Za-z0-9_*]*)
  | (?P<punct>[=:;,{}()\[\]])
""", re.X | re.S)
ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "f": "\f", "\\": "\\", '"': '"'}


def tokens(path, main_dir=None):
    """(kind, value, "file:line") of a libconfig file, @include "x" spliced in (x relative to the main file)."""
    main_dir = main_dir or os.path.dirname(os.path.abspath(path))
    try:
        with open(path) as f:
            text = f.read()
    except OSError as e:
        raise ConfigError("%s: cannot read: %s" % (path, e.strerror))
    out, at, line = [], 0, 1
    while at < len(text):
        m = TOKEN.match(text, at)
        if not m:
            raise ConfigError("%s:%d: syntax error near %r" % (path, line, text[at:at + 20]))
        kind, value = m.lastgroup, m.group()
        where = "%s:%d" % (path, line)
        line += value.count("\n")
        at = m.end()
        if kind in ("space", "comment"):
            continue
        if kind == "include":
            m = re.compile(r'\s*"([^"]*)"').match(text, at)
            if not m:
                raise ConfigError("%s: @include without a file name" % where)
            at = m.end()
            out += tokens(os.path.join(main_dir, m.group(1)), main_dir)
            continue
        if kind == "string":
            value = re.sub(r'\\(x[0-9A-Fa-f]{2}|.)', lambda e: chr(int(e.group(1)[1:], 16)) if
                           e.group(1)[0] == "x" else ESCAPES.get(e.group(1), e.group(1)), value[1:-1])
        elif kind == "number":
            v = value.rstrip("L")
            value = int(v, 16) if v.lower().lstrip("+-").startswith("0x") else \
                float(v) if re.search(r"[.eE]", v) and "x" not in v.lower() else int(v)
        out.append((kind, value, where))
    return out


def parse_config(path):
    """The file as nested dicts (groups) and lists (lists and arrays)."""
    toks = tokens(path) + [("end", None, "%s:end" % path)]
    at = 0

    def expect(kind, value=None):
        nonlocal at
        k, v, where = toks[at]
        if k != kind or (value is not None and v not in value):
            raise ConfigError("%s: syntax error: %r where %s was expected" % (where, v, value or kind))
        at += 1
        return v

    def settings(closing):
        group = {}
        while toks[at][1] != closing or toks[at][0] not in ("punct", "end"):
            name = expect("name")
            expect("punct", "=:")
            group[name] = value()
            if toks[at][0] == "punct" and toks[at][1] in ";,":
                expect("punct")
        return group

    def value():
        nonlocal at
        kind, v, where = toks[at]
        at += 1
        if kind == "string":
            while toks[at][0] == "string":  # "a" "b" is "ab"
                v += toks[at][1]
                at += 1
            return v
        if kind == "number":
            return v
        if kind == "name" and v.lower() in ("true", "false"):
            return v.lower() == "true"
        if kind == "punct" and v in "{([":
            if v == "{":
                group = settings("}")
                expect("punct", "}")
                return group
            closing, items = {"(": ")", "[": "]"}[v], []
            while toks[at][:2] != ("punct", closing) and toks[at][0] != "end":
                items.append(value())
                if toks[at][:2] == ("punct", ","):
                    at += 1
            expect("punct", closing)
            return items
        raise ConfigError("%s: syntax error: unexpected %r" % (where, v))

    top = settings(None)
    expect("end")
    return top


# --------------------------------------------------------------------------
# What the pcaps need from a concentrator.conf: the ports, and every static
# session with its two SAs, as the system tests' Pair (client) objects.

def address_and_prefix(text):
    iface = ipaddress.IPv4Interface(text)
    return str(iface.ip), iface.network.prefixlen


def sa_keys(sa):
    """esp_peer.SaKeys for one ipsec.static_sas entry."""
    spi = sa["spi"]
    spi = int(spi, 0) if isinstance(spi, str) else spi
    integrity = sa.get("integrity", "none")

    def key(name):
        text = sa.get(name, "")
        return bytes.fromhex(text[2:] if text.lower().startswith("0x") else text)
    return peer.SaKeys(spi, sa["cipher"], integrity, key("cipher_key"), key("integrity_key"))


class Concentrator:
    """The parts of a concentrator.conf the pcaps depend on."""

    def __init__(self, path):
        cfg = parse_config(path)
        try:
            dp = cfg["dataplane"]
            self.access_address, self.access_prefix = address_and_prefix(dp["access"]["address"])
            self.core_address, self.core_prefix = address_and_prefix(dp["core"]["address"])
            self.access_mtu = dp["access"].get("mtu", 1500)
            self.access_gateway_mac = dp["access"]["gateway_mac"]
            self.core_gateway_mac = dp["core"]["gateway_mac"]
        except KeyError as e:
            raise ConfigError("%s: dataplane.%s missing (concentrator-dp -c %s --check says more)" % (path, e, path))
        ipsec = cfg.get("ipsec", {})
        self.replay_window = ipsec.get("replay_window", 1024)
        sas = {sa["name"]: sa for sa in ipsec.get("static_sas", [])}
        self.pairs = []
        for s in cfg.get("l2tp", {}).get("static_sessions", []):
            self.pairs.append(self.pair(path, s, sas))
        if not self.pairs:
            raise ConfigError("%s: no l2tp.static_sessions: nothing to send traffic through" % path)

    def pair(self, path, s, sas):
        try:
            sa_in, sa_out = sas[s["sa_in"]], sas[s["sa_out"]]
        except KeyError as e:
            raise ConfigError("%s: session %s: no static SA named %s" % (path, s.get("name"), e))
        if (sa_in.get("udp_encap", False), sa_in.get("peer_port", 4500)) != \
                (sa_out.get("udp_encap", False), sa_out.get("peer_port", 4500)):
            raise ConfigError("%s: session %s: sa_in and sa_out differ in udp_encap or peer_port; a client "
                              "uses one encapsulation both ways" % (path, s["name"]))
        inbound, outbound = sa_keys(sa_in), sa_keys(sa_out)
        session = {k: s[k] for k in ("tunnel_id", "session_id", "peer_tunnel_id", "peer_session_id",
                                     "client_ipv4", "client_ipv6_prefix", "mtu", "sequencing") if k in s}
        p = peer.Pair(dict(
            name=s["name"], cipher=inbound.cipher, integrity=inbound.integrity,
            udp_encap=sa_in.get("udp_encap", False), peer=sa_in["peer"], peer_port=sa_in.get("peer_port", 4500),
            local=sa_in.get("local", self.access_address), local_port=sa_in.get("local_port", 4500),
            session=session, **{"in": inbound.to_json(), "out": outbound.to_json()}), self.access_mtu)
        p.outbound = outbound  # its own transform, should it differ from the inbound SA's
        p.sa_in, p.sa_out = s["sa_in"], s["sa_out"]
        p.has_ipv4 = "client_ipv4" in s  # Pair makes one up otherwise; such a session gets IPv6
        first = sa_out.get("first_sequence", 1)
        p.first_out_seq = int(first, 0) if isinstance(first, str) else first
        return p


def lab_for(conc, args):
    """esp_peer's "lab": who sends to whom. The testers' MACs are the config's gateway MACs."""
    return dict(cl_mac=conc.access_gateway_mac, dpacc_mac=args.access_mac, access_address=conc.access_address,
                co_mac=conc.core_gateway_mac, dpcore_mac=args.core_mac, core_host=args.core_host,
                core_host6=args.core_host6)


def default_core_host(conc):
    """The first host of the core subnet that is not ours (a /31 or /32 has none: the RFC 2544 range)."""
    net = ipaddress.IPv4Network("%s/%d" % (conc.core_address, conc.core_prefix), strict=False)
    if net.prefixlen >= 31:
        return "198.18.0.1"
    hosts = (str(h) for h in net.hosts() if str(h) != conc.core_address)
    return next(hosts)


# --------------------------------------------------------------------------
# Making the frames (one process per CPU: scapy takes about a millisecond a frame).

_WORK = {}  # pairs and lab, inherited by the worker processes


def inner_packet(pair, seq, size, direction):
    """The client's (up) or core host's (down) UDP packet of exactly `size` bytes, for sequence `seq`."""
    lab, v6 = _WORK["lab"], not pair.has_ipv4
    header = (40 if v6 else 20) + 8
    make = peer.user_up if direction == "up" else peer.user_down
    p = make(lab, pair, seq, size=size - header, v6=v6)
    p[Raw].load = p[Raw].load[:size - header]  # the payload names session and seq; long names are cut
    return p


def upstream_frame(task):
    i, seq, size = task
    pair = _WORK["pairs"][i]
    lab = dict(_WORK["lab"], access_address=pair.local)
    return raw(peer.scapy_encrypt(lab, pair, seq, user=inner_packet(pair, seq, size, "up"))[0])


def downstream_frame(task):
    i, seq, size = task
    return raw(peer.core_frame(_WORK["lab"], inner_packet(_WORK["pairs"][i], seq, size, "down")))


def inner_size(args, pair, n, i):
    """Packet n of session i: --inner-size, or the IMIX, at most the session's effective MTU."""
    want = IMIX[(n + i) % len(IMIX)] if args.inner_size == "imix" else int(args.inner_size)
    return max(48 if not pair.has_ipv4 else 28, min(want, pair.effective_mtu))


def write_pcap(path, make, tasks, jobs):
    writer = RawPcapWriter(path, linktype=1)  # DLT_EN10MB
    count = octets = 0
    with multiprocessing.get_context("fork").Pool(jobs) as pool:
        for frame in pool.imap(make, tasks, chunksize=64):
            writer.write(frame)
            count += 1
            octets += len(frame)
    writer.close()
    return count, octets


def make_pcaps(args, conc):
    pairs = conc.pairs
    lab = lab_for(conc, args)
    _WORK.update(pairs=pairs, lab=lab)
    os.makedirs(args.out_dir, exist_ok=True)
    up_tasks, down_tasks = [], []
    next_seq = {}  # per inbound SA: sessions sharing an SA share its sequence numbers
    for n in range(args.packets_per_session):
        for i, pair in enumerate(pairs):
            size = inner_size(args, pair, n, i)
            seq = next_seq.get(pair.sa_in, 1)
            next_seq[pair.sa_in] = seq + 1
            up_tasks.append((i, seq, size))
            down_tasks.append((i, n + 1, size))
    clamped = sorted({p.name for p in pairs if int(args.inner_size if args.inner_size != "imix" else max(IMIX))
                      > p.effective_mtu})
    if clamped:
        print("note: %d session(s) get at most their effective MTU (PPP MTU, or what fits the access MTU once "
              "wrapped), e.g. %s: %d" % (len(clamped), clamped[0],
                                        next(p for p in pairs if p.name == clamped[0]).effective_mtu))
    up = write_pcap(os.path.join(args.out_dir, "upstream.pcap"), upstream_frame, up_tasks, args.jobs)
    down = write_pcap(os.path.join(args.out_dir, "downstream.pcap"), downstream_frame, down_tasks, args.jobs)
    v4 = sorted(ipaddress.IPv4Address(p.client_ipv4) for p in pairs if p.has_ipv4)
    manifest = dict(config=os.path.abspath(args.config), sessions=len(pairs),
                    packets_per_session=args.packets_per_session, inner_size=args.inner_size,
                    upstream_frames=up[0], upstream_bytes=up[1], downstream_frames=down[0],
                    downstream_bytes=down[1], access_mac=args.access_mac, core_mac=args.core_mac,
                    access_tester_mac=conc.access_gateway_mac, core_tester_mac=conc.core_gateway_mac,
                    core_host=args.core_host, core_host6=args.core_host6,
                    client_first=str(v4[0]) if v4 else "", client_last=str(v4[-1]) if v4 else "",
                    clients_contiguous=bool(v4) and int(v4[-1]) - int(v4[0]) + 1 == len(v4),
                    replay_window=conc.replay_window)
    with open(os.path.join(args.out_dir, "pcaps.json"), "w") as f:
        json.dump(manifest, f, indent=1)
    with open(os.path.join(args.out_dir, "pktgen-params.lua"), "w") as f:
        f.write("-- written by scripts/pktgen/make_pcaps.py from %s; read by concentrator.lua\nreturn {\n"
                % args.config)
        for k, v in manifest.items():
            f.write("  %s = %s,\n" % (k, json.dumps(v)))
        f.write("}\n")
    print("%s: upstream.pcap %d frames (%d bytes), downstream.pcap %d frames (%d bytes): %d sessions x %d packets,"
          " inner size %s" % (args.out_dir, up[0], up[1], down[0], down[1], len(pairs), args.packets_per_session,
                              args.inner_size))
    return manifest


# --------------------------------------------------------------------------
# --write-config N: a concentrator.conf with N sessions to match.

def transforms(text):
    """cipher/integrity/esp|natt,... or "all" (every combination the system test runs, both encapsulations)."""
    if text == "all":
        return [(c, i, e) for e in (False, True) for c, i in peer.DEFAULT_COMBOS]
    out = []
    for spec in text.split(","):
        f = spec.split("/")
        if len(f) != 3 or f[0] not in peer.CIPHERS or f[1] not in peer.INTEGRITIES or f[2] not in ("esp", "natt"):
            sys.exit("bad transform %r: want cipher/integrity/esp|natt, e.g. aes128gcm16/none/natt or "
                     "aes128/sha1/esp" % spec)
        out.append((f[0], f[1], f[2] == "natt"))
    return out


def write_config(args):
    n = args.write_config
    rng = random.Random(args.seed)
    access_address, _ = address_and_prefix(args.access_address)
    clients = ipaddress.IPv4Network(args.client_net)
    peers = ipaddress.IPv4Network(args.peer_net)
    if n < 1 or n > min(clients.num_addresses - 2, 0x0FFFFFFF):
        sys.exit("--write-config: 1 to %d sessions fit in %s" % (clients.num_addresses - 2, args.client_net))
    combos = transforms(args.transforms)
    pairs = []
    for i in range(n):
        cipher, integrity, natt = combos[i % len(combos)]
        p = dict(name="c%d" % (i + 1), cipher=cipher, integrity=integrity, udp_encap=natt,
                 peer=str(peers.network_address + 1 + i % (peers.num_addresses - 2)),
                 peer_port=10000 + i % 50000 if natt else 4500, local=access_address, local_port=4500,
                 session=dict(tunnel_id=1 + i % 65535, session_id=1 + i // 65535 % 65535,
                              peer_tunnel_id=65535 - i % 65535, peer_session_id=2 + i // 65535 % 65534,
                              client_ipv4=str(clients.network_address + 1 + i),
                              client_ipv6_prefix="2001:db8:%x:%x::/64" % (i >> 16, i & 0xFFFF),
                              mtu=args.session_mtu, sequencing=False),
                 **{"in": peer.random_keys(rng, 0x10000001 + i, cipher, integrity).to_json(),
                    "out": peer.random_keys(rng, 0x20000001 + i, cipher, integrity).to_json()})
        pairs.append(peer.Pair(p))
    ports = [("access", args.access_device, args.access_address, args.access_gateway_mac, args.access_mtu),
             ("core", args.core_device, args.core_address, args.core_gateway_mac, 1500)]
    text = peer.config_text(pairs, args.replay_window, args.eal_args.split(), args.workers, ports,
                            "concentrator-dp config for pktgen runs, written by scripts/pktgen/make_pcaps.py "
                            "--write-config %d" % n, mbufs=args.mbufs, max_sas=max(1024, 2 * n),
                            max_sessions=max(1024, n))
    with open(args.config, "w") as f:
        f.write(text)
    print("%s: %d sessions (%s), %d static SAs; check it with: concentrator-dp -c %s --check"
          % (args.config, n, args.transforms, 2 * n, args.config))


# --------------------------------------------------------------------------
# --verify: what a dry run of concentrator-dp on net_pcap ports wrote.

def read_frames(path):
    if not os.path.exists(path):
        raise ConfigError("%s: no such file (did concentrator-dp run with it as a tx_pcap?)" % path)
    return [bytes(data) for data, _ in RawPcapReader(path)]


def open_upstream(pair, frame):
    """The inner IP packet of one upstream.pcap frame, opened with scapy and the config's inbound keys."""
    e = Ether(frame)
    esp, _ = peer.outer_esp_bytes(e[IP])
    dec = pair.inbound.scapy_sa().decrypt(IP(src=e[IP].src, dst=e[IP].dst, proto=50) / ESP(esp))
    payload = raw(dec[IP].payload)
    if struct.unpack("!H", payload[2:4])[0] != peer.L2TP_PORT:
        raise peer.L2tpParseError("not to UDP 1701")
    l2tp = peer.parse_l2tp(payload[8:])
    return peer.parse_ppp(l2tp["payload"])[1]


def report(res, name, out, stray, total, what):
    """One check for a whole direction: every expected packet arrived exactly once and exactly right."""
    by = peer.items_by_pair(out)
    ok = sum(v[0] for v in by.values())
    problems = [p for _, (_, probs) in sorted(by.items()) for p in probs]
    res.check(name, ok == total and not problems and not stray,
              "%d/%d exact; %s" % (ok, total, "; ".join(p[:160] for p in (problems + stray)[:4])),
              "%d/%d packets exact, from %d sessions, nothing else" % (ok, total, len(by)))


def verify(args, conc):
    res = peer.Results()
    with open(os.path.join(args.out_dir, "pcaps.json")) as f:
        manifest = json.load(f)
    for k in ("access_mac", "core_mac", "core_host", "core_host6"):
        setattr(args, k, getattr(args, k) or manifest[k])
    lab = lab_for(conc, args)
    pairs = conc.pairs
    if len({p.sa_in for p in pairs}) != len(pairs) or len({p.sa_out for p in pairs}) != len(pairs):
        sys.exit("--verify needs one session per SA pair (sessions share SAs in %s)" % args.config)
    by_in = {p.inbound.spi: p for p in pairs}

    # Upstream: decrypt what was sent; the core port must have sent exactly those packets, TTL-1.
    expected, unreadable = {}, []
    sent_up = read_frames(os.path.join(args.out_dir, "upstream.pcap"))
    per_sa, natt = {}, 0  # packets per (SA, direction); upstream frames in UDP 4500
    for n, frame in enumerate(sent_up):
        esp, udp = peer.outer_esp_bytes(Ether(frame)[IP])
        natt += udp is not None
        pair = by_in.get(struct.unpack("!I", esp[:4])[0]) if esp else None
        try:
            inner = open_upstream(pair, frame)
        except Exception as e:
            unreadable.append("frame %d: %s" % (n + 1, "%s %s" % (type(e).__name__, e) if pair else
                                                "no session has its inbound SPI"))
            continue
        want = peer.routed(inner)
        if peer.flow_key(want) in expected:
            sys.exit("--verify: two upstream packets of one flow (more than 10000 packets per session?)")
        expected[peer.flow_key(want)] = (pair.name, "upstream frame %d" % (n + 1), want)
        per_sa[(pair.sa_in, "in")] = per_sa.get((pair.sa_in, "in"), 0) + 1
    res.check("upstream.pcap/opens", not unreadable and expected, "; ".join(unreadable[:3]) or "empty",
              "%d frames decrypt with the config's inbound keys to L2TP/PPP/IP" % len(sent_up))
    out, stray = peer.check_core_frames(lab, read_frames(args.core_out), expected)
    report(res, "upstream/core-port-sent", out, stray, len(expected),
           "decrypted, TTL-1, from the core port's MAC to the core gateway")

    # Downstream: each plain packet must come back as ESP on its session's outbound SA.
    sent_down = []
    if args.access_out:
        by_addr = {p.client_ipv4: p for p in pairs if p.has_ipv4}
        expected = {}
        sent_down = read_frames(os.path.join(args.out_dir, "downstream.pcap"))
        for n, frame in enumerate(sent_down):
            ip = peer.parse_ip(frame[14:])
            pair = by_addr.get(ip.dst) or next(
                (p for p in pairs if ipaddress.ip_address(ip.dst) in ipaddress.ip_network(p.client_ipv6_prefix)),
                None)
            if pair is None:
                res.check("downstream.pcap/frame-%d" % (n + 1), False, "to %s: no session has it" % ip.dst)
                continue
            want = peer.routed(raw(ip))
            expected[peer.flow_key(want)] = (pair.name, "downstream frame %d" % (n + 1), want)
            per_sa[(pair.sa_out, "out")] = per_sa.get((pair.sa_out, "out"), 0) + 1
        opened, stray, _ = peer.open_client_frames(lab, pairs, read_frames(args.access_out),
                                                   {p.name: p.first_out_seq for p in pairs},
                                                   {p.name: 0 for p in pairs})
        out, stray2 = peer.match_client_packets(opened, expected)
        report(res, "downstream/access-port-sent", out, stray + stray2, len(expected),
               "ESP on the session's SA, consecutive sequence numbers, L2TP/PPP with its ids, TTL-1")

    if args.stats:
        verify_counters(res, args, len(sent_up), natt, len(sent_down), per_sa)
    return res


def verify_counters(res, args, up, up_natt, down, per_sa):
    with open(args.stats) as f:
        stats = json.load(f)
    c, ports = stats["counters"], stats["ports"]
    allowed = {"rx_esp_replay_drops"} if args.looped else set()
    moved = ["%s %d" % (k, v) for k, v in sorted(c.items())
             if v and k not in allowed and (k.endswith("_drops") or k.endswith("_punts"))]
    moved += ["%s.%s %d" % (p, k, ports[p][k]) for p in ("access", "core")
              for k in ("imissed", "ierrors", "oerrors", "rx_nombuf") if ports[p].get(k)]
    res.check("counters/no-drops", not moved, "; ".join(moved), "no drop or punt counter moved" +
              (" but rx_esp_replay_drops" if args.looped else ""))
    want = dict(rx_esp_decrypted=up, tx_core_packets=up, tx_esp_packets=down, tx_access_packets=down,
                rx_core_packets=down)
    if not args.looped:
        want.update(rx_access_packets=up, rx_esp_packets=up, rx_esp_udp_packets=up_natt)
    wrong = ["%s %s, want %d" % (k, c.get(k), v) for k, v in want.items() if c.get(k) != v]
    res.check("counters/packets", not wrong, "; ".join(wrong),
              ", ".join("%s %d" % kv for kv in want.items()))
    if args.looped:
        replays, esp = c.get("rx_esp_replay_drops", 0), c.get("rx_esp_packets", 0)
        res.check("counters/replays-dropped", replays >= up and esp == up + replays,
                  "rx_esp_replay_drops %d (want at least %d: a second pass), rx_esp_packets %d = %d decrypted + "
                  "%d replays?" % (replays, up, esp, c.get("rx_esp_decrypted", 0), replays),
                  "every frame after the first pass: rx_esp_replay_drops %d (%.1f passes), rx_esp_packets %d"
                  % (replays, 1 + replays / max(up, 1), esp))
    else:
        got = {(s["name"], s["direction"]): s["packets"] for s in stats.get("sas", [])}
        wrong = ["%s %s %s, want %d" % (n, d, got.get((n, d)), v) for (n, d), v in sorted(per_sa.items())
                 if got.get((n, d)) != v]
        res.check("counters/per-sa", not wrong, "; ".join(wrong[:4]),
                  "%d SAs each counted exactly their packets" % len(per_sa))


# --------------------------------------------------------------------------

def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", required=True, help="concentrator.conf to read (or to write, with --write-config)")
    ap.add_argument("--out-dir", help="where the pcaps go (and are read from, with --verify)")
    ap.add_argument("--packets-per-session", type=int, default=16,
                    help="frames per session and direction; each SA's sequence numbers run 1..N (default 16)")
    ap.add_argument("--inner-size", default="64", help="the clients' IP packet size in bytes, or 'imix' (7 x 64, "
                    "4 x 576, 1 x 1400); at most each session's effective MTU (default 64)")
    ap.add_argument("--access-mac", help="MAC address of concentrator-dp's access port (the upstream frames' "
                    "destination)")
    ap.add_argument("--core-mac", help="MAC address of concentrator-dp's core port (the downstream frames' "
                    "destination)")
    ap.add_argument("--core-host", help="the core host the clients talk to (default: the core subnet's first "
                    "host other than ours)")
    ap.add_argument("--core-host6", default="2001:db8:ffff::2", help="the same for IPv6-only sessions")
    ap.add_argument("--jobs", type=int, default=os.cpu_count(), help="processes making frames (default: CPUs)")
    g = ap.add_argument_group("--write-config N: a concentrator.conf with N sessions")
    g.add_argument("--write-config", type=int, metavar="N")
    g.add_argument("--transforms", default="aes128gcm16/none/natt",
                   help="cipher/integrity/esp|natt,... given to the sessions in turn, or 'all' (default "
                   "aes128gcm16/none/natt: AES-GCM-128 in UDP 4500, what Windows and Apple clients behind NAT use)")
    g.add_argument("--access-device", default="0000:03:00.0")
    g.add_argument("--core-device", default="0000:03:00.1")
    g.add_argument("--access-address", default="198.51.100.1/24")
    g.add_argument("--core-address", default="10.0.0.1/24")
    g.add_argument("--access-gateway-mac", default="02:00:00:00:00:01", help="the tester's access-side port")
    g.add_argument("--core-gateway-mac", default="02:00:00:00:00:02", help="the tester's core-side port")
    g.add_argument("--access-mtu", type=int, default=1500)
    g.add_argument("--eal-args", default="-l 0-1 --file-prefix concentrator", help="dataplane.eal_args, one string")
    g.add_argument("--workers", default="1", help="dataplane.workers, e.g. '2, 3, 4, 5'")
    g.add_argument("--mbufs", type=int, default=16383)
    g.add_argument("--replay-window", type=int, default=1024, help="0 turns anti-replay off (looping pcaps)")
    g.add_argument("--session-mtu", type=int, default=1400)
    g.add_argument("--client-net", default="100.64.0.0/10", help="client addresses, consecutive from the first")
    g.add_argument("--peer-net", default="198.18.0.0/15", help="the clients' public addresses (RFC 2544 range)")
    g.add_argument("--seed", type=int, help="for the keys (default: random)")
    g = ap.add_argument_group("--verify: check a dry run on net_pcap ports")
    g.add_argument("--verify", action="store_true")
    g.add_argument("--core-out", help="the pcap the core port wrote (its tx_pcap)")
    g.add_argument("--access-out", help="the pcap the access port wrote; without it downstream is not checked")
    g.add_argument("--stats", help="concentrator-dp's --stats-json file, written at exit")
    g.add_argument("--looped", action="store_true", help="upstream.pcap was received in a loop "
                   "(net_pcap infinite_rx=1): forwarded once, every repeat an rx_esp_replay_drop")
    args = ap.parse_args()
    if args.inner_size != "imix" and not (args.inner_size.isdigit() and 28 <= int(args.inner_size) <= 9000):
        ap.error("--inner-size: a size of 28 to 9000 bytes, or imix")
    try:
        if args.write_config is not None:
            write_config(args)
            if not args.out_dir:
                return 0
        if not args.out_dir:
            ap.error("--out-dir is needed")
        conc = Concentrator(args.config)
        if args.verify:
            if not args.core_out:
                ap.error("--verify needs --core-out")
            res = verify(args, conc)
            print("%d passed, %d failed" % (res.passed, res.failed))
            return 1 if res.failed else 0
        if not args.access_mac or not args.core_mac:
            ap.error("--access-mac and --core-mac are needed: the MACs of concentrator-dp's two ports")
        args.core_host = args.core_host or default_core_host(conc)
        make_pcaps(args, conc)
    except ConfigError as e:
        sys.exit("make_pcaps.py: %s" % e)
    return 0


if __name__ == "__main__":
    sys.exit(main())

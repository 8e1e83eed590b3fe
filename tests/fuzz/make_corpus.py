#!/usr/bin/python3
"""Writes the seed corpora for the fuzz targets (run with Debian's python3,
which has scapy). Access-frame seeds are real ESP for the SAs in fuzz_sas.h,
so the fuzzer starts from packets that decrypt."""
import os
import socket
import struct
import sys

from scapy.all import Ether, IP, IPv6, UDP, Raw
from scapy.layers.inet6 import ICMPv6EchoRequest, ICMPv6ND_NS, ICMPv6NDOptSrcLLAddr
from scapy.layers.ipsec import ESP, SecurityAssociation

here = os.path.dirname(os.path.abspath(__file__))
PEER, US = "203.0.113.10", "198.51.100.1"


def key(first, n):
    return bytes((first + i) & 0xFF for i in range(n))


def write(target, name, data):
    d = os.path.join(here, "corpus", target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def l2tp_ppp(inner, proto=0x0021, tunnel=100, session=200):
    """UDP 1701 datagram payload: L2TP data header + PPP (FF 03 + protocol)."""
    return (bytes([0x00, 0x02]) + tunnel.to_bytes(2, "big") + session.to_bytes(2, "big")
            + bytes([0xFF, 0x03]) + proto.to_bytes(2, "big") + inner)


def esp_frames():
    sas = {
        "gcm": SecurityAssociation(ESP, spi=0x1001, crypt_algo="AES-GCM", crypt_key=key(0, 20),
                                   nat_t_header=UDP(sport=4500, dport=4500)),
        "cbc": SecurityAssociation(ESP, spi=0x1002, crypt_algo="AES-CBC", crypt_key=key(0, 16),
                                   auth_algo="HMAC-SHA1-96", auth_key=key(0x40, 20)),
    }
    for name, sa in sas.items():
        client = "100.64.0.1" if name == "gcm" else "100.64.0.2"
        for seq, size in ((1, 0), (2, 33), (3, 200)):
            ip = bytes(IP(src=client, dst="10.0.0.5") / UDP(sport=5000, dport=53) / Raw(b"\x02" * size))
            inner = IP(src=PEER, dst=US) / UDP(sport=1701, dport=1701) / Raw(l2tp_ppp(ip))
            enc = sa.encrypt(inner, seq_num=seq)
            if UDP in enc and enc[UDP].dport == 4500:
                del enc[UDP].len  # scapy 2.5 leaves the NAT-T UDP length at 8
                enc = IP(bytes(enc))
            yield f"{name}-{seq}", bytes(Ether(dst="02:00:00:00:09:09", src="02:00:00:00:01:01") / enc)


# fuzz_control_rings: records of an op byte, a little-endian u16 length and
# a Command from its type on or an InjectHeader and payload (little-endian
# layouts of common/shm/contract.h; the target static_asserts their sizes).
ADD_SA, DELETE_SA, ADD_SESSION, DELETE_SESSION, UPDATE_SESSION, UPDATE_SA_PEER = 1, 2, 3, 4, 5, 6
IKE_DATAGRAM, L2TP_CONTROL, PPP_FRAME = 1, 2, 3


def record(op, body):
    return bytes([op]) + struct.pack("<H", len(body)) + body


def sa_command(name, spi, outbound, peer=0xCB00710B, key_first=0x10):
    spec = struct.pack("<32sIBBBBBBHHHIIII36s64s", name, spi, outbound, 0, 0, 1, 20, 0, 4500, 4500, 0, 0, peer,
                       64, 1, key(key_first, 20), b"")
    return struct.pack("<HHI", ADD_SA, 0, 0) + spec


def session_command(kind, index, sa_in, sa_out, client=0x64400010, tunnel=300, session=400, mtu=1400):
    spec = struct.pack("<32sIIHHHHI16sBBHHH", b"fuzz-session", sa_in, sa_out, tunnel, session, 7, 9, client,
                       bytes([0x20, 0x01, 0x0d, 0xb8, 0x01, 0x00, 0, 0x10]), 64, 0, mtu, 0, 0)
    return struct.pack("<HHI", kind, 0, index) + spec


def by_index(kind, index):
    return struct.pack("<HHI", kind, 0, index)


def peer_move(index, address, port):
    return struct.pack("<HHI", UPDATE_SA_PEER, 0, index) + struct.pack("<IHH", address, port, 0)


def intent(kind, payload, peer=b"\xcb\x00\x71\x0a", peer_port=500, local_port=500, sa_out=0, session=0,
           protocol=0, l2tp_port=1701):
    return struct.pack("<HBB4sHHIIHHHH", 0, kind, 0, peer, socket.htons(peer_port), local_port, sa_out, session,
                       protocol, l2tp_port, len(payload), 0) + payload


def control_rings_seeds():
    # Our own client: its SA pair (list positions 4 and 5 after the 4 static SAs) and session.
    client = (record(0, sa_command(b"fuzz-in", 0x3001, 0)) + record(0, sa_command(b"fuzz-out", 0x4001, 1)) +
              record(8, session_command(ADD_SESSION, 0, 4, 5)))
    lcp_echo = bytes([9, 1, 0, 8, 0, 0, 0, 0])
    yield "client-and-ppp-intent", client + record(9, intent(PPP_FRAME, lcp_echo, session=3, protocol=0xC021))
    yield "update-and-delete", (client + record(8, session_command(UPDATE_SESSION, 0, 4, 5, client=0x64400011)) +
                                record(8, session_command(UPDATE_SESSION, 0, 4, 5, mtu=1280)) +
                                record(8, by_index(DELETE_SA, 0)) + record(8, by_index(DELETE_SESSION, 0)) +
                                record(8, by_index(DELETE_SA, 0)) + record(8, by_index(DELETE_SA, 1)))
    yield "duplicates-and-bad-version", (client + record(0, sa_command(b"fuzz-in", 0x3001, 0)) +
                                         record(8, session_command(ADD_SESSION, 0, 4, 5)) +
                                         record(2, sa_command(b"old", 0x3002, 0)) + record(0, by_index(9, 0)))
    yield "nat-rebinding", (client + record(8, peer_move(0, 0xCB00710B, 6000)) +
                            record(8, peer_move(1, 0xCB00710C, 6001)) + record(8, peer_move(1, 0, 0)) +
                            record(0, peer_move(999, 0xCB00710B, 1)))
    yield "ike-intents", (record(1, intent(IKE_DATAGRAM, b"\x11" * 28)) +
                          record(1, intent(IKE_DATAGRAM, b"\x22" * 28, peer_port=4500, local_port=4500)) +
                          record(3, intent(IKE_DATAGRAM, b"\x33" * 28)))
    control = bytes([0xC8, 0x02, 0x00, 0x0C, 0, 7, 0, 0, 0, 1, 0, 0])
    yield "l2tp-control-intents", b"".join(record(9, intent(L2TP_CONTROL, control, sa_out=i)) for i in range(6))


def main():
    for name, data in control_rings_seeds():
        write("fuzz_control_rings", name, data)
    write("fuzz_cp_input", "request", b"\x00" + b'{"command": "show sessions", "json": true}')
    write("fuzz_cp_input", "request-escapes", b"\x00" + b'{"command": "show \\"x\\" \\u00e9\\ud83d\\ude00", "json": false}')
    write("fuzz_cp_input", "lcp-echo-request", b"\x01" + bytes([9, 7, 0, 12, 1, 2, 3, 4, 0xAA, 0xBB, 0xCC, 0xDD, 0]))
    for name, frame in esp_frames():
        write("fuzz_access_frame", name, b"\x00" + frame)
    eth = Ether(dst="02:00:00:00:09:09", src="02:00:00:00:01:01")
    write("fuzz_access_frame", "ike-500", b"\x00" + bytes(eth / IP(src=PEER, dst=US) / UDP(sport=500, dport=500) / Raw(b"\x11" * 28)))
    write("fuzz_access_frame", "ike-4500", b"\x00" + bytes(eth / IP(src=PEER, dst=US) / UDP(sport=4500, dport=4500) / Raw(b"\x00" * 4 + b"\x11" * 28)))
    write("fuzz_access_frame", "keepalive", b"\x00" + bytes(eth / IP(src=PEER, dst=US) / UDP(sport=4500, dport=4500) / Raw(b"\xff")))
    write("fuzz_access_frame", "core-udp", b"\x01" + bytes(eth / IP(src="10.0.0.5", dst=PEER) / UDP(sport=1701, dport=1701) / Raw(b"x" * 40)))
    with open(os.path.join(here, "..", "..", "conf", "concentrator.conf"), "rb") as f:
        write("fuzz_config", "example.conf", f.read())
    write("fuzz_config", "minimal.conf", b'dataplane: { workers = [1]; access: { device = "a"; address = "192.0.2.1"; }; '
          b'core: { device = "b"; address = "10.0.0.1/24"; }; };\n')
    ip = bytes(IP(src="100.64.0.1", dst="10.0.0.5") / UDP(sport=5000, dport=53) / Raw(b"hi"))
    write("fuzz_l2tp_ppp", "data", l2tp_ppp(ip))
    write("fuzz_l2tp_ppp", "data-all-flags", bytes([0x4B, 0x02, 0x00, 0x14, 0, 100, 0, 200, 0, 5, 0, 6, 0, 3, 0, 0, 0, 0x21]) + ip[:2])
    write("fuzz_l2tp_ppp", "control", bytes([0xC8, 0x02, 0x00, 0x0C, 0, 9, 0, 0, 0, 0, 0, 0]))
    write("fuzz_access_frame", "core-ipv4-to-client", b"\x01" + bytes(eth / IP(src="10.0.0.5", dst="100.64.0.1") / UDP(sport=53, dport=5000) / Raw(b"y" * 40)))
    # Neighbor Discovery and ping6 for the ports' IPv6 addresses (fuzz_sas.h), ARP from a stranger.
    for port, flag, ours in (("access", b"\x00", "2001:db8:ffff::1"), ("core", b"\x01", "2001:db8:fffe::1")):
        sol = "ff02::1:ff00:1"
        write("fuzz_access_frame", port + "-neighbor-solicitation", flag + bytes(
            Ether(dst="33:33:ff:00:00:01", src="02:00:00:00:01:01") / IPv6(src="2001:db8:ffff::5", dst=sol, hlim=255) /
            ICMPv6ND_NS(tgt=ours) / ICMPv6NDOptSrcLLAddr(lladdr="02:00:00:00:01:01")))
        write("fuzz_access_frame", port + "-ping6", flag + bytes(
            Ether(dst="02:00:00:00:09:09", src="02:00:00:00:01:01") / IPv6(src="2001:db8:ffff::5", dst=ours) /
            ICMPv6EchoRequest(id=1, seq=1, data=b"ping")))
    # A core burst: 128 packets of two fragments each (1480 bytes, no DF,
    # session MTU 1400) fill the ESP batch exactly, then a small packet.
    def burst_record(repeat, frame):
        return bytes([repeat - 1]) + len(frame).to_bytes(2, "big") + frame
    big = bytes(eth / IP(src="10.0.0.5", dst="100.64.0.1", flags=0) / UDP(sport=53, dport=5000) / Raw(b"z" * 1452))
    small = bytes(eth / IP(src="10.0.0.5", dst="100.64.0.1") / UDP(sport=53, dport=5000) / Raw(b"s" * 10))
    write("fuzz_access_frame", "core-burst-fragments-fill-batch", b"\x03" + burst_record(128, big) + burst_record(1, small))
    # An access burst: the same GCM packet 40 times (one decrypts, the rest are replays).
    gcm = next(frame for name, frame in esp_frames() if name.startswith("gcm"))
    write("fuzz_access_frame", "access-burst-replays", b"\x02" + burst_record(40, gcm))
    for i, t in enumerate([b"\x00" + b"A" * 30 + b"\x01\x11", b"\x01" + b"B" * 14 + b"\x00\x11", b"\x02" + b"C" * 5 + b"\x01\x02\x03\x03\x11"]):
        write("fuzz_esp_trailer", f"seed{i}", t)
    return 0


if __name__ == "__main__":
    sys.exit(main())

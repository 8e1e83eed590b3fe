#!/usr/bin/python3
"""An independent ESP peer for the system tests and the demo.

It plays the client (internet side) and the core host around concentrator-dp:
scapy's SecurityAssociation encrypts and decrypts (transport mode, optionally
RFC 3948 UDP encapsulation), and a second, hand-written implementation on the
`cryptography` primitives builds the malformed packets scapy refuses to make
(bad padding, misaligned ciphertext, truncations) and cross-checks scapy.

Everything is described by a *plan* (JSON): the lab (namespaces, interfaces,
MACs, addresses) and a list of SA pairs, one per simulated client. The same
plan writes the concentrator config, so keys never have to be copied by hand.

Run with Debian's /usr/bin/python3 (python3-scapy). Subcommands:
  plan         make a plan with fresh random keys and SPIs
  config       write the concentrator-dp config for a plan
  selftest     scapy <-> hand-written ESP, every algorithm, both encaps
  send-esp     client: encrypt and send packets with chosen sequence numbers
  send-plain   core host: send plain packets towards a client
  recv-plain   core host: receive and check what the data plane decrypted
  recv-esp     client: receive, decrypt, verify ICV and payload
  send-bad     client: send one kind of malformed input (see BAD_KINDS)
  suite        the whole system test against a running concentrator-dp
  demo         send traffic both ways and tell what happened, for people

Sockets are AF_PACKET sockets opened inside the lab's network namespaces
(setns), so one process can be the client and the core host at once.
"""

import argparse
import contextlib
import ctypes
import hashlib
import json
import math
import os
import random
import select
import signal
import socket
import struct
import sys
import time
import warnings

warnings.filterwarnings("ignore")  # cryptography warns about 3DES; we test it on purpose

from cryptography.hazmat.primitives import hashes  # noqa: E402
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes  # noqa: E402
from cryptography.hazmat.primitives.ciphers.aead import AESGCM  # noqa: E402
from cryptography.hazmat.primitives.hmac import HMAC  # noqa: E402
from cryptography.exceptions import InvalidTag  # noqa: E402
from scapy.layers.inet import ICMP, IP, TCP, UDP, IPOption_Router_Alert  # noqa: E402
from scapy.layers.ipsec import AUTH_ALGOS, ESP, AuthAlgo, IPSecIntegrityError, SecurityAssociation  # noqa: E402
from scapy.layers.l2 import Ether  # noqa: E402
from scapy.packet import Raw, raw  # noqa: E402

# scapy has no HMAC-SHA256 truncated to 96 bits (the pre-RFC 4868 draft some
# Android and Linux clients still negotiate); its AuthAlgo takes any truncation.
AUTH_ALGOS["SHA2-256-96"] = AuthAlgo("SHA2-256-96", mac=HMAC, digestmod=hashes.SHA256, icv_size=12)

# Our config names (common/proto/esp.h) -> scapy's names and wire sizes.
# key: bytes of key material, GCM salt included (RFC 4106 8.1).
CIPHERS = {
    "aes128gcm16": dict(scapy="AES-GCM", key=20, iv=8, block=4, aead=True, icv=16, alg=algorithms.AES),
    "aes256gcm16": dict(scapy="AES-GCM", key=36, iv=8, block=4, aead=True, icv=16, alg=algorithms.AES),
    "aes128": dict(scapy="AES-CBC", key=16, iv=16, block=16, aead=False, icv=0, alg=algorithms.AES),
    "aes192": dict(scapy="AES-CBC", key=24, iv=16, block=16, aead=False, icv=0, alg=algorithms.AES),
    "aes256": dict(scapy="AES-CBC", key=32, iv=16, block=16, aead=False, icv=0, alg=algorithms.AES),
    "3des": dict(scapy="3DES", key=24, iv=8, block=8, aead=False, icv=0, alg=algorithms.TripleDES),
}
INTEGRITIES = {
    "none": dict(scapy=None, key=0, icv=0, hash=None),
    "sha1": dict(scapy="HMAC-SHA1-96", key=20, icv=12, hash=hashes.SHA1),
    "sha256": dict(scapy="SHA2-256-128", key=32, icv=16, hash=hashes.SHA256),
    "sha256_96": dict(scapy="SHA2-256-96", key=32, icv=12, hash=hashes.SHA256),
    "sha384": dict(scapy="SHA2-384-192", key=48, icv=24, hash=hashes.SHA384),
    "sha512": dict(scapy="SHA2-512-256", key=64, icv=32, hash=hashes.SHA512),
}

# Every combination the system test runs, each as plain ESP and as ESP-in-UDP.
DEFAULT_COMBOS = [
    ("aes128gcm16", "none"), ("aes256gcm16", "none"),
    ("aes128", "sha1"), ("aes128", "sha256"), ("aes128", "sha256_96"), ("aes128", "sha384"), ("aes128", "sha512"),
    ("aes192", "sha1"), ("aes192", "sha256"),
    ("aes256", "sha1"), ("aes256", "sha256"), ("aes256", "sha512"),
    ("3des", "sha1"), ("3des", "sha256"),
]

L2TP_PORT = 1701
NATT_PORT = 4500
IKE_PORT = 500
ETH_P_ALL = 0x0003
PACKET_OUTGOING = 4
CLONE_NEWNET = 0x40000000

# Inner UDP data sizes, picked by sequence number modulo 16: sixteen packets
# give every pad length 0..15 for 16-byte blocks (so every one for 8- and
# 4-byte blocks too), from a 5-byte payload to one that comes near the MTU.
PAYLOAD_SIZES = [1350, 5, 52, 51, 50, 49, 48, 47, 46, 61, 204, 779, 1002, 313, 72, 1207]


# --------------------------------------------------------------------------
# Hand-written ESP (RFC 4303) on the cryptography primitives.

class EspError(Exception):
    pass


class SaKeys:
    """One direction of a pair: what one SA needs on either end."""

    def __init__(self, spi, cipher, integrity, cipher_key, integrity_key):
        self.spi = spi
        self.cipher = cipher
        self.integrity = integrity
        self.cipher_key = cipher_key
        self.integrity_key = integrity_key
        self.ci = CIPHERS[cipher]
        self.ii = INTEGRITIES[integrity]

    def to_json(self):
        return dict(spi=self.spi, cipher_key=self.cipher_key.hex(), integrity_key=self.integrity_key.hex())

    @property
    def align(self):
        # RFC 4303 2.4: payload + trailer fill whole cipher blocks and 32-bit words.
        b = self.ci["block"]
        return b * 4 // math.gcd(b, 4)

    @property
    def icv_size(self):
        return self.ci["icv"] if self.ci["aead"] else self.ii["icv"]

    def _key_and_salt(self):
        if self.ci["aead"]:
            return self.cipher_key[:-4], self.cipher_key[-4:]
        return self.cipher_key, b""

    def scapy_sa(self):
        """scapy's SA for this direction (transport mode, no NAT-T header: we add it)."""
        kw = dict(crypt_algo=self.ci["scapy"], crypt_key=self.cipher_key)
        if self.ii["scapy"]:
            kw.update(auth_algo=self.ii["scapy"], auth_key=self.integrity_key)
        return SecurityAssociation(ESP, spi=self.spi, **kw)

    def default_padding(self, payload_len):
        n = (-(payload_len + 2)) % self.align
        return bytes(range(1, n + 1))  # RFC 4303 2.4: 1, 2, 3, ...

    def icv(self, authenticated):
        mac = HMAC(self.integrity_key, self.ii["hash"]())
        mac.update(authenticated)
        return mac.finalize()[: self.ii["icv"]]

    def seal(self, seq, payload, next_header, padding=None, pad_length=None, iv=None, spi=None):
        """ESP header + IV + ciphertext + ICV with every field under our control."""
        if padding is None:
            padding = self.default_padding(len(payload))
        if pad_length is None:
            pad_length = len(padding)
        plaintext = payload + padding + bytes([pad_length, next_header])
        return self.seal_plaintext(seq, plaintext, iv=iv, spi=spi)

    def seal_plaintext(self, seq, plaintext, iv=None, spi=None):
        header = struct.pack("!II", self.spi if spi is None else spi, seq)
        iv = os.urandom(self.ci["iv"]) if iv is None else iv
        key, salt = self._key_and_salt()
        if self.ci["aead"]:
            # RFC 4106: nonce = salt || IV, AAD = SPI || sequence number.
            return header + iv + AESGCM(key).encrypt(salt + iv, plaintext, header)
        enc = Cipher(self.ci["alg"](key), modes.CBC(iv)).encryptor()
        body = iv + enc.update(plaintext) + enc.finalize()
        return header + body + self.icv(header + body)

    def seal_raw_cbc(self, seq, body):
        """A CBC packet whose IV + ciphertext is `body` as given, with a valid ICV."""
        header = struct.pack("!II", self.spi, seq)
        return header + body + self.icv(header + body)

    def open(self, esp):
        """Verify and decrypt; returns dict(spi, seq, payload, padding, pad_length, next_header)."""
        ivs, icvs = self.ci["iv"], self.icv_size
        if len(esp) < 8 + ivs + icvs + 2:
            raise EspError("truncated: %d bytes" % len(esp))
        header, iv = esp[:8], esp[8:8 + ivs]
        spi, seq = struct.unpack("!II", header)
        key, salt = self._key_and_salt()
        if self.ci["aead"]:
            try:
                plaintext = AESGCM(key).decrypt(salt + iv, esp[8 + ivs:], header)
            except InvalidTag:
                raise EspError("GCM tag mismatch")
        else:
            body, icv = esp[8:len(esp) - icvs], esp[len(esp) - icvs:]
            if self.icv(header + body) != icv:
                raise EspError("ICV mismatch")
            ct = body[ivs:]
            if len(ct) % self.ci["block"]:
                raise EspError("ciphertext not a multiple of the block size")
            dec = Cipher(self.ci["alg"](key), modes.CBC(iv)).decryptor()
            plaintext = dec.update(ct) + dec.finalize()
        pad_length, next_header = plaintext[-2], plaintext[-1]
        if pad_length + 2 > len(plaintext):
            raise EspError("pad length %d longer than the payload" % pad_length)
        end = len(plaintext) - 2 - pad_length
        return dict(spi=spi, seq=seq, payload=plaintext[:end], padding=plaintext[end:-2],
                    pad_length=pad_length, next_header=next_header)


def random_keys(rng, spi, cipher, integrity):
    return SaKeys(spi, cipher, integrity, rng.randbytes(CIPHERS[cipher]["key"]),
                  rng.randbytes(INTEGRITIES[integrity]["key"]))


# --------------------------------------------------------------------------
# The plan: a lab and the SA pairs of its simulated clients.

class Pair:
    """A client: its address, NAT-T port, and the inbound/outbound SA of the data plane."""

    def __init__(self, d):
        self.name = d["name"]
        self.cipher = d["cipher"]
        self.integrity = d["integrity"]
        self.udp_encap = d["udp_encap"]
        self.peer = d["peer"]
        self.peer_port = d["peer_port"]
        self.local = d["local"]
        self.local_port = d["local_port"]
        # inbound: the client encrypts, the data plane decrypts; outbound the other way.
        self.inbound = SaKeys(d["in"]["spi"], self.cipher, self.integrity,
                              bytes.fromhex(d["in"]["cipher_key"]), bytes.fromhex(d["in"]["integrity_key"]))
        self.outbound = SaKeys(d["out"]["spi"], self.cipher, self.integrity,
                               bytes.fromhex(d["out"]["cipher_key"]), bytes.fromhex(d["out"]["integrity_key"]))
        self.next_seq = 1  # the client's next outbound sequence number

    def to_json(self):
        return dict(name=self.name, cipher=self.cipher, integrity=self.integrity, udp_encap=self.udp_encap,
                    peer=self.peer, peer_port=self.peer_port, local=self.local, local_port=self.local_port,
                    **{"in": self.inbound.to_json(), "out": self.outbound.to_json()})

    def take_seq(self, n=1):
        first = self.next_seq
        self.next_seq += n
        return list(range(first, first + n))


def make_plan(args):
    seed = args.seed if args.seed is not None else int.from_bytes(os.urandom(4), "big")
    rng = random.Random(seed)
    lab = dict(ns_cl=args.ns_cl, ns_dp=args.ns_dp, ns_co=args.ns_co, if_cl=args.if_cl, if_co=args.if_co,
               if_dpacc=args.if_dpacc, if_dpcore=args.if_dpcore, cl_mac=args.cl_mac, co_mac=args.co_mac,
               dpacc_mac=args.dpacc_mac, dpcore_mac=args.dpcore_mac, access_address=args.access_address,
               access_prefix=args.access_prefix, core_address=args.core_address, core_prefix=args.core_prefix,
               core_host=args.core_host)
    encaps = {"both": [False, True], "esp": [False], "natt": [True]}[args.encap]
    combos = [(c, i, e) for e in encaps for c, i in DEFAULT_COMBOS]
    if args.combos:  # cipher/integrity[/esp|natt],...
        combos = []
        for spec in args.combos.split(","):
            f = spec.split("/")
            if len(f) == 2:
                combos += [(f[0], f[1], e) for e in encaps]
            elif len(f) == 3 and f[2] in ("esp", "natt"):
                combos.append((f[0], f[1], f[2] == "natt"))
            else:
                sys.exit("bad combination %r: want cipher/integrity[/esp|natt]" % spec)
    spis = set()

    def new_spi():
        while True:
            spi = rng.randrange(0x100, 1 << 32)  # 1..255 are reserved (RFC 4303 2.1)
            if spi not in spis:
                spis.add(spi)
                return spi

    pairs = []
    host = args.first_peer_host
    for cipher, integrity, encap in combos:
        if cipher not in CIPHERS or integrity not in INTEGRITIES:
            sys.exit("unknown combination %s/%s" % (cipher, integrity))
        if CIPHERS[cipher]["aead"] != (integrity == "none"):
            sys.exit("%s needs %s integrity" % (cipher, "no" if CIPHERS[cipher]["aead"] else "an"))
        name = "%s-%s-%s" % (cipher, integrity, "natt" if encap else "esp")
        name = name.replace("-none", "")
        pairs.append(dict(
            name=name, cipher=cipher, integrity=integrity, udp_encap=encap,
            peer="%s.%d" % (args.peer_net, host), peer_port=(40000 + host) if encap else NATT_PORT,
            local=args.access_address, local_port=NATT_PORT,
            **{"in": random_keys(rng, new_spi(), cipher, integrity).to_json(),
               "out": random_keys(rng, new_spi(), cipher, integrity).to_json()}))
        host += 1
    if args.with_probe:
        # A pair of its own for "is the data plane forwarding yet?", so the
        # sequence numbers of the pairs under test stay predictable.
        pairs.append(dict(
            name="aes128gcm16-probe", cipher="aes128gcm16", integrity="none", udp_encap=False,
            peer="%s.%d" % (args.peer_net, 250), peer_port=NATT_PORT, local=args.access_address,
            local_port=NATT_PORT, **{"in": random_keys(rng, new_spi(), "aes128gcm16", "none").to_json(),
                                     "out": random_keys(rng, new_spi(), "aes128gcm16", "none").to_json()}))
    plan = dict(seed=seed, replay_window=args.replay_window, lab=lab, pairs=pairs)
    with open(args.out, "w") as f:
        json.dump(plan, f, indent=1)
    print("plan %s: %d SA pairs, seed %d" % (args.out, len(pairs), seed))


def load_plan(path):
    with open(path) as f:
        plan = json.load(f)
    plan["pair_objs"] = [Pair(p) for p in plan["pairs"]]
    return plan


def write_config(args):
    plan = load_plan(args.plan)
    lab = plan["lab"]
    eal = ["-l", args.lcores, "--in-memory", "--file-prefix", args.file_prefix, "--no-pci"]
    out = []
    w = out.append
    w("# concentrator-dp config written by tests/system/esp_peer.py from %s" % args.plan)
    w("dataplane:\n{")
    w("  eal_args = [ %s ];" % ", ".join('"%s"' % a for a in eal))
    w("  workers = [ %s ];" % args.workers)
    w("  mbufs = 8191;\n  burst_size = 32;\n  max_sas = 1024;\n  stats_interval = 0;")
    for port, dev, addr, prefix, gw in (
            ("access", "net_af_packet0,iface=%s" % lab["if_dpacc"], lab["access_address"], lab["access_prefix"],
             lab["cl_mac"]),
            ("core", "net_af_packet1,iface=%s" % lab["if_dpcore"], lab["core_address"], lab["core_prefix"],
             lab["co_mac"])):
        w("  %s:\n  {\n    device = \"%s\";\n    address = \"%s/%d\";\n    gateway_mac = \"%s\";\n"
          "    mtu = 1500;\n  };" % (port, dev, addr, prefix, gw))
    w("};\n\nipsec:\n{\n  replay_window = %d;\n  static_sas = (" % plan["replay_window"])
    entries = []
    for p in plan["pair_objs"]:
        for direction, keys in (("in", p.inbound), ("out", p.outbound)):
            e = ['      name = "%s-%s";' % (p.name, direction),
                 '      direction = "%s";' % direction,
                 "      spi = 0x%08x;" % keys.spi,
                 '      cipher = "%s";' % p.cipher]
            if p.integrity != "none":
                e.append('      integrity = "%s";' % p.integrity)
            e.append('      cipher_key = "0x%s";' % keys.cipher_key.hex())
            if p.integrity != "none":
                e.append('      integrity_key = "0x%s";' % keys.integrity_key.hex())
            e.append('      peer = "%s";' % p.peer)
            e.append("      udp_encap = %s;" % ("true" if p.udp_encap else "false"))
            if p.udp_encap:
                e.append("      peer_port = %d;" % p.peer_port)
            entries.append("    {\n" + "\n".join(e) + "\n    }")
    w(",\n".join(entries))
    w("  );\n};")
    with open(args.out, "w") as f:
        f.write("\n".join(out) + "\n")
    print("config %s: %d static SAs" % (args.out, 2 * len(plan["pair_objs"])))


# --------------------------------------------------------------------------
# Packets.

def payload_for(pair, direction, seq, size):
    """Deterministic UDP data, so the receiver can recompute what was sent."""
    head = ("%s|%s|%d|" % (pair.name, direction, seq)).encode()
    filler = hashlib.sha256(head).digest()
    body = (filler * (size // len(filler) + 1))[: max(0, size - len(head))]
    return head + body


def parse_payload_head(data):
    """(pair name, direction, seq) from a payload_for() payload, or None."""
    parts = data.split(b"|", 3)
    if len(parts) < 4:
        return None
    try:
        return parts[0].decode(), parts[1].decode(), int(parts[2])
    except (UnicodeDecodeError, ValueError):
        return None


def inner_packet(pair, direction, seq, src, dst, ttl=64, size=None):
    size = PAYLOAD_SIZES[seq % len(PAYLOAD_SIZES)] if size is None else size
    data = payload_for(pair, direction, seq, size)
    return IP(src=src, dst=dst, ttl=ttl) / UDP(sport=L2TP_PORT, dport=L2TP_PORT) / Raw(data), data


def ttl_for(seq):
    return 32 + seq % 200  # varied, so "TTL as received" is checked for real


def client_frame(lab, pair, esp_bytes, dst=None, ttl=64, ip_options=None, flags=0, frag=0, sport=None):
    """Ether/IPv4/[UDP 4500]/ESP from the client to the access port."""
    ip = IP(src=pair.peer, dst=dst or lab["access_address"], ttl=ttl, flags=flags, frag=frag)
    if ip_options is not None:
        ip.options = ip_options
    if pair.udp_encap:
        l4 = UDP(sport=sport or pair.peer_port, dport=NATT_PORT, chksum=0) / Raw(esp_bytes)
    else:
        ip.proto = 50
        l4 = Raw(esp_bytes)
    return Ether(src=lab["cl_mac"], dst=lab["dpacc_mac"]) / ip / l4


def scapy_encrypt(lab, pair, seq, ttl=None, direction="up", inner=None):
    """The client's normal path: scapy encrypts an L2TP-like UDP packet.

    Returns (frame, inner UDP data). NAT-T uses scapy's nat_t_header; scapy
    2.5 leaves that UDP header's length at 8 (it is computed before the ESP
    is attached), so the length is repaired here.
    """
    ttl = ttl_for(seq) if ttl is None else ttl
    if inner is None:
        inner, data = inner_packet(pair, direction, seq, pair.peer, lab["access_address"], ttl=ttl)
    else:
        data = raw(inner[UDP].payload) if UDP in inner else b""
    keys = pair.inbound
    kw = dict(crypt_algo=keys.ci["scapy"], crypt_key=keys.cipher_key)
    if keys.ii["scapy"]:
        kw.update(auth_algo=keys.ii["scapy"], auth_key=keys.integrity_key)
    if pair.udp_encap:
        kw["nat_t_header"] = UDP(sport=pair.peer_port, dport=NATT_PORT)
    sa = SecurityAssociation(ESP, spi=keys.spi, **kw)
    outer = bytearray(raw(sa.encrypt(inner, seq_num=seq)))
    if pair.udp_encap:
        ihl = (outer[0] & 0x0F) * 4
        struct.pack_into("!H", outer, ihl + 4, len(outer) - ihl)
    return Ether(src=lab["cl_mac"], dst=lab["dpacc_mac"]) / IP(bytes(outer)), data


def core_frame(lab, pair, seq, size=None, proto="udp"):
    """A plain packet from the core host to the client's address."""
    ip, data = inner_packet(pair, "down", seq, lab["core_host"], pair.peer, ttl=64, size=size)
    return Ether(src=lab["co_mac"], dst=lab["dpcore_mac"]) / ip, data


def outer_esp_bytes(ip):
    """ESP bytes of an IPv4 packet carrying ESP or ESP-in-UDP, and the UDP header if any."""
    b = raw(ip)
    ihl = (b[0] & 0x0F) * 4
    total = struct.unpack("!H", b[2:4])[0]
    b = b[:total]
    if b[9] == 50:
        return b[ihl:], None
    if b[9] == 17:
        sport, dport, ulen, csum = struct.unpack("!HHHH", b[ihl:ihl + 8])
        return b[ihl + 8: ihl + ulen], (sport, dport, ulen, csum)
    return None, None


def checksum16(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return s


def udp_checksum_ok(src, dst, udp_bytes):
    """True when an IPv4 UDP checksum verifies (0 means "none", RFC 768)."""
    if struct.unpack("!H", udp_bytes[6:8])[0] == 0:
        return True
    pseudo = socket.inet_aton(src) + socket.inet_aton(dst) + struct.pack("!BBH", 0, 17, len(udp_bytes))
    return checksum16(pseudo + udp_bytes) == 0xFFFF


def ip_checksum_ok(ip_bytes):
    ihl = (ip_bytes[0] & 0x0F) * 4
    return checksum16(ip_bytes[:ihl]) == 0xFFFF


# --------------------------------------------------------------------------
# Sockets inside network namespaces.

_libc = ctypes.CDLL(None, use_errno=True)


@contextlib.contextmanager
def netns(name):
    """Run the body inside /var/run/netns/NAME (this thread only)."""
    if not name:
        yield
        return
    home = os.open("/proc/self/ns/net", os.O_RDONLY)
    target = os.open("/var/run/netns/%s" % name, os.O_RDONLY)
    try:
        if _libc.setns(target, CLONE_NEWNET) != 0:
            raise OSError(ctypes.get_errno(), "setns %s" % name)
        yield
    finally:
        _libc.setns(home, CLONE_NEWNET)
        os.close(home)
        os.close(target)


class Port:
    """A raw Ethernet socket on one interface (like scapy's sendp/sniff)."""

    def __init__(self, ns, iface):
        with netns(ns):
            self.sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
            self.sock.setsockopt(socket.SOL_SOCKET, 33, 16 << 20)  # SO_RCVBUFFORCE: bursts while we are busy
            self.sock.bind((iface, 0))
        self.name = "%s:%s" % (ns, iface)
        self.sent = 0

    def send(self, frame, pace=0.0):
        self.sock.send(frame if isinstance(frame, (bytes, bytearray)) else raw(frame))
        self.sent += 1
        if pace:
            time.sleep(pace)

    def receive(self, timeout, want=None, src_mac=None):
        """Incoming frames (bytes) until `want` arrived or nothing came for `timeout` s."""
        got = []
        deadline = time.monotonic() + timeout
        while want is None or len(got) < want:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            r, _, _ = select.select([self.sock], [], [], left)
            if not r:
                break
            data, addr = self.sock.recvfrom(65535)
            if addr[2] == PACKET_OUTGOING:
                continue
            if src_mac and data[6:12] != bytes.fromhex(src_mac.replace(":", "")):
                continue
            got.append(data)
        return got

    def drain(self):
        return self.receive(0.05)


# --------------------------------------------------------------------------
# Checking what arrived.

class Results:
    def __init__(self):
        self.passed = 0
        self.failed = 0

    def check(self, name, ok, reason="", detail=""):
        if ok:
            self.passed += 1
            print("PASS %s%s" % (name, (": " + detail) if detail else ""), flush=True)
        else:
            self.failed += 1
            print("FAIL %s: %s" % (name, reason), flush=True)
        return ok

    def note(self, text):
        print("NOTE %s" % text, flush=True)


def check_upstream(lab, frames, expected):
    """Frames the core host got vs expected[(pair, seq)] = (ttl, data, udp_encap).

    Returns {pair name: [problems]} and {pair name: count ok}.
    """
    problems, ok_count = {}, {}
    by_pair = {pair.name: pair for pair, _ in expected}
    seen = set()
    for f in frames:
        e = Ether(f)
        if IP not in e or UDP not in e:
            problems.setdefault("?", []).append("non-UDP frame on core: %r" % e.summary())
            continue
        ip_b = raw(e[IP])
        ihl = (ip_b[0] & 0x0F) * 4
        data = raw(e[UDP].payload)
        head = parse_payload_head(data)
        if not head or head[0] not in by_pair:
            problems.setdefault("?", []).append("unexpected frame on core: %s" % e.summary())
            continue
        pair = by_pair[head[0]]
        key = (pair, head[2])
        p = problems.setdefault(pair.name, [])
        if key not in expected:
            p.append("unexpected seq %d" % head[2])
            continue
        if key in seen:
            p.append("seq %d delivered twice" % head[2])
            continue
        seen.add(key)
        ttl, want, encap = expected[key]
        udp_b = ip_b[ihl:ihl + e[UDP].len]
        errs = []
        if e.src != lab["dpcore_mac"] or e.dst != lab["co_mac"]:
            errs.append("ether %s->%s, want %s->%s" % (e.src, e.dst, lab["dpcore_mac"], lab["co_mac"]))
        if e[IP].src != pair.peer or e[IP].dst != lab["access_address"]:
            errs.append("ip %s->%s, want %s->%s" % (e[IP].src, e[IP].dst, pair.peer, lab["access_address"]))
        if e[IP].proto != 17:
            errs.append("ip proto %d" % e[IP].proto)
        if e[IP].ttl != ttl:
            errs.append("ttl %d, sent %d" % (e[IP].ttl, ttl))
        if ihl != 20:
            errs.append("ip header length %d" % ihl)
        if not ip_checksum_ok(ip_b):
            errs.append("bad IPv4 header checksum")
        if e[IP].len != 20 + 8 + len(want):
            errs.append("ip total length %d, want %d" % (e[IP].len, 28 + len(want)))
        if len(f) < 14 + 28 + len(want):
            errs.append("frame truncated to %d bytes" % len(f))
        if e[UDP].sport != L2TP_PORT or e[UDP].dport != L2TP_PORT:
            errs.append("udp ports %d->%d" % (e[UDP].sport, e[UDP].dport))
        if data[:len(want)] != want or e[UDP].len != 8 + len(want):
            errs.append("payload differs (%d bytes, want %d)" % (len(data), len(want)))
        if encap and e[UDP].chksum != 0:
            errs.append("inner UDP checksum 0x%04x, want 0 for NAT-T (RFC 3948 3.1.2)" % e[UDP].chksum)
        if not encap and (e[UDP].chksum == 0 or not udp_checksum_ok(e[IP].src, e[IP].dst, udp_b)):
            errs.append("inner UDP checksum 0x%04x not the client's valid one" % e[UDP].chksum)
        if errs:
            p.append("seq %d: %s" % (head[2], "; ".join(errs)))
        else:
            ok_count[pair.name] = ok_count.get(pair.name, 0) + 1
    for (pair, seq) in expected:
        if (pair, seq) not in seen:
            problems.setdefault(pair.name, []).append("seq %d never arrived" % seq)
    return problems, ok_count


def check_downstream(lab, frames, expected, next_out_seq, gap_ok=False):
    """ESP frames the client got vs expected[(pair, seq-index)] data.

    expected maps pair name -> list of inner UDP data in sending order.
    next_out_seq maps pair name -> the first sequence number we expect;
    with gap_ok the first may be higher (a packet the data plane dropped after
    taking a number leaves a gap, which RFC 4303 allows), never lower.
    Returns {pair: [problems]}, {pair: ok count}, {pair: [decrypted dicts]},
    {pair: [seqs whose inner UDP checksum does not verify]} (kept apart: a
    Linux client ignores it under NAT-T in transport mode, not on plain ESP).
    """
    by_spi = {}
    for name, (pair, _) in expected.items():
        by_spi[pair.outbound.spi] = pair
    problems, ok_count, got, bad_csum = {}, {}, {}, {}
    for f in frames:
        e = Ether(f)
        if IP not in e:
            problems.setdefault("?", []).append("non-IP frame on access: %s" % e.summary())
            continue
        esp, udp = outer_esp_bytes(e[IP])
        if esp is None or len(esp) < 8:
            problems.setdefault("?", []).append("non-ESP frame on access: %s" % e.summary())
            continue
        spi, seq = struct.unpack("!II", esp[:8])
        pair = by_spi.get(spi)
        if pair is None:
            problems.setdefault("?", []).append("ESP with unknown SPI 0x%08x" % spi)
            continue
        p = problems.setdefault(pair.name, [])
        errs = []
        if e.src != lab["dpacc_mac"] or e.dst != lab["cl_mac"]:
            errs.append("ether %s->%s" % (e.src, e.dst))
        if e[IP].src != pair.local or e[IP].dst != pair.peer:
            errs.append("outer ip %s->%s, want %s->%s" % (e[IP].src, e[IP].dst, pair.local, pair.peer))
        if not ip_checksum_ok(raw(e[IP])):
            errs.append("bad outer IPv4 checksum")
        if pair.udp_encap:
            if udp is None:
                errs.append("plain ESP, want UDP-encapsulated")
            else:
                if udp[0] != pair.local_port or udp[1] != pair.peer_port:
                    errs.append("outer udp %d->%d, want %d->%d" % (udp[0], udp[1], pair.local_port, pair.peer_port))
                if udp[3] != 0:
                    ip_b = raw(e[IP])
                    ihl = (ip_b[0] & 0x0F) * 4
                    if not udp_checksum_ok(e[IP].src, e[IP].dst, ip_b[ihl:ihl + udp[2]]):
                        errs.append("outer UDP checksum wrong (RFC 3948 allows 0)")
        elif udp is not None:
            errs.append("UDP-encapsulated, want plain ESP")
        # scapy decrypts and verifies the ICV ...
        try:
            dec = pair.outbound.scapy_sa().decrypt(IP(src=e[IP].src, dst=e[IP].dst, proto=50) / ESP(esp))
        except IPSecIntegrityError as ex:
            p.append("seq %d: ICV/tag verification failed in scapy: %s" % (seq, ex))
            continue
        except Exception as ex:  # malformed beyond what scapy can parse
            p.append("seq %d: scapy could not decrypt: %r" % (seq, ex))
            continue
        # ... and the hand-written implementation checks what scapy does not.
        try:
            opened = pair.outbound.open(esp)
        except EspError as ex:
            p.append("seq %d: %s" % (seq, ex))
            continue
        if opened["padding"] != bytes(range(1, len(opened["padding"]) + 1)):
            errs.append("padding %s is not 1,2,3,.. (RFC 4303 2.4)" % opened["padding"].hex())
        if opened["next_header"] != 17:
            errs.append("next header %d, want 17" % opened["next_header"])
        idx = len(got.setdefault(pair.name, []))
        if idx == 0 and gap_ok and seq > next_out_seq[pair.name]:
            next_out_seq[pair.name] = seq
        want_seq = next_out_seq[pair.name] + idx
        if seq != want_seq:
            errs.append("sequence number %d, want %d" % (seq, want_seq))
        datas = expected[pair.name][1]
        if UDP not in dec:
            errs.append("decrypted packet has no UDP")
        else:
            data = raw(dec[UDP].payload)
            if idx >= len(datas):
                errs.append("more packets than sent")
            elif data != datas[idx]:
                errs.append("payload %d differs (%d bytes, want %d)" % (idx, len(data), len(datas[idx])))
            if dec[UDP].sport != L2TP_PORT or dec[UDP].dport != L2TP_PORT:
                errs.append("inner udp ports %d->%d" % (dec[UDP].sport, dec[UDP].dport))
            ip_b = raw(dec[IP])
            if not udp_checksum_ok(dec[IP].src, dec[IP].dst, ip_b[20:]):
                bad_csum.setdefault(pair.name, []).append(seq)
        got[pair.name].append(opened)
        if errs:
            p.append("seq %d: %s" % (seq, "; ".join(errs)))
        else:
            ok_count[pair.name] = ok_count.get(pair.name, 0) + 1
    for name, (pair, datas) in expected.items():
        n = len(got.get(name, []))
        if n < len(datas):
            problems.setdefault(name, []).append("%d of %d packets arrived" % (n, len(datas)))
    return problems, ok_count, got, bad_csum


# --------------------------------------------------------------------------
# Malformed input: every generator returns a list of frames for the access port.

def bad_icv(lab, pair, seqs):
    out = []
    for s in seqs:
        f, _ = scapy_encrypt(lab, pair, s)
        b = bytearray(raw(f))
        b[-1] ^= 0x01  # last ICV / GCM tag byte
        out.append(bytes(b))
    return out


def bad_ciphertext(lab, pair, seqs):
    out = []
    icv = pair.inbound.icv_size
    for s in seqs:
        f, _ = scapy_encrypt(lab, pair, s)
        b = bytearray(raw(f))
        b[-icv - 3] ^= 0x80  # inside the ciphertext: the ICV covers it
        out.append(bytes(b))
    return out


def valid(lab, pair, seqs, **kw):
    return [raw(scapy_encrypt(lab, pair, s, **kw)[0]) for s in seqs]


def unknown_spi(lab, pair, seqs, spi=0xDEAD0001):
    out = []
    for s in seqs:
        f, _ = scapy_encrypt(lab, pair, s)
        esp, _ = outer_esp_bytes(f[IP])
        esp = struct.pack("!I", spi) + esp[4:]
        out.append(raw(client_frame(lab, pair, esp, ttl=64)))
    return out


def truncated(lab, pair, seqs):
    """Too short for: the ESP header; the IV; the ICV; a single cipher block."""
    k = pair.inbound
    s = iter(seqs)
    hdr = lambda: struct.pack("!II", k.spi, next(s))  # noqa: E731
    cases = [
        struct.pack("!I", k.spi) + b"\0\0",                       # 6 bytes: not even SPI + seq
        hdr(),                                                     # header only
        hdr() + os.urandom(k.ci["iv"] - 2),                        # header + part of the IV
        hdr() + os.urandom(k.ci["iv"]) + os.urandom(k.icv_size - 1),  # no room for the ICV and trailer
    ]
    return [raw(client_frame(lab, pair, c)) for c in cases]


TRUNCATED_SEQS = 3  # truncated() consumes three sequence numbers


def misaligned(lab, pair, seqs):
    """CBC: ciphertext one byte longer than whole blocks, with a valid ICV."""
    k = pair.inbound
    out = []
    for s in seqs:
        body = os.urandom(k.ci["iv"]) + os.urandom(2 * k.ci["block"] + 1)
        out.append(raw(client_frame(lab, pair, k.seal_raw_cbc(s, body))))
    return out


def bad_padding(lab, pair, seqs):
    """Valid ICV, but padding bytes that are not 1, 2, 3, ... (RFC 4303 2.4)."""
    k = pair.inbound
    out = []
    for s in seqs:
        inner, _ = inner_packet(pair, "up", s, pair.peer, lab["access_address"])
        payload = raw(inner[UDP])
        n = (-(len(payload) + 2)) % k.align
        if n == 0:
            n = k.align  # always have padding to get wrong
        padding = bytes([0xA5] * n)
        out.append(raw(client_frame(lab, pair, k.seal(s, payload, 17, padding=padding))))
    return out


def bad_pad_length(lab, pair, seqs):
    """Valid ICV, pad length field larger than the whole plaintext."""
    k = pair.inbound
    out = []
    for s in seqs:
        payload = b"\x06\xa5\x06\xa5\x00\x10\x00\x00" + b"x" * 8  # a short UDP header + data
        n = (-(len(payload) + 2)) % k.align
        out.append(raw(client_frame(lab, pair, k.seal(s, payload, 17, padding=bytes(range(1, n + 1)),
                                                      pad_length=250))))
    return out


def wrong_next_header(lab, pair, seqs):
    """Authentic packets whose next header is TCP, then ICMP: not L2TP/IPsec."""
    out = []
    for i, s in enumerate(seqs):
        l4 = TCP(sport=1701, dport=80) / Raw(b"not udp") if i % 2 == 0 else ICMP() / Raw(b"ping")
        f, _ = scapy_encrypt(lab, pair, s, inner=IP(src=pair.peer, dst=lab["access_address"]) / l4)
        out.append(raw(f))
    return out


def ip_options(lab, pair, seqs):
    """An otherwise valid ESP packet whose outer IPv4 header carries options."""
    out = []
    for s in seqs:
        f, _ = scapy_encrypt(lab, pair, s)
        esp, _ = outer_esp_bytes(f[IP])
        out.append(raw(client_frame(lab, pair, esp, ip_options=[IPOption_Router_Alert()])))
    return out


def ip_fragments(lab, pair, seqs):
    """A first fragment (MF, offset 0) holding a valid ESP packet, then a last fragment."""
    s = seqs[0]
    f, _ = scapy_encrypt(lab, pair, s)
    esp, _ = outer_esp_bytes(f[IP])
    first = client_frame(lab, pair, esp, flags="MF", frag=0)
    last = client_frame(lab, pair, esp[:16], frag=185)
    return [raw(first), raw(last)]


def not_local(lab, pair, seqs):
    """A valid ESP packet to an address that is not ours (same subnet)."""
    other = lab["access_address"].rsplit(".", 1)[0] + ".77"
    f, _ = scapy_encrypt(lab, pair, seqs[0])
    esp, _ = outer_esp_bytes(f[IP])
    return [raw(client_frame(lab, pair, esp, dst=other))]


def _udp_to_us(lab, pair, sport, dport, data, pad_to=0):
    f = raw(Ether(src=lab["cl_mac"], dst=lab["dpacc_mac"]) /
            IP(src=pair.peer, dst=lab["access_address"]) / UDP(sport=sport, dport=dport) / Raw(data))
    return f + b"\0" * max(0, pad_to - len(f))  # Ethernet pads short frames to 60 bytes


ISAKMP_SA_INIT = os.urandom(8) + b"\0" * 8 + bytes([1, 0x10, 2, 0]) + b"\0" * 4 + struct.pack("!I", 28)


def ike_500(lab, pair, seqs):
    return [_udp_to_us(lab, pair, IKE_PORT, IKE_PORT, ISAKMP_SA_INIT)]


def ike_4500(lab, pair, seqs):
    """RFC 3948 2.2: four zero bytes (non-ESP marker) then IKE."""
    return [_udp_to_us(lab, pair, pair.peer_port, NATT_PORT, b"\0\0\0\0" + ISAKMP_SA_INIT)]


def natt_keepalive(lab, pair, seqs):
    """RFC 3948 2.3: a single 0xFF; once as sent, once padded to 60 bytes like any Ethernet NIC does."""
    return [_udp_to_us(lab, pair, pair.peer_port, NATT_PORT, b"\xff"),
            _udp_to_us(lab, pair, pair.peer_port, NATT_PORT, b"\xff", pad_to=60)]


def other(lab, pair, seqs):
    """Not IKE, not ESP: GRE and UDP to an unused port on our address."""
    gre = Ether(src=lab["cl_mac"], dst=lab["dpacc_mac"]) / IP(src=pair.peer, dst=lab["access_address"], proto=47) / \
        Raw(b"\0\0\x08\0" + b"x" * 20)
    return [raw(gre), _udp_to_us(lab, pair, 1234, 1234, b"hello")]


def zero_seq(lab, pair, seqs):
    """RFC 4303 3.3.3: sequence number 0 is never sent; authentic otherwise."""
    inner, _ = inner_packet(pair, "up", 0, pair.peer, lab["access_address"])
    return [raw(client_frame(lab, pair, pair.inbound.seal(0, raw(inner[UDP]), 17)))]


def encap_mismatch(lab, pair, seqs):
    """An authentic packet in the other encapsulation than its SA's (plain ESP on NAT-T or the reverse)."""
    f, _ = scapy_encrypt(lab, pair, seqs[0])
    esp, _ = outer_esp_bytes(f[IP])
    other_side = Pair(pair.to_json())
    other_side.udp_encap = not pair.udp_encap
    return [raw(client_frame(lab, other_side, esp))]


def bad_ip_checksum(lab, pair, seqs):
    f, _ = scapy_encrypt(lab, pair, seqs[0])
    b = bytearray(raw(f))
    b[14 + 10] ^= 0x5A
    return [bytes(b)]


def bad_udp_length(lab, pair, seqs):
    """UDP 4500 whose length field runs past the IP datagram."""
    f = bytearray(_udp_to_us(lab, pair, pair.peer_port, NATT_PORT, b"\x01\x02\x03\x04" + b"\0" * 16))
    struct.pack_into("!H", f, 14 + 20 + 4, 200)
    return [bytes(f)]


def non_ip(lab, pair, seqs):
    """An IPv6 frame (the access port speaks IPv4 only for now)."""
    ip6 = bytes([0x60, 0, 0, 0, 0, 8, 17, 64]) + b"\x20\x01\x0d\xb8" + b"\0" * 11 + b"\x01" + \
        b"\x20\x01\x0d\xb8" + b"\0" * 11 + b"\x02" + struct.pack("!HHHH", 4500, 4500, 8, 0)
    return [bytes.fromhex(lab["dpacc_mac"].replace(":", "") + lab["cl_mac"].replace(":", "")) + b"\x86\xdd" + ip6]


# With no control plane attached every punt is also dropped, and counted so.
IKE_PUNT = {"rx_ike_punts": 1, "punt_no_listener_drops": 1}

# kind -> (generator, sequence numbers it consumes, {counter: +n})
BAD_KINDS = {
    "bad-icv": (bad_icv, 2, {"rx_esp_auth_drops": 2}),
    "bad-ciphertext": (bad_ciphertext, 1, {"rx_esp_auth_drops": 1}),
    "unknown-spi": (unknown_spi, 1, {"rx_esp_unknown_spi_drops": 1}),
    "truncated": (truncated, TRUNCATED_SEQS, {"rx_esp_truncated_drops": 4}),
    "misaligned": (misaligned, 1, {"rx_esp_length_drops": 1}),
    "bad-padding": (bad_padding, 1, {"rx_esp_padding_drops": 1}),
    "bad-pad-length": (bad_pad_length, 1, {"rx_esp_padding_drops": 1}),
    "next-header": (wrong_next_header, 2, {"rx_esp_next_header_drops": 2}),
    "ip-options": (ip_options, 1, {"rx_ip_options_drops": 1}),
    "ip-fragment": (ip_fragments, 1, {"rx_ip_fragment_drops": 2}),
    "not-local": (not_local, 1, {"rx_not_local_drops": 1}),
    "ike-500": (ike_500, 0, IKE_PUNT),
    "ike-4500": (ike_4500, 0, IKE_PUNT),
    "natt-keepalive": (natt_keepalive, 0, {"rx_natt_keepalive_drops": 2}),
    "other": (other, 0, {"rx_other_drops": 2}),
    "zero-seq": (zero_seq, 0, {"rx_esp_zero_seq_drops": 1}),
    "encap-mismatch": (encap_mismatch, 1, {"rx_esp_encap_mismatch_drops": 1}),
    "bad-ip-checksum": (bad_ip_checksum, 1, {"rx_ip_header_drops": 1}),
    "bad-udp-length": (bad_udp_length, 0, {"rx_udp_header_drops": 1}),
    "non-ip": (non_ip, 0, {"rx_non_ip_drops": 1}),
}
# replayed and left-of-window packets need history; see replay() and window().


# --------------------------------------------------------------------------
# Stats from the running data plane.

class DataPlane:
    def __init__(self, pid, stats_path):
        self.pid = pid
        self.stats_path = stats_path

    def alive(self):
        try:
            with open("/proc/%d/stat" % self.pid) as f:
                return f.read().split(")")[-1].split()[0] not in ("Z", "X")
        except OSError:
            return False

    def snapshot(self, timeout=5.0):
        """SIGUSR1, then the stats file it writes (None if it never came)."""
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.stats_path)
        os.kill(self.pid, signal.SIGUSR1)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                with open(self.stats_path) as f:
                    return json.load(f)
            except (FileNotFoundError, json.JSONDecodeError):
                time.sleep(0.02)
        return None


def counter_deltas(before, after):
    c0, c1 = before.get("counters", {}), after.get("counters", {})
    return {k: c1[k] - c0.get(k, 0) for k in c1}


def sa_packets(stats):
    return {(s.get("name"), s.get("direction")): s.get("packets", 0) for s in stats.get("sas", [])}


def expect_counters(res, name, before, after, expected, extra=""):
    """Exactly `expected` {counter: +n}, and no other drop or punt counter moved."""
    if before is None or after is None:
        return res.check(name, False, "no stats file after SIGUSR1")
    d = counter_deltas(before, after)
    errs = []
    for k, n in expected.items():
        if k not in d:
            errs.append("counter %s not in stats (have %s)" % (k, ", ".join(sorted(d))))
        elif d[k] != n:
            errs.append("%s +%d, want +%d" % (k, d[k], n))
    for k, v in sorted(d.items()):
        if k not in expected and v and (k.endswith("_drops") or k.endswith("_punts")):
            errs.append("%s +%d unexpectedly" % (k, v))
    detail = ", ".join("%s +%d" % kv for kv in expected.items()) + extra
    return res.check(name, not errs, "; ".join(errs), detail)


# --------------------------------------------------------------------------
# The system test.

class Lab:
    def __init__(self, plan):
        self.plan = plan
        self.lab = plan["lab"]
        self.pairs = plan["pair_objs"]
        self.byname = {p.name: p for p in self.pairs}
        self.client = Port(self.lab["ns_cl"], self.lab["if_cl"])
        self.core = Port(self.lab["ns_co"], self.lab["if_co"])
        self.out_seq = {p.name: 1 for p in self.pairs}  # next sequence number we expect from the data plane

    def from_dp_access(self, timeout, want=None):
        return self.client.receive(timeout, want, src_mac=self.lab["dpacc_mac"])

    def from_dp_core(self, timeout, want=None):
        return self.core.receive(timeout, want, src_mac=self.lab["dpcore_mac"])

    def upstream(self, pairs, count, pace=0.0005):
        """Client -> core: returns (problems, ok) per pair."""
        lab = self.lab
        expected = {}
        for pair in pairs:
            for s in pair.take_seq(count):
                f, data = scapy_encrypt(lab, pair, s)
                expected[(pair, s)] = (ttl_for(s), data, pair.udp_encap)
                self.client.send(f, pace)
        frames = self.from_dp_core(2.0, want=len(expected))
        frames += self.from_dp_core(0.2)  # anything extra (duplicates)
        return check_upstream(lab, frames, expected)

    def downstream(self, pairs, count, pace=0.0005, gap_ok=False):
        """Core -> client: returns (problems, ok, decrypted, bad inner checksums) per pair."""
        lab = self.lab
        expected = {}
        for pair in pairs:
            datas = []
            for i in range(count):
                f, data = core_frame(lab, pair, 1000 + self.out_seq[pair.name] + i)
                datas.append(data)
                self.core.send(f, pace)
            expected[pair.name] = (pair, datas)
        frames = self.from_dp_access(2.0, want=sum(len(d) for _, d in expected.values()))
        frames += self.from_dp_access(0.2)
        problems, ok, got, bad_csum = check_downstream(lab, frames, expected, dict(self.out_seq), gap_ok)
        for name, opened in got.items():
            if opened:
                self.out_seq[name] = opened[-1]["seq"] + 1
        return problems, ok, got, bad_csum

    def wait_ready(self, dp, probe, timeout):
        """Until the data plane forwards both ways (or dies)."""
        deadline = time.monotonic() + timeout
        down = up = False
        while time.monotonic() < deadline and dp.alive():
            if not down:
                f, _ = core_frame(self.lab, probe, 0)
                self.core.send(f)
                got = self.from_dp_access(0.3)
                for g in got:
                    esp, _ = outer_esp_bytes(Ether(g)[IP])
                    if esp and struct.unpack("!I", esp[:4])[0] == probe.outbound.spi:
                        down = True
                        self.out_seq[probe.name] = struct.unpack("!I", esp[4:8])[0] + 1
            if down and not up:
                f, _ = scapy_encrypt(self.lab, probe, probe.take_seq()[0])
                self.client.send(f)
                up = bool(self.from_dp_core(0.3))
            if up and down:
                # Late answers to earlier probes must not count as stray frames later.
                while self.client.receive(0.3) + self.core.receive(0.05):
                    pass
                return True
            time.sleep(0.1)
        return False


def report_inner_checksums(res, pairs, bad_csum, lab):
    """Transport mode: the data plane gives the packet a new source address
    (the SA's local one), so the inner UDP checksum must be fixed up or be 0.
    Linux skips the check for NAT-T in transport mode (RFC 3948 3.1.2), but a
    plain-ESP client drops the packet."""
    plain = ["%s (seqs %s)" % (p.name, ",".join(map(str, bad_csum[p.name][:3]))) for p in pairs
             if bad_csum.get(p.name) and not p.udp_encap]
    natt = [p.name for p in pairs if bad_csum.get(p.name) and p.udp_encap]
    if natt:
        res.note("inner UDP checksum invalid on %d NAT-T pairs (tolerated: RFC 3948 3.1.2)" % len(natt))
    res.check("down/inner-udp-checksum-plain-esp", not plain,
              "inner UDP checksum computed for %s->peer is left unchanged under the new source %s, so a "
              "kernel client drops it; want it updated (RFC 1624) or 0: %s"
              % (lab["core_host"], lab["access_address"], "; ".join(plain[:3]) +
                 (" and %d more pairs" % (len(plain) - 3) if len(plain) > 3 else "")),
              "valid or 0 on every plain-ESP pair")


def report_pairs(res, prefix, pairs, problems, ok, count, what):
    for pair in pairs:
        p = problems.get(pair.name, [])
        res.check("%s/%s" % (prefix, pair.name), not p and ok.get(pair.name, 0) == count,
                  "; ".join(p[:4]) + (" (+%d more)" % (len(p) - 4) if len(p) > 4 else ""),
                  "%d/%d %s" % (ok.get(pair.name, 0), count, what))
    stray = problems.get("?", [])
    res.check("%s/no-stray-frames" % prefix, not stray, "; ".join(stray[:4]))


def run_suite(args):
    plan = load_plan(args.plan)
    res = Results()
    lab = Lab(plan)
    dp = DataPlane(args.dp_pid, args.stats)
    probe = lab.byname[args.probe]
    pairs = [p for p in lab.pairs if p is not probe]
    K = args.count

    if not res.check("dp-ready", lab.wait_ready(dp, probe, args.ready_timeout),
                     "concentrator-dp %s within %ds" % ("died" if not dp.alive() else "did not forward",
                                                        args.ready_timeout), "forwards both ways"):
        return res
    s0 = dp.snapshot()
    if not res.check("stats-on-sigusr1", s0 is not None and "counters" in s0,
                     "no JSON with \"counters\" at %s after SIGUSR1" % args.stats):
        return res
    res.note("data plane counters: %s" % ", ".join(sorted(s0["counters"])))

    # 1. Every combination, both directions.
    problems, ok = lab.upstream(pairs, K)
    report_pairs(res, "up", pairs, problems, ok, K, "decrypted and forwarded to core, payload exact")
    problems, ok, _, bad_csum = lab.downstream(pairs, K)
    report_pairs(res, "down", pairs, problems, ok, K, "encrypted to the client, ICV verified, payload exact")
    report_inner_checksums(res, pairs, bad_csum, lab.lab)
    s1 = dp.snapshot()
    expect_counters(res, "traffic-no-drops", s0, s1, {})
    if s1 is not None:
        p0, p1 = sa_packets(s0), sa_packets(s1)
        errs = []
        for pair in pairs:
            for d in ("in", "out"):
                k = ("%s-%s" % (pair.name, d), d)
                if k not in p1:
                    errs.append("SA %s missing" % k[0])
                elif p1[k] - p0.get(k, 0) != K:
                    errs.append("%s packets +%d, want +%d" % (k[0], p1[k] - p0.get(k, 0), K))
        res.check("sa-packet-counters", not errs, "; ".join(errs[:6]), "every SA counted %d packets" % K)

    # 2. Malformed and unwanted input, one kind at a time.
    cbc = lab.byname[args.cbc_pair]
    gcm = lab.byname[args.gcm_pair]
    des = lab.byname[args.des_pair]

    def case(name, frames, expected, settle=0.3):
        before = dp.snapshot()
        for f in frames:
            lab.client.send(f, 0.001)
        time.sleep(settle)
        leaked = lab.from_dp_core(0.05)
        after = dp.snapshot()
        seen = counter_deltas(before, after).get("rx_access_packets") if before and after else None
        if "rx_ip_fragment_drops" in expected and seen == 0:
            # DPDK's af_packet PMD joins a PACKET_FANOUT group with
            # PACKET_FANOUT_FLAG_DEFRAG: the kernel holds fragments for
            # reassembly, the data plane never sees a lone one. Only a real
            # NIC (or another vdev) reaches this drop.
            res.note("%s: the kernel held the fragments (af_packet fanout defrag); drop path not reachable here"
                     % name)
            expected = {}
        ok = expect_counters(res, "bad/" + name, before, after, expected,
                             "not delivered by the kernel, not forwarded" if not expected else "")
        if leaked:
            res.check("bad/%s-not-forwarded" % name, False, "%d frames reached the core" % len(leaked))
        return ok

    for kind, pair in (("bad-icv", cbc), ("bad-icv", gcm), ("bad-ciphertext", cbc), ("bad-ciphertext", des),
                       ("unknown-spi", cbc), ("unknown-spi", gcm), ("truncated", gcm), ("truncated", cbc),
                       ("misaligned", cbc), ("misaligned", des), ("bad-padding", cbc), ("bad-padding", gcm),
                       ("bad-padding", des), ("bad-pad-length", gcm), ("bad-pad-length", cbc),
                       ("next-header", gcm), ("next-header", cbc), ("ip-options", cbc), ("ip-options", gcm),
                       ("ip-fragment", cbc), ("ip-fragment", gcm), ("not-local", cbc), ("not-local", gcm),
                       ("ike-500", gcm), ("ike-4500", gcm), ("natt-keepalive", gcm), ("other", cbc),
                       ("zero-seq", cbc), ("zero-seq", gcm), ("encap-mismatch", cbc), ("encap-mismatch", gcm),
                       ("bad-ip-checksum", cbc), ("bad-udp-length", gcm), ("non-ip", cbc)):
        gen, nseq, expected = BAD_KINDS[kind]
        seqs = pair.take_seq(nseq)
        case("%s/%s" % (kind, pair.name), gen(lab.lab, pair, seqs), expected)
        if kind == "bad-icv":
            # RFC 4303 3.4.3: the window moves only after the ICV verified, so
            # the same sequence numbers are still good.
            problems, okc = check_upstream_resend(lab, pair, seqs)
            res.check("bad/%s/window-not-advanced-by-bad-icv" % pair.name, not problems,
                      "; ".join(problems), "seqs %s accepted after the forged ones" % seqs)

    # The outbound SPI of a pair is not an inbound one: unknown too.
    seq = cbc.take_seq()
    case("unknown-spi/outbound-spi-sent-inbound", unknown_spi(lab.lab, cbc, seq, spi=cbc.outbound.spi),
         {"rx_esp_unknown_spi_drops": 1})

    # Replays: the first K sequence numbers of phase 1 were accepted.
    for pair in (cbc, gcm):
        case("replay/%s" % pair.name, valid(lab.lab, pair, [2, K]), {"rx_esp_replay_drops": 2})
        # An identical copy of a packet just accepted.
        s = pair.take_seq()
        f = valid(lab.lab, pair, s)[0]
        before = dp.snapshot()
        lab.client.send(f)
        first = lab.from_dp_core(1.0, want=1)
        lab.client.send(f)
        time.sleep(0.3)
        second = lab.from_dp_core(0.05)
        after = dp.snapshot()
        res.check("replay/%s/duplicate-copy-forwarded-once" % pair.name, len(first) == 1 and not second,
                  "first copy: %d frames, second copy: %d frames" % (len(first), len(second)))
        expect_counters(res, "replay/%s/duplicate-copy-counted" % pair.name, before, after,
                        {"rx_esp_replay_drops": 1})

    # Left of the window: jump ahead, then something older than the window.
    window = plan["replay_window"]
    for pair in (cbc, gcm):
        base = pair.next_seq
        jump = base + window + 100
        pair.next_seq = jump + 1
        before = dp.snapshot()
        lab.client.send(valid(lab.lab, pair, [jump])[0])
        fwd = lab.from_dp_core(1.0, want=1)
        lab.client.send(valid(lab.lab, pair, [base])[0])          # never seen, but left of the window
        lab.client.send(valid(lab.lab, pair, [jump - window - 50])[0])
        time.sleep(0.3)
        leaked = lab.from_dp_core(0.05)
        after = dp.snapshot()
        res.check("window/%s/jump-ahead-forwarded" % pair.name, len(fwd) == 1,
                  "seq %d: %d frames reached the core" % (jump, len(fwd)))
        expect_counters(res, "window/%s" % pair.name, before, after, {"rx_esp_window_drops": 2},
                        " (seqs %d and %d with the window at %d)" % (base, jump - window - 50, jump))
        if leaked:
            res.check("window/%s-not-forwarded" % pair.name, False, "%d frames reached the core" % len(leaked))
        # Inside the window but not yet seen: still good (window is a bitmap, not a high-water mark).
        inside = jump - window // 2
        lab.client.send(valid(lab.lab, pair, [inside])[0])
        res.check("window/%s/inside-window-unseen-accepted" % pair.name, len(lab.from_dp_core(1.0, want=1)) == 1,
                  "seq %d (window top %d, size %d) was not forwarded" % (inside, jump, window))

    # A valid packet with trailing bytes after the IP datagram (Ethernet padding).
    for pair in (cbc, gcm):
        s = pair.take_seq()[0]
        f, data = scapy_encrypt(lab.lab, pair, s)
        lab.client.send(raw(f) + b"\0" * 24)
        got = lab.from_dp_core(1.0, want=1)
        probs, okc = check_upstream(lab.lab, got, {(pair, s): (ttl_for(s), data, pair.udp_encap)})
        probs = sum(probs.values(), [])
        res.check("eth-trailer-ignored/%s" % pair.name, not probs and okc.get(pair.name) == 1,
                  "; ".join(probs) or "not forwarded", "24 bytes after the IP datagram did not matter")

    # Core side: nobody's address.
    before = dp.snapshot()
    f = Ether(src=lab.lab["co_mac"], dst=lab.lab["dpcore_mac"]) / IP(src=lab.lab["core_host"], dst="192.0.2.99") / \
        UDP(sport=1701, dport=1701) / Raw(b"no SA for this")
    lab.core.send(f)
    time.sleep(0.3)
    leaked = lab.from_dp_access(0.05)
    after = dp.snapshot()
    if before and after:
        d = {k: v for k, v in counter_deltas(before, after).items() if v and k.endswith("_drops")}
        res.check("core/no-sa-for-destination", not leaked and sum(d.values()) == 1,
                  "%d frames sent to the access side; drop counters moved: %s" % (len(leaked), d or "none"),
                  "dropped as %s" % ",".join(d))

    # Core side, MTU boundary: the largest inner packet whose ESP packet is
    # exactly the access MTU goes out; one byte more does not fit.
    gcm_plain = lab.byname[args.mtu_pair]
    k = gcm_plain.outbound
    overhead = 20 + 8 + k.ci["iv"] + 2 + k.icv_size  # outer IPv4, ESP header, IV, trailer, ICV
    l4 = args.mtu - overhead
    l4 -= (l4 + 2) % k.align                          # no padding needed
    for data_len, fits in ((l4 - 8, True), (l4 - 8 + 1, False)):
        before = dp.snapshot()
        f, data = core_frame(lab.lab, gcm_plain, 5000 + data_len, size=data_len)
        lab.core.send(f)
        got = lab.from_dp_access(1.0, want=1)
        time.sleep(0.2)
        after = dp.snapshot()
        name = "core/mtu/%d-byte-inner-packet" % (20 + 8 + data_len)
        if fits:
            outer = Ether(got[0])[IP].len if got else 0
            ok = len(got) == 1 and outer == args.mtu
            if ok:
                lab.out_seq[gcm_plain.name] += 1
            res.check(name + "-fits", ok, "%d frames, outer length %d (want one of %d)" % (len(got), outer, args.mtu),
                      "sent as a %d-byte ESP packet" % args.mtu)
        else:
            expect_counters(res, name + "-too-big", before, after, {"tx_esp_too_big_drops": 1})
            if got:
                res.check(name + "-not-sent", False, "sent anyway, %d bytes" % len(got[0]))
    before = dp.snapshot()
    lab.core.send(bytes.fromhex(lab.lab["dpcore_mac"].replace(":", "") + lab.lab["co_mac"].replace(":", "")) +
                  b"\x88\xb5" + b"local experimental ethertype".ljust(46, b"."))
    time.sleep(0.2)
    expect_counters(res, "core/non-ip", before, dp.snapshot(), {"rx_non_ip_drops": 1})

    # 3. Still alive, still forwarding, every pair.
    res.check("dp-alive-after-bad-input", dp.alive(), "concentrator-dp exited")
    problems, ok = lab.upstream(pairs, 2)
    bad = {k: v for k, v in problems.items() if v}
    res.check("after/upstream-all-pairs", not bad and sum(ok.values()) == 2 * len(pairs),
              "; ".join("%s: %s" % (k, v[0]) for k, v in bad.items()), "%d packets" % sum(ok.values()))
    problems, ok, _, _ = lab.downstream(pairs, 2, gap_ok=True)
    bad = {k: v for k, v in problems.items() if v}
    res.check("after/downstream-all-pairs", not bad and sum(ok.values()) == 2 * len(pairs),
              "; ".join("%s: %s" % (k, v[0]) for k, v in bad.items()), "%d packets" % sum(ok.values()))
    final = dp.snapshot()
    if final:
        with open(args.stats + ".last", "w") as f:
            json.dump(final, f)
        missed = {p: st.get("imissed") for p, st in final.get("ports", {}).items()}
        res.check("ports-no-imissed", missed and not any(missed.values()), "imissed %s" % missed,
                  "no frame lost at the ports")
    return res


def check_upstream_resend(lab, pair, seqs):
    """Send valid packets with `seqs`; list problems if they do not arrive intact."""
    expected = {}
    for s in seqs:
        f, data = scapy_encrypt(lab.lab, pair, s)
        expected[(pair, s)] = (ttl_for(s), data, pair.udp_encap)
        lab.client.send(f, 0.001)
    got = lab.from_dp_core(1.0, want=len(seqs))
    problems, ok = check_upstream(lab.lab, got, expected)
    return sum(problems.values(), []), ok


# --------------------------------------------------------------------------
# Self-test of the peer alone: scapy and the hand-written ESP must agree.

def selftest(args):
    res = Results()
    rng = random.Random(args.seed)
    lab = dict(cl_mac="02:00:00:00:01:01", dpacc_mac="02:00:00:00:01:02", access_address="198.51.100.1")
    ports = None
    if args.ns_a:
        ports = (Port(args.ns_a, args.if_a), Port(args.ns_b, args.if_b))
    for encap in (False, True):
        for cipher in CIPHERS:
            for integrity in INTEGRITIES:
                if CIPHERS[cipher]["aead"] != (integrity == "none"):
                    continue
                d = dict(name="%s-%s" % (cipher, integrity), cipher=cipher, integrity=integrity, udp_encap=encap,
                         peer="203.0.113.9", peer_port=40009 if encap else 4500, local="198.51.100.1",
                         local_port=4500,
                         **{"in": random_keys(rng, 0x1000, cipher, integrity).to_json(),
                            "out": random_keys(rng, 0x2000, cipher, integrity).to_json()})
                pair = Pair(d)
                name = "selftest/%s/%s" % (d["name"], "natt" if encap else "esp")
                errs = []
                for seq in range(1, 18):
                    frame, data = scapy_encrypt(lab, pair, seq)
                    wire = raw(frame)
                    if ports:
                        ports[0].send(wire)
                        got = ports[1].receive(1.0, want=1, src_mac=lab["cl_mac"])
                        if len(got) != 1 or got[0] != wire:
                            errs.append("seq %d: the frame did not cross the veth intact" % seq)
                            continue
                        wire = got[0]
                    e = Ether(wire)
                    esp, udp = outer_esp_bytes(e[IP])
                    if encap and (udp is None or udp[0] != pair.peer_port or udp[1] != NATT_PORT
                                  or udp[2] != 8 + len(esp)):
                        errs.append("seq %d: bad NAT-T UDP header %s" % (seq, udp))
                    if not encap and udp is not None:
                        errs.append("seq %d: UDP-encapsulated" % seq)
                    # scapy -> hand-written
                    try:
                        o = pair.inbound.open(esp)
                    except EspError as ex:
                        errs.append("seq %d: hand-written open: %s" % (seq, ex))
                        continue
                    if o["seq"] != seq or o["next_header"] != 17 or o["payload"][8:] != data:
                        errs.append("seq %d: hand-written open disagrees" % seq)
                    if o["padding"] != bytes(range(1, o["pad_length"] + 1)):
                        errs.append("seq %d: scapy padding %s" % (seq, o["padding"].hex()))
                    if len(esp) - 8 - pair.inbound.ci["iv"] - pair.inbound.icv_size != \
                            len(o["payload"]) + o["pad_length"] + 2:
                        errs.append("seq %d: ICV size mismatch" % seq)
                    # scapy decrypts its own
                    dec = pair.inbound.scapy_sa().decrypt(IP(src=e[IP].src, dst=e[IP].dst, proto=50) / ESP(esp))
                    if raw(dec[UDP].payload) != data:
                        errs.append("seq %d: scapy round trip differs" % seq)
                    # hand-written -> scapy, including the ICV check
                    sealed = pair.inbound.seal(seq, o["payload"], 17)
                    dec = pair.inbound.scapy_sa().decrypt(IP(src=e[IP].src, dst=e[IP].dst, proto=50) / ESP(sealed))
                    if raw(dec[UDP].payload) != data:
                        errs.append("seq %d: scapy decrypt of hand-written differs" % seq)
                    # a flipped ICV bit must fail in both
                    forged = sealed[:-1] + bytes([sealed[-1] ^ 1])
                    try:
                        pair.inbound.scapy_sa().decrypt(IP(src=e[IP].src, dst=e[IP].dst, proto=50) / ESP(forged))
                        errs.append("seq %d: scapy accepted a forged ICV" % seq)
                    except IPSecIntegrityError:
                        pass
                    try:
                        pair.inbound.open(forged)
                        errs.append("seq %d: hand-written accepted a forged ICV" % seq)
                    except EspError:
                        pass
                res.check(name, not errs, "; ".join(errs[:3]),
                          "17 packets, scapy and hand-written agree, forged ICV rejected"
                          + (", over a veth" if ports else ""))
    # Known answer: HMAC-SHA256-96 is the first 12 bytes of HMAC-SHA256 (RFC 4231 case 2).
    mac = HMAC(b"Jefe", hashes.SHA256())
    mac.update(b"what do ya want for nothing?")
    full = mac.finalize().hex()
    k = SaKeys(1, "aes128", "sha256_96", b"\0" * 16, b"Jefe")
    res.check("selftest/sha256_96-truncation",
              full.startswith("5bdcc146bf60754e6a042426089575c7") and
              k.icv(b"what do ya want for nothing?").hex() == full[:24] and
              AUTH_ALGOS["SHA2-256-96"].icv_size == 12, "HMAC-SHA256-96 does not match RFC 4231 case 2")
    return res


# --------------------------------------------------------------------------
# Single steps, for people and scripts.

def parse_seqs(text):
    out = []
    for part in text.split(","):
        if "-" in part:
            a, b = part.split("-")
            out.extend(range(int(a), int(b) + 1))
        elif part:
            out.append(int(part))
    return out


def pick_pairs(plan, names):
    if not names:
        return plan["pair_objs"]
    want = names.split(",")
    pairs = [p for p in plan["pair_objs"] if p.name in want]
    if len(pairs) != len(want):
        sys.exit("unknown pair in %s; have %s" % (names, ", ".join(p.name for p in plan["pair_objs"])))
    return pairs


def cmd_send_esp(args):
    plan = load_plan(args.plan)
    lab = plan["lab"]
    port = Port(args.netns or lab["ns_cl"], args.iface or lab["if_cl"])
    for pair in pick_pairs(plan, args.pairs):
        for s in parse_seqs(args.seq):
            port.send(scapy_encrypt(lab, pair, s)[0], 0.001)
    print("sent %d ESP packets" % port.sent)


def cmd_send_plain(args):
    plan = load_plan(args.plan)
    lab = plan["lab"]
    port = Port(args.netns or lab["ns_co"], args.iface or lab["if_co"])
    for pair in pick_pairs(plan, args.pairs):
        for i in range(args.count):
            port.send(core_frame(lab, pair, 1000 + i)[0], 0.001)
    print("sent %d plain packets" % port.sent)


def cmd_recv_plain(args):
    plan = load_plan(args.plan)
    lab = plan["lab"]
    port = Port(args.netns or lab["ns_co"], args.iface or lab["if_co"])
    pairs = pick_pairs(plan, args.pairs)
    seqs = parse_seqs(args.seq)
    expected = {}
    for pair in pairs:
        for s in seqs:
            _, data = inner_packet(pair, "up", s, pair.peer, lab["access_address"])
            expected[(pair, s)] = (ttl_for(s), data, pair.udp_encap)
    frames = port.receive(args.timeout, want=len(expected), src_mac=lab["dpcore_mac"])
    problems, ok = check_upstream(lab, frames, expected)
    res = Results()
    report_pairs(res, "up", pairs, problems, ok, len(seqs), "decrypted and forwarded")
    return res


def cmd_recv_esp(args):
    plan = load_plan(args.plan)
    lab = plan["lab"]
    port = Port(args.netns or lab["ns_cl"], args.iface or lab["if_cl"])
    pairs = pick_pairs(plan, args.pairs)
    expected = {p.name: (p, [core_frame(lab, p, 1000 + i)[1] for i in range(args.count)]) for p in pairs}
    frames = port.receive(args.timeout, want=args.count * len(pairs), src_mac=lab["dpacc_mac"])
    problems, ok, _, bad_csum = check_downstream(lab, frames, expected, {p.name: args.first_seq for p in pairs})
    res = Results()
    report_pairs(res, "down", pairs, problems, ok, args.count, "decrypted, ICV verified")
    report_inner_checksums(res, pairs, bad_csum, lab)
    return res


def cmd_send_bad(args):
    plan = load_plan(args.plan)
    lab = plan["lab"]
    port = Port(args.netns or lab["ns_cl"], args.iface or lab["if_cl"])
    pair = pick_pairs(plan, args.pair)[0]
    if args.kind == "replay" or args.kind == "window":
        frames = valid(lab, pair, parse_seqs(args.seq))  # old sequence numbers: the caller picks them
    else:
        gen, nseq, expected = BAD_KINDS[args.kind]
        seqs = parse_seqs(args.seq) if args.seq else list(range(1000000, 1000000 + nseq))
        frames = gen(lab, pair, seqs)
        print("expect %s" % ", ".join("%s +%d" % kv for kv in expected.items()))
    for f in frames:
        port.send(f, 0.001)
    print("sent %d %s frames" % (len(frames), args.kind))


def cmd_demo(args):
    """Both directions for every pair, told for people; non-zero if traffic did not flow."""
    plan = load_plan(args.plan)
    lab = Lab(plan)
    dp = DataPlane(args.dp_pid, args.stats) if args.dp_pid else None
    L = plan["lab"]
    probe = [p for p in plan["pair_objs"] if p.name.endswith("-probe")]
    shown = [p for p in plan["pair_objs"] if p not in probe]
    if dp:
        print("Waiting until concentrator-dp forwards (a probe client sends until it gets through) ...", flush=True)
        if not lab.wait_ready(dp, (probe or shown)[0], 30):
            print("concentrator-dp did not start forwarding within 30 s")
            return 1
    before = dp.snapshot() if dp else None
    flowed = True
    n = args.count
    for pair in shown:
        mode = "ESP in UDP %d->%d (NAT-T)" % (pair.peer_port, NATT_PORT) if pair.udp_encap else "plain ESP (IP proto 50)"
        alg = pair.cipher + ("" if pair.integrity == "none" else " + HMAC " + pair.integrity)
        print("\nClient %s, %s, %s" % (pair.peer, alg, mode))
        problems, ok = lab.upstream([pair], n, pace=0.01)
        good = ok.get(pair.name, 0)
        print("  client -> concentrator: %d packets sent encrypted (SPI 0x%08x, seq %d..%d) from netns %s"
              % (n, pair.inbound.spi, pair.next_seq - n, pair.next_seq - 1, L["ns_cl"]))
        print("  concentrator -> core:   %d of %d arrived in netns %s decrypted, as UDP %s:%d -> %s:%d, "
              "payload byte-exact" % (good, n, L["ns_co"], pair.peer, L2TP_PORT, L["access_address"], L2TP_PORT))
        for p in problems.get(pair.name, [])[:3]:
            print("    problem: %s" % p)
        problems, ok, got, bad_csum = lab.downstream([pair], n, pace=0.01)
        good2 = ok.get(pair.name, 0)
        seqs = [o["seq"] for o in got.get(pair.name, [])]
        print("  core -> concentrator:   %d plain UDP packets sent from %s to %s" % (n, L["core_host"], pair.peer))
        print("  concentrator -> client: %d of %d arrived encrypted (SPI 0x%08x, seq %s), ICV verified and "
              "decrypted by scapy, payload byte-exact" % (good2, n, pair.outbound.spi,
                                                          ",".join(map(str, seqs)) or "-"))
        for p in problems.get(pair.name, [])[:3]:
            print("    problem: %s" % p)
        if bad_csum.get(pair.name):
            print("    note: the inner UDP checksum does not verify under the new outer addresses; %s"
                  % ("a NAT-T client in transport mode ignores it" if pair.udp_encap
                     else "a kernel IPsec client would drop these packets"))
        flowed = flowed and good == n and good2 == n
    if dp:
        after = dp.snapshot()
        if before and after:
            print("\nData plane counters that moved during the demo:")
            for k, v in sorted(counter_deltas(before, after).items()):
                if v and not k.startswith("busy_"):
                    print("  %-32s +%d" % (k, v))
            print("Per-SA packets:")
            p0 = sa_packets(before)
            for (name, d), v in sorted(sa_packets(after).items()):
                if not name.startswith(tuple(p.name for p in probe)):
                    print("  %-32s %-3s +%d" % (name, d, v - p0.get((name, d), 0)))
            print("Port totals since start (the probe included):")
            for port, st in sorted(after.get("ports", {}).items()):
                print("  %-6s %s" % (port, ", ".join("%s=%s" % kv for kv in sorted(st.items()))))
    print("\nTraffic %s." % ("flowed both ways for every client" if flowed else "did NOT flow everywhere"))
    return 0 if flowed else 1


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)

    p = sub.add_parser("plan", help="make a plan with fresh keys")
    p.add_argument("--out", required=True)
    p.add_argument("--seed", type=int)
    p.add_argument("--combos", help="cipher/integrity[/esp|natt],... (default: the full test matrix)")
    p.add_argument("--encap", choices=["both", "esp", "natt"], default="both")
    p.add_argument("--replay-window", type=int, default=1024)
    p.add_argument("--peer-net", default="203.0.113")
    p.add_argument("--first-peer-host", type=int, default=10)
    p.add_argument("--with-probe", action="store_true", help="add the pair the suite uses to wait for forwarding")
    for k, v in dict(ns_cl="cl", ns_dp="dp", ns_co="co", if_cl="eth0", if_co="eth0", if_dpacc="dpacc",
                     if_dpcore="dpcore", cl_mac="02:00:00:00:01:01", dpacc_mac="02:00:00:00:01:02",
                     dpcore_mac="02:00:00:00:02:02", co_mac="02:00:00:00:02:01", access_address="198.51.100.1",
                     core_address="10.0.0.1", core_host="10.0.0.2").items():
        p.add_argument("--" + k.replace("_", "-"), default=os.environ.get("LAB_" + k.upper(), v))
    p.add_argument("--access-prefix", type=int, default=24)
    p.add_argument("--core-prefix", type=int, default=24)

    p = sub.add_parser("config", help="write the concentrator-dp config for a plan")
    p.add_argument("--plan", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--file-prefix", default="esptest%d" % os.getpid())
    p.add_argument("--lcores", default="0-1")
    p.add_argument("--workers", default="1")

    p = sub.add_parser("selftest", help="scapy vs hand-written ESP, optionally over a veth")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--ns-a")
    p.add_argument("--if-a")
    p.add_argument("--ns-b")
    p.add_argument("--if-b")

    for name in ("send-esp", "send-plain", "recv-plain", "recv-esp", "send-bad"):
        p = sub.add_parser(name)
        p.add_argument("--plan", required=True)
        p.add_argument("--netns", help="default: from the plan")
        p.add_argument("--iface", help="default: from the plan")
        if name == "send-bad":
            p.add_argument("kind", choices=sorted(BAD_KINDS) + ["replay", "window"])
            p.add_argument("--pair", required=True)
            p.add_argument("--seq", help="sequence numbers to use (replay/window: the old ones)")
        else:
            p.add_argument("--pairs", help="comma-separated pair names (default: all)")
        if name in ("send-esp", "recv-plain"):
            p.add_argument("--seq", default="1-8", help="e.g. 1-8 or 3,5,9")
        if name in ("send-plain", "recv-esp"):
            p.add_argument("--count", type=int, default=8)
        if name == "recv-esp":
            p.add_argument("--first-seq", type=int, default=1)
        if name.startswith("recv"):
            p.add_argument("--timeout", type=float, default=5.0)

    p = sub.add_parser("suite", help="the system test against a running concentrator-dp")
    p.add_argument("--plan", required=True)
    p.add_argument("--dp-pid", type=int, required=True)
    p.add_argument("--stats", required=True, help="the --stats-json file of concentrator-dp")
    p.add_argument("--count", type=int, default=16, help="packets per pair and direction (16: every pad length)")
    p.add_argument("--ready-timeout", type=int, default=30)
    p.add_argument("--probe", default="aes128gcm16-probe")
    p.add_argument("--cbc-pair", default="aes128-sha1-esp")
    p.add_argument("--gcm-pair", default="aes128gcm16-natt")
    p.add_argument("--des-pair", default="3des-sha1-esp")
    p.add_argument("--mtu-pair", default="aes128gcm16-esp")
    p.add_argument("--mtu", type=int, default=1500, help="the access port's mtu in the config")

    p = sub.add_parser("demo", help="traffic both ways, told for people")
    p.add_argument("--plan", required=True)
    p.add_argument("--dp-pid", type=int)
    p.add_argument("--stats")
    p.add_argument("--count", type=int, default=5)

    args = ap.parse_args()
    if args.cmd == "plan":
        return make_plan(args)
    if args.cmd == "config":
        return write_config(args)
    if args.cmd == "demo":
        return cmd_demo(args)
    res = {"selftest": selftest, "suite": run_suite, "send-esp": cmd_send_esp, "send-plain": cmd_send_plain,
           "recv-plain": cmd_recv_plain, "recv-esp": cmd_recv_esp, "send-bad": cmd_send_bad}[args.cmd](args)
    if isinstance(res, Results):
        print("%d passed, %d failed" % (res.passed, res.failed))
        return 1 if res.failed else 0
    return 0


if __name__ == "__main__":
    sys.exit(main())

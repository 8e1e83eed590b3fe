#!/usr/bin/python3
"""An independent L2TP/IPsec client and core host for the system tests and the demo.

It plays the clients (internet side) and the core host around concentrator-dp.
A client speaks the whole stack a Windows or xl2tpd/pppd client does on the
data path: its inner IP packet goes in PPP (RFC 1661/1662), in an L2TPv2 data
message (RFC 2661), in UDP 1701, in ESP transport mode (RFC 4303), optionally
in UDP 4500 (RFC 3948). scapy's SecurityAssociation encrypts and decrypts; a
second, hand-written ESP on the `cryptography` primitives builds the
malformed packets scapy refuses to make (bad padding, misaligned ciphertext,
truncations) and cross-checks scapy. L2TP and PPP are built and parsed here
by hand, byte by byte, so every framing variant can be made (the selftest
checks them against scapy's own L2TP and PPP layers).

Everything is described by a *plan* (JSON): the lab (namespaces, interfaces,
MACs, addresses) and a list of clients, each an SA pair plus an L2TP session
(ids, the client's IPv4 address and IPv6 prefix, PPP MTU). The same plan
writes the concentrator config, so keys and ids never have to be copied.

Run with Debian's /usr/bin/python3 (python3-scapy). Subcommands:
  plan         make a plan with fresh random keys, SPIs and L2TP ids
  config       write the concentrator-dp config for a plan
  selftest     scapy <-> hand-written ESP, every algorithm, both encaps; L2TP/PPP builders vs scapy
  send-esp     client: send inner packets through L2TP/PPP/ESP, chosen sequence numbers
  send-plain   core host: send plain packets to clients' addresses
  recv-plain   core host: receive and check what the data plane forwarded
  recv-esp     client: receive, decrypt (ICV verified), unwrap L2TP/PPP, check
  send-bad     client: send one kind of malformed input (see BAD_KINDS)
  suite        the whole system test against a running concentrator-dp
  nat-suite    clients behind one NAT address, against a running concentrator-dp
  demo         send traffic both ways and tell what happened at each layer, for people

Sockets are AF_PACKET sockets opened inside the lab's network namespaces
(setns), so one process can be the clients and the core host at once.
"""

import argparse
import contextlib
import ctypes
import hashlib
import ipaddress
import json
import math
import os
import random
import select
import shlex
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
import warnings

warnings.filterwarnings("ignore")  # cryptography warns about 3DES; we test it on purpose

from cryptography.hazmat.primitives import hashes  # noqa: E402
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes  # noqa: E402
from cryptography.hazmat.primitives.ciphers.aead import AESGCM  # noqa: E402
from cryptography.hazmat.primitives.hmac import HMAC  # noqa: E402
from cryptography.exceptions import InvalidTag  # noqa: E402
from scapy.layers.inet import (ICMP, IP, TCP, UDP, IPOption_Router_Alert, IPOption_RR,  # noqa: E402
                               defragment, fragment)
from scapy.layers.inet6 import IPv6  # noqa: E402
from scapy.layers.ipsec import AUTH_ALGOS, ESP, AuthAlgo, IPSecIntegrityError, SecurityAssociation  # noqa: E402
from scapy.layers.l2 import ARP, Ether  # noqa: E402
from scapy.layers.ppp import PPP_IPCP, PPP_IPCP_Option_IPAddress, PPP_LCP_Echo  # noqa: E402
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

# RFC 2661 3.1 header bits (version 2 in the low nibble).
L2TP_VERSION = 0x0002
L2TP_T, L2TP_L, L2TP_S, L2TP_O, L2TP_P = 0x8000, 0x4000, 0x0800, 0x0200, 0x0100
# PPP protocol numbers (RFC 1661, RFC 1332, RFC 5072).
PPP_IPV4, PPP_IPV6, PPP_LCP, PPP_IPCP_PROTO = 0x0021, 0x0057, 0xC021, 0x8021

# Inner UDP data sizes, picked by sequence number modulo 16: any 16
# consecutive sequence numbers give every residue modulo 16 of the ESP
# payload length, so every pad length 0..15 for 16-byte blocks (and every
# one for 8- and 4-byte blocks), from a 5-byte payload to a 1378-byte inner
# packet that still fits every session's effective MTU with a 1500-byte access
# MTU (1381 at the least: AES-CBC with HMAC-SHA-512 in UDP 4500).
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


# --------------------------------------------------------------------------
# The plan: a lab and its simulated clients, each an SA pair and an L2TP session.

class Pair:
    """A client: its public (NAT) address and port, the data plane's inbound
    and outbound SA, and its L2TP session: our ids (which it sends), its ids
    (which we send), the addresses PPP gave it and the PPP MTU."""

    def __init__(self, d, access_mtu=1500):
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
        s = d.get("session", {})
        self.tunnel_id = s.get("tunnel_id", 1)
        self.session_id = s.get("session_id", 1)
        self.peer_tunnel_id = s.get("peer_tunnel_id", 1)
        self.peer_session_id = s.get("peer_session_id", 1)
        self.client_ipv4 = s.get("client_ipv4", "100.64.0.1")
        self.client_ipv6_prefix = s.get("client_ipv6_prefix", "2001:db8:100::/64")
        self.mtu = s.get("mtu", 1400)  # the configured PPP MTU
        self.sequencing = s.get("sequencing", False)
        self.access_mtu = access_mtu
        # Behind a NAT the client computes its UDP checksum over its private address.
        self.private_address = s.get("private_address", self.peer)
        self.next_seq = 1  # the client's next outbound sequence number

    def to_json(self):
        return dict(name=self.name, cipher=self.cipher, integrity=self.integrity, udp_encap=self.udp_encap,
                    peer=self.peer, peer_port=self.peer_port, local=self.local, local_port=self.local_port,
                    session=dict(tunnel_id=self.tunnel_id, session_id=self.session_id,
                                 peer_tunnel_id=self.peer_tunnel_id, peer_session_id=self.peer_session_id,
                                 client_ipv4=self.client_ipv4, client_ipv6_prefix=self.client_ipv6_prefix,
                                 mtu=self.mtu, sequencing=self.sequencing, private_address=self.private_address),
                    **{"in": self.inbound.to_json(), "out": self.outbound.to_json()})

    def client_ipv6(self, host=1):
        """An address inside the client's IPv6 prefix."""
        return str(ipaddress.IPv6Network(self.client_ipv6_prefix)[host])

    @property
    def largest_inner_packet(self):
        """The largest inner packet whose ESP packet fits the access MTU whatever its padding (what
        largest_inner_packet() in dataplane/dataplane.cc computes): outer IPv4, the NAT-T UDP header,
        the ESP header and IV, block - 1 bytes of padding at worst, the ESP trailer and ICV, then
        UDP 1701, the L2TP data header (Ns/Nr with sequencing) and PPP."""
        k = self.outbound
        overhead = (20 + (8 if self.udp_encap else 0) + 8 + k.ci["iv"] + (k.ci["block"] - 1) + 2 + k.icv_size +
                    8 + (10 if self.sequencing else 6) + 4)
        return max(0, self.access_mtu - overhead)

    @property
    def effective_mtu(self):
        """The MTU the data plane gives the session: the PPP MTU, or less if its ESP would not fit."""
        return min(self.mtu, self.largest_inner_packet)

    def esp_outer_len(self, inner_len):
        """The outer IPv4 length of one inner packet of inner_len bytes (padding to the block, RFC 4303 2.4)."""
        k = self.outbound
        payload = 8 + (10 if self.sequencing else 6) + 4 + inner_len + 2
        payload += -payload % k.align
        return 20 + (8 if self.udp_encap else 0) + 8 + k.ci["iv"] + payload + k.icv_size

    @property
    def mss_ipv4(self):
        return self.effective_mtu - 40

    @property
    def mss_ipv6(self):
        return self.effective_mtu - 60

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
               core_host=args.core_host, core_host6=args.core_host6, access_mtu=args.access_mtu)
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
    if args.shared_nat:
        combos = [(c, i, True) for c, i, _ in combos]
    spis, ids = set(), set()

    def new_spi():
        while True:
            spi = rng.randrange(0x100, 1 << 32)  # 1..255 are reserved (RFC 4303 2.1)
            if spi not in spis:
                spis.add(spi)
                return spi

    def new_id():
        while True:
            v = rng.randrange(1, 1 << 16)  # 0 is for control messages (RFC 2661 3.1)
            if v not in ids:
                ids.add(v)
                return v

    full_mtu = set(args.full_mtu_pairs.split(",")) if args.full_mtu_pairs else set()
    shared_ids = [new_id() for _ in range(4)]  # --shared-nat: every client the same ids

    def client(index, name, cipher, integrity, encap, peer, peer_port, sequencing):
        t, s, pt, ps = shared_ids if args.shared_nat else [new_id() for _ in range(4)]
        return dict(
            name=name, cipher=cipher, integrity=integrity, udp_encap=encap, peer=peer, peer_port=peer_port,
            local=args.access_address, local_port=NATT_PORT,
            session=dict(tunnel_id=t, session_id=s, peer_tunnel_id=pt, peer_session_id=ps,
                         client_ipv4="%s.%d" % (args.client_net, index),
                         client_ipv6_prefix="%s:%x::/64" % (args.client_net6, index),
                         mtu=1500 if name in full_mtu else args.session_mtu, sequencing=sequencing,
                         private_address="192.168.%d.%d" % (index // 250, 2 + index % 250) if encap else peer),
            **{"in": random_keys(rng, new_spi(), cipher, integrity).to_json(),
               "out": random_keys(rng, new_spi(), cipher, integrity).to_json()})

    pairs = []
    host = args.first_peer_host
    for n, (cipher, integrity, encap) in enumerate(combos):
        if cipher not in CIPHERS or integrity not in INTEGRITIES:
            sys.exit("unknown combination %s/%s" % (cipher, integrity))
        if CIPHERS[cipher]["aead"] != (integrity == "none"):
            sys.exit("%s needs %s integrity" % (cipher, "no" if CIPHERS[cipher]["aead"] else "an"))
        name = "%s-%s-%s" % (cipher, integrity, "natt" if encap else "esp")
        name = name.replace("-none", "")
        if args.shared_nat:
            # One public address, one NAT mapping (source port) per client.
            peer, peer_port = "%s.%d" % (args.peer_net, host), 40001 + n
            name = "nat%d-%s" % (n + 1, name)
        else:
            peer, peer_port = "%s.%d" % (args.peer_net, host + n), (40000 + host + n) if encap else NATT_PORT
        sequencing = bool(args.sequencing_every) and n % args.sequencing_every == args.sequencing_every - 1
        pairs.append(client(10 + n, name, cipher, integrity, encap, peer, peer_port, sequencing))
    if args.with_probe:
        # A client of its own for "is the data plane forwarding yet?", so the
        # sequence numbers of the clients under test stay predictable.
        pairs.append(client(250, "aes128gcm16-probe", "aes128gcm16", "none", False,
                            "%s.%d" % (args.peer_net, 250), NATT_PORT, False))
    plan = dict(seed=seed, replay_window=args.replay_window, lab=lab, pairs=pairs)
    with open(args.out, "w") as f:
        json.dump(plan, f, indent=1)
    print("plan %s: %d clients (SA pair + L2TP session), seed %d" % (args.out, len(pairs), seed))


def load_plan(path):
    with open(path) as f:
        plan = json.load(f)
    access_mtu = plan["lab"].setdefault("access_mtu", 1500)
    plan["pair_objs"] = [Pair(p, access_mtu) for p in plan["pairs"]]
    return plan


def config_text(pairs, replay_window, eal_args, workers, ports, header, mbufs=8191, max_sas=1024,
                max_sessions=1024):
    """A concentrator-dp config: the dataplane section, then each pair as a static SA pair
    ("NAME-in", "NAME-out") and a static L2TP session "NAME".

    ports: (role, device, "address/prefix", gateway MAC, mtu) for "access" and "core".
    """
    out = []
    w = out.append
    w("# " + header)
    w("dataplane:\n{")
    w("  eal_args = [ %s ];" % ", ".join('"%s"' % a for a in eal_args))
    w("  workers = [ %s ];" % workers)
    w("  mbufs = %d;\n  burst_size = 32;\n  max_sas = %d;\n  max_sessions = %d;\n  stats_interval = 0;"
      % (mbufs, max_sas, max_sessions))
    for port, dev, address, gw, mtu in ports:
        w("  %s:\n  {\n    device = \"%s\";\n    address = \"%s\";\n    gateway_mac = \"%s\";\n"
          "    mtu = %d;\n  };" % (port, dev, address, gw, mtu))
    w("};\n\nipsec:\n{\n  replay_window = %d;\n  static_sas = (" % replay_window)
    entries = []
    for p in pairs:
        for direction, keys in (("in", p.inbound), ("out", p.outbound)):
            e = ['      name = "%s-%s";' % (p.name, direction),
                 '      direction = "%s";' % direction,
                 "      spi = 0x%08x;" % keys.spi,
                 '      cipher = "%s";' % keys.cipher]
            if keys.integrity != "none":
                e.append('      integrity = "%s";' % keys.integrity)
            e.append('      cipher_key = "0x%s";' % keys.cipher_key.hex())
            if keys.integrity != "none":
                e.append('      integrity_key = "0x%s";' % keys.integrity_key.hex())
            e.append('      peer = "%s";' % p.peer)
            e.append("      udp_encap = %s;" % ("true" if p.udp_encap else "false"))
            if p.udp_encap:
                e.append("      peer_port = %d;" % p.peer_port)
            entries.append("    {\n" + "\n".join(e) + "\n    }")
    w(",\n".join(entries))
    w("  );\n};\n\nl2tp:\n{\n  static_sessions = (")
    entries = []
    for p in pairs:
        entries.append("    {\n" + "\n".join([
            '      name = "%s";' % p.name,
            '      sa_in = "%s-in";' % p.name,
            '      sa_out = "%s-out";' % p.name,
            "      tunnel_id = %d;" % p.tunnel_id,
            "      session_id = %d;" % p.session_id,
            "      peer_tunnel_id = %d;" % p.peer_tunnel_id,
            "      peer_session_id = %d;" % p.peer_session_id,
            '      client_ipv4 = "%s";' % p.client_ipv4,
            '      client_ipv6_prefix = "%s";' % p.client_ipv6_prefix,
            "      mtu = %d;" % p.mtu,
            "      sequencing = %s;" % ("true" if p.sequencing else "false")]) + "\n    }")
    w(",\n".join(entries))
    w("  );\n};")
    return "\n".join(out) + "\n"


def write_config(args):
    plan = load_plan(args.plan)
    lab = plan["lab"]
    # A control plane attaches as a secondary process only to a data plane
    # whose memory lives in hugepage files (not --in-memory), mapped at the
    # same addresses: the data plane's go far above where libraries and
    # ASan's shadow and heap land, so the ASan build can attach too.
    eal = ["-l", args.lcores] + (["--base-virtaddr", "0x200000000000"] if args.shared else ["--in-memory"]) + \
        ["--file-prefix", args.file_prefix, "--no-pci"]
    ports = [("access", "net_af_packet0,iface=%s" % lab["if_dpacc"],
              "%s/%d" % (lab["access_address"], lab["access_prefix"]), lab["cl_mac"], lab["access_mtu"]),
             ("core", "net_af_packet1,iface=%s" % lab["if_dpcore"],
              "%s/%d" % (lab["core_address"], lab["core_prefix"]), lab["co_mac"], 1500)]
    text = config_text(plan["pair_objs"], plan["replay_window"], eal, args.workers, ports,
                       "concentrator-dp config written by tests/system/esp_peer.py from %s" % args.plan)
    if args.mgmt_socket:
        text += 'mgmt:\n{\n  socket = "%s";\n};\n' % args.mgmt_socket
    with open(args.out, "w") as f:
        f.write(text)
    print("config %s: %d static SAs, %d static sessions" % (args.out, 2 * len(plan["pair_objs"]),
                                                            len(plan["pair_objs"])))


# --------------------------------------------------------------------------
# L2TP (RFC 2661 3.1) and PPP (RFC 1661 2, RFC 1662 3.1) by hand.

def ppp_frame(protocol, payload, acfc=False, pfc=False):
    """A PPP frame as an L2TP client sends it: FF 03 unless address/control
    field compression, a one-byte protocol with protocol field compression."""
    head = b"" if acfc else b"\xff\x03"
    head += bytes([protocol]) if pfc and protocol < 0x100 else struct.pack("!H", protocol)
    return head + payload


def l2tp_message(tunnel_id, session_id, payload, length=False, seq=None, offset=None, priority=False,
                 control=False, version=2, length_value=None, trailer=b""):
    """An L2TPv2 message with every optional field under our control.

    seq: (Ns, Nr) sets the S bit; offset: the offset pad bytes (O bit, Offset
    Size = their count); length_value overrides the Length field; trailer is
    sent after the message (outside Length).
    """
    flags = version | (L2TP_T if control else 0) | (L2TP_L if length or length_value is not None else 0) | \
        (L2TP_S if seq is not None else 0) | (L2TP_O if offset is not None else 0) | (L2TP_P if priority else 0)
    rest = struct.pack("!HH", tunnel_id, session_id)
    if seq is not None:
        rest += struct.pack("!HH", *seq)
    if offset is not None:
        rest += struct.pack("!H", len(offset)) + offset
    if flags & L2TP_L:
        total = 4 + len(rest) + len(payload)
        head = struct.pack("!HH", flags, total if length_value is None else length_value)
    else:
        head = struct.pack("!H", flags)
    return head + rest + payload + trailer


def l2tp_data(pair, payload, ours=True, **kw):
    """A data message on the pair's session: our ids (what a client sends) or the client's."""
    if ours:
        return l2tp_message(pair.tunnel_id, pair.session_id, payload, **kw)
    return l2tp_message(pair.peer_tunnel_id, pair.peer_session_id, payload, **kw)


class L2tpParseError(Exception):
    pass


def parse_l2tp(b):
    """dict(flags, length, tunnel, session, ns, nr, header_len, payload) of an L2TP message."""
    if len(b) < 6:
        raise L2tpParseError("L2TP message of %d bytes" % len(b))
    flags = struct.unpack("!H", b[:2])[0]
    at, length = 2, None
    if flags & L2TP_L:
        length = struct.unpack("!H", b[2:4])[0]
        at = 4
    if len(b) < at + 4:
        raise L2tpParseError("truncated before the session id")
    tunnel, session = struct.unpack("!HH", b[at:at + 4])
    at += 4
    ns = nr = None
    if flags & L2TP_S:
        if len(b) < at + 4:
            raise L2tpParseError("truncated in Ns/Nr")
        ns, nr = struct.unpack("!HH", b[at:at + 4])
        at += 4
    if flags & L2TP_O:
        if len(b) < at + 2:
            raise L2tpParseError("truncated in Offset Size")
        at += 2 + struct.unpack("!H", b[at:at + 2])[0]
    end = len(b) if length is None else length
    if at > end or end > len(b):
        raise L2tpParseError("header of %d bytes, message of %d, datagram of %d" % (at, end, len(b)))
    return dict(flags=flags, length=length, tunnel=tunnel, session=session, ns=ns, nr=nr, header_len=at,
                payload=b[at:end])


def parse_ppp(b):
    """(protocol, payload, header bytes) of a PPP frame; ACFC and PFC tolerant."""
    at = 2 if b[:2] == b"\xff\x03" else 0
    if len(b) <= at:
        raise L2tpParseError("PPP frame of %d bytes" % len(b))
    if b[at] & 1:
        return b[at], b[at + 1:], b[:at + 1]
    if len(b) < at + 2:
        raise L2tpParseError("PPP frame truncated in the protocol field")
    return struct.unpack("!H", b[at:at + 2])[0], b[at + 2:], b[:at + 2]


# --------------------------------------------------------------------------
# Inner packets: what the client's applications and the core host send.

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


def ttl_for(seq):
    return 32 + seq % 200  # varied, so "TTL minus one" is checked for real


def size_for(seq):
    return PAYLOAD_SIZES[seq % len(PAYLOAD_SIZES)]


def user_up(lab, pair, seq, size=None, ttl=None, src=None, v6=False, tag="up"):
    """The client's own packet to the core host: IPv4 from its PPP address, or IPv6 from its prefix."""
    size = size_for(seq) if size is None else size
    ttl = ttl_for(seq) if ttl is None else ttl
    l4 = UDP(sport=20000 + seq % 10000, dport=9) / Raw(payload_for(pair, tag, seq, size))
    if v6:
        return IPv6(src=src or pair.client_ipv6(1), dst=lab["core_host6"], hlim=ttl) / l4
    return IP(src=src or pair.client_ipv4, dst=lab["core_host"], ttl=ttl, id=seq & 0xFFFF) / l4


def user_down(lab, pair, seq, size=None, ttl=64, dst=None, v6=False, flags=0, tag="down"):
    """The core host's packet to a client's address (IPv4 or inside its IPv6 prefix)."""
    size = size_for(seq) if size is None else size
    l4 = UDP(sport=9, dport=20000 + seq % 10000) / Raw(payload_for(pair, tag, seq, size))
    if v6:
        return IPv6(src=lab["core_host6"], dst=dst or pair.client_ipv6(1), hlim=ttl) / l4
    return IP(src=lab["core_host"], dst=dst or pair.client_ipv4, ttl=ttl, id=(seq + 0x8000) & 0xFFFF,
              flags=flags) / l4


def routed(ip_bytes):
    """What one router hop makes of a packet: TTL / hop limit minus one, IPv4 checksum fixed."""
    b = bytearray(ip_bytes)
    if b[0] >> 4 == 4:
        b[8] -= 1
        ihl = (b[0] & 0x0F) * 4
        b[10:12] = b"\0\0"
        struct.pack_into("!H", b, 10, ~checksum16(bytes(b[:ihl])) & 0xFFFF)
    else:
        b[7] -= 1
    return bytes(b)


def core_frame(lab, ip):
    """Ether + a packet from the core host towards the data plane's core port."""
    return Ether(src=lab["co_mac"], dst=lab["dpcore_mac"], type=0x86DD if IPv6 in ip else 0x0800) / ip


# --------------------------------------------------------------------------
# The client's encapsulation: L2TP in UDP 1701 in ESP (in UDP 4500).

def transport_udp(lab, pair, l2tp, sport=L2TP_PORT, dport=L2TP_PORT):
    """The UDP datagram the client's ESP protects. Its checksum is over the
    client's own view of the addresses: behind a NAT, its private address
    (RFC 3948 3.1.2: the receiver does not check it in transport mode)."""
    b = raw(IP(src=pair.private_address, dst=lab["access_address"]) / UDP(sport=sport, dport=dport) / Raw(l2tp))
    return b[20:]


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


def scapy_encrypt_udp(lab, pair, seq, udp_bytes=None, transport=None):
    """scapy's SA encrypts a transport-mode packet (by default our UDP datagram).

    NAT-T uses scapy's nat_t_header; scapy 2.5 leaves that UDP header's
    length at 8 (it is computed before the ESP is attached), so the length is
    repaired here.
    """
    if transport is None:
        transport = IP(src=pair.peer, dst=lab["access_address"], proto=17) / Raw(udp_bytes)
    keys = pair.inbound
    kw = dict(crypt_algo=keys.ci["scapy"], crypt_key=keys.cipher_key)
    if keys.ii["scapy"]:
        kw.update(auth_algo=keys.ii["scapy"], auth_key=keys.integrity_key)
    if pair.udp_encap:
        kw["nat_t_header"] = UDP(sport=pair.peer_port, dport=NATT_PORT)
    sa = SecurityAssociation(ESP, spi=keys.spi, **kw)
    outer = bytearray(raw(sa.encrypt(transport, seq_num=seq)))
    if pair.udp_encap:
        ihl = (outer[0] & 0x0F) * 4
        struct.pack_into("!H", outer, ihl + 4, len(outer) - ihl)
    return Ether(src=lab["cl_mac"], dst=lab["dpacc_mac"]) / IP(bytes(outer))


def scapy_encrypt(lab, pair, seq, user=None, ppp=None, l2tp=None, ppp_kw=None, l2tp_kw=None, dport=L2TP_PORT):
    """The client's normal path: its IP packet in PPP in L2TP in UDP 1701 in ESP.

    Any layer can be given as bytes instead (ppp: the PPP frame, l2tp: the
    whole L2TP message). Returns (frame, the user packet's bytes or None).
    """
    if l2tp is None:
        if ppp is None:
            if user is None:
                user = user_up(lab, pair, seq)
            ppp = ppp_frame(PPP_IPV6 if IPv6 in user else PPP_IPV4, raw(user), **(ppp_kw or {}))
        l2tp = l2tp_data(pair, ppp, **(l2tp_kw or {}))
    frame = scapy_encrypt_udp(lab, pair, seq, transport_udp(lab, pair, l2tp, dport=dport))
    return frame, (raw(user) if user is not None else None)


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


def parse_ip(b):
    return IP(b) if b and b[0] >> 4 == 4 else IPv6(b)


def checksum_problems(ip_bytes):
    """What scapy finds wrong with a packet's IPv4, UDP, TCP or ICMP checksum:
    each one it recomputes must equal the one on the wire."""
    p = parse_ip(ip_bytes)
    errs = []
    whole = IP not in p or (p[IP].frag == 0 and not p[IP].flags.MF)  # a fragment's L4 checksum covers more
    for layer in (IP, UDP, TCP, ICMP):
        if layer not in p or (layer is not IP and not whole):
            continue
        got = p[layer].chksum
        if layer is UDP and got == 0 and IP in p:
            continue  # RFC 768: none
        q = p.copy()
        del q[layer].chksum
        want = parse_ip(raw(q))[layer].chksum
        if got != want:
            errs.append("%s checksum 0x%04x, scapy computes 0x%04x" % (layer.__name__, got, want))
    return errs


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
        """Incoming frames (bytes) until `want` arrived or `timeout` s passed; frames already queued are
        read even then (timeout 0: just those), for at most a second more."""
        got = []
        deadline = time.monotonic() + timeout
        while want is None or len(got) < want:
            left = deadline - time.monotonic()
            if left < -1.0:
                break
            r, _, _ = select.select([self.sock], [], [], max(0.0, left))
            if not r:
                break
            data, addr = self.sock.recvfrom(65535)
            if addr[2] == PACKET_OUTGOING:
                continue
            if src_mac and data[6:12] != bytes.fromhex(src_mac.replace(":", "")):
                continue
            got.append(data)
        return got

    def drain(self, quiet=0.1):
        return self.receive(quiet)


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


IPV4_FIELDS = {0: "version/IHL", 1: "TOS", 2: "total length", 3: "total length", 4: "identification",
               5: "identification", 6: "flags/fragment offset", 7: "flags/fragment offset", 8: "TTL",
               9: "protocol", 10: "header checksum", 11: "header checksum"}
IPV6_FIELDS = {0: "version/traffic class", 1: "traffic class/flow label", 2: "flow label", 3: "flow label",
               4: "payload length", 5: "payload length", 6: "next header", 7: "hop limit"}


def describe_difference(got, want):
    """Where two packets first differ, named after the header field when it is one."""
    if got == want:
        return ""
    n = next((i for i in range(min(len(got), len(want))) if got[i] != want[i]), None)
    if n is None:
        return "%d bytes, want %d (the same up to there)" % (len(got), len(want))
    v4 = want[0] >> 4 == 4
    ihl = (want[0] & 0x0F) * 4 if v4 else 40
    if v4 and n in IPV4_FIELDS:
        field = IPV4_FIELDS[n]
    elif v4 and 12 <= n < 20:
        field = "source address" if n < 16 else "destination address"
    elif not v4 and n in IPV6_FIELDS:
        field = IPV6_FIELDS[n]
    elif not v4 and 8 <= n < 40:
        field = "source address" if n < 24 else "destination address"
    else:
        field = "byte %d after the IP header" % (n - ihl)
    return "differs first at byte %d (%s): 0x%02x, want 0x%02x; %d bytes, want %d" % (
        n, field, got[n], want[n], len(got), len(want))


def flow_key(ip_bytes):
    """(source, destination, protocol, ports): what tells the packets of one check apart."""
    try:
        p = parse_ip(ip_bytes)
    except Exception:
        return None
    if IP in p:
        ip, proto, whole = p[IP], p[IP].proto, p[IP].frag == 0
    elif IPv6 in p:
        ip, proto, whole = p[IPv6], p[IPv6].nh, True
    else:
        return None
    if IP in p and (p[IP].frag or p[IP].flags.MF):
        return ip.src, ip.dst, proto, ("fragment", p[IP].id, p[IP].frag)
    l4 = p[UDP] if UDP in p else p[TCP] if TCP in p else None
    ports = (l4.sport, l4.dport) if l4 is not None and whole else None
    return ip.src, ip.dst, proto, ports


def mac_bytes(mac):
    return bytes.fromhex(mac.replace(":", ""))


def compare_forwarded(frame, want, src_mac, dst_mac):
    """Problems with a frame that should carry exactly the packet `want`."""
    errs = []
    if frame[:6] != mac_bytes(dst_mac) or frame[6:12] != mac_bytes(src_mac):
        errs.append("ether %s->%s, want %s->%s" % (frame[6:12].hex(":"), frame[:6].hex(":"), src_mac, dst_mac))
    ether_type = struct.unpack("!H", frame[12:14])[0]
    want_type = 0x0800 if want[0] >> 4 == 4 else 0x86DD
    if ether_type != want_type:
        errs.append("ethertype 0x%04x, want 0x%04x" % (ether_type, want_type))
    got = frame[14:]
    if got[:len(want)] != want or len(got) < len(want):
        errs.append(describe_difference(got[:len(want)], want))
    elif len(got) > len(want) and not (len(frame) == 60 and not any(got[len(want):])):
        errs.append("%d bytes after the packet" % (len(got) - len(want)))
    errs += checksum_problems(got[:len(want)])
    return errs


def check_core_frames(lab, frames, expected):
    """Frames the core host got vs expected {flow key: (pair name, label, routed packet bytes)}.

    Returns ({(pair name, label): [problems] or None if it never came}, [stray frame descriptions]).
    """
    out = {(n, label): None for n, label, _ in expected.values()}
    stray = []
    for f in frames:
        k = flow_key(f[14:])
        if k not in expected:
            stray.append("unexpected frame on core: %s" % Ether(f).summary())
            continue
        name, label, want = expected[k]
        if out[(name, label)] is not None:
            out[(name, label)].append("delivered twice")
            continue
        out[(name, label)] = compare_forwarded(f, want, lab["dpcore_mac"], lab["co_mac"])
    return out, stray


def open_downstream(lab, frame, by_spi):
    """Everything a client finds in one frame from the data plane's access port.

    Returns (d, None) or (None, why the frame is nobody's). d: pair, spi, seq,
    errs (problems with any layer), and when it could be opened, l2tp (the
    parsed header), ppp_protocol and inner (the PPP payload), else fatal.
    """
    e = Ether(frame)
    if IP not in e:
        return None, "non-IP frame on access: %s" % e.summary()
    esp, udp = outer_esp_bytes(e[IP])
    if esp is None or len(esp) < 8:
        return None, "non-ESP frame on access: %s" % e.summary()
    spi, seq = struct.unpack("!II", esp[:8])
    pair = by_spi.get(spi)
    if pair is None:
        return None, "ESP with unknown SPI 0x%08x" % spi
    d = dict(pair=pair, spi=spi, seq=seq, errs=[], outer_udp=udp, outer_len=e[IP].len)
    errs = d["errs"]
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
        d["fatal"] = "ICV/tag verification failed in scapy: %s" % ex
        return d, None
    except Exception as ex:  # malformed beyond what scapy can parse
        d["fatal"] = "scapy could not decrypt: %r" % ex
        return d, None
    # ... and the hand-written implementation checks what scapy does not.
    try:
        opened = pair.outbound.open(esp)
    except EspError as ex:
        d["fatal"] = str(ex)
        return d, None
    if opened["padding"] != bytes(range(1, len(opened["padding"]) + 1)):
        errs.append("padding %s is not 1,2,3,.. (RFC 4303 2.4)" % opened["padding"].hex())
    if opened["next_header"] != 17:
        errs.append("next header %d, want 17" % opened["next_header"])
    payload = opened["payload"]
    if raw(dec[IP].payload) != payload:
        errs.append("scapy and the hand-written ESP decrypt differently")
    # UDP 1701 -> the client's L2TP port, checksum 0 (allowed for IPv4, RFC 768; ESP protects it).
    if len(payload) < 8:
        d["fatal"] = "decrypted payload of %d bytes, no UDP header" % len(payload)
        return d, None
    sport, dport, ulen, csum = struct.unpack("!HHHH", payload[:8])
    if (sport, dport) != (L2TP_PORT, L2TP_PORT):
        errs.append("inner udp %d->%d, want %d->%d" % (sport, dport, L2TP_PORT, L2TP_PORT))
    if ulen != len(payload):
        errs.append("inner UDP length %d, datagram %d" % (ulen, len(payload)))
    if csum != 0 and not udp_checksum_ok(e[IP].src, e[IP].dst, payload):
        errs.append("inner UDP checksum 0x%04x neither 0 nor valid" % csum)
    d["udp_checksum"] = csum
    try:
        l2 = parse_l2tp(payload[8:])
    except L2tpParseError as ex:
        d["fatal"] = "L2TP: %s" % ex
        return d, None
    want_flags = L2TP_VERSION | (L2TP_S if pair.sequencing else 0)
    if l2["flags"] != want_flags:
        errs.append("L2TP flags 0x%04x, want 0x%04x" % (l2["flags"], want_flags))
    if (l2["tunnel"], l2["session"]) != (pair.peer_tunnel_id, pair.peer_session_id):
        errs.append("L2TP tunnel %d session %d, want the client's %d/%d" % (
            l2["tunnel"], l2["session"], pair.peer_tunnel_id, pair.peer_session_id))
    if pair.sequencing and l2["nr"] not in (None, 0):
        errs.append("L2TP Nr %d in a data message, want 0" % l2["nr"])
    try:
        protocol, inner, head = parse_ppp(l2["payload"])
    except L2tpParseError as ex:
        d["fatal"] = "PPP: %s" % ex
        return d, None
    if head != b"\xff\x03" + struct.pack("!H", protocol):
        errs.append("PPP header %s, want ff03 and a two-byte protocol" % head.hex())
    d.update(l2tp=l2, ppp_protocol=protocol, inner=inner, opened=opened)
    return d, None


def open_client_frames(lab, all_pairs, frames, out_seq, out_ns):
    """Opens ESP frames the clients got, in arrival order, checking that each
    SA's sequence numbers and each sequencing session's L2TP Ns follow on.

    out_seq / out_ns: per pair, the ESP sequence number and L2TP Ns the next
    frame must carry (updated here). No case has the data plane drop a
    packet after numbering it, so there are no gaps.
    Returns ([open_downstream dicts, errs included], [stray], {pair name: [dicts]}).
    """
    by_spi = {p.outbound.spi: p for p in all_pairs}
    opened, stray, got = [], [], {}
    for f in frames:
        d, why = open_downstream(lab, f, by_spi)
        if why:
            stray.append(why)
            continue
        pair = d["pair"]
        if "fatal" in d:
            stray.append("%s, ESP seq %d: %s" % (pair.name, d["seq"], d["fatal"]))
            continue
        errs = d["errs"]
        lst = got.setdefault(pair.name, [])
        if d["seq"] != out_seq[pair.name]:
            errs.append("ESP sequence number %d, want %d" % (d["seq"], out_seq[pair.name]))
        out_seq[pair.name] = d["seq"] + 1
        if pair.sequencing and d["l2tp"]["ns"] is not None:
            if d["l2tp"]["ns"] != out_ns[pair.name]:
                errs.append("L2TP Ns %d, want %d" % (d["l2tp"]["ns"], out_ns[pair.name]))
            out_ns[pair.name] = (d["l2tp"]["ns"] + 1) & 0xFFFF
        lst.append(d)
        opened.append(d)
    return opened, stray, got


def match_client_packets(opened, expected):
    """Opened frames vs expected {flow key: (pair name, label, routed packet bytes)}: every
    packet must come through the SA of the client whose address it is for, in
    PPP with the right protocol, byte-exact.
    Returns ({(pair name, label): [problems] or None if it never came}, [stray])."""
    out = {(n, label): None for n, label, _ in expected.values()}
    stray = []
    for d in opened:
        pair = d["pair"]
        errs = list(d["errs"])
        k = flow_key(d["inner"])
        if k not in expected:
            stray.append("%s got a packet nobody sent it: %s" % (
                pair.name, parse_ip(d["inner"]).summary() if d["inner"] else "empty PPP frame"))
            continue
        name, label, want = expected[k]
        if name != pair.name:
            errs.append("arrived through %s's SA (SPI 0x%08x), not %s's" % (pair.name, d["spi"], name))
        if out[(name, label)] is not None:
            out[(name, label)].append("delivered twice")
            continue
        want_protocol = PPP_IPV4 if want[0] >> 4 == 4 else PPP_IPV6
        if d["ppp_protocol"] != want_protocol:
            errs.append("PPP protocol 0x%04x, want 0x%04x" % (d["ppp_protocol"], want_protocol))
        if d["inner"] != want:
            errs.append(describe_difference(d["inner"], want))
        errs += checksum_problems(d["inner"])
        out[(name, label)] = errs
    return out, stray


def items_by_pair(out):
    """{pair name: (ok count, [problems])} from a check_*_frames result."""
    by = {}
    for (name, label), errs in sorted(out.items(), key=lambda kv: str(kv[0])):
        ok, probs = by.setdefault(name, [0, []])
        if errs is None:
            probs.append("%s never arrived" % label)
        elif errs:
            probs.append("%s: %s" % (label, "; ".join(errs)))
        else:
            by[name][0] += 1
    return by


# --------------------------------------------------------------------------
# Malformed ESP and unwanted input: every generator returns a list of frames
# for the access port. Inside the ESP is the client's normal L2TP packet.

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


def valid(lab, pair, seqs):
    return [raw(scapy_encrypt(lab, pair, s)[0]) for s in seqs]


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


def l2tp_udp(lab, pair, seq):
    """The UDP datagram (L2TP/PPP/IP) a client puts in ESP for sequence number seq."""
    return transport_udp(lab, pair, l2tp_data(pair, ppp_frame(PPP_IPV4, raw(user_up(lab, pair, seq)))))


def bad_padding(lab, pair, seqs):
    """Valid ICV, but padding bytes that are not 1, 2, 3, ... (RFC 4303 2.4)."""
    k = pair.inbound
    out = []
    for s in seqs:
        payload = l2tp_udp(lab, pair, s)
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
        out.append(raw(scapy_encrypt_udp(lab, pair, s, transport=IP(src=pair.peer, dst=lab["access_address"]) / l4)))
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


def other_protocol(lab, pair, seqs):
    """Not IKE, not ESP, not a ping: GRE to our address."""
    gre = Ether(src=lab["cl_mac"], dst=lab["dpacc_mac"]) / IP(src=pair.peer, dst=lab["access_address"], proto=47) / \
        Raw(b"\0\0\x08\0" + b"x" * 20)
    return [raw(gre)]


def other_udp_port(lab, pair, seqs):
    """UDP to an unused port on our address."""
    return [_udp_to_us(lab, pair, 1234, 1234, b"hello")]


def zero_seq(lab, pair, seqs):
    """RFC 4303 3.3.3: sequence number 0 is never sent; authentic otherwise."""
    return [raw(client_frame(lab, pair, pair.inbound.seal(0, l2tp_udp(lab, pair, 0), 17)))]


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
    """An IPv6 frame: the lab's access port has no ipv6_address, so it speaks IPv4 only."""
    ip6 = bytes([0x60, 0, 0, 0, 0, 8, 17, 64]) + b"\x20\x01\x0d\xb8" + b"\0" * 11 + b"\x01" + \
        b"\x20\x01\x0d\xb8" + b"\0" * 11 + b"\x02" + struct.pack("!HHHH", 4500, 4500, 8, 0)
    return [mac_bytes(lab["dpacc_mac"]) + mac_bytes(lab["cl_mac"]) + b"\x86\xdd" + ip6]


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
    "other-protocol": (other_protocol, 0, {"rx_local_other_drops": 1}),
    "other-udp-port": (other_udp_port, 0, {"rx_other_drops": 1}),
    "zero-seq": (zero_seq, 0, {"rx_esp_zero_seq_drops": 1}),
    "encap-mismatch": (encap_mismatch, 1, {"rx_esp_encap_mismatch_drops": 1}),
    "bad-ip-checksum": (bad_ip_checksum, 1, {"rx_ip_header_drops": 1}),
    "bad-udp-length": (bad_udp_length, 0, {"rx_udp_header_drops": 1}),
    "non-ip": (non_ip, 0, {"rx_non_ip_drops": 1}),
}
# replayed and left-of-window packets need history; see the suite.


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
            errs.append("counter %s not in stats" % k)
        elif d[k] != n:
            errs.append("%s +%d, want +%d" % (k, d[k], n))
    for k, v in sorted(d.items()):
        if k not in expected and v and (k.endswith("_drops") or k.endswith("_punts")):
            errs.append("%s +%d unexpectedly" % (k, v))
    detail = ", ".join("%s +%d" % kv for kv in expected.items()) + extra
    return res.check(name, not errs, "; ".join(errs), detail or "no drop or punt counter moved")


# --------------------------------------------------------------------------
# The lab from the peer's side: the clients' and the core host's ports, and
# what the data plane's next ESP sequence number and L2TP Ns must be.

class Lab:
    def __init__(self, plan):
        self.plan = plan
        self.lab = plan["lab"]
        self.pairs = plan["pair_objs"]
        self.byname = {p.name: p for p in self.pairs}
        self.client = Port(self.lab["ns_cl"], self.lab["if_cl"])
        self.core = Port(self.lab["ns_co"], self.lab["if_co"])
        self.out_seq = {p.name: 1 for p in self.pairs}  # next ESP sequence number from the data plane
        self.out_ns = {p.name: 0 for p in self.pairs}   # next L2TP Ns (sequencing sessions)
        self.down_seq = 1000  # tells the core host's packets apart

    def from_dp_access(self, timeout, want=None):
        return self.client.receive(timeout, want, src_mac=self.lab["dpacc_mac"])

    def from_dp_core(self, timeout, want=None):
        return self.core.receive(timeout, want, src_mac=self.lab["dpcore_mac"])

    def send_up(self, items, pace=0.0005):
        """items: [(pair, label, frame, routed packet bytes)] from the clients.
        Returns ({(pair name, label): problems}, stray) for what reached the core."""
        expected = {}
        for pair, label, frame, want in items:
            k = flow_key(want)
            assert k not in expected, "two packets of one check share a flow: %s" % (k,)
            expected[k] = (pair.name, label, want)
            self.client.send(frame, pace)
        frames = self.from_dp_core(2.0, want=len(items))
        frames += self.from_dp_core(0.2)  # anything extra (duplicates)
        return check_core_frames(self.lab, frames, expected)

    def send_down(self, items, pace=0.0005):
        """items: [(pair, label, packet)] from the core host; the pair is the
        client it is for. Returns ({(pair name, label): problems}, stray, opened)."""
        expected = {}
        for pair, label, ip in items:
            want = routed(raw(ip))
            k = flow_key(want)
            assert k not in expected, "two packets of one check share a flow: %s" % (k,)
            expected[k] = (pair.name, label, want)
            self.core.send(core_frame(self.lab, ip), pace)
        frames = self.from_dp_access(2.0, want=len(items))
        frames += self.from_dp_access(0.2)
        return self.check_down(frames, expected)

    def open_down(self, frames):
        """Opens what the clients got; ESP sequence numbers and L2TP Ns must follow on."""
        return open_client_frames(self.lab, self.pairs, frames, self.out_seq, self.out_ns)

    def check_down(self, frames, expected):
        opened, stray, got = self.open_down(frames)
        out, stray2 = match_client_packets(opened, expected)
        return out, stray + stray2, got

    def upstream(self, pairs, count, pace=0.0005, v6=False):
        """count packets from each client to the core host; returns ({pair name: (ok, problems)}, stray)."""
        items = []
        for pair in pairs:
            for s in pair.take_seq(count):
                user = user_up(self.lab, pair, s, v6=v6)
                f, ub = scapy_encrypt(self.lab, pair, s, user=user)
                items.append((pair, "%s seq %d" % ("IPv6" if v6 else "IPv4", s), f, routed(ub)))
        out, stray = self.send_up(items, pace)
        return items_by_pair(out), stray

    def downstream(self, pairs, count, pace=0.0005, v6=False):
        """count packets from the core host to each client; returns ({pair name: (ok, problems)}, stray, opened)."""
        items = []
        for pair in pairs:
            for _ in range(count):
                self.down_seq += 1
                items.append((pair, "%s #%d" % ("IPv6" if v6 else "IPv4", self.down_seq),
                              user_down(self.lab, pair, self.down_seq, v6=v6)))
        out, stray, got = self.send_down(items, pace)
        return items_by_pair(out), stray, got

    def describe_access(self, frames):
        """What frames from the access port carry, for a report; ESP frames are opened, so the ESP
        sequence numbers and L2TP Ns expected next stay in step with what the data plane sent."""
        opened, stray, _ = self.open_down(frames)
        return ["%s got %s" % (d["pair"].name, parse_ip(d["inner"]).summary() if d["inner"] else "an empty PPP frame")
                for d in opened] + stray

    def settle(self, quiet=0.15, limit=3.0):
        """Whatever the data plane still sends on either port, until both were quiet for `quiet` s.
        Returns descriptions of the frames (none when every case collected all it caused)."""
        late = []
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline:
            access = self.from_dp_access(quiet)
            core = self.from_dp_core(0)
            if not access and not core:
                break
            late += ["access: %s" % x for x in self.describe_access(access)]
            late += ["core: %s" % Ether(f).summary() for f in core]
        return late

    def wait_ready(self, dp, probe, timeout):
        """Until the data plane forwards both ways (or dies)."""
        deadline = time.monotonic() + timeout
        down = up = False
        while time.monotonic() < deadline and dp.alive():
            if not down:
                self.core.send(core_frame(self.lab, user_down(self.lab, probe, 0)))
                for g in self.from_dp_access(0.3):
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


def report_pairs(res, prefix, pairs, by_pair, stray, count, what):
    for pair in pairs:
        ok, probs = by_pair.get(pair.name, (0, ["nothing sent"]))
        res.check("%s/%s" % (prefix, pair.name), not probs and ok == count,
                  "; ".join(probs[:4]) + (" (+%d more)" % (len(probs) - 4) if len(probs) > 4 else ""),
                  "%d/%d %s" % (ok, count, what))
    res.check("%s/no-stray-frames" % prefix, not stray, "; ".join(stray[:4]))


def report_items(res, prefix, out, stray=None):
    """One check per packet: `prefix/label`."""
    for (name, label), errs in out.items():
        res.check("%s/%s" % (prefix, label), errs == [],
                  "never arrived" if errs is None else "; ".join(errs), "exact")
    if stray:
        res.check("%s/no-stray-frames" % prefix, False, "; ".join(stray[:4]))


# --------------------------------------------------------------------------
# The system test.

def avp_message_type(message_type):
    """RFC 2661 4.4.1: the Message Type AVP (mandatory, vendor 0, attribute 0)."""
    return struct.pack("!HHHH", 0x8000 | 8, 0, 0, message_type)


def tcp_packet(src, dst, sport, dport, mss, flags="S", odd=False, ttl=64, v6=False):
    """A TCP segment with an MSS option at an even offset, or after a NOP (odd: the checksum fix-up differs)."""
    if odd:
        opts = [("NOP", None), ("MSS", mss), ("NOP", None), ("NOP", None), ("NOP", None)]
    else:
        opts = [("MSS", mss), ("SAckOK", b""), ("NOP", None), ("WScale", 7)]
    tcp = TCP(sport=sport, dport=dport, flags=flags, seq=0x11223344, ack=0x55667788 if "A" in flags else 0,
              window=64240, options=opts)
    return (IPv6(src=src, dst=dst, hlim=ttl) if v6 else IP(src=src, dst=dst, ttl=ttl, id=sport)) / tcp


def tcp_mss(ip_bytes):
    p = parse_ip(ip_bytes)
    if TCP not in p:
        return None
    return dict((o[0], o[1]) for o in p[TCP].options if isinstance(o, tuple)).get("MSS")


class Suite:
    """The checks, sharing the lab, the data plane's stats and the results."""

    def __init__(self, args, plan):
        self.args = args
        self.res = Results()
        self.lab = Lab(plan)
        self.L = plan["lab"]
        self.dp = DataPlane(args.dp_pid, args.stats)
        self.noted = {}

    def check(self, *a, **kw):
        return self.res.check(*a, **kw)

    def quiet(self, phase):
        """Between phases: nothing may still be on its way from the data plane. A late frame fails
        here, in the phase that caused it, not in whichever case would have read it next."""
        late = self.lab.settle()
        if late:
            self.check("%s/no-late-frames" % phase, False, "%d frames after the last case: %s" % (
                len(late), "; ".join(late[:3])))

    def drop_case(self, name, frames, expected, from_core=False, settle=0.3, allow_defrag_note=False):
        """Frames that must reach nobody and move exactly the `expected` counters."""
        lab = self.lab
        before = self.dp.snapshot()
        port = lab.core if from_core else lab.client
        for f in frames:
            port.send(f, 0.001)
        time.sleep(settle)
        leaked_core = lab.from_dp_core(0.05)
        leaked_access = lab.from_dp_access(0)  # what is queued by now
        after = self.dp.snapshot()
        extra = ""
        if allow_defrag_note and before and after and counter_deltas(before, after).get("rx_access_packets") == 0:
            # DPDK's af_packet PMD joins a PACKET_FANOUT group with
            # PACKET_FANOUT_FLAG_DEFRAG: the kernel holds fragments for
            # reassembly, the data plane never sees a lone one. Only a real
            # NIC (or another vdev) reaches this drop.
            self.res.note("%s: the kernel held the fragments (af_packet fanout defrag); drop path not reachable here"
                          % name)
            expected, extra = {}, "not delivered by the kernel, not forwarded"
        ok = expect_counters(self.res, name, before, after, expected, extra)
        if leaked_core:
            self.check(name + "-not-forwarded", False, "%d frames reached the core: %s"
                       % (len(leaked_core), Ether(leaked_core[0]).summary()))
        if leaked_access:
            self.check(name + "-nothing-to-clients", False, "%d frames went to the access side: %s"
                       % (len(leaked_access), "; ".join(lab.describe_access(leaked_access)[:3])))
        return ok

    def forward_up(self, name, items, counters=None):
        """items [(pair, label, frame, routed bytes)]: each must reach the core exactly, with no drops."""
        before = self.dp.snapshot()
        out, stray = self.lab.send_up(items, 0.001)
        after = self.dp.snapshot()
        report_items(self.res, name, out, stray)
        expect_counters(self.res, name + "/counters", before, after, counters or {})
        return out

    def forward_down(self, name, items, counters=None):
        """items [(pair, label, packet)] from the core: each must reach its client exactly, with no drops."""
        before = self.dp.snapshot()
        out, stray, got = self.lab.send_down(items, 0.001)
        after = self.dp.snapshot()
        report_items(self.res, name, out, stray)
        expect_counters(self.res, name + "/counters", before, after, counters or {})
        return got

    def up_item(self, pair, label, user=None, **kw):
        """One client packet (its own by default) and the bytes the core must see."""
        s = pair.take_seq()[0]
        size, v6 = kw.pop("size", 100), kw.pop("v6", False)
        user = user if user is not None else user_up(self.L, pair, s, size=size, v6=v6)
        f, ub = scapy_encrypt(self.L, pair, s, user=user, **kw)
        return pair, label, f, routed(ub)

    def up_frame(self, pair, **kw):
        """One ESP frame from the pair's client, for the drop cases."""
        s = pair.take_seq()[0]
        size, v6 = kw.pop("size", 100), kw.pop("v6", False)
        if "user" not in kw and "ppp" not in kw and "l2tp" not in kw:
            kw["user"] = user_up(self.L, pair, s, size=size, v6=v6)
        return scapy_encrypt(self.L, pair, s, **kw)[0]

    # --- 1. every combination, both directions ---------------------------------------
    def matrix(self, pairs, K):
        lab = self.lab
        s0 = self.dp.snapshot()
        by, stray = lab.upstream(pairs, K)
        report_pairs(self.res, "up", pairs, by, stray, K,
                     "ESP/UDP 1701/L2TP/PPP opened, inner IPv4 at the core with TTL-1, byte-exact")
        by, stray, got = lab.downstream(pairs, K)
        report_pairs(self.res, "down", pairs, by, stray, K,
                     "in PPP/L2TP/UDP 1701/ESP to the client, ICV verified, peer ids, TTL-1, byte-exact")
        seqd = [p for p in pairs if p.sequencing]
        if seqd:
            nss = {p.name: [d["l2tp"]["ns"] for d in got.get(p.name, [])] for p in seqd}
            self.check("down/l2tp-sequencing", all(len(v) == K for v in nss.values()),
                       "; ".join("%s Ns %s" % kv for kv in nss.items()),
                       "%d sessions with sequencing = true sent flags 0x0802 and Ns %s" % (
                           len(seqd), ",".join(map(str, nss[seqd[0].name][:4])) + ",..."))
        s1 = self.dp.snapshot()
        expect_counters(self.res, "traffic-no-drops", s0, s1, {})
        if s1 is not None and s0 is not None:
            p0, p1 = sa_packets(s0), sa_packets(s1)
            errs = []
            for pair in pairs:
                for d in ("in", "out"):
                    k = ("%s-%s" % (pair.name, d), d)
                    if k not in p1:
                        errs.append("SA %s missing" % k[0])
                    elif p1[k] - p0.get(k, 0) != K:
                        errs.append("%s packets +%d, want +%d" % (k[0], p1[k] - p0.get(k, 0), K))
            self.check("sa-packet-counters", not errs, "; ".join(errs[:6]), "every SA counted %d packets" % K)

    # --- 2. L2TP and PPP ---------------------------------------------------------------
    def ipv6(self, pairs):
        items, down = [], []
        for pair in pairs:
            for host, size in ((1, 60), (0x12345678, 1300)):
                s = pair.take_seq()[0]
                src = pair.client_ipv6(host)
                user = user_up(self.L, pair, s, size=size, v6=True, src=src)
                f, ub = scapy_encrypt(self.L, pair, s, user=user)
                items.append((pair, "%s/from-%s" % (pair.name, src), f, routed(ub)))
            for host, size in ((1, 1300), (0xFFFF, 33)):
                self.lab.down_seq += 1
                dst = pair.client_ipv6(host)
                down.append((pair, "%s/to-%s" % (pair.name, dst),
                             user_down(self.L, pair, self.lab.down_seq, size=size, v6=True, dst=dst)))
        self.forward_up("l2tp/ipv6-up", items)
        self.forward_down("l2tp/ipv6-down", down)

    FRAMINGS = [
        ("L-bit", dict(l2tp_kw=dict(length=True))),
        ("S-bit", dict(l2tp_kw=dict(seq=(5, 9)))),
        ("O-bit-offset-pad-4", dict(l2tp_kw=dict(offset=b"\0\0\0\0"))),
        ("O-bit-offset-0", dict(l2tp_kw=dict(offset=b""))),
        ("L-S-O-bits-odd-pad", dict(l2tp_kw=dict(length=True, seq=(6, 10), offset=b"\x5a\x5a\x5a"))),
        ("P-bit", dict(l2tp_kw=dict(priority=True))),
        ("L-bit-bytes-after-message", dict(l2tp_kw=dict(length=True, trailer=b"\xee" * 5))),
        ("no-FF03", dict(ppp_kw=dict(acfc=True))),
        ("1-byte-protocol", dict(ppp_kw=dict(pfc=True))),
        ("no-FF03-1-byte-protocol", dict(ppp_kw=dict(acfc=True, pfc=True))),
        ("IPv6-no-FF03", dict(v6=True, ppp_kw=dict(acfc=True))),
        ("IPv6-1-byte-protocol", dict(v6=True, ppp_kw=dict(pfc=True))),
        ("IPv6-L-S-O-no-FF03-1-byte", dict(v6=True, ppp_kw=dict(acfc=True, pfc=True),
                                           l2tp_kw=dict(length=True, seq=(1, 1), offset=b"\0\0"))),
    ]

    def framings(self, pairs):
        items = []
        for pair in pairs:
            for name, kw in self.FRAMINGS:
                items.append(self.up_item(pair, "%s/%s" % (name, pair.name), size=77, **dict(kw)))
        self.forward_up("l2tp/framing", items)

    def mss(self, pair, big):
        """The clamp is the session's effective MTU - 40 (IPv4) or - 60 (IPv6): for `big`, whose PPP MTU
        is more than fits the access MTU once wrapped, what fits, not the PPP MTU."""
        L, lab = self.L, self.lab
        v4, v6 = pair.mss_ipv4, pair.mss_ipv6

        def big_label(what, mss, want):
            return "%s-%d-to-a-%d-mtu-session-%s" % (what, mss, big.mtu, "clamped-to-%d-its-%d-byte-effective-mtu" % (
                want, big.effective_mtu) if want != mss else "unchanged")

        big4, big6 = min(1460, big.mss_ipv4), min(1440, big.mss_ipv6)
        up = [
            ("syn-mss-1460-clamped-to-%d" % v4, dict(mss=1460), v4, False, pair),
            ("syn-mss-after-nop-odd-offset-clamped-to-%d" % v4, dict(mss=1460, odd=True), v4, False, pair),
            ("syn-mss-1200-unchanged", dict(mss=1200), 1200, False, pair),
            ("ack-with-mss-option-unchanged", dict(mss=1460, flags="A"), 1460, False, pair),
            ("ipv6-syn-mss-1440-clamped-to-%d" % v6, dict(mss=1440), v6, True, pair),
            (big_label("syn-mss", 1460, big4).replace("-to-a-", "-from-a-"), dict(mss=1460), big4, False, big),
        ]
        items = []
        for i, (label, kw, want_mss, is6, p) in enumerate(up):
            src = p.client_ipv6(1) if is6 else p.client_ipv4
            dst = L["core_host6"] if is6 else L["core_host"]
            sent = tcp_packet(src, dst, 41000 + i, 443, v6=is6, **kw)
            want = tcp_packet(src, dst, 41000 + i, 443, v6=is6, **dict(kw, mss=want_mss))
            s = p.take_seq()[0]
            f, _ = scapy_encrypt(L, p, s, user=sent)
            items.append((p, "up/%s" % label, f, routed(raw(want))))
        # Byte-exact against the segment scapy builds with the clamped value: the option and the
        # incrementally updated TCP checksum are both checked.
        self.forward_up("mss", items, {"rx_mss_clamped": sum(w != kw["mss"] for _, kw, w, _, _ in up)})
        down = [
            ("syn-ack-mss-1460-clamped-to-%d" % v4, dict(mss=1460, flags="SA"), v4, False, pair),
            ("syn-ack-mss-after-nop-odd-offset-clamped", dict(mss=1460, flags="SA", odd=True), v4, False, pair),
            ("syn-ack-mss-1000-unchanged", dict(mss=1000, flags="SA"), 1000, False, pair),
            ("ipv6-syn-ack-mss-1440-clamped-to-%d" % v6, dict(mss=1440, flags="SA"), v6, True, pair),
            (big_label("syn-ack-mss", 1460, big4), dict(mss=1460, flags="SA"), big4, False, big),
            ("ipv6-" + big_label("syn-ack-mss", 1440, big6), dict(mss=1440, flags="SA"), big6, True, big),
        ]
        items, wants = [], {}
        for i, (label, kw, want_mss, is6, p) in enumerate(down):
            src = L["core_host6"] if is6 else L["core_host"]
            dst = p.client_ipv6(1) if is6 else p.client_ipv4
            sent = tcp_packet(src, dst, 443, 42000 + i, v6=is6, **kw)
            want = tcp_packet(src, dst, 443, 42000 + i, v6=is6, **dict(kw, mss=want_mss))
            items.append((p, "down/%s" % label, sent))
            wants[flow_key(raw(want))] = (p.name, "down/%s" % label, routed(raw(want)))
        # The clients must see the clamped segment: match against it, not against what was sent.
        before = self.dp.snapshot()
        for p, label, ip in items:
            lab.core.send(core_frame(L, ip), 0.001)
        frames = lab.from_dp_access(2.0, want=len(items)) + lab.from_dp_access(0.2)
        out, stray, _ = lab.check_down(frames, wants)
        after = self.dp.snapshot()
        for (_, label), errs in out.items():
            self.check("mss/%s" % label, errs == [], "never arrived" if errs is None else "; ".join(errs),
                       "MSS option as clamped, TCP checksum valid, byte-exact")
        if stray:
            self.check("mss/down/no-stray-frames", False, "; ".join(stray[:3]))
        expect_counters(self.res, "mss/down/counters", before, after,
                        {"tx_mss_clamped": sum(w != kw["mss"] for _, kw, w, _, _ in down)})

    def client_drops(self, A, B):
        """Upstream packets that must stop in the data plane, each in its own counter."""
        L = self.L
        spoof = {"rx_spoof_drops": 1}
        unknown = {"rx_l2tp_unknown_session_drops": 1}
        ctl = {"rx_l2tp_control_punts": 1, "punt_no_listener_drops": 1}
        pppctl = {"rx_ppp_control_punts": 1, "punt_no_listener_drops": 1}
        header = {"rx_l2tp_header_drops": 1}
        ppp_header = {"rx_ppp_header_drops": 1}
        inner = {"rx_inner_ip_header_drops": 1}
        ttl = {"rx_ttl_exceeded_drops": 1}
        next_prefix = str(ipaddress.IPv6Network(A.client_ipv6_prefix).network_address + (1 << 64) + 1)

        def u(pair, **kw):
            return user_up(L, pair, 1, size=40, **kw)

        def ppp_only(pair, frame, **kw):
            return self.up_frame(pair, ppp=frame, **kw)

        ipv4 = raw(u(A))
        cases = [
            # anti-spoof: the source must be the session's address or inside its prefix
            ("spoof/ipv4-source-not-the-clients", self.up_frame(A, user=u(A, src="100.64.99.99")), spoof),
            ("spoof/ipv4-source-of-another-session", self.up_frame(A, user=u(A, src=B.client_ipv4)), spoof),
            ("spoof/ipv6-source-of-another-sessions-prefix",
             self.up_frame(A, user=u(A, v6=True, src=B.client_ipv6(1))), spoof),
            ("spoof/ipv6-source-in-the-next-64", self.up_frame(A, user=u(A, v6=True, src=next_prefix)), spoof),
            ("spoof/ipv6-link-local-source", self.up_frame(A, user=u(A, v6=True, src="fe80::1")), spoof),
            # a session only takes packets from its own SA
            ("session/client-A-SA-with-client-B-ids",
             self.up_frame(A, l2tp=l2tp_data(B, ppp_frame(PPP_IPV4, raw(u(B)))), ), unknown),
            ("session/client-B-SA-with-client-A-ids",
             self.up_frame(B, l2tp=l2tp_data(A, ppp_frame(PPP_IPV4, raw(u(A))))), unknown),
            ("session/unknown-session-id",
             self.up_frame(A, l2tp=l2tp_message(A.tunnel_id, A.session_id ^ 0x5555, ppp_frame(PPP_IPV4, ipv4))),
             unknown),
            ("session/client-ids-instead-of-ours",
             self.up_frame(A, l2tp=l2tp_data(A, ppp_frame(PPP_IPV4, ipv4), ours=False)), unknown),
            ("session/data-on-session-0",
             self.up_frame(A, l2tp=l2tp_message(A.tunnel_id, 0, ppp_frame(PPP_IPV4, ipv4))), unknown),
            # L2TP control messages and PPP control protocols belong to the control plane
            ("punt/l2tp-hello", self.up_frame(A, l2tp=l2tp_message(A.tunnel_id, 0, avp_message_type(6),
                                                                   control=True, length=True, seq=(3, 5))), ctl),
            ("punt/l2tp-zlb-ack", self.up_frame(B, l2tp=l2tp_message(B.tunnel_id, 0, b"", control=True,
                                                                     length=True, seq=(4, 6))), ctl),
            ("punt/l2tp-sccrq-tunnel-0", self.up_frame(A, l2tp=l2tp_message(0, 0, avp_message_type(1),
                                                                            control=True, length=True, seq=(0, 0))),
             ctl),
            ("punt/lcp-echo-request",
             ppp_only(A, ppp_frame(PPP_LCP, raw(PPP_LCP_Echo(id=7, magic_number=0x12345678, data=b"ping")))),
             pppctl),
            ("punt/lcp-echo-request-no-FF03",
             ppp_only(B, ppp_frame(PPP_LCP, raw(PPP_LCP_Echo(id=8, magic_number=0x12345678)), acfc=True)), pppctl),
            ("punt/ipcp-configure-request",
             ppp_only(A, ppp_frame(PPP_IPCP_PROTO, raw(PPP_IPCP(code=1, id=1, options=[
                 PPP_IPCP_Option_IPAddress(data="0.0.0.0")])))), pppctl),
            ("punt/ipv6cp-configure-request", ppp_only(A, ppp_frame(0x8057, b"\x01\x01\x00\x0e\x01\x0a" + b"\x11" * 8)),
             pppctl),
            # malformed L2TP, PPP and inner IP
            ("l2tp/udp-port-1702", self.up_frame(A, dport=1702), {"rx_l2tp_port_drops": 1}),
            ("l2tp/version-3", self.up_frame(A, l2tp_kw=dict(version=3)), header),
            ("l2tp/length-past-datagram", self.up_frame(A, l2tp_kw=dict(length_value=4000)), header),
            ("l2tp/length-inside-header", self.up_frame(A, l2tp_kw=dict(length_value=4)), header),
            ("l2tp/offset-past-datagram",
             self.up_frame(A, l2tp=struct.pack("!HHHH", L2TP_VERSION | L2TP_O, A.tunnel_id, A.session_id, 2000) +
                           ppp_frame(PPP_IPV4, ipv4)), header),
            ("l2tp/truncated-4-bytes", self.up_frame(A, l2tp=struct.pack("!HH", L2TP_VERSION, A.tunnel_id)), header),
            ("ppp/empty", ppp_only(A, b""), ppp_header),
            ("ppp/only-FF03", ppp_only(A, b"\xff\x03"), ppp_header),
            ("ppp/even-protocol-0x0020", ppp_only(A, b"\xff\x03\x00\x20" + ipv4), ppp_header),
            ("inner/ipv4-protocol-carrying-ipv6", ppp_only(A, ppp_frame(PPP_IPV4, raw(u(A, v6=True)))), inner),
            ("inner/ipv4-bad-header-checksum",
             ppp_only(A, ppp_frame(PPP_IPV4, ipv4[:10] + bytes([ipv4[10] ^ 0xFF]) + ipv4[11:])), inner),
            ("inner/ipv4-longer-than-the-l2tp-length",
             self.up_frame(A, user=u(A), l2tp_kw=dict(length_value=8 + 4 + 30)), inner),
            ("inner/ipv6-payload-length-past-ppp",
             ppp_only(A, ppp_frame(PPP_IPV6, raw(u(A, v6=True))[:-10])), inner),
            ("inner/ipv4-ttl-1", self.up_frame(A, user=user_up(L, A, 1, size=40, ttl=1)), ttl),
            ("inner/ipv6-hop-limit-1", self.up_frame(A, user=user_up(L, A, 1, size=40, ttl=1, v6=True)), ttl),
        ]
        for name, frame, expected in cases:
            self.drop_case(name, [frame], expected)

    def core_drops(self, A):
        """Downstream packets that must stop in the data plane."""
        L = self.L
        big6 = user_down(L, A, 77, size=A.effective_mtu, v6=True)  # 40 + 8 + mtu bytes: over the session MTU
        icmp_error = IP(src=L["core_host"], dst=A.client_ipv4, flags="DF") / ICMP(type=3, code=1) / \
            Raw(b"\x45" + b"\0" * (A.effective_mtu + 50))
        cases = [
            ("core/no-session-for-ipv4", user_down(L, A, 1, dst="100.64.200.200"), {"tx_no_session_drops": 1}),
            ("core/no-session-for-ipv6", user_down(L, A, 1, dst="2001:db8:dead::1", v6=True),
             {"tx_no_session_drops": 1}),
            ("core/ipv4-ttl-1", user_down(L, A, 1, ttl=1), {"tx_ttl_exceeded_drops": 1}),
            ("core/ipv6-hop-limit-1", user_down(L, A, 1, ttl=1, v6=True), {"tx_ttl_exceeded_drops": 1}),
            ("core/ipv6-over-mtu-no-core-ipv6-address", big6, {"tx_too_big_drops": 1}),
            ("core/icmp-error-over-mtu-with-DF-not-answered", icmp_error, {"tx_too_big_drops": 1}),
        ]
        for name, ip, expected in cases:
            self.drop_case(name, [raw(core_frame(L, ip))], expected, from_core=True)
        # A short packet arrives padded to the 60-byte Ethernet minimum: the padding is not the client's.
        self.lab.down_seq += 1
        small = user_down(L, A, self.lab.down_seq, size=0)
        before = self.dp.snapshot()
        self.lab.core.send(raw(core_frame(L, small)).ljust(60, b"\0"))
        frames = self.lab.from_dp_access(1.0, want=1) + self.lab.from_dp_access(0.1)
        out, stray, _ = self.lab.check_down(frames, {flow_key(routed(raw(small))): (A.name, "x", routed(raw(small)))})
        errs = out[(A.name, "x")]
        self.check("core/ethernet-padding-not-forwarded", errs == [] and not stray,
                   "; ".join((["never arrived"] if errs is None else errs) + stray),
                   "a 28-byte packet in a 60-byte frame reached the client as 28 bytes")
        expect_counters(self.res, "core/ethernet-padding-not-forwarded/counters", before, self.dp.snapshot(), {})
        f = bytearray(raw(core_frame(L, user_down(L, A, 2))))
        f[14 + 10] ^= 0x5A
        self.drop_case("core/bad-ipv4-header-checksum", [bytes(f)], {"rx_ip_header_drops": 1}, from_core=True)
        self.drop_case("core/non-ip", [mac_bytes(L["dpcore_mac"]) + mac_bytes(L["co_mac"]) + b"\x88\xb5" +
                                       b"local experimental ethertype".ljust(46, b".")],
                       {"rx_non_ip_drops": 1}, from_core=True)

    def too_big(self, A):
        """Over the session's MTU: with DF an ICMP "fragmentation needed" to the sender; at the MTU, sent."""
        L, lab = self.L, self.lab
        mtu = A.effective_mtu
        lab.down_seq += 1
        at_mtu = user_down(L, A, lab.down_seq, size=mtu - 28, flags="DF")
        self.forward_down("mtu/%d-byte-DF-packet-at-the-session-mtu" % mtu, [(A, A.name, at_mtu)])
        for extra in (1, 100):
            self.frag_needed_case("mtu/%d-byte-DF-packet-icmp-frag-needed" % (mtu + extra), A, mtu + extra)

    def frag_needed_case(self, name, pair, total):
        """A DF packet of `total` bytes over the session's effective MTU: one ICMP 3/4 back to the core
        host with that MTU as the next-hop MTU, nothing to the client."""
        L, lab = self.L, self.lab
        mtu = pair.effective_mtu
        lab.down_seq += 1
        sent = user_down(L, pair, lab.down_seq, size=total - 28, flags="DF")
        sent_b = raw(sent)
        before = self.dp.snapshot()
        lab.core.send(core_frame(L, sent))
        back = lab.from_dp_core(1.0, want=1)
        time.sleep(0.1)
        back += lab.from_dp_core(0.05)
        to_client = lab.from_dp_access(0.05)
        after = self.dp.snapshot()
        errs = []
        if len(back) != 1:
            errs.append("%d frames came back to the core host, want one ICMP" % len(back))
        else:
            errs += self.frag_needed_problems(back[0], sent_b, mtu)
        if to_client:
            errs.append("%d frames went to the client: %s" % (len(to_client),
                                                               "; ".join(lab.describe_access(to_client)[:2])))
        self.check(name, not errs, "; ".join(errs),
                   "ICMP 3/4 from %s, next-hop MTU %d, quoting the header and 8 bytes" % (L["core_address"], mtu))
        expect_counters(self.res, name + "/counters", before, after, {"tx_too_big_icmp_sent": 1})

    def frag_needed_problems(self, frame, sent, mtu):
        L = self.L
        errs = []
        if frame[:6] != mac_bytes(L["co_mac"]) or frame[6:12] != mac_bytes(L["dpcore_mac"]):
            errs.append("ether %s->%s" % (frame[6:12].hex(":"), frame[:6].hex(":")))
        ipb = frame[14:]
        if frame[12:14] != b"\x08\x00" or ipb[0] >> 4 != 4:
            return errs + ["not IPv4: %s" % Ether(frame).summary()]
        ip = IP(ipb)
        ipb = ipb[:ip.len]
        if (ip.src, ip.dst) != (L["core_address"], L["core_host"]):
            errs.append("ICMP %s->%s, want %s->%s" % (ip.src, ip.dst, L["core_address"], L["core_host"]))
        if ip.proto != 1:
            return errs + ["IP protocol %d, want ICMP" % ip.proto]
        errs += checksum_problems(ipb)
        icmp = ipb[ip.ihl * 4:]
        typ, code, _, unused, next_mtu = struct.unpack("!BBHHH", icmp[:8])
        if (typ, code) != (3, 4):
            errs.append("ICMP type %d code %d, want 3/4" % (typ, code))
        if next_mtu != mtu or unused != 0:
            errs.append("next-hop MTU %d (unused 0x%04x), want %d (RFC 1191 4)" % (next_mtu, unused, mtu))
        quote = icmp[8:]
        if len(quote) < 28:
            errs.append("quotes %d bytes, want the IP header and 8 bytes (RFC 792)" % len(quote))
        elif quote[:28] != sent[:28]:
            if quote[:28] == routed(sent)[:28]:
                if not self.noted.get("quote"):
                    self.noted["quote"] = True
                    self.res.note("the ICMP quotes the offending header after this hop's TTL decrement "
                                  "(Linux quotes it as received); senders match on addresses and ports, so it works")
            else:
                errs.append("quoted header " + describe_difference(quote[:28], sent[:28]))
        if len(quote) > 28 and quote != sent[:len(quote)] and quote != routed(sent)[:len(quote)]:
            errs.append("quoted bytes after the first 28 differ from the packet")
        return errs

    def fragments(self, pairs):
        """Over the MTU without DF: fragments, each in its own PPP/L2TP/ESP, that reassemble to the packet."""
        for pair in pairs:
            for total in (pair.effective_mtu + 1, 1500):
                self.fragment_case("fragment/%d-byte-packet-to-%s" % (total, pair.name), pair, total)

    def fragment_case(self, name, pair, total):
        """A packet of `total` bytes without DF over the session's effective MTU: RFC 791 fragments of at
        most that MTU, each in its own ESP packet that fits the access MTU, that scapy reassembles."""
        L, lab = self.L, self.lab
        mtu = pair.effective_mtu
        lab.down_seq += 1
        sent = user_down(L, pair, lab.down_seq, size=total - 28)
        want = routed(raw(sent))
        payload_len = total - 20
        chunk = (mtu - 20) // 8 * 8
        nfrag = -(-payload_len // chunk)
        before = self.dp.snapshot()
        lab.core.send(core_frame(L, sent))
        frames = lab.from_dp_access(2.0, want=nfrag) + lab.from_dp_access(0.2)
        after = self.dp.snapshot()
        opened, stray, got = lab.open_down(frames)
        errs = list(stray)
        frags = []
        for d in opened:
            if d["pair"] is not pair:
                errs.append("a fragment arrived through %s's SA" % d["pair"].name)
            errs += d["errs"]
            if d["ppp_protocol"] != PPP_IPV4:
                errs.append("PPP protocol 0x%04x" % d["ppp_protocol"])
            fb = d["inner"]
            if len(fb) > mtu:
                errs.append("a %d-byte fragment, over the %d MTU" % (len(fb), mtu))
            if d["outer_len"] > pair.access_mtu:
                errs.append("a %d-byte ESP packet, over the %d access MTU" % (d["outer_len"], pair.access_mtu))
            if not ip_checksum_ok(fb):
                errs.append("a fragment with a bad IPv4 header checksum")
            frags.append(IP(fb))
        if len(frags) != nfrag:
            errs.append("%d fragments, want %d" % (len(frags), nfrag))
        elif not errs:
            whole = [p for p in defragment(frags) if not (p.flags.MF or p.frag)]
            if len(whole) != 1:
                errs.append("scapy could not reassemble them (%d packets)" % len(whole))
            elif raw(whole[0]) != want:
                errs.append("reassembled: " + describe_difference(raw(whole[0]), want))
            else:
                errs += checksum_problems(raw(whole[0]))
        self.check(name, not errs, "; ".join(errs[:4]),
                   "%d fragments of at most %d bytes, scapy reassembles the packet with TTL-1" % (nfrag, mtu))
        expect_counters(self.res, name + "/counters", before, after, {"tx_fragments": nfrag})

    def inner_fragments_up(self, pairs):
        """A client's own IPv4 fragments (its PPP MTU is smaller than its datagram) are forwarded as they are."""
        items = []
        for pair in pairs:
            s = pair.take_seq()[0]
            frags = fragment(user_up(self.L, pair, s, size=3000), fragsize=1376)
            for i, fr in enumerate(frags):
                f, ub = scapy_encrypt(self.L, pair, pair.take_seq()[0], user=IP(raw(fr)))
                items.append((pair, "%s/fragment-%d-of-%d" % (pair.name, i + 1, len(frags)), f, routed(ub)))
        self.forward_up("inner-fragments-up", items)

    def fragment_options(self, pair):
        """RFC 791 3.1 and 3.2: an option whose copied flag is 0 (Record Route) is in the first fragment only;
        one whose flag is 1 (Router Alert) is in every fragment."""
        L, lab = self.L, self.lab
        lab.down_seq += 1
        sent = IP(src=L["core_host"], dst=pair.client_ipv4, ttl=64, id=0x0A0B,
                  options=[IPOption_RR(routers=["10.0.0.2"]), IPOption_Router_Alert()]) / \
            UDP(sport=9, dport=30000) / Raw(payload_for(pair, "down", lab.down_seq, 1440))
        want = routed(raw(sent))
        before = self.dp.snapshot()
        lab.core.send(core_frame(L, sent))
        frames = lab.from_dp_access(2.0, want=2) + lab.from_dp_access(0.2)
        after = self.dp.snapshot()
        opened, stray, _ = lab.open_down(frames)
        errs = list(stray)
        frags = [IP(d["inner"]) for d in opened]
        for d in opened:
            errs += d["errs"]
        name = "fragment/ip-options-copied-flag/%s" % pair.name
        if len(frags) != 2:
            errs.append("%d fragments, want 2" % len(frags))
        else:
            for fr in frags:
                kinds = [o.option for o in fr.options if o.option not in (0, 1)]  # not EOL or NOP
                first = fr.frag == 0
                if first and kinds != [7, 20]:
                    errs.append("first fragment has options %s, want Record Route and Router Alert" % kinds)
                if not first and 7 in kinds:
                    errs.append("fragment at offset %d carries Record Route (copied flag 0: first fragment only)"
                                % (fr.frag * 8))
                if not first and 20 not in kinds:
                    errs.append("fragment at offset %d lost Router Alert (copied flag 1)" % (fr.frag * 8))
                if len(fr) > pair.effective_mtu or not ip_checksum_ok(raw(fr)):
                    errs.append("fragment of %d bytes or with a bad header checksum" % len(fr))
            whole = [p for p in defragment(frags) if not (p.flags.MF or p.frag)]
            if len(whole) != 1 or raw(whole[0]) != want:
                errs.append("does not reassemble to the packet: %s" % (
                    describe_difference(raw(whole[0]), want) if len(whole) == 1 else "%d packets" % len(whole)))
        self.check(name, not errs, "; ".join(errs[:4]), "Record Route in the first fragment only, Router Alert in both")
        expect_counters(self.res, name + "/counters", before, after, {"tx_fragments": 2})

    def access_mtu(self, pair):
        """A session's MTU is what fits the access MTU once wrapped, whatever PPP MTU it was configured
        with. An inner packet of exactly that size goes out as one ESP packet within the access MTU;
        one byte more is fragmented without DF and answered with ICMP 3/4 with DF."""
        L = self.L
        mtu = pair.effective_mtu
        prefix = "access-mtu/%s" % pair.name
        self.lab.down_seq += 1
        sent = user_down(L, pair, self.lab.down_seq, size=mtu - 28, flags="DF")
        name = "%s/%d-byte-packet-at-the-effective-mtu" % (prefix, mtu)
        got = self.forward_down(name, [(pair, "%s-one-piece" % pair.name, sent)])
        back = self.lab.from_dp_core(0)  # an ICMP "fragmentation needed" would be here by now
        outer = [d["outer_len"] for d in got.get(pair.name, [])]
        want_outer = pair.esp_outer_len(mtu)
        self.check(name + "-is-one-ESP-packet-within-the-access-mtu",
                   outer == [want_outer] and want_outer <= pair.access_mtu and not back,
                   "outer IPv4 lengths %s, want one of %d (access MTU %d)%s" % (
                       outer, want_outer, pair.access_mtu,
                       "; back to the core host: " + "; ".join(Ether(f).summary() for f in back[:2]) if back else ""),
                   "%d bytes within the %d access MTU (PPP MTU %d, effective %d: %s)" % (
                       want_outer, pair.access_mtu, pair.mtu, mtu, ", ".join(
                           ["UDP 4500" if pair.udp_encap else "plain ESP"] +
                           (["L2TP sequencing"] if pair.sequencing else []))))
        self.fragment_case("%s/%d-byte-packet-fragmented" % (prefix, mtu + 1), pair, mtu + 1)
        self.frag_needed_case("%s/%d-byte-DF-packet-icmp-frag-needed" % (prefix, mtu + 1), pair, mtu + 1)

    def local_delivery(self):
        """ARP for a port's address and pings to it are answered on both ports; ARP for others is not."""
        L, lab = self.L, self.lab
        for port, here, mac, addr, me_mac, me_ip in (
                ("access", lab.client, L["dpacc_mac"], L["access_address"], L["cl_mac"], "203.0.113.9"),
                ("core", lab.core, L["dpcore_mac"], L["core_address"], L["co_mac"], L["core_host"])):
            from_dp = lab.from_dp_access if port == "access" else lab.from_dp_core
            cases = [
                ("arp-request-for-our-address",
                 Ether(src=me_mac, dst="ff:ff:ff:ff:ff:ff") / ARP(op=1, hwsrc=me_mac, psrc=me_ip, pdst=addr),
                 {"arp_replies": 1}),
                ("arp-request-for-another-address",
                 Ether(src=me_mac, dst="ff:ff:ff:ff:ff:ff") / ARP(op=1, hwsrc=me_mac, psrc=me_ip,
                                                                  pdst=addr.rsplit(".", 1)[0] + ".77"),
                 {"rx_arp_ignored": 1}),
                ("ping-our-address",
                 Ether(src=me_mac, dst=mac) / IP(src=me_ip, dst=addr, ttl=61) / ICMP(type=8, id=0x4242, seq=7) /
                 Raw(b"ping the concentrator" * 3), {"icmp_echo_replies": 1}),
            ]
            for name, frame, counters in cases:
                name = "local/%s/%s" % (port, name)
                before = self.dp.snapshot()
                here.send(raw(frame))
                got = from_dp(1.0, want=1) if "another" not in name else []
                got += from_dp(0.2)  # a second answer, or any answer to ARP for another address
                after = self.dp.snapshot()
                errs = []
                if "another" in name:
                    errs += ["answered: %s" % Ether(g).summary() for g in got]
                elif len(got) != 1:
                    errs.append("%d answers" % len(got))
                elif ARP in frame:
                    a = Ether(got[0])
                    fields = (a[ARP].op, a[ARP].hwsrc, a[ARP].psrc, a[ARP].hwdst, a[ARP].pdst) if ARP in a else None
                    if a.dst != me_mac or a.src != mac or fields != (2, mac, addr, me_mac, me_ip):
                        errs.append("answer %r" % a)
                else:
                    r = got[0]
                    want = IP(src=addr, dst=me_ip) / ICMP(type=0, id=0x4242, seq=7) / Raw(b"ping the concentrator" * 3)
                    e = Ether(r)
                    if e.dst != me_mac or e.src != mac or IP not in e:
                        errs.append("answer %s" % e.summary())
                    else:
                        ipb = raw(e[IP])[:e[IP].len]
                        if (e[IP].src, e[IP].dst) != (addr, me_ip) or raw(e[IP].payload)[:e[IP].len - 20] != \
                                raw(want[ICMP]):
                            errs.append("answer %s, want %s" % (e.summary(), want.summary()))
                        errs += checksum_problems(ipb)
                self.check(name, not errs, "; ".join(errs), "answered" if "another" not in name else "not answered")
                expect_counters(self.res, name + "/counters", before, after, counters)

    # --- 3. malformed ESP and unwanted input -------------------------------------------
    def esp_cases(self, cbc, gcm, des, K):
        lab, L = self.lab, self.L
        for kind, pair in (("bad-icv", cbc), ("bad-icv", gcm), ("bad-ciphertext", cbc), ("bad-ciphertext", des),
                           ("unknown-spi", cbc), ("unknown-spi", gcm), ("truncated", gcm), ("truncated", cbc),
                           ("misaligned", cbc), ("misaligned", des), ("bad-padding", cbc), ("bad-padding", gcm),
                           ("bad-padding", des), ("bad-pad-length", gcm), ("bad-pad-length", cbc),
                           ("next-header", gcm), ("next-header", cbc), ("ip-options", cbc), ("ip-options", gcm),
                           ("ip-fragment", cbc), ("ip-fragment", gcm), ("not-local", cbc), ("not-local", gcm),
                           ("ike-500", gcm), ("ike-4500", gcm), ("natt-keepalive", gcm), ("other-protocol", cbc),
                           ("other-udp-port", cbc),
                           ("zero-seq", cbc), ("zero-seq", gcm), ("encap-mismatch", cbc), ("encap-mismatch", gcm),
                           ("bad-ip-checksum", cbc), ("bad-udp-length", gcm), ("non-ip", cbc)):
            gen, nseq, expected = BAD_KINDS[kind]
            seqs = pair.take_seq(nseq)
            self.drop_case("bad/%s/%s" % (kind, pair.name), gen(L, pair, seqs), expected,
                           allow_defrag_note=kind == "ip-fragment")
            if kind == "bad-icv":
                # RFC 4303 3.4.3: the window moves only after the ICV verified, so
                # the same sequence numbers are still good.
                problems = self.resend(pair, seqs)
                self.check("bad/%s/window-not-advanced-by-bad-icv" % pair.name, not problems,
                           "; ".join(problems), "seqs %s accepted after the forged ones" % seqs)

        # The outbound SPI of a pair is not an inbound one: unknown too.
        seq = cbc.take_seq()
        self.drop_case("bad/unknown-spi/outbound-spi-sent-inbound", unknown_spi(L, cbc, seq, spi=cbc.outbound.spi),
                       {"rx_esp_unknown_spi_drops": 1})

        # Replays: the first K sequence numbers of the matrix were accepted.
        for pair in (cbc, gcm):
            self.drop_case("replay/%s" % pair.name, valid(L, pair, [2, K]), {"rx_esp_replay_drops": 2})
            # An identical copy of a packet just accepted.
            f = valid(L, pair, pair.take_seq())[0]
            before = self.dp.snapshot()
            lab.client.send(f)
            first = lab.from_dp_core(1.0, want=1)
            lab.client.send(f)
            time.sleep(0.3)
            second = lab.from_dp_core(0.05)
            after = self.dp.snapshot()
            self.check("replay/%s/duplicate-copy-forwarded-once" % pair.name, len(first) == 1 and not second,
                       "first copy: %d frames, second copy: %d frames" % (len(first), len(second)))
            expect_counters(self.res, "replay/%s/duplicate-copy-counted" % pair.name, before, after,
                            {"rx_esp_replay_drops": 1})

        # Left of the window: jump ahead, then something older than the window.
        window = lab.plan["replay_window"]
        for pair in (cbc, gcm):
            base = pair.next_seq
            jump = base + window + 100
            pair.next_seq = jump + 1
            before = self.dp.snapshot()
            lab.client.send(valid(L, pair, [jump])[0])
            fwd = lab.from_dp_core(1.0, want=1)
            lab.client.send(valid(L, pair, [base])[0])          # never seen, but left of the window
            lab.client.send(valid(L, pair, [jump - window - 50])[0])
            time.sleep(0.3)
            leaked = lab.from_dp_core(0.05)
            after = self.dp.snapshot()
            self.check("window/%s/jump-ahead-forwarded" % pair.name, len(fwd) == 1,
                       "seq %d: %d frames reached the core" % (jump, len(fwd)))
            expect_counters(self.res, "window/%s" % pair.name, before, after, {"rx_esp_window_drops": 2},
                            " (seqs %d and %d with the window at %d)" % (base, jump - window - 50, jump))
            if leaked:
                self.check("window/%s-not-forwarded" % pair.name, False, "%d frames reached the core" % len(leaked))
            # Inside the window but not yet seen: still good (window is a bitmap, not a high-water mark).
            inside = jump - window // 2
            lab.client.send(valid(L, pair, [inside])[0])
            self.check("window/%s/inside-window-unseen-accepted" % pair.name, len(lab.from_dp_core(1.0, want=1)) == 1,
                       "seq %d (window top %d, size %d) was not forwarded" % (inside, jump, window))

        # A valid packet with trailing bytes after the IP datagram (Ethernet padding).
        for pair in (cbc, gcm):
            s = pair.take_seq()[0]
            f, ub = scapy_encrypt(L, pair, s)
            out, stray = lab.send_up([(pair, pair.name, raw(f) + b"\0" * 24, routed(ub))])
            errs = out[(pair.name, pair.name)]
            self.check("eth-trailer-ignored/%s" % pair.name, errs == [] and not stray,
                       "; ".join((errs or ["not forwarded"]) + stray), "24 bytes after the IP datagram did not matter")

    def resend(self, pair, seqs):
        """Valid packets with `seqs`; the problems if they do not arrive intact."""
        items = []
        for s in seqs:
            f, ub = scapy_encrypt(self.L, pair, s)
            items.append((pair, "seq %d" % s, f, routed(ub)))
        out, stray = self.lab.send_up(items, 0.001)
        by = items_by_pair(out)
        return by.get(pair.name, (0, []))[1] + stray


def run_suite(args):
    plan = load_plan(args.plan)
    t = Suite(args, plan)
    res, lab, dp = t.res, t.lab, t.dp
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
    missing = [c for c in ("rx_l2tp_control_punts", "rx_spoof_drops", "tx_fragments") if c not in s0["counters"]]
    if not res.check("stats-have-l2tp-counters", not missing, "missing %s: an ESP-only data plane?" % missing):
        return res

    # 1. Every combination, both directions, through L2TP and PPP.
    largest = 28 + max(PAYLOAD_SIZES)
    low = min(pairs, key=lambda p: (p.effective_mtu, p.name))
    if not res.check("plan/effective-mtus", low.effective_mtu >= largest,
                     "%s's effective MTU is %d, less than the %d-byte packets of the matrix (access MTU %d)" % (
                         low.name, low.effective_mtu, largest, low.access_mtu),
                     "PPP MTU or what fits the %d-byte access MTU once wrapped: %d..%d (%s the least), %d sessions "
                     "below their PPP MTU" % (low.access_mtu, low.effective_mtu,
                                              max(p.effective_mtu for p in pairs), low.name,
                                              sum(p.effective_mtu < p.mtu for p in pairs))):
        return res
    t.matrix(pairs, K)
    t.quiet("matrix")

    # 2. L2TP and PPP.
    cbc, gcm, des = lab.byname[args.cbc_pair], lab.byname[args.gcm_pair], lab.byname[args.des_pair]
    big = lab.byname[args.mtu_pair]
    seqd = next((p for p in pairs if p.sequencing), None)
    for phase, run in (
            ("l2tp/ipv6", lambda: t.ipv6([cbc, gcm])),
            ("l2tp/framing", lambda: t.framings([cbc, gcm])),
            ("mss", lambda: t.mss(cbc, big)),
            ("client-drops", lambda: t.client_drops(cbc, gcm)),
            ("core-drops", lambda: t.core_drops(cbc)),
            ("mtu", lambda: t.too_big(cbc)),
            ("fragment", lambda: t.fragments([cbc, gcm] + ([seqd] if seqd and seqd not in (cbc, gcm) else []))),
            ("fragment/ip-options", lambda: t.fragment_options(cbc)),
            ("inner-fragments-up", lambda: t.inner_fragments_up([cbc, gcm]))):
        run()
        t.quiet(phase)
    # The access MTU: the 1500-byte PPP MTU session, and the sessions (without and with L2TP
    # sequencing) whose 1400-byte PPP MTU is cut the most by their wrapping.
    cut = sorted((p for p in pairs if p is not big and p.effective_mtu < p.mtu),
                 key=lambda p: (p.effective_mtu, p.name))
    for pair in [big] + [x for x in (next((p for p in cut if not p.sequencing), None),
                                     next((p for p in cut if p.sequencing), None)) if x]:
        t.access_mtu(pair)
        t.quiet("access-mtu/%s" % pair.name)
    if "arp_replies" in s0["counters"]:
        t.local_delivery()
        t.quiet("local")

    # 3. Malformed ESP and unwanted input, one kind at a time.
    t.esp_cases(cbc, gcm, des, K)
    t.quiet("bad")

    # 4. Still alive, still forwarding, every pair.
    res.check("dp-alive-after-bad-input", dp.alive(), "concentrator-dp exited")
    by, stray = lab.upstream(pairs, 2)
    bad = {k: v[1] for k, v in by.items() if v[1]}
    res.check("after/upstream-all-pairs", not bad and not stray and sum(v[0] for v in by.values()) == 2 * len(pairs),
              "; ".join("%s: %s" % (k, v[0]) for k, v in bad.items()) + "; ".join(stray[:2]),
              "%d packets" % sum(v[0] for v in by.values()))
    by, stray, _ = lab.downstream(pairs, 2)
    bad = {k: v[1] for k, v in by.items() if v[1]}
    res.check("after/downstream-all-pairs",
              not bad and not stray and sum(v[0] for v in by.values()) == 2 * len(pairs),
              "; ".join("%s: %s" % (k, v[0]) for k, v in bad.items()) + "; ".join(stray[:2]),
              "%d packets" % sum(v[0] for v in by.values()))
    final = dp.snapshot()
    if final:
        with open(args.stats + ".last", "w") as f:
            json.dump(final, f)
        missed = {p: st.get("imissed") for p, st in final.get("ports", {}).items()}
        res.check("ports-no-imissed", missed and not any(missed.values()), "imissed %s" % missed,
                  "no frame lost at the ports")
    return res


def run_nat_suite(args):
    """Clients behind one NAT: one public address, a source port each, an SA
    pair each, and the same L2TP tunnel and session ids (each client's LAC
    picked them alone). Only the SA can tell them apart."""
    plan = load_plan(args.plan)
    t = Suite(args, plan)
    res, lab, dp, L = t.res, t.lab, t.dp, t.L
    probe = lab.byname[args.probe]
    clients = [p for p in lab.pairs if p is not probe]
    K = args.count
    shared = len({p.peer for p in clients}) == 1 and len({p.peer_port for p in clients}) == len(clients) and \
        len({(p.tunnel_id, p.session_id, p.peer_tunnel_id, p.peer_session_id) for p in clients}) == 1
    if not res.check("nat/plan", shared and len(clients) >= 2,
                     "want two or more clients sharing one address and the L2TP ids (plan --shared-nat)",
                     "%d clients at %s, ports %s, all tunnel %d session %d" % (
                         len(clients), clients[0].peer, ",".join(str(p.peer_port) for p in clients),
                         clients[0].tunnel_id, clients[0].session_id)):
        return res
    if not res.check("nat/dp-ready", lab.wait_ready(dp, probe, args.ready_timeout),
                     "concentrator-dp %s within %ds" % ("died" if not dp.alive() else "did not forward",
                                                        args.ready_timeout), "forwards both ways"):
        return res
    s0 = dp.snapshot()
    # Interleaved, so a table keyed by address or ids alone would mix them up.
    items = []
    for _ in range(K):
        for pair in clients:
            s = pair.take_seq()[0]
            f, ub = scapy_encrypt(L, pair, s, user=user_up(L, pair, s))
            items.append((pair, "IPv4 seq %d" % s, f, routed(ub)))
    for pair in clients:
        items.append(t.up_item(pair, "IPv6", v6=True, size=200))
    out, stray = lab.send_up(items)
    report_pairs(res, "nat/up", clients, items_by_pair(out), stray, K + 1,
                 "reached the core from the client's own addresses, byte-exact")
    down = []
    for _ in range(K):
        for pair in clients:
            lab.down_seq += 1
            down.append((pair, "IPv4 #%d" % lab.down_seq, user_down(L, pair, lab.down_seq)))
    for pair in clients:
        lab.down_seq += 1
        down.append((pair, "IPv6 #%d" % lab.down_seq, user_down(L, pair, lab.down_seq, v6=True, size=200)))
    out, stray, got = lab.send_down(down)
    report_pairs(res, "nat/down", clients, items_by_pair(out), stray, K + 1,
                 "to the client's own NAT port with its own SPI and key, byte-exact")
    s1 = dp.snapshot()
    expect_counters(res, "nat/no-drops", s0, s1, {})
    if s0 and s1:
        p0, p1 = sa_packets(s0), sa_packets(s1)
        errs = ["%s-%s +%d" % (p.name, d, p1.get(("%s-%s" % (p.name, d), d), 0) - p0.get(("%s-%s" % (p.name, d), d), 0))
                for p in clients for d in ("in", "out")
                if p1.get(("%s-%s" % (p.name, d), d), 0) - p0.get(("%s-%s" % (p.name, d), d), 0) != K + 1]
        res.check("nat/sa-packet-counters", not errs, "; ".join(errs), "every SA counted %d packets" % (K + 1))
    # The ids are the same: the SA picks the session, so client 1's SA
    # carrying client 2's address is a spoof, not client 2's traffic.
    a, b = clients[0], clients[1]
    t.drop_case("nat/client-1-SA-with-client-2-source", [t.up_frame(a, user=user_up(L, a, 1, size=40,
                                                                                   src=b.client_ipv4))],
                {"rx_spoof_drops": 1})
    t.drop_case("nat/client-2-SA-with-client-1-ipv6-source",
                [t.up_frame(b, user=user_up(L, b, 1, size=40, v6=True, src=a.client_ipv6(1)))],
                {"rx_spoof_drops": 1})
    final = dp.snapshot()
    if final:
        with open(args.stats + ".last", "w") as f:
            json.dump(final, f)
    return res


# --------------------------------------------------------------------------
# Self-test of the peer alone: scapy and the hand-written ESP must agree, and
# the hand-made L2TP and PPP must be what scapy's layers make and read.

SELFTEST_LAB = dict(cl_mac="02:00:00:00:01:01", dpacc_mac="02:00:00:00:01:02", access_address="198.51.100.1",
                    core_host="10.0.0.2", core_host6="2001:db8:ffff::2")


def selftest(args):
    res = Results()
    rng = random.Random(args.seed)
    lab = SELFTEST_LAB
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
                         local_port=4500, session=dict(private_address="192.168.0.9" if encap else "203.0.113.9"),
                         **{"in": random_keys(rng, 0x1000, cipher, integrity).to_json(),
                            "out": random_keys(rng, 0x2000, cipher, integrity).to_json()})
                pair = Pair(d)
                name = "selftest/%s/%s" % (d["name"], "natt" if encap else "esp")
                errs = []
                for seq in range(1, 18):
                    frame, user = scapy_encrypt(lab, pair, seq)
                    want_udp = transport_udp(lab, pair, l2tp_data(pair, ppp_frame(PPP_IPV4, user)))
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
                    if o["seq"] != seq or o["next_header"] != 17 or o["payload"] != want_udp:
                        errs.append("seq %d: hand-written open disagrees" % seq)
                    if o["padding"] != bytes(range(1, o["pad_length"] + 1)):
                        errs.append("seq %d: scapy padding %s" % (seq, o["padding"].hex()))
                    if len(esp) - 8 - pair.inbound.ci["iv"] - pair.inbound.icv_size != \
                            len(o["payload"]) + o["pad_length"] + 2:
                        errs.append("seq %d: ICV size mismatch" % seq)
                    # scapy decrypts its own
                    dec = pair.inbound.scapy_sa().decrypt(IP(src=e[IP].src, dst=e[IP].dst, proto=50) / ESP(esp))
                    if raw(dec[IP].payload) != want_udp:
                        errs.append("seq %d: scapy round trip differs" % seq)
                    # hand-written -> scapy, including the ICV check
                    sealed = pair.inbound.seal(seq, o["payload"], 17)
                    dec = pair.inbound.scapy_sa().decrypt(IP(src=e[IP].src, dst=e[IP].dst, proto=50) / ESP(sealed))
                    if raw(dec[IP].payload) != want_udp:
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
    selftest_l2tp(res)
    return res


def selftest_l2tp(res):
    """Our L2TP/PPP bytes against scapy's L2TP, HDLC and PPP layers, both ways.
    (Imported here: scapy then dissects every UDP 1701 payload as L2TP.)"""
    from scapy.layers.l2tp import L2TP
    from scapy.layers.ppp import HDLC, PPP
    user = IP(src="100.64.0.10", dst="10.0.0.2", ttl=9) / UDP(sport=1, dport=2) / Raw(b"hello L2TP")
    user6 = IPv6(src="2001:db8:100:a::1", dst="2001:db8:ffff::2") / UDP(sport=1, dport=2) / Raw(b"hello")
    errs = []
    # scapy writes the IPv4/IPv6 protocol in one byte (PFC), always with FF 03.
    for hdr, kw in (("", {}), ("length", dict(length=True)), ("sequence", dict(seq=(7, 9))),
                    ("length+sequence", dict(length=True, seq=(7, 9)))):
        for ip, proto in ((user, PPP_IPV4), (user6, PPP_IPV6)):
            ours = l2tp_message(0x1234, 0xBEEF, ppp_frame(proto, raw(ip), pfc=True), **kw)
            s_kw = dict(ns=7, nr=9) if "seq" in kw else {}
            theirs = raw(L2TP(hdr=hdr or 0, tunnel_id=0x1234, session_id=0xBEEF, **s_kw) / HDLC() /
                         PPP(proto=proto) / ip)
            if ours != theirs:
                errs.append("%s/%s: ours %s, scapy %s" % (hdr or "plain", proto, ours[:16].hex(), theirs[:16].hex()))
    # scapy reads what we send and what clients send (FF03 0021, ACFC, PFC).
    for name, ppp in (("ff03-0021", ppp_frame(PPP_IPV4, raw(user))),
                      ("no-ff03", ppp_frame(PPP_IPV4, raw(user), acfc=True)),
                      ("no-ff03-pfc", ppp_frame(PPP_IPV4, raw(user), acfc=True, pfc=True))):
        for kw in ({}, dict(length=True, seq=(1, 2))):
            msg = l2tp_message(4001, 4002, ppp, **kw)
            p = L2TP(msg)
            if p.tunnel_id != 4001 or p.session_id != 4002 or PPP not in p or p[PPP].proto != PPP_IPV4 or \
                    IP not in p or raw(p[IP]) != raw(user):
                errs.append("scapy reads our %s %s as %s" % (name, kw, p.summary()))
            mine = parse_l2tp(msg)
            proto, inner, _ = parse_ppp(mine["payload"])
            if (mine["tunnel"], mine["session"], proto, inner) != (4001, 4002, PPP_IPV4, raw(user)):
                errs.append("our parser misreads %s %s" % (name, kw))
    # Offset pad: ours has Offset Size bytes after the field (RFC 2661 3.1).
    msg = l2tp_message(1, 2, b"\x21" + raw(user), offset=b"\xaa\xbb\xcc")
    mine = parse_l2tp(msg)
    if mine["header_len"] != 2 + 4 + 2 + 3 or parse_ppp(mine["payload"])[1] != raw(user):
        errs.append("offset pad parsed wrongly: %s" % mine)
    res.check("selftest/l2tp-ppp-vs-scapy", not errs, "; ".join(errs[:3]),
              "our L2TP/PPP bytes equal scapy's and scapy parses ours")


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
    print("sent %d ESP packets (IPv4 in PPP in L2TP)" % port.sent)


def cmd_send_plain(args):
    plan = load_plan(args.plan)
    lab = plan["lab"]
    port = Port(args.netns or lab["ns_co"], args.iface or lab["if_co"])
    for pair in pick_pairs(plan, args.pairs):
        for i in range(args.count):
            port.send(core_frame(lab, user_down(lab, pair, 1000 + i)), 0.001)
    print("sent %d plain packets" % port.sent)


def cmd_recv_plain(args):
    plan = load_plan(args.plan)
    lab = plan["lab"]
    port = Port(args.netns or lab["ns_co"], args.iface or lab["if_co"])
    pairs = pick_pairs(plan, args.pairs)
    expected = {}
    for pair in pairs:
        for s in parse_seqs(args.seq):
            want = routed(raw(user_up(lab, pair, s)))
            expected[flow_key(want)] = (pair.name, "seq %d" % s, want)
    frames = port.receive(args.timeout, want=len(expected), src_mac=lab["dpcore_mac"])
    out, stray = check_core_frames(lab, frames, expected)
    res = Results()
    report_pairs(res, "up", pairs, items_by_pair(out), stray, len(parse_seqs(args.seq)), "forwarded exactly")
    return res


def cmd_recv_esp(args):
    plan = load_plan(args.plan)
    lab = plan["lab"]
    port = Port(args.netns or lab["ns_cl"], args.iface or lab["if_cl"])
    pairs = pick_pairs(plan, args.pairs)
    expected = {}
    for pair in pairs:
        for i in range(args.count):
            want = routed(raw(user_down(lab, pair, 1000 + i)))
            expected[flow_key(want)] = (pair.name, "#%d" % i, want)
    frames = port.receive(args.timeout, want=args.count * len(pairs), src_mac=lab["dpacc_mac"])
    opened, stray, _ = open_client_frames(lab, plan["pair_objs"], frames,
                                          {p.name: args.first_seq for p in plan["pair_objs"]},
                                          {p.name: args.first_ns for p in plan["pair_objs"]})
    out, stray2 = match_client_packets(opened, expected)
    res = Results()
    report_pairs(res, "down", pairs, items_by_pair(out), stray + stray2, args.count,
                 "decrypted, ICV verified, L2TP/PPP opened, exact")
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


# --------------------------------------------------------------------------
# The demo: the same traffic, told layer by layer.

def ppp_name(protocol):
    return {PPP_IPV4: "0x0021 (IPv4)", PPP_IPV6: "0x0057 (IPv6)"}.get(protocol, "0x%04x" % protocol)


def inner_summary(ip_bytes):
    p = parse_ip(ip_bytes)
    ip = p[IP] if IP in p else p[IPv6]
    ttl = ip.ttl if IP in p else ip.hlim
    l4 = p[UDP] if UDP in p else None
    return "IPv%d %s -> %s %s, %d bytes, %s %d" % (
        4 if IP in p else 6, ip.src, ip.dst, "UDP %d->%d" % (l4.sport, l4.dport) if l4 else "",
        len(ip_bytes), "TTL" if IP in p else "hop limit", ttl)


def cmd_demo(args):
    """Both directions for every client, told layer by layer; non-zero if traffic did not flow."""
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
        alg = pair.cipher + ("" if pair.integrity == "none" else " + HMAC-" + pair.integrity)
        outer_up = "UDP %d->%d (NAT-T, RFC 3948)" % (pair.peer_port, NATT_PORT) if pair.udp_encap else \
            "IP protocol 50"
        outer_down = "UDP %d->%d" % (NATT_PORT, pair.peer_port) if pair.udp_encap else "IP protocol 50"
        print("\nClient %s: %s, %s" % (pair.peer, alg, "behind a NAT" if pair.udp_encap else "plain ESP"))
        print("  its L2TP session: it sends to our tunnel %d session %d, we send to its tunnel %d session %d%s;"
              % (pair.tunnel_id, pair.session_id, pair.peer_tunnel_id, pair.peer_session_id,
                 " (sequencing)" if pair.sequencing else ""))
        print("  PPP gave it %s and %s, MTU %d%s" % (
            pair.client_ipv4, pair.client_ipv6_prefix, pair.effective_mtu,
            "" if pair.effective_mtu == pair.mtu else
            " (%d configured; %d is what fits the %d-byte access MTU once wrapped)" % (
                pair.mtu, pair.effective_mtu, pair.access_mtu)))
        for v6 in (False, True):
            count = n if not v6 else 1
            fam = "IPv6" if v6 else "IPv4"
            first = pair.next_seq
            by, stray = lab.upstream([pair], count, pace=0.01, v6=v6)
            good = by.get(pair.name, (0, []))[0]
            user = user_up(L, pair, first, v6=v6)
            print("  upstream, %s:" % ("%d %s packets, the first shown" % (count, fam) if count > 1 else
                                       "1 %s packet" % fam))
            seqs = "%d..%d" % (first, pair.next_seq - 1) if count > 1 else str(first)
            print("    client sends   IPv4 %s -> %s, %s, ESP SPI 0x%08x seq %s (%s)"
                  % (pair.peer, L["access_address"], outer_up, pair.inbound.spi, seqs, alg))
            print("      in the ESP:  UDP 1701->1701, L2TP data tunnel %d session %d, PPP FF03 protocol %s"
                  % (pair.tunnel_id, pair.session_id, ppp_name(PPP_IPV6 if v6 else PPP_IPV4)))
            print("      in the PPP:  %s" % inner_summary(raw(user)))
            print("    core host got  %d of %d: %s, byte-exact, checksums valid"
                  % (good, count, inner_summary(routed(raw(user)))))
            for p in (by.get(pair.name, (0, []))[1] + stray)[:3]:
                print("      problem: %s" % p)
            seq0 = lab.out_seq[pair.name]
            by, stray, got = lab.downstream([pair], count, pace=0.01, v6=v6)
            good2 = by.get(pair.name, (0, []))[0]
            opened = got.get(pair.name, [])
            print("  downstream, %s:" % ("%d %s packets, the first shown" % (count, fam) if count > 1 else
                                         "1 %s packet" % fam))
            sent = user_down(L, pair, lab.down_seq - count + 1, v6=v6)
            print("    core host sends %s" % inner_summary(raw(sent)))
            if opened:
                d = opened[0]
                print("    client got     IPv4 %s -> %s, %s, ESP SPI 0x%08x seq %s, ICV verified by scapy"
                      % (pair.local, pair.peer, outer_down, d["spi"], ",".join(str(o["seq"]) for o in opened)))
                l2 = d["l2tp"]
                print("      in the ESP:  UDP 1701->1701 checksum %d, L2TP data flags 0x%04x tunnel %d session %d%s, "
                      "PPP FF03 protocol %s" % (d["udp_checksum"], l2["flags"], l2["tunnel"], l2["session"],
                                                " Ns %d" % l2["ns"] if l2["ns"] is not None else "",
                                                ppp_name(d["ppp_protocol"])))
                print("      in the PPP:  %s: %d of %d byte-exact" % (inner_summary(d["inner"]), good2, count))
            else:
                print("    client got     nothing (ESP seq from %d expected)" % seq0)
            for p in (by.get(pair.name, (0, []))[1] + stray)[:3]:
                print("      problem: %s" % p)
            flowed = flowed and good == count and good2 == count
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
    print("\nTraffic %s." % ("flowed both ways for every client" if flowed else "did NOT flow everywhere"))
    return 0 if flowed else 1


# --------------------------------------------------------------------------
# The control plane: concentrator-cp attached to a running concentrator-dp.

def run_cp_suite(args):
    """concentrator-cp installed the static entries (the data plane ran with
    --no-static); traffic flows; concentratorctl shows the sessions with the
    shared counters; punts reach the control plane (an LCP Echo-Request is
    answered through the inject ring, L2TP control and IKE are counted); a
    NAT-T client whose NAT gives it a new port is followed there; a SIGKILL
    of the control plane during traffic loses nothing; a new one re-attaches
    and reads the tables back."""
    plan = load_plan(args.plan)
    suite = Suite(args, plan)
    lab, res = suite.lab, suite.res
    probe = lab.byname[args.probe]
    pairs = [p for p in plan["pair_objs"] if p is not probe]

    def ctl(*words):
        r = subprocess.run([args.ctl, "-s", args.socket, "--json"] + list(words), capture_output=True, text=True,
                           timeout=10)
        if r.returncode != 0:
            return None, r.stderr.strip()
        try:
            return json.loads(r.stdout), ""
        except ValueError as e:
            return None, "not JSON (%s): %s" % (e, r.stdout[:200])

    def sessions():
        got, why = ctl("show", "sessions")
        return ({x["name"]: x for x in got["sessions"]} if got else None), why

    def traffic(name, count, pace=0.0005):
        up, stray = lab.upstream(pairs, count, pace=pace)
        down, stray2, _ = lab.downstream(pairs, count, pace=pace)
        for pair in pairs:
            for way, by in (("up", up), ("down", down)):
                ok, problems = by.get(pair.name, (0, []))
                res.check("%s/%s/%s" % (name, pair.name, way), ok == count and not problems,
                          "%d of %d arrived intact; %s" % (ok, count, "; ".join(problems[:2])))
        res.check("%s/no-stray-frames" % name, not stray and not stray2, "; ".join((stray + stray2)[:3]))

    if not res.check("cp/data-plane-forwards", lab.wait_ready(suite.dp, probe, args.ready_timeout),
                     "no traffic through the probe client within %d s" % args.ready_timeout):
        return res
    table, why = sessions()
    res.check("cp/show-sessions-lists-every-static-session",
              table is not None and all(p.name in table for p in plan["pair_objs"]),
              why or "missing: %s" % [p.name for p in plan["pair_objs"] if p.name not in (table or {})])
    sas, why = ctl("show", "sas")
    res.check("cp/show-sas-lists-every-static-sa", sas is not None and len(sas["sas"]) == 2 * len(plan["pair_objs"]),
              why or "%d SAs" % len(sas["sas"]))

    traffic("cp/traffic", 5)
    time.sleep(0.3)  # counters are published every 100 ms
    table, why = sessions()
    for pair in pairs:
        entry = (table or {}).get(pair.name, {})
        res.check("cp/session-counters/%s" % pair.name,
                  entry.get("rx_packets", 0) >= 5 and entry.get("tx_packets", 0) >= 5,
                  why or "rx %s tx %s after 5 each way" % (entry.get("rx_packets"), entry.get("tx_packets")))

    # LCP Echo-Request (RFC 1661 5.8) -> punt -> concentrator-cp -> inject -> Echo-Reply.
    A = pairs[0]
    request = bytes([9, 0x42, 0, 12]) + struct.pack("!I", 0x11223344) + b"ping"
    frame, _ = scapy_encrypt(lab.lab, A, A.take_seq()[0], ppp=ppp_frame(0xC021, request))
    lab.client.send(frame)
    opened, stray, _ = lab.open_down(lab.from_dp_access(2.0, want=1))
    replies = [d for d in opened if d["pair"] is A and d.get("ppp_protocol") == 0xC021]
    inner = replies[0]["inner"] if replies else b""
    res.check("cp/lcp-echo-answered-through-inject",
              len(replies) == 1 and inner[:2] == bytes([10, 0x42]) and inner[8:12] == b"ping" and not stray,
              "got %d LCP frames (%s), stray %s" % (len(replies), inner[:12].hex(), stray[:2]))

    before, why = ctl("show", "stats")
    control = lab.lab
    l2tp_ctl = l2tp_message(A.tunnel_id, 0, b"", control=True, length=True, seq=(0, 0))
    frame, _ = scapy_encrypt(control, A, A.take_seq()[0], l2tp=l2tp_ctl)
    lab.client.send(frame)
    for f in ike_500(control, A, []) + ike_4500(control, A, []):
        lab.client.send(f)
    time.sleep(0.4)
    after, why2 = ctl("show", "stats")
    if before and after:
        b, a = before["controlplane"], after["controlplane"]
        for counter in ("punts_l2tp_control", "punts_ike", "punts_ike_natt"):
            res.check("cp/punt-counted/%s" % counter, a[counter] - b[counter] == 1,
                      "%s moved by %d" % (counter, a[counter] - b[counter]))
        moved = {k: v - before["dataplane"]["counters"].get(k, 0) for k, v in after["dataplane"]["counters"].items()
                 if v != before["dataplane"]["counters"].get(k, 0)}
        res.check("cp/no-punt-dropped", after["dataplane"]["counters"]["punt_no_listener_drops"] ==
                  before["dataplane"]["counters"]["punt_no_listener_drops"],
                  "punts dropped while attached; counters that moved: %s" % moved)
    else:
        res.check("cp/show-stats", False, why or why2)

    # A NAT gives a NAT-T client a new port (RFC 3947/3948): its next packet
    # tells the control plane, which moves the SA pair; the answers follow.
    M = next((p for p in pairs if p.udp_encap), None)
    if res.check("cp/nat-rebinding-has-a-nat-t-client", M is not None, "no NAT-T pair in the plan"):
        before, why = ctl("show", "stats")
        res.check("cp/nat-rebinding-stats-before", before is not None, why)
        M.peer_port += 1000
        moved = "%s:%d" % (M.peer, M.peer_port)
        spis = {"0x%08x" % M.inbound.spi, "0x%08x" % M.outbound.spi}
        up, _ = lab.upstream([M], 1)
        ok, problems = up.get(M.name, (0, []))
        res.check("cp/nat-rebinding-first-packet-forwarded", ok == 1, "; ".join(problems[:2]))
        peers = []
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline:
            got, why = ctl("show", "sas")
            peers = [x["peer"] for x in (got or {}).get("sas", []) if x["spi"] in spis]
            if peers == [moved, moved]:
                break
            time.sleep(0.05)
        res.check("cp/nat-rebinding-moves-the-sa-pair", peers == [moved, moved],
                  why or "SAs' peers %s, want %s" % (peers, moved))
        after, why2 = ctl("show", "stats")
        res.check("cp/nat-rebinding-stats-after", after is not None, why2)
        if before and after:
            moves = after["controlplane"]["peer_moves"] - before["controlplane"]["peer_moves"]
            seen = after["dataplane"]["counters"]["rx_esp_peer_moves"] - \
                before["dataplane"]["counters"]["rx_esp_peer_moves"]
            res.check("cp/nat-rebinding-counted", moves == 1 and seen == 1,
                      "peer_moves +%d, rx_esp_peer_moves +%d" % (moves, seen))
        traffic("cp/traffic-after-nat-rebinding", 5)

    # SIGKILL during traffic: nothing of the established sessions is lost.
    old_pid = int(open(args.cp_pid_file).read())
    threading.Timer(0.1, os.kill, (old_pid, signal.SIGKILL)).start()
    traffic("cp/traffic-while-killed", 20, pace=0.01)
    time.sleep(0.2)
    gone = not os.path.exists("/proc/%d" % old_pid) or \
        open("/proc/%d/stat" % old_pid).read().split(")")[-1].split()[0] in ("Z", "X")
    res.check("cp/control-plane-was-killed", gone, "pid %d still runs" % old_pid)
    traffic("cp/traffic-without-control-plane", 5)

    # A new control plane re-attaches and reads the tables back.
    with open(args.cp_log, "w") as log:
        proc = subprocess.Popen(shlex.split(args.cp_cmd), stdout=log, stderr=subprocess.STDOUT)
    with open(args.cp_pid_file, "w") as f:
        f.write(str(proc.pid))
    deadline = time.monotonic() + 10
    table = None
    while time.monotonic() < deadline and proc.poll() is None:
        table, why = sessions()
        if table:
            break
        time.sleep(0.1)
    res.check("cp/restarted-control-plane-serves", bool(table), why or "exit %s" % proc.poll())
    text = open(args.cp_log).read()
    res.check("cp/restart-reads-tables-back", "installed 0 static entries" in text and
              "has %d SA(s) and %d session(s)" % (2 * len(plan["pair_objs"]), len(plan["pair_objs"])) in text,
              text.strip().replace("\n", " | ")[:300])
    for pair in pairs:
        entry = (table or {}).get(pair.name, {})
        res.check("cp/counters-survive-restart/%s" % pair.name, entry.get("rx_packets", 0) >= 30,
                  "rx_packets %s, want >= 30" % entry.get("rx_packets"))
    traffic("cp/traffic-after-restart", 5)
    late = lab.settle()
    res.check("cp/no-late-frames", not late, "; ".join(late[:3]))
    return res


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)

    p = sub.add_parser("plan", help="make a plan with fresh keys and ids")
    p.add_argument("--out", required=True)
    p.add_argument("--seed", type=int)
    p.add_argument("--combos", help="cipher/integrity[/esp|natt],... (default: the full test matrix)")
    p.add_argument("--encap", choices=["both", "esp", "natt"], default="both")
    p.add_argument("--replay-window", type=int, default=1024)
    p.add_argument("--peer-net", default="203.0.113")
    p.add_argument("--first-peer-host", type=int, default=10)
    p.add_argument("--client-net", default="100.64.0", help="clients' PPP addresses: NET.10, NET.11, ...")
    p.add_argument("--client-net6", default="2001:db8:100", help="clients' /64s: NET:a::/64, NET:b::/64, ...")
    p.add_argument("--session-mtu", type=int, default=1400)
    p.add_argument("--full-mtu-pairs", default="aes128gcm16-esp",
                   help="clients whose PPP MTU is 1500, more than fits the access MTU once wrapped")
    p.add_argument("--access-mtu", type=int, default=1500, help="the access port's mtu in the config")
    p.add_argument("--sequencing-every", type=int, default=4, help="every Nth session sends Ns/Nr (0: none)")
    p.add_argument("--shared-nat", action="store_true",
                   help="every client behind one NAT address (its own port and SAs) with the same L2TP ids")
    p.add_argument("--with-probe", action="store_true", help="add the client the suite uses to wait for forwarding")
    for k, v in dict(ns_cl="cl", ns_dp="dp", ns_co="co", if_cl="eth0", if_co="eth0", if_dpacc="dpacc",
                     if_dpcore="dpcore", cl_mac="02:00:00:00:01:01", dpacc_mac="02:00:00:00:01:02",
                     dpcore_mac="02:00:00:00:02:02", co_mac="02:00:00:00:02:01", access_address="198.51.100.1",
                     core_address="10.0.0.1", core_host="10.0.0.2", core_host6="2001:db8:ffff::2").items():
        p.add_argument("--" + k.replace("_", "-"), default=os.environ.get("LAB_" + k.upper(), v))
    p.add_argument("--access-prefix", type=int, default=24)
    p.add_argument("--core-prefix", type=int, default=24)

    p = sub.add_parser("config", help="write the concentrator-dp config for a plan")
    p.add_argument("--plan", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--file-prefix", default="esptest%d" % os.getpid())
    p.add_argument("--lcores", default="0-1")
    p.add_argument("--workers", default="1")
    p.add_argument("--shared", action="store_true",
                   help="hugepage-backed memory, so concentrator-cp can attach")
    p.add_argument("--mgmt-socket", help="mgmt.socket for concentrator-cp")

    p = sub.add_parser("selftest", help="scapy vs hand-written ESP and L2TP/PPP, optionally over a veth")
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
            p.add_argument("--first-ns", type=int, default=0)
        if name.startswith("recv"):
            p.add_argument("--timeout", type=float, default=5.0)

    for name in ("suite", "nat-suite"):
        p = sub.add_parser(name, help="the system test against a running concentrator-dp" if name == "suite" else
                           "clients behind one NAT address, against a running concentrator-dp")
        p.add_argument("--plan", required=True)
        p.add_argument("--dp-pid", type=int, required=True)
        p.add_argument("--stats", required=True, help="the --stats-json file of concentrator-dp")
        p.add_argument("--count", type=int, default=16, help="packets per pair and direction (16: every pad length)")
        p.add_argument("--ready-timeout", type=int, default=30)
        p.add_argument("--probe", default="aes128gcm16-probe")
        if name == "suite":
            p.add_argument("--cbc-pair", default="aes128-sha1-esp")
            p.add_argument("--gcm-pair", default="aes128gcm16-natt")
            p.add_argument("--des-pair", default="3des-sha1-esp")
            p.add_argument("--mtu-pair", default="aes128gcm16-esp", help="a client whose PPP MTU is 1500")

    p = sub.add_parser("cp-suite", help="concentrator-cp against a running concentrator-dp (--no-static)")
    p.add_argument("--plan", required=True)
    p.add_argument("--dp-pid", type=int, required=True)
    p.add_argument("--stats", required=True)
    p.add_argument("--ctl", required=True, help="concentratorctl")
    p.add_argument("--socket", required=True)
    p.add_argument("--cp-pid-file", required=True, help="holds the running concentrator-cp's pid; rewritten")
    p.add_argument("--cp-cmd", required=True, help="command line that starts concentrator-cp again")
    p.add_argument("--cp-log", required=True)
    p.add_argument("--ready-timeout", type=int, default=30)
    p.add_argument("--probe", default="aes128gcm16-probe")

    p = sub.add_parser("demo", help="traffic both ways, told layer by layer for people")
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
    res = {"selftest": selftest, "suite": run_suite, "nat-suite": run_nat_suite, "send-esp": cmd_send_esp,
           "send-plain": cmd_send_plain, "recv-plain": cmd_recv_plain, "recv-esp": cmd_recv_esp,
           "send-bad": cmd_send_bad, "cp-suite": run_cp_suite}[args.cmd](args)
    if isinstance(res, Results):
        print("%d passed, %d failed" % (res.passed, res.failed))
        return 1 if res.failed else 0
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        sys.exit(130)

// The data plane the fuzz targets share, and its SAs: fixed keys, so seeds
// written by tests/fuzz/make_corpus.py decrypt and lead the fuzzer deep.
#pragma once

#include <cstdio>
#include <cstdlib>

#include <rte_mbuf.h>

#include "common/config/config.h"
#include "tests/support/ring_dataplane.h"

namespace conc::fuzz {

inline std::vector<uint8_t> bytes_from(uint8_t first, size_t n) {
    std::vector<uint8_t> v(n);
    for (size_t i = 0; i < n; ++i) v[i] = static_cast<uint8_t>(first + i);
    return v;
}

// Peer 203.0.113.10. Inbound: SPI 0x1001 aes128gcm16 NAT-T, SPI 0x1002
// aes128/sha1 plain ESP, SPI 0x1003 3des/sha256_96 NAT-T. Keys count up from
// 0x00 (cipher) and 0x40 (integrity). Outbound to the same peer: aes128gcm16.
// One L2TP session on each inbound SA: tunnel 100, session 200, client
// 100.64.0.1/2/3 and 2001:db8:100:1/2/3::/64, answered through gcm-out.
inline config::Config fuzz_config() {
    config::Config cfg = test::base_config();
    cfg.ipsec.replay_window = 64;
    cfg.dataplane.burst_size = 256;  // the largest the configuration allows: bursts that fill every batch
    auto sa = [](const char* name, config::SaDirection dir, uint32_t spi, proto::EspCipher c, proto::EspIntegrity a,
                 bool udp) {
        config::StaticSa s = test::make_sa(name, dir, spi, c, a, 0xCB00710A, udp, 0);
        s.cipher_key = bytes_from(0x00, s.cipher_key.size());
        s.integrity_key = bytes_from(0x40, s.integrity_key.size());
        return s;
    };
    using D = config::SaDirection;
    using C = proto::EspCipher;
    using I = proto::EspIntegrity;
    cfg.ipsec.static_sas = {
        sa("gcm-in", D::Inbound, 0x1001, C::AesGcm128, I::None, true),
        sa("cbc-in", D::Inbound, 0x1002, C::AesCbc128, I::HmacSha1_96, false),
        sa("3des-in", D::Inbound, 0x1003, C::TripleDesCbc, I::HmacSha256_96, true),
        sa("gcm-out", D::Outbound, 0x2001, C::AesGcm128, I::None, true),
    };
    for (int i = 0; i < 3; ++i) {
        config::StaticSession s;
        s.name = "session" + std::to_string(i);
        s.sa_in = cfg.ipsec.static_sas[i].name;
        s.sa_out = "gcm-out";
        s.tunnel_id = 100;
        s.session_id = 200;
        s.peer_tunnel_id = 7;
        s.peer_session_id = 9;
        s.client_ipv4 = 0x64400001 + i;
        s.client_ipv6_prefix = {0x20, 0x01, 0x0d, 0xb8, 0x01, 0x00, 0, static_cast<uint8_t>(i + 1)};
        s.client_ipv6_prefix_length = 64;
        cfg.l2tp.static_sessions.push_back(s);
    }
    // IPv6 addresses on both ports, so Neighbor Discovery, ping6 and Packet
    // Too Big are reachable; the MACs stay fixed so frames get all the way out.
    for (auto* port : {&cfg.dataplane.access, &cfg.dataplane.core}) {
        port->ipv6_address = {0x20, 0x01, 0x0d, 0xb8, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
        port->ipv6_prefix_length = 64;
    }
    cfg.dataplane.core.ipv6_address[5] = 0xfe;
    return cfg;
}

// EAL and a data plane on ring ports with fuzz_config(), for
// LLVMFuzzerInitialize; aborts if either fails.
inline test::RingDataplane* start_dataplane() {
    if (!test::init_eal()) {
        std::fprintf(stderr, "EAL init failed\n");
        std::abort();
    }
    auto* dataplane = new test::RingDataplane();
    const std::string err = dataplane->start(fuzz_config());
    if (!err.empty()) {
        std::fprintf(stderr, "data plane start failed: %s\n", err.c_str());
        std::abort();
    }
    return dataplane;
}

// Frees whatever left through either port.
inline void drain_ports(test::RingDataplane& dataplane) {
    rte_mbuf* m[64];
    for (unsigned n; (n = dataplane.drain_access(m, 64)) > 0;) rte_pktmbuf_free_bulk(m, n);
    for (unsigned n; (n = dataplane.drain_core(m, 64)) > 0;) rte_pktmbuf_free_bulk(m, n);
}

}  // namespace conc::fuzz

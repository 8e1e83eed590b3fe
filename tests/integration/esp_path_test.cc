// Whole bursts through the real stages: core -> encrypt -> access, and the
// ESP frames turned around into access -> decrypt -> core, for every
// transform, plain and UDP-encapsulated; then bad input, each under its own
// drop counter.
#include <arpa/inet.h>

#include <cppunit/extensions/HelperMacros.h>

#include <cstring>
#include <string>
#include <vector>

#include "common/proto/byte_reader.h"
#include "common/proto/ipv4.h"
#include "tests/support/ring_dataplane.h"

using namespace conc;
using proto::EspCipher;
using proto::EspIntegrity;

namespace {

constexpr uint32_t kPeer = 0xCB00710A;  // 203.0.113.10
constexpr uint32_t kCoreHost = 0x0A000005;
const uint8_t kAnyMac[6] = {0x02, 0, 0, 0, 9, 9};

struct Transform {
    EspCipher cipher;
    EspIntegrity integrity;
};
const Transform kTransforms[] = {
    {EspCipher::AesGcm128, EspIntegrity::None},          {EspCipher::AesGcm256, EspIntegrity::None},
    {EspCipher::AesCbc128, EspIntegrity::HmacSha1_96},    {EspCipher::AesCbc128, EspIntegrity::HmacSha256_128},
    {EspCipher::AesCbc128, EspIntegrity::HmacSha256_96},  {EspCipher::AesCbc128, EspIntegrity::HmacSha384_192},
    {EspCipher::AesCbc128, EspIntegrity::HmacSha512_256}, {EspCipher::AesCbc192, EspIntegrity::HmacSha1_96},
    {EspCipher::AesCbc256, EspIntegrity::HmacSha256_128}, {EspCipher::TripleDesCbc, EspIntegrity::HmacSha1_96},
};

// One outbound SA to kPeer and the inbound SA with the same SPI and keys, so
// what the data plane encrypts it can also decrypt once turned around.
config::Config loopback_config(const Transform& t, bool udp_encap, uint32_t window = 1024) {
    config::Config cfg = test::base_config();
    cfg.ipsec.replay_window = window;
    auto out = test::make_sa("out", config::SaDirection::Outbound, 0x1000, t.cipher, t.integrity, kPeer, udp_encap, 7);
    auto in = out;
    in.name = "in";
    in.direction = config::SaDirection::Inbound;
    cfg.ipsec.static_sas = {out, in};
    return cfg;
}

// The UDP checksum over the pseudo-header and segment of the IPv4 packet at
// ip (RFC 768): 0 when the stored checksum is right.
uint16_t udp_checksum_residue(const uint8_t* ip) {
    const uint16_t udp_len = static_cast<uint16_t>(proto::load_u16(ip + 2) - 20);
    std::vector<uint8_t> pseudo(ip + 12, ip + 20);
    pseudo.insert(pseudo.end(), {0, proto::kIpProtoUdp, static_cast<uint8_t>(udp_len >> 8),
                                 static_cast<uint8_t>(udp_len)});
    pseudo.insert(pseudo.end(), ip + 20, ip + 20 + udp_len);
    return proto::internet_checksum(pseudo.data(), pseudo.size());
}

void set_udp_checksum(uint8_t* ip) {
    proto::write_u16(ip + 26, 0);
    uint16_t sum = udp_checksum_residue(ip);
    proto::write_u16(ip + 26, sum ? sum : 0xFFFF);
}

std::vector<uint8_t> frame_bytes(rte_mbuf* m) {
    const uint8_t* p = rte_pktmbuf_mtod(m, const uint8_t*);
    return {p, p + rte_pktmbuf_data_len(m)};
}

// Turns an ESP frame the data plane sent to kPeer into one kPeer sends back.
rte_mbuf* turn_around(rte_mempool* pool, const std::vector<uint8_t>& esp_frame, const test::RingDataplane& r) {
    rte_mbuf* m = rte_pktmbuf_alloc(pool);
    uint8_t* p = reinterpret_cast<uint8_t*>(rte_pktmbuf_append(m, static_cast<uint16_t>(esp_frame.size())));
    std::memcpy(p, esp_frame.data(), esp_frame.size());
    uint8_t* ip = p + proto::kEthernetHeaderSize;
    uint32_t src, dst;
    std::memcpy(&src, ip + 12, 4);
    std::memcpy(&dst, ip + 16, 4);
    proto::write_ipv4_header(ip, dst, src, ip[9], proto::load_u16(ip + 2), 64, 7, proto::load_u16(ip + 6));
    (void)r;
    return m;
}

}  // namespace

class EspPathTest : public CppUnit::TestFixture {
    CPPUNIT_TEST_SUITE(EspPathTest);
    CPPUNIT_TEST(round_trip_every_transform);
    CPPUNIT_TEST(replayed_burst_is_dropped);
    CPPUNIT_TEST(left_of_window_is_dropped);
    CPPUNIT_TEST(bad_icv_is_dropped);
    CPPUNIT_TEST(unknown_spi_and_encap_mismatch);
    CPPUNIT_TEST(sequence_number_never_wraps);
    CPPUNIT_TEST(outer_options_fragments_and_keepalives);
    CPPUNIT_TEST(too_big_for_mtu);
    CPPUNIT_TEST_SUITE_END();

    // Encrypts n packets of payload_len through the core port; returns the
    // ESP frames that came out of the access port.
    std::vector<std::vector<uint8_t>> encrypt_burst(test::RingDataplane& r, unsigned n, uint16_t payload_len,
                                                    uint8_t tag = 0) {
        std::vector<rte_mbuf*> in(n);
        std::vector<uint8_t> payload(payload_len);
        for (unsigned i = 0; i < n; ++i) {
            for (unsigned j = 0; j < payload_len; ++j) payload[j] = static_cast<uint8_t>(i * 7 + j + tag);
            in[i] = test::build_udp_frame(r.pool(), kAnyMac, kAnyMac, kCoreHost, kPeer, 1701, 1701, payload.data(),
                                          payload_len);
            set_udp_checksum(rte_pktmbuf_mtod_offset(in[i], uint8_t*, 14));
        }
        CPPUNIT_ASSERT_EQUAL(n, r.inject_core(in.data(), n));
        r.poll_until_idle();
        std::vector<std::vector<uint8_t>> out;
        rte_mbuf* m[64];
        for (unsigned got; (got = r.drain_access(m, 64)) > 0;)
            for (unsigned i = 0; i < got; ++i) out.push_back(frame_bytes(m[i])), rte_pktmbuf_free(m[i]);
        return out;
    }

    // Feeds ESP frames back in; returns the inner frames out of the core port.
    std::vector<std::vector<uint8_t>> decrypt_frames(test::RingDataplane& r,
                                                     const std::vector<std::vector<uint8_t>>& frames) {
        std::vector<rte_mbuf*> in;
        for (const auto& f : frames) in.push_back(turn_around(r.pool(), f, r));
        CPPUNIT_ASSERT_EQUAL(static_cast<unsigned>(in.size()), r.inject_access(in.data(), in.size()));
        r.poll_until_idle();
        std::vector<std::vector<uint8_t>> out;
        rte_mbuf* m[64];
        for (unsigned got; (got = r.drain_core(m, 64)) > 0;)
            for (unsigned i = 0; i < got; ++i) out.push_back(frame_bytes(m[i])), rte_pktmbuf_free(m[i]);
        return out;
    }

public:
    void round_trip_every_transform() {
        for (const auto& t : kTransforms) {
            for (bool udp : {false, true}) {
                for (uint16_t len : {0, 1, 17, 200, 1350}) {
                    const std::string what = std::string(proto::cipher_info(t.cipher).name) + "/" +
                                             std::string(proto::integrity_info(t.integrity).name) +
                                             (udp ? " udp" : " esp") + " len " + std::to_string(len);
                    test::RingDataplane r;
                    CPPUNIT_ASSERT_EQUAL_MESSAGE(what, std::string(), r.start(loopback_config(t, udp)));
                    auto esp = encrypt_burst(r, 40, len);
                    CPPUNIT_ASSERT_EQUAL_MESSAGE(what, size_t{40}, esp.size());
                    for (const auto& f : esp) {
                        const uint8_t* ip = f.data() + 14;
                        CPPUNIT_ASSERT_EQUAL_MESSAGE(what, udp ? proto::kIpProtoUdp : proto::kIpProtoEsp, ip[9]);
                        CPPUNIT_ASSERT_EQUAL_MESSAGE(what, uint16_t(0), proto::internet_checksum(ip, 20));
                        CPPUNIT_ASSERT_MESSAGE(what, proto::load_u32(ip + 16) == kPeer);
                        if (udp) CPPUNIT_ASSERT_EQUAL_MESSAGE(what, uint16_t(4500), proto::load_u16(ip + 22));
                    }
                    auto plain = decrypt_frames(r, esp);
                    CPPUNIT_ASSERT_EQUAL_MESSAGE(what, size_t{40}, plain.size());
                    for (unsigned i = 0; i < plain.size(); ++i) {
                        const auto& f = plain[i];
                        CPPUNIT_ASSERT_EQUAL_MESSAGE(what, size_t{42u + len}, f.size());
                        CPPUNIT_ASSERT_EQUAL_MESSAGE(what, uint16_t(0), proto::internet_checksum(f.data() + 14, 20));
                        CPPUNIT_ASSERT_EQUAL_MESSAGE(what, proto::kIpProtoUdp, f[14 + 9]);
                        // Plain ESP: the checksum followed the new source out
                        // and back; NAT-T: RFC 3948 3.1.2, zeroed on the way in.
                        if (udp) CPPUNIT_ASSERT_EQUAL_MESSAGE(what, uint16_t(0), proto::load_u16(&f[34 + 6]));
                        else CPPUNIT_ASSERT_EQUAL_MESSAGE(what, uint16_t(0), udp_checksum_residue(&f[14]));
                        for (unsigned j = 0; j < len; ++j)
                            CPPUNIT_ASSERT_EQUAL_MESSAGE(what, static_cast<uint8_t>(i * 7 + j), f[42 + j]);
                    }
                    const auto c = r.counters();
                    CPPUNIT_ASSERT_EQUAL_MESSAGE(what, uint64_t{40}, c.rx_esp_decrypted);
                    CPPUNIT_ASSERT_EQUAL_MESSAGE(what, uint64_t{40}, c.tx_esp_packets);
                }
            }
        }
    }

    void replayed_burst_is_dropped() {
        test::RingDataplane r;
        CPPUNIT_ASSERT_EQUAL(std::string(), r.start(loopback_config(kTransforms[0], true)));
        auto esp = encrypt_burst(r, 32, 64);
        CPPUNIT_ASSERT_EQUAL(size_t{32}, decrypt_frames(r, esp).size());
        CPPUNIT_ASSERT_EQUAL(size_t{0}, decrypt_frames(r, esp).size());
        CPPUNIT_ASSERT_EQUAL(uint64_t{32}, r.counters().rx_esp_replay_drops);
        // The same packet twice within one burst: the second loses at update().
        std::vector<std::vector<uint8_t>> twice = encrypt_burst(r, 1, 64);
        twice.push_back(twice[0]);
        CPPUNIT_ASSERT_EQUAL(size_t{1}, decrypt_frames(r, twice).size());
        CPPUNIT_ASSERT_EQUAL(uint64_t{33}, r.counters().rx_esp_replay_drops);
    }

    void left_of_window_is_dropped() {
        test::RingDataplane r;
        CPPUNIT_ASSERT_EQUAL(std::string(), r.start(loopback_config(kTransforms[2], false, 64)));
        auto esp = encrypt_burst(r, 100, 10);  // sequence numbers 1..100
        std::vector<std::vector<uint8_t>> last = {esp[99]}, first = {esp[0], esp[35]};
        CPPUNIT_ASSERT_EQUAL(size_t{1}, decrypt_frames(r, last).size());
        // 100 - 64 = 36 is the edge: 1 and 36 are left of the window, 37 is in.
        std::vector<std::vector<uint8_t>> edge = {esp[36]};
        CPPUNIT_ASSERT_EQUAL(size_t{0}, decrypt_frames(r, first).size());
        CPPUNIT_ASSERT_EQUAL(uint64_t{2}, r.counters().rx_esp_window_drops);
        CPPUNIT_ASSERT_EQUAL(size_t{1}, decrypt_frames(r, edge).size());
    }

    void bad_icv_is_dropped() {
        for (const auto& t : {kTransforms[0], kTransforms[2], kTransforms[9]}) {
            test::RingDataplane r;
            CPPUNIT_ASSERT_EQUAL(std::string(), r.start(loopback_config(t, true)));
            auto esp = encrypt_burst(r, 3, 100);
            esp[0].back() ^= 1;             // ICV
            esp[1][42 + 8 + 20] ^= 0x80;    // ciphertext
            esp[2][42 + 5] ^= 1;            // sequence number (authenticated)
            CPPUNIT_ASSERT_EQUAL(size_t{0}, decrypt_frames(r, esp).size());
            CPPUNIT_ASSERT_EQUAL(uint64_t{3}, r.counters().rx_esp_auth_drops);
            // A forged packet does not move the window: the genuine one passes.
            auto good = encrypt_burst(r, 1, 100);
            CPPUNIT_ASSERT_EQUAL(size_t{1}, decrypt_frames(r, good).size());
        }
    }

    void unknown_spi_and_encap_mismatch() {
        test::RingDataplane r;
        CPPUNIT_ASSERT_EQUAL(std::string(), r.start(loopback_config(kTransforms[0], true)));
        auto esp = encrypt_burst(r, 2, 100);
        esp[0][42 + 3] ^= 0xFF;  // SPI 0x1000 -> 0x10FF
        CPPUNIT_ASSERT_EQUAL(size_t{0}, decrypt_frames(r, {esp[0]}).size());
        CPPUNIT_ASSERT_EQUAL(uint64_t{1}, r.counters().rx_esp_unknown_spi_drops);
        // The same ESP without its UDP header, as IP protocol 50, on a NAT-T SA.
        std::vector<uint8_t> plain(esp[1].begin(), esp[1].begin() + 34);
        plain.insert(plain.end(), esp[1].begin() + 42, esp[1].end());
        plain[14 + 9] = proto::kIpProtoEsp;
        proto::write_u16(&plain[14 + 2], static_cast<uint16_t>(plain.size() - 14));
        CPPUNIT_ASSERT_EQUAL(size_t{0}, decrypt_frames(r, {plain}).size());
        CPPUNIT_ASSERT_EQUAL(uint64_t{1}, r.counters().rx_esp_encap_mismatch_drops);
    }

    void sequence_number_never_wraps() {
        config::Config cfg = loopback_config(kTransforms[0], false);
        cfg.ipsec.static_sas[0].first_sequence = 0xFFFFFFFE;
        test::RingDataplane r;
        CPPUNIT_ASSERT_EQUAL(std::string(), r.start(cfg));
        auto esp = encrypt_burst(r, 4, 10);
        CPPUNIT_ASSERT_EQUAL(size_t{2}, esp.size());
        CPPUNIT_ASSERT_EQUAL(uint32_t{0xFFFFFFFF}, proto::load_u32(&esp[1][34 + 4]));
        CPPUNIT_ASSERT_EQUAL(uint64_t{2}, r.counters().tx_esp_seq_overflow_drops);
    }

    void outer_options_fragments_and_keepalives() {
        test::RingDataplane r;
        CPPUNIT_ASSERT_EQUAL(std::string(), r.start(loopback_config(kTransforms[0], true)));
        auto esp = encrypt_burst(r, 1, 100);
        auto fragment = esp[0];
        proto::write_u16(&fragment[14 + 6], proto::kIpv4MoreFragments);
        auto keepalive = std::vector<uint8_t>(esp[0].begin(), esp[0].begin() + 43);
        keepalive[42] = 0xFF;
        proto::write_u16(&keepalive[14 + 2], 20 + 9);
        proto::write_u16(&keepalive[34 + 4], 9);
        auto ike = std::vector<uint8_t>(esp[0].begin(), esp[0].begin() + 42 + 40);
        std::memset(&ike[42], 0, 4);  // RFC 3948 non-ESP marker
        proto::write_u16(&ike[14 + 2], 20 + 8 + 40);
        proto::write_u16(&ike[34 + 4], 8 + 40);
        auto not_local = esp[0];
        std::vector<std::vector<uint8_t>> frames = {fragment, keepalive, ike, not_local};
        std::vector<rte_mbuf*> in;
        for (auto& f : frames) in.push_back(turn_around(r.pool(), f, r));
        // Not for us: rewrite the destination after the turn-around.
        uint8_t* nl = rte_pktmbuf_mtod(in[3], uint8_t*) + 14;
        uint32_t other = htonl(0xC6336463);
        uint32_t src;
        std::memcpy(&src, nl + 12, 4);
        proto::write_ipv4_header(nl, src, other, nl[9], proto::load_u16(nl + 2), 64, 1, 0);
        // Options: a 24-byte header (one NOP word) in front of the same UDP.
        std::vector<uint8_t> with_options(esp[0].begin(), esp[0].begin() + 34);
        with_options.insert(with_options.end(), {1, 1, 1, 0});
        with_options.insert(with_options.end(), esp[0].begin() + 34, esp[0].end());
        uint8_t* oip = &with_options[14];
        oip[0] = 0x46;
        proto::write_u16(oip + 2, static_cast<uint16_t>(with_options.size() - 14));
        std::memcpy(oip + 12, esp[0].data() + 14 + 16, 4);
        std::memcpy(oip + 16, esp[0].data() + 14 + 12, 4);
        proto::write_u16(oip + 10, 0);
        proto::write_u16(oip + 10, proto::internet_checksum(oip, 24));
        rte_mbuf* m = rte_pktmbuf_alloc(r.pool());
        std::memcpy(rte_pktmbuf_append(m, static_cast<uint16_t>(with_options.size())), with_options.data(),
                    with_options.size());
        in.push_back(m);
        CPPUNIT_ASSERT_EQUAL(static_cast<unsigned>(in.size()), r.inject_access(in.data(), in.size()));
        r.poll_until_idle();
        rte_mbuf* out[8];
        CPPUNIT_ASSERT_EQUAL(0u, r.drain_core(out, 8));
        const auto c = r.counters();
        CPPUNIT_ASSERT_EQUAL(uint64_t{1}, c.rx_ip_fragment_drops);
        CPPUNIT_ASSERT_EQUAL(uint64_t{1}, c.rx_natt_keepalive_drops);
        CPPUNIT_ASSERT_EQUAL(uint64_t{1}, c.rx_ike_punts);
        CPPUNIT_ASSERT_EQUAL(uint64_t{1}, c.rx_not_local_drops);
        CPPUNIT_ASSERT_EQUAL(uint64_t{1}, c.rx_ip_options_drops);
        // The original, untouched, still decrypts: none of that hurt the SA.
        CPPUNIT_ASSERT_EQUAL(size_t{1}, decrypt_frames(r, esp).size());
    }

    void too_big_for_mtu() {
        config::Config cfg = loopback_config(kTransforms[2], true);
        cfg.dataplane.access.mtu = 1400;
        test::RingDataplane r;
        CPPUNIT_ASSERT_EQUAL(std::string(), r.start(cfg));
        // 20 + 8 + 8 + 16 + 1350 + 28 + 2 + pad + 12 > 1400
        CPPUNIT_ASSERT_EQUAL(size_t{0}, encrypt_burst(r, 1, 1350).size());
        CPPUNIT_ASSERT_EQUAL(uint64_t{1}, r.counters().tx_esp_too_big_drops);
        CPPUNIT_ASSERT_EQUAL(size_t{1}, encrypt_burst(r, 1, 1300).size());
    }
};

CPPUNIT_TEST_SUITE_REGISTRATION(EspPathTest);

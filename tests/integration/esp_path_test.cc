// ESP through the whole data plane: a client's IP inside PPP inside L2TP
// inside ESP reaches the core port, and the core's answers reach the client,
// for every transform, plain and UDP-encapsulated, in whole bursts; then bad
// ESP input, each under its own drop counter.
#include <arpa/inet.h>

#include <cppunit/extensions/HelperMacros.h>

#include <cstring>
#include <string>
#include <vector>

#include "common/proto/byte_reader.h"
#include "common/proto/ipv4.h"
#include "common/proto/l2tp.h"
#include "dataplane/control.h"
#include "tests/support/client_lab.h"

using namespace conc;
using namespace conc::test;
using proto::EspCipher;
using proto::EspIntegrity;

namespace {

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

std::vector<uint8_t> payload_of(unsigned i, unsigned len) {
    std::vector<uint8_t> p(len);
    for (unsigned j = 0; j < len; ++j) p[j] = static_cast<uint8_t>(i * 7 + j);
    return p;
}

ClientSpec spec_for(const Transform& t, bool udp) {
    ClientSpec s;
    s.cipher = t.cipher;
    s.integrity = t.integrity;
    s.udp_encap = udp;
    return s;
}

std::vector<uint8_t> flip(std::vector<uint8_t> f, size_t at, uint8_t mask) {
    f[at] ^= mask;
    return f;
}

}  // namespace

class EspPathTest : public CppUnit::TestFixture {
    CPPUNIT_TEST_SUITE(EspPathTest);
    CPPUNIT_TEST(round_trip_every_transform);
    CPPUNIT_TEST(replayed_burst_is_dropped);
    CPPUNIT_TEST(left_of_window_is_dropped);
    CPPUNIT_TEST(bad_icv_is_dropped);
    CPPUNIT_TEST(unknown_spi_and_encap_mismatch);
    CPPUNIT_TEST(sas_are_found_in_their_spi_slot_or_hashed);
    CPPUNIT_TEST(sequence_number_never_wraps);
    CPPUNIT_TEST(outer_options_fragments_and_keepalives);
    CPPUNIT_TEST(too_big_for_the_access_mtu);
    CPPUNIT_TEST_SUITE_END();

public:
    void round_trip_every_transform() {
        for (const auto& t : kTransforms) {
            for (bool udp : {false, true}) {
                for (unsigned len : {0u, 1u, 17u, 200u, 1300u}) {
                    const std::string what = std::string(proto::cipher_info(t.cipher).name) + "/" +
                                             std::string(proto::integrity_info(t.integrity).name) +
                                             (udp ? " udp" : " esp") + " len " + std::to_string(len);
                    ClientLab lab;
                    lab.add_client(spec_for(t, udp));
                    CPPUNIT_ASSERT_EQUAL_MESSAGE(what, std::string(), lab.start());
                    L2tpClient& client = lab.client(0);

                    std::vector<std::vector<uint8_t>> up;
                    for (unsigned i = 0; i < 40; ++i)
                        up.push_back(client.upstream_bytes(
                            ipv4_udp(kClientAddress, kCoreHost, 5000, 53, payload_of(i, len)), proto::kPppIpv4));
                    auto at_core = lab.upstream(up);
                    CPPUNIT_ASSERT_EQUAL_MESSAGE(what, size_t{40}, at_core.size());
                    for (unsigned i = 0; i < at_core.size(); ++i) {
                        const auto& f = at_core[i];
                        CPPUNIT_ASSERT_EQUAL_MESSAGE(what, size_t{14 + 28 + len}, f.size());
                        const std::vector<uint8_t> ip(f.begin() + 14, f.end());
                        CPPUNIT_ASSERT_EQUAL_MESSAGE(what, uint8_t{63}, ip[8]);  // one hop: us
                        CPPUNIT_ASSERT_EQUAL_MESSAGE(what, uint16_t(0), proto::internet_checksum(ip.data(), 20));
                        CPPUNIT_ASSERT_MESSAGE(what, l4_checksum_ok(ip));
                        CPPUNIT_ASSERT_MESSAGE(what, std::equal(ip.begin() + 28, ip.end(), payload_of(i, len).begin()));
                    }

                    std::vector<std::vector<uint8_t>> down;
                    for (unsigned i = 0; i < 40; ++i)
                        down.push_back(ipv4_udp(kCoreHost, kClientAddress, 53, 5000, payload_of(i + 1, len)));
                    auto at_access = lab.downstream(down);
                    CPPUNIT_ASSERT_EQUAL_MESSAGE(what, size_t{40}, at_access.size());
                    for (unsigned i = 0; i < at_access.size(); ++i) {
                        Downstream d;
                        std::string why;
                        CPPUNIT_ASSERT_MESSAGE(what + ": " + why,
                                               client.downstream(at_access[i].data(), at_access[i].size(), d, why));
                        CPPUNIT_ASSERT_EQUAL_MESSAGE(what, kClientPublic, d.outer_destination);
                        CPPUNIT_ASSERT_EQUAL_MESSAGE(what, udp, d.udp_encap);
                        CPPUNIT_ASSERT_EQUAL_MESSAGE(what, i + 1, d.seq);
                        CPPUNIT_ASSERT_EQUAL_MESSAGE(what, uint16_t{7}, d.tunnel_id);
                        CPPUNIT_ASSERT_EQUAL_MESSAGE(what, uint16_t{9}, d.session_id);
                        CPPUNIT_ASSERT_EQUAL_MESSAGE(what, proto::kPppIpv4, d.ppp_protocol);
                        CPPUNIT_ASSERT_EQUAL_MESSAGE(what, size_t{28 + len}, d.inner.size());
                        CPPUNIT_ASSERT_EQUAL_MESSAGE(what, uint8_t{63}, d.inner[8]);
                        CPPUNIT_ASSERT_MESSAGE(what, l4_checksum_ok(d.inner));
                        CPPUNIT_ASSERT_MESSAGE(what,
                                               std::equal(d.inner.begin() + 28, d.inner.end(), payload_of(i + 1, len).begin()));
                    }
                    const auto c = lab.counters();
                    CPPUNIT_ASSERT_EQUAL_MESSAGE(what, uint64_t{40}, c.rx_esp_decrypted);
                    CPPUNIT_ASSERT_EQUAL_MESSAGE(what, uint64_t{40}, c.tx_esp_packets);
                }
            }
        }
    }

    void replayed_burst_is_dropped() {
        ClientLab lab;
        lab.add_client({});
        CPPUNIT_ASSERT_EQUAL(std::string(), lab.start());
        std::vector<std::vector<uint8_t>> burst;
        for (unsigned i = 0; i < 32; ++i)
            burst.push_back(lab.client(0).upstream_bytes(ipv4_udp(kClientAddress, kCoreHost, 1, 2, payload_of(i, 64)),
                                                         proto::kPppIpv4));
        CPPUNIT_ASSERT_EQUAL(size_t{32}, lab.upstream(burst).size());
        CPPUNIT_ASSERT_EQUAL(size_t{0}, lab.upstream(burst).size());
        CPPUNIT_ASSERT_EQUAL(uint64_t{32}, lab.counters().rx_esp_replay_drops);
        // The same packet twice within one burst: the second loses at update().
        auto one = lab.client(0).upstream_bytes(ipv4_udp(kClientAddress, kCoreHost, 1, 2, {}), proto::kPppIpv4);
        CPPUNIT_ASSERT_EQUAL(size_t{1}, lab.upstream({one, one}).size());
        CPPUNIT_ASSERT_EQUAL(uint64_t{33}, lab.counters().rx_esp_replay_drops);
    }

    void left_of_window_is_dropped() {
        // 64 bits: the bitmap inside the SA; 4096: a bitmap of its own.
        for (const uint32_t window : {64u, 4096u}) {
            ClientLab lab;
            lab.add_client(spec_for(kTransforms[2], false));
            lab.config().ipsec.replay_window = window;
            CPPUNIT_ASSERT_EQUAL(std::string(), lab.start());
            auto packet = [&](uint32_t seq) {
                return lab.client(0).upstream_bytes(ipv4_udp(kClientAddress, kCoreHost, 1, 2, {}), proto::kPppIpv4,
                                                    {}, seq);
            };
            const uint32_t highest = window + 100;
            CPPUNIT_ASSERT_EQUAL(size_t{1}, lab.upstream({packet(highest)}).size());
            // highest - window is the edge: it and 1 are left of the window, the next one is in.
            CPPUNIT_ASSERT_EQUAL(size_t{0}, lab.upstream({packet(1), packet(highest - window)}).size());
            CPPUNIT_ASSERT_EQUAL(uint64_t{2}, lab.counters().rx_esp_window_drops);
            CPPUNIT_ASSERT_EQUAL(size_t{1}, lab.upstream({packet(highest - window + 1)}).size());
            CPPUNIT_ASSERT_EQUAL(size_t{0}, lab.upstream({packet(highest - window + 1), packet(highest)}).size());
            CPPUNIT_ASSERT_EQUAL(uint64_t{2}, lab.counters().rx_esp_replay_drops);
        }
    }

    void bad_icv_is_dropped() {
        for (const auto& t : {kTransforms[0], kTransforms[2], kTransforms[9]}) {
            ClientLab lab;
            lab.add_client(spec_for(t, true));
            CPPUNIT_ASSERT_EQUAL(std::string(), lab.start());
            auto packet = [&](uint32_t seq) {
                return lab.client(0).upstream_bytes(ipv4_udp(kClientAddress, kCoreHost, 1, 2, payload_of(seq, 100)),
                                                    proto::kPppIpv4, {}, seq);
            };
            const auto good = packet(1);
            CPPUNIT_ASSERT_EQUAL(size_t{0}, lab.upstream({flip(good, good.size() - 1, 1),      // ICV
                                                          flip(good, 42 + 8 + 20, 0x80),       // ciphertext
                                                          flip(good, 42 + 5, 1)}).size());     // sequence number
            CPPUNIT_ASSERT_EQUAL(uint64_t{3}, lab.counters().rx_esp_auth_drops);
            // Forged packets do not move the window: the genuine one passes.
            CPPUNIT_ASSERT_EQUAL(size_t{1}, lab.upstream({good}).size());
        }
    }

    void unknown_spi_and_encap_mismatch() {
        ClientLab lab;
        lab.add_client({});
        CPPUNIT_ASSERT_EQUAL(std::string(), lab.start());
        auto f = lab.client(0).upstream_bytes(ipv4_udp(kClientAddress, kCoreHost, 1, 2, {}), proto::kPppIpv4);
        CPPUNIT_ASSERT_EQUAL(size_t{0}, lab.upstream({flip(f, 42 + 3, 0xFF)}).size());  // SPI 0x1000 -> 0x10FF
        CPPUNIT_ASSERT_EQUAL(uint64_t{1}, lab.counters().rx_esp_unknown_spi_drops);
        // The same ESP without its UDP header, as IP protocol 50, on a NAT-T SA.
        std::vector<uint8_t> plain(f.begin(), f.begin() + 34);
        plain.insert(plain.end(), f.begin() + 42, f.end());
        plain[14 + 9] = proto::kIpProtoEsp;
        proto::write_ipv4_header(&plain[14], htonl(kClientPublic), htonl(0xC6336401), proto::kIpProtoEsp,
                                 static_cast<uint16_t>(plain.size() - 14), 64, 1, 0);
        CPPUNIT_ASSERT_EQUAL(size_t{0}, lab.upstream({plain}).size());
        CPPUNIT_ASSERT_EQUAL(uint64_t{1}, lab.counters().rx_esp_encap_mismatch_drops);
    }

    // An inbound SA sits in the slot its SPI names when it can; one whose
    // slot is taken, or lies past the table, is found through the hash
    // table, and both kinds in one burst; a freed slot is taken again.
    void sas_are_found_in_their_spi_slot_or_hashed() {
        ClientLab lab;
        for (unsigned i = 0; i < 3; ++i) {
            ClientSpec s;
            s.public_address = kClientPublic + i;
            s.address = kClientAddress + i;
            s.ipv6_index = 0;
            lab.add_client(s);
        }
        lab.config().dataplane.max_sas = 1000;  // slots named by the SPI's low 10 bits, below 1000
        lab.sa_in(0).spi = 0x1005;              // slot 5
        lab.sa_in(1).spi = 0x2405;              // slot 5 as well: hashed
        lab.sa_in(2).spi = 0x13F0;              // slot 1008, past the table: hashed
        CPPUNIT_ASSERT_EQUAL(std::string(), lab.start());
        dp::Dataplane& dp = lab.ring().dataplane();
        CPPUNIT_ASSERT_EQUAL(5u, lab.session(0).sa_in);
        CPPUNIT_ASSERT(lab.session(1).sa_in != 5u && lab.session(2).sa_in != 5u);
        CPPUNIT_ASSERT_EQUAL(2u, dp.sas.hashed_inbound());
        CPPUNIT_ASSERT_EQUAL(5u, dp.sas.find_inbound(0x1005));
        CPPUNIT_ASSERT_EQUAL(lab.session(1).sa_in, dp.sas.find_inbound(0x2405));

        auto packet = [&](unsigned client, uint8_t mark) {
            return lab.client(client).upstream_bytes(
                ipv4_udp(kClientAddress + client, kCoreHost, 1, 2, payload_of(mark, 20)), proto::kPppIpv4);
        };
        std::vector<std::vector<uint8_t>> burst;
        for (unsigned i = 0; i < 12; ++i) burst.push_back(packet(i % 3, static_cast<uint8_t>(i)));
        auto up = lab.upstream(burst);
        CPPUNIT_ASSERT_EQUAL(size_t{12}, up.size());
        for (unsigned i = 0; i < 12; ++i) CPPUNIT_ASSERT_EQUAL(kClientAddress + i % 3, proto::load_u32(&up[i][14 + 12]));
        for (unsigned c = 0; c < 3; ++c) CPPUNIT_ASSERT_EQUAL(uint64_t{4}, lab.session(c).counters.rx_packets);

        // SPIs naming slot 5 and slot 1009 that no SA has.
        auto other_spi = [&](uint32_t spi) {
            auto f = packet(0, 99);
            proto::write_u32(&f[42], spi);
            return f;
        };
        CPPUNIT_ASSERT_EQUAL(size_t{0}, lab.upstream({other_spi(0x3005), other_spi(0x13F1)}).size());
        CPPUNIT_ASSERT_EQUAL(uint64_t{2}, lab.counters().rx_esp_unknown_spi_drops);

        // Installing a second SA with either kind of SPI is refused.
        const char* why = nullptr;
        uint32_t index = 0;
        CPPUNIT_ASSERT(dp::install_sa(dp, lab.sa_in(0), index, &why) == shm::CommandStatus::Duplicate);
        CPPUNIT_ASSERT(dp::install_sa(dp, lab.sa_in(1), index, &why) == shm::CommandStatus::Duplicate);

        // Client 0 leaves: its packets are unknown, the hashed client's still pass.
        CPPUNIT_ASSERT(dp::remove_session(dp, lab.session_index(0), &why) == shm::CommandStatus::Ok);
        CPPUNIT_ASSERT(dp::remove_sa(dp, 5, &why) == shm::CommandStatus::Ok);
        CPPUNIT_ASSERT_EQUAL(size_t{1}, lab.upstream({packet(0, 1), packet(1, 2)}).size());
        CPPUNIT_ASSERT_EQUAL(uint64_t{3}, lab.counters().rx_esp_unknown_spi_drops);
        // Once the worker has passed a quiescent point, slot 5 is free for the next SA that names it.
        dp.sas.reclaim();
        config::StaticSa next = lab.sa_in(0);
        next.name = "next";
        next.spi = 0x3005;
        CPPUNIT_ASSERT(dp::install_sa(dp, next, index, &why) == shm::CommandStatus::Ok);
        CPPUNIT_ASSERT_EQUAL(5u, index);
        CPPUNIT_ASSERT_EQUAL(2u, dp.sas.hashed_inbound());
        CPPUNIT_ASSERT_EQUAL(size_t{0}, lab.upstream({packet(0, 3)}).size());  // the old SPI is still unknown
        CPPUNIT_ASSERT_EQUAL(uint64_t{4}, lab.counters().rx_esp_unknown_spi_drops);
        // The new SPI finds the new SA (same keys, but GCM authenticates the SPI: an ICV failure, not unknown).
        CPPUNIT_ASSERT_EQUAL(size_t{0}, lab.upstream({other_spi(0x3005)}).size());
        CPPUNIT_ASSERT_EQUAL(uint64_t{4}, lab.counters().rx_esp_unknown_spi_drops);
        CPPUNIT_ASSERT_EQUAL(uint64_t{1}, lab.counters().rx_esp_auth_drops);
    }

    void sequence_number_never_wraps() {
        ClientLab lab;
        lab.add_client({});
        lab.sa_out(0).first_sequence = 0xFFFFFFFE;
        CPPUNIT_ASSERT_EQUAL(std::string(), lab.start());
        std::vector<std::vector<uint8_t>> down(4, ipv4_udp(kCoreHost, kClientAddress, 1, 2, {}));
        auto out = lab.downstream(down);
        CPPUNIT_ASSERT_EQUAL(size_t{2}, out.size());
        Downstream d;
        std::string why;
        CPPUNIT_ASSERT_MESSAGE(why, lab.client(0).downstream(out[1].data(), out[1].size(), d, why));
        CPPUNIT_ASSERT_EQUAL(uint32_t{0xFFFFFFFF}, d.seq);
        CPPUNIT_ASSERT_EQUAL(uint64_t{2}, lab.counters().tx_esp_seq_overflow_drops);
    }

    void outer_options_fragments_and_keepalives() {
        ClientLab lab;
        lab.add_client({});
        CPPUNIT_ASSERT_EQUAL(std::string(), lab.start());
        auto esp = lab.client(0).upstream_bytes(ipv4_udp(kClientAddress, kCoreHost, 1, 2, payload_of(0, 100)),
                                                proto::kPppIpv4);
        auto rewrite_ip = [](std::vector<uint8_t>& f, uint32_t destination, uint16_t flags) {
            uint32_t source;
            std::memcpy(&source, &f[14 + 12], 4);
            proto::write_ipv4_header(&f[14], source, htonl(destination), f[14 + 9], proto::load_u16(&f[14 + 2]), 64,
                                     1, flags);
        };
        auto fragment = esp;
        rewrite_ip(fragment, 0xC6336401, proto::kIpv4MoreFragments);
        auto not_local = esp;
        rewrite_ip(not_local, 0xC6336463, 0);
        auto udp_payload = [&](std::vector<uint8_t> bytes) {  // same outer IP/UDP 4500, other payload
            std::vector<uint8_t> f(esp.begin(), esp.begin() + 42);
            f.insert(f.end(), bytes.begin(), bytes.end());
            proto::write_u16(&f[34 + 4], static_cast<uint16_t>(8 + bytes.size()));
            proto::write_u16(&f[14 + 2], static_cast<uint16_t>(28 + bytes.size()));
            rewrite_ip(f, 0xC6336401, 0);
            return f;
        };
        auto keepalive = udp_payload({0xFF});
        std::vector<uint8_t> ike_bytes(40, 0x11);
        std::memset(ike_bytes.data(), 0, 4);  // RFC 3948 non-ESP marker
        auto ike = udp_payload(ike_bytes);
        // Options: a 24-byte header (one NOP word) in front of the same UDP.
        std::vector<uint8_t> with_options(esp.begin(), esp.begin() + 34);
        with_options.insert(with_options.end(), {1, 1, 1, 0});
        with_options.insert(with_options.end(), esp.begin() + 34, esp.end());
        with_options[14] = 0x46;
        proto::write_u16(&with_options[14 + 2], static_cast<uint16_t>(with_options.size() - 14));
        proto::write_u16(&with_options[14 + 10], 0);
        proto::write_u16(&with_options[14 + 10], proto::internet_checksum(&with_options[14], 24));

        CPPUNIT_ASSERT_EQUAL(size_t{0}, lab.upstream({fragment, keepalive, ike, not_local, with_options}).size());
        const auto c = lab.counters();
        CPPUNIT_ASSERT_EQUAL(uint64_t{1}, c.rx_ip_fragment_drops);
        CPPUNIT_ASSERT_EQUAL(uint64_t{1}, c.rx_natt_keepalive_drops);
        CPPUNIT_ASSERT_EQUAL(uint64_t{1}, c.rx_ike_punts);
        CPPUNIT_ASSERT_EQUAL(uint64_t{1}, c.rx_not_local_drops);
        CPPUNIT_ASSERT_EQUAL(uint64_t{1}, c.rx_ip_options_drops);
        // The original, untouched, still goes through: none of that hurt the SA.
        CPPUNIT_ASSERT_EQUAL(size_t{1}, lab.upstream({esp}).size());
    }

    void too_big_for_the_access_mtu() {
        ClientLab lab;
        lab.add_client(spec_for(kTransforms[2], true));
        lab.config().dataplane.access.mtu = 1400;
        CPPUNIT_ASSERT_EQUAL(std::string(), lab.start());
        // The session's PPP MTU is 1400 but the access port's is too: wrapped
        // in PPP, L2TP, UDP, ESP (CBC, HMAC-SHA1-96, worst-case padding) and
        // NAT-T, 1301 bytes is the most that fits, and that is what the
        // session uses for ICMP and fragmentation.
        CPPUNIT_ASSERT_EQUAL(uint16_t{1301}, lab.session(0).mtu);
        CPPUNIT_ASSERT_EQUAL(size_t{2}, lab.downstream({ipv4_udp(kCoreHost, kClientAddress, 1, 2,
                                                                 payload_of(0, 1340))}).size());
        CPPUNIT_ASSERT_EQUAL(size_t{0}, lab.downstream({ipv4_udp(kCoreHost, kClientAddress, 1, 2, payload_of(0, 1340),
                                                                 64, proto::kIpv4DontFragment)}).size());
        CPPUNIT_ASSERT_EQUAL(size_t{1}, lab.core_out().size());
        CPPUNIT_ASSERT_EQUAL(uint16_t{1301}, proto::load_u16(&lab.core_out()[0][14 + 20 + 6]));  // RFC 1191 MTU
        CPPUNIT_ASSERT_EQUAL(size_t{1}, lab.downstream({ipv4_udp(kCoreHost, kClientAddress, 1, 2,
                                                                 payload_of(0, 1273))}).size());  // 1301 exactly
        CPPUNIT_ASSERT_EQUAL(uint64_t{0}, lab.counters().tx_esp_too_big_drops);
    }
};

CPPUNIT_TEST_SUITE_REGISTRATION(EspPathTest);

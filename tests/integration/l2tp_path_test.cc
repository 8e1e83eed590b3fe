// The L2TP/PPP half of the data path, through the real stages: every legal
// L2TP and PPP framing, control and non-IP punts, anti-spoofing, sessions
// that only ever take their own SA's packets (clients behind one NAT sharing
// L2TP ids), TTL, MSS clamping, MTU (ICMP or fragmentation), IPv6.
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

namespace {

std::vector<uint8_t> bytes(unsigned len, uint8_t seed = 1) {
    std::vector<uint8_t> p(len);
    for (unsigned j = 0; j < len; ++j) p[j] = static_cast<uint8_t>(seed + j);
    return p;
}

std::vector<uint8_t> inner_of(const std::vector<uint8_t>& core_frame) {
    return {core_frame.begin() + 14, core_frame.end()};
}

Downstream open(ClientLab& lab, unsigned client, const std::vector<uint8_t>& frame) {
    Downstream d;
    std::string why;
    CPPUNIT_ASSERT_MESSAGE(why, lab.client(client).downstream(frame.data(), frame.size(), d, why));
    return d;
}

}  // namespace

class L2tpPathTest : public CppUnit::TestFixture {
    CPPUNIT_TEST_SUITE(L2tpPathTest);
    CPPUNIT_TEST(every_legal_framing_is_forwarded);
    CPPUNIT_TEST(bad_l2tp_headers_are_dropped);
    CPPUNIT_TEST(control_and_non_ip_are_punted);
    CPPUNIT_TEST(spoofed_sources_are_dropped);
    CPPUNIT_TEST(sessions_only_take_their_own_sa);
    CPPUNIT_TEST(two_sessions_on_one_sa_are_both_found);
    CPPUNIT_TEST(clients_behind_one_nat_are_never_confused);
    CPPUNIT_TEST(ttl_is_decremented_and_expires);
    CPPUNIT_TEST(tcp_mss_is_clamped_both_ways);
    CPPUNIT_TEST(too_big_with_df_gets_icmp);
    CPPUNIT_TEST(too_big_without_df_is_fragmented);
    CPPUNIT_TEST(fragments_that_fill_the_batch_then_a_small_packet);
    CPPUNIT_TEST(ipv6_both_ways);
    CPPUNIT_TEST(unknown_destination_is_dropped);
    CPPUNIT_TEST(sessions_are_found_in_their_address_slot_or_hashed);
    CPPUNIT_TEST(sequencing_sessions_number_their_packets);
    CPPUNIT_TEST(ipv6_sessions_need_1280_bytes);
    CPPUNIT_TEST(ipv6_prefixes_of_any_length_are_found);
    CPPUNIT_TEST_SUITE_END();

public:
    void every_legal_framing_is_forwarded() {
        ClientLab lab;
        lab.add_client({});
        CPPUNIT_ASSERT_EQUAL(std::string(), lab.start());
        const auto inner = ipv4_udp(kClientAddress, kCoreHost, 1, 2, bytes(50));
        std::vector<L2tpFraming> framings(8);
        framings[1].length_field = true;
        framings[2].sequence = true;
        framings[3].offset_size = 5;
        framings[4].force_offset = true;  // O bit with offset size 0
        framings[5].address_control = false;
        framings[6].one_byte_protocol = true;
        framings[7] = {true, true, 3, false, false, true};
        std::vector<std::vector<uint8_t>> frames;
        for (const auto& f : framings) frames.push_back(lab.client(0).upstream_bytes(inner, proto::kPppIpv4, f));
        const auto out = lab.upstream(frames);
        CPPUNIT_ASSERT_EQUAL(framings.size(), out.size());
        for (const auto& f : out) {
            auto ip = inner_of(f);
            CPPUNIT_ASSERT_EQUAL(inner.size(), ip.size());
            CPPUNIT_ASSERT(std::equal(ip.begin() + 28, ip.end(), inner.begin() + 28));
        }
    }

    void bad_l2tp_headers_are_dropped() {
        ClientLab lab;
        lab.add_client({});
        CPPUNIT_ASSERT_EQUAL(std::string(), lab.start());
        const auto inner = ipv4_udp(kClientAddress, kCoreHost, 1, 2, bytes(20));
        L2tpFraming v3;
        v3.version = 3;
        L2tpFraming other_port;
        other_port.udp_destination = 1702;
        auto& c = lab.client(0);
        CPPUNIT_ASSERT_EQUAL(size_t{0}, lab.upstream({c.upstream_bytes(inner, proto::kPppIpv4, v3),
                                                      c.upstream_bytes(inner, proto::kPppIpv4, other_port),
                                                      c.upstream_bytes({}, proto::kPppIpv4),       // no IP header
                                                      c.upstream_bytes(inner, 0x0020)}).size());    // even protocol
        const auto k = lab.counters();
        CPPUNIT_ASSERT_EQUAL(uint64_t{1}, k.rx_l2tp_header_drops);
        CPPUNIT_ASSERT_EQUAL(uint64_t{1}, k.rx_l2tp_port_drops);
        CPPUNIT_ASSERT_EQUAL(uint64_t{1}, k.rx_inner_ip_header_drops);
        CPPUNIT_ASSERT_EQUAL(uint64_t{1}, k.rx_ppp_header_drops);
    }

    void control_and_non_ip_are_punted() {
        ClientLab lab;
        lab.add_client({});
        CPPUNIT_ASSERT_EQUAL(std::string(), lab.start());
        L2tpFraming control;
        control.control = true;
        control.length_field = true;
        control.sequence = true;
        control.address_control = false;
        auto& c = lab.client(0);
        const std::vector<uint8_t> lcp_echo = {9, 1, 0, 8, 0, 0, 0, 0};
        CPPUNIT_ASSERT_EQUAL(size_t{0}, lab.upstream({c.upstream_bytes(bytes(20), 0x0008, control),
                                                      c.upstream_bytes(lcp_echo, 0xC021),
                                                      c.upstream_bytes(bytes(10), 0x8021)}).size());
        const auto k = lab.counters();
        CPPUNIT_ASSERT_EQUAL(uint64_t{1}, k.rx_l2tp_control_punts);
        CPPUNIT_ASSERT_EQUAL(uint64_t{2}, k.rx_ppp_control_punts);
        CPPUNIT_ASSERT_EQUAL(uint64_t{3}, k.punt_no_listener_drops);
    }

    void spoofed_sources_are_dropped() {
        ClientLab lab;
        lab.add_client({});
        CPPUNIT_ASSERT_EQUAL(std::string(), lab.start());
        uint8_t outside[16] = {0x20, 0x01, 0x0d, 0xb8, 0x01, 0x00, 0, 2, 0, 0, 0, 0, 0, 0, 0, 1};
        auto& c = lab.client(0);
        CPPUNIT_ASSERT_EQUAL(size_t{0},
                             lab.upstream({c.upstream_bytes(ipv4_udp(kClientAddress + 1, kCoreHost, 1, 2, {}), proto::kPppIpv4),
                                           c.upstream_bytes(ipv6_udp(outside, kCoreHost6, 1, 2, {}), proto::kPppIpv6)})
                                 .size());
        CPPUNIT_ASSERT_EQUAL(uint64_t{2}, lab.counters().rx_spoof_drops);
        CPPUNIT_ASSERT_EQUAL(uint64_t{2}, lab.session(0).counters.spoof_drops);
    }

    void sessions_only_take_their_own_sa() {
        ClientLab lab;
        ClientSpec a, b;
        b.public_address = kClientPublic + 1;
        b.address = kClientAddress + 1;
        b.ipv6_index = 2;
        b.tunnel_id = 101;
        b.session_id = 201;
        lab.add_client(a);
        lab.add_client(b);
        CPPUNIT_ASSERT_EQUAL(std::string(), lab.start());
        // Client A, through its own SA, names client B's tunnel and session.
        L2tpFraming b_ids;
        b_ids.tunnel_id = 101;
        b_ids.session_id = 201;
        const auto from_b_address = ipv4_udp(kClientAddress + 1, kCoreHost, 1, 2, {});
        CPPUNIT_ASSERT_EQUAL(size_t{0},
                             lab.upstream({lab.client(0).upstream_bytes(from_b_address, proto::kPppIpv4, b_ids)}).size());
        CPPUNIT_ASSERT_EQUAL(uint64_t{1}, lab.counters().rx_l2tp_unknown_session_drops);
        CPPUNIT_ASSERT_EQUAL(size_t{1},
                             lab.upstream({lab.client(1).upstream_bytes(from_b_address, proto::kPppIpv4)}).size());
    }

    // The SA points at its (last installed) session so upstream skips the
    // lookup; a second session on the same SA is still found by lookup, and
    // once the pointed-at one is removed its packets are refused.
    void two_sessions_on_one_sa_are_both_found() {
        ClientLab lab;
        lab.add_client(ClientSpec{});
        config::StaticSession second = lab.config().l2tp.static_sessions[0];
        second.name = "second-call";
        second.session_id = 201;
        second.client_ipv4 = kClientAddress + 5;
        second.client_ipv6_prefix_length = 0;
        lab.config().l2tp.static_sessions.push_back(second);
        CPPUNIT_ASSERT_EQUAL(std::string(), lab.start());
        dp::Dataplane& dp = lab.ring().dataplane();
        const uint32_t first = lab.session_index(0), second_index = lab.ring().session_index("second-call");
        CPPUNIT_ASSERT_EQUAL(second_index, dp.sas.at(dp.sessions.at(first).sa_in).session_hint().load());

        L2tpFraming second_ids;
        second_ids.session_id = 201;
        const auto first_packet = ipv4_udp(kClientAddress, kCoreHost, 1, 2, bytes(20, 0x10));
        const auto second_packet = ipv4_udp(kClientAddress + 5, kCoreHost, 1, 2, bytes(20, 0x20));
        auto up = lab.upstream({lab.client(0).upstream_bytes(first_packet, proto::kPppIpv4),
                                lab.client(0).upstream_bytes(second_packet, proto::kPppIpv4, second_ids)});
        CPPUNIT_ASSERT_EQUAL(size_t{2}, up.size());
        // Forwarded in order; the payloads tell them apart (TTL and checksum changed).
        CPPUNIT_ASSERT_EQUAL(uint8_t{0x10}, inner_of(up[0])[28]);
        CPPUNIT_ASSERT_EQUAL(uint8_t{0x20}, inner_of(up[1])[28]);
        CPPUNIT_ASSERT_EQUAL(uint64_t{1}, dp.sessions.at(first).counters.rx_packets);
        CPPUNIT_ASSERT_EQUAL(uint64_t{1}, dp.sessions.at(second_index).counters.rx_packets);

        const char* why = nullptr;
        CPPUNIT_ASSERT(dp::remove_session(dp, second_index, &why) == shm::CommandStatus::Ok);
        CPPUNIT_ASSERT_EQUAL(dp::kNoSessionHint, dp.sas.at(dp.sessions.at(first).sa_in).session_hint().load());
        up = lab.upstream({lab.client(0).upstream_bytes(first_packet, proto::kPppIpv4),
                           lab.client(0).upstream_bytes(second_packet, proto::kPppIpv4, second_ids)});
        CPPUNIT_ASSERT_EQUAL(size_t{1}, up.size());
        CPPUNIT_ASSERT_EQUAL(uint8_t{0x10}, inner_of(up[0])[28]);
        CPPUNIT_ASSERT_EQUAL(uint64_t{1}, lab.counters().rx_l2tp_unknown_session_drops);
        CPPUNIT_ASSERT_EQUAL(uint64_t{2}, dp.sessions.at(first).counters.rx_packets);
    }

    void clients_behind_one_nat_are_never_confused() {
        ClientLab lab;
        ClientSpec a, b;  // one public address, two NAT ports, the same L2TP ids
        a.nat_port = 4500;
        b.nat_port = 61001;
        b.address = kClientAddress + 1;
        b.ipv6_index = 2;
        lab.add_client(a);
        lab.add_client(b);
        CPPUNIT_ASSERT_EQUAL(std::string(), lab.start());
        lab.client(1).set_peer_port(61001);
        auto up = lab.upstream({lab.client(0).upstream_bytes(ipv4_udp(kClientAddress, kCoreHost, 1, 2, {}), proto::kPppIpv4),
                                lab.client(1).upstream_bytes(ipv4_udp(kClientAddress + 1, kCoreHost, 1, 2, {}), proto::kPppIpv4)});
        CPPUNIT_ASSERT_EQUAL(size_t{2}, up.size());
        auto down = lab.downstream({ipv4_udp(kCoreHost, kClientAddress + 1, 2, 1, bytes(30, 0xB0)),
                                    ipv4_udp(kCoreHost, kClientAddress, 2, 1, bytes(30, 0xA0))});
        CPPUNIT_ASSERT_EQUAL(size_t{2}, down.size());
        // Each leaves to its own NAT port, under its own SA (open() checks the SPI and ICV).
        Downstream to_b = open(lab, 1, down[0]);
        Downstream to_a = open(lab, 0, down[1]);
        CPPUNIT_ASSERT_EQUAL(uint16_t{61001}, to_b.udp_destination);
        CPPUNIT_ASSERT_EQUAL(uint16_t{4500}, to_a.udp_destination);
        CPPUNIT_ASSERT_EQUAL(uint8_t{0xB0}, to_b.inner[28]);
        CPPUNIT_ASSERT_EQUAL(uint8_t{0xA0}, to_a.inner[28]);
        std::string why;
        Downstream wrong;
        CPPUNIT_ASSERT(!lab.client(0).downstream(down[0].data(), down[0].size(), wrong, why));
    }

    void ttl_is_decremented_and_expires() {
        ClientLab lab;
        lab.add_client({});
        CPPUNIT_ASSERT_EQUAL(std::string(), lab.start());
        auto& c = lab.client(0);
        auto up = lab.upstream({c.upstream_bytes(ipv4_udp(kClientAddress, kCoreHost, 1, 2, {}, 2), proto::kPppIpv4),
                                c.upstream_bytes(ipv4_udp(kClientAddress, kCoreHost, 1, 2, {}, 1), proto::kPppIpv4)});
        CPPUNIT_ASSERT_EQUAL(size_t{1}, up.size());
        CPPUNIT_ASSERT_EQUAL(uint8_t{1}, up[0][14 + 8]);
        CPPUNIT_ASSERT_EQUAL(uint16_t{0}, proto::internet_checksum(&up[0][14], 20));
        CPPUNIT_ASSERT_EQUAL(uint64_t{1}, lab.counters().rx_ttl_exceeded_drops);
        auto down = lab.downstream({ipv4_udp(kCoreHost, kClientAddress, 1, 2, {}, 1),
                                    ipv4_udp(kCoreHost, kClientAddress, 1, 2, {}, 9)});
        CPPUNIT_ASSERT_EQUAL(size_t{1}, down.size());
        CPPUNIT_ASSERT_EQUAL(uint8_t{8}, open(lab, 0, down[0]).inner[8]);
        CPPUNIT_ASSERT_EQUAL(uint64_t{1}, lab.counters().tx_ttl_exceeded_drops);
    }

    void tcp_mss_is_clamped_both_ways() {
        ClientLab lab;
        lab.add_client({});  // PPP MTU 1400: MSS 1360 (IPv4), 1340 (IPv6)
        CPPUNIT_ASSERT_EQUAL(std::string(), lab.start());
        uint8_t client6[16];
        lab.client_ipv6(0, client6);
        auto& c = lab.client(0);
        auto up = lab.upstream({c.upstream_bytes(ipv4_tcp_syn(kClientAddress, kCoreHost, 1460), proto::kPppIpv4),
                                c.upstream_bytes(ipv4_tcp_syn(kClientAddress, kCoreHost, 1200), proto::kPppIpv4),
                                c.upstream_bytes(ipv6_tcp_syn(client6, kCoreHost6, 1440), proto::kPppIpv6)});
        CPPUNIT_ASSERT_EQUAL(size_t{3}, up.size());
        CPPUNIT_ASSERT_EQUAL(uint16_t{1360}, tcp_mss_of(inner_of(up[0])));
        CPPUNIT_ASSERT_EQUAL(uint16_t{1200}, tcp_mss_of(inner_of(up[1])));  // already below: untouched
        CPPUNIT_ASSERT_EQUAL(uint16_t{1340}, tcp_mss_of(inner_of(up[2])));
        for (const auto& f : up) CPPUNIT_ASSERT(l4_checksum_ok(inner_of(f)));
        CPPUNIT_ASSERT_EQUAL(uint64_t{2}, lab.counters().rx_mss_clamped);

        auto down = lab.downstream({ipv4_tcp_syn(kCoreHost, kClientAddress, 1460)});
        CPPUNIT_ASSERT_EQUAL(size_t{1}, down.size());
        const auto inner = open(lab, 0, down[0]).inner;
        CPPUNIT_ASSERT_EQUAL(uint16_t{1360}, tcp_mss_of(inner));
        CPPUNIT_ASSERT(l4_checksum_ok(inner));
        CPPUNIT_ASSERT_EQUAL(uint64_t{1}, lab.counters().tx_mss_clamped);
    }

    void too_big_with_df_gets_icmp() {
        ClientLab lab;
        lab.add_client({});
        CPPUNIT_ASSERT_EQUAL(std::string(), lab.start());
        const auto big = ipv4_udp(kCoreHost, kClientAddress, 1, 2, bytes(1450), 64, proto::kIpv4DontFragment);
        CPPUNIT_ASSERT_EQUAL(size_t{0}, lab.downstream({big}).size());
        CPPUNIT_ASSERT_EQUAL(uint64_t{1}, lab.counters().tx_too_big_icmp_sent);
        const auto& icmp_frames = lab.core_out();
        CPPUNIT_ASSERT_EQUAL(size_t{1}, icmp_frames.size());
        const auto icmp = inner_of(icmp_frames[0]);
        CPPUNIT_ASSERT_EQUAL(uint8_t{1}, icmp[9]);                              // ICMP
        CPPUNIT_ASSERT_EQUAL(kCoreHost, proto::load_u32(&icmp[16]));            // back to the sender
        CPPUNIT_ASSERT_EQUAL(uint8_t{3}, icmp[20]);                             // destination unreachable
        CPPUNIT_ASSERT_EQUAL(uint8_t{4}, icmp[21]);                             // fragmentation needed
        CPPUNIT_ASSERT_EQUAL(uint16_t{1400}, proto::load_u16(&icmp[26]));       // RFC 1191 next-hop MTU
        CPPUNIT_ASSERT_EQUAL(uint16_t{0}, proto::internet_checksum(&icmp[20], icmp.size() - 20));
    }

    void too_big_without_df_is_fragmented() {
        ClientLab lab;
        lab.add_client({});
        CPPUNIT_ASSERT_EQUAL(std::string(), lab.start());
        const auto payload = bytes(1452, 3);  // a 1480-byte packet, session MTU 1400
        const auto big = ipv4_udp(kCoreHost, kClientAddress, 1, 2, payload, 64, 0);
        const auto out = lab.downstream({big});
        CPPUNIT_ASSERT_EQUAL(size_t{2}, out.size());
        std::vector<uint8_t> reassembled(1460);  // UDP header + payload
        size_t covered = 0;
        for (const auto& f : out) {
            const auto ip = open(lab, 0, f).inner;
            CPPUNIT_ASSERT(ip.size() <= 1400);
            CPPUNIT_ASSERT_EQUAL(uint16_t{0}, proto::internet_checksum(ip.data(), 20));
            const uint16_t frag = proto::load_u16(&ip[6]);
            const size_t offset = (frag & proto::kIpv4FragmentOffsetMask) * 8u;
            std::memcpy(&reassembled[offset], &ip[20], ip.size() - 20);
            covered += ip.size() - 20;
        }
        CPPUNIT_ASSERT_EQUAL(size_t{1460}, covered);
        CPPUNIT_ASSERT(std::equal(reassembled.begin(), reassembled.end(), big.begin() + 20));
        CPPUNIT_ASSERT_EQUAL(uint64_t{2}, lab.counters().tx_fragments);
    }

    // 128 packets of two fragments each fill the 256-entry ESP batch to the
    // brim; the small packet after them in the same burst must go into a
    // fresh batch, not past the end of the full one.
    void fragments_that_fill_the_batch_then_a_small_packet() {
        ClientLab lab;
        lab.add_client({});
        lab.config().dataplane.burst_size = 256;
        CPPUNIT_ASSERT_EQUAL(std::string(), lab.start());
        std::vector<std::vector<uint8_t>> burst(128, ipv4_udp(kCoreHost, kClientAddress, 1, 2, bytes(1452, 3), 64, 0));
        burst.push_back(ipv4_udp(kCoreHost, kClientAddress, 1, 2, bytes(10, 4), 64, 0));
        const auto out = lab.downstream(burst);
        CPPUNIT_ASSERT_EQUAL(size_t{257}, out.size());
        CPPUNIT_ASSERT_EQUAL(uint64_t{256}, lab.counters().tx_fragments);
        // The last one out is the small packet, whole and encrypted like the rest.
        const auto last = open(lab, 0, out.back()).inner;
        CPPUNIT_ASSERT_EQUAL(size_t{20 + 8 + 10}, last.size());
        CPPUNIT_ASSERT_EQUAL(uint16_t{0}, proto::internet_checksum(last.data(), 20));
    }

    void ipv6_both_ways() {
        ClientLab lab;
        lab.add_client({});
        CPPUNIT_ASSERT_EQUAL(std::string(), lab.start());
        uint8_t client6[16];
        lab.client_ipv6(0, client6);
        auto up = lab.upstream({lab.client(0).upstream_bytes(ipv6_udp(client6, kCoreHost6, 1, 2, bytes(99)),
                                                             proto::kPppIpv6)});
        CPPUNIT_ASSERT_EQUAL(size_t{1}, up.size());
        CPPUNIT_ASSERT_EQUAL(proto::kEtherTypeIpv6, proto::load_u16(&up[0][12]));
        CPPUNIT_ASSERT_EQUAL(uint8_t{63}, up[0][14 + 7]);
        CPPUNIT_ASSERT(l4_checksum_ok(inner_of(up[0])));
        auto down = lab.downstream({ipv6_udp(kCoreHost6, client6, 2, 1, bytes(99, 9))});
        CPPUNIT_ASSERT_EQUAL(size_t{1}, down.size());
        const auto d = open(lab, 0, down[0]);
        CPPUNIT_ASSERT_EQUAL(proto::kPppIpv6, d.ppp_protocol);
        CPPUNIT_ASSERT_EQUAL(uint8_t{63}, d.inner[7]);
        CPPUNIT_ASSERT(l4_checksum_ok(d.inner));
        // Too big: no core IPv6 address to send ICMPv6 from yet, so counted.
        CPPUNIT_ASSERT_EQUAL(size_t{0}, lab.downstream({ipv6_udp(kCoreHost6, client6, 2, 1, bytes(1400))}).size());
        CPPUNIT_ASSERT_EQUAL(uint64_t{1}, lab.counters().tx_too_big_drops);
    }

    void unknown_destination_is_dropped() {
        ClientLab lab;
        lab.add_client({});
        CPPUNIT_ASSERT_EQUAL(std::string(), lab.start());
        uint8_t other6[16] = {0x20, 0x01, 0x0d, 0xb8, 0x09};
        CPPUNIT_ASSERT_EQUAL(size_t{0}, lab.downstream({ipv4_udp(kCoreHost, kClientAddress + 5, 1, 2, {}),
                                                        ipv6_udp(kCoreHost6, other6, 1, 2, {})}).size());
        CPPUNIT_ASSERT_EQUAL(uint64_t{2}, lab.counters().tx_no_session_drops);
    }

    // A session sits in the slot its client address names when it can; one
    // whose slot is taken (or that has no IPv4 address) is elsewhere, found
    // by the address hash; a freed slot is taken again.
    void sessions_are_found_in_their_address_slot_or_hashed() {
        ClientLab lab;
        for (const uint32_t address : {kClientAddress, kClientAddress + 64, 0u}) {
            ClientSpec s;
            s.public_address = kClientPublic + lab.config().l2tp.static_sessions.size();
            s.address = address;
            s.ipv6_index = address ? 0 : 3;
            lab.add_client(s);
        }
        lab.config().dataplane.max_sessions = 64;  // slots named by an address's low 6 bits: 10 for both
        CPPUNIT_ASSERT_EQUAL(std::string(), lab.start());
        dp::Dataplane& dp = lab.ring().dataplane();
        CPPUNIT_ASSERT_EQUAL(10u, lab.session_index(0));
        CPPUNIT_ASSERT(lab.session_index(1) != 10u && lab.session_index(2) != 10u);
        CPPUNIT_ASSERT_EQUAL(1u, dp.sessions.hashed_ipv4());

        uint8_t client2[16];
        lab.client_ipv6(2, client2);
        auto down = lab.downstream({ipv4_udp(kCoreHost, kClientAddress, 1, 2, {1}),
                                    ipv4_udp(kCoreHost, kClientAddress + 64, 1, 2, {2}),
                                    ipv6_udp(kCoreHost6, client2, 1, 2, {3}),
                                    ipv4_udp(kCoreHost, kClientAddress + 128, 1, 2, {4})});  // slot 10, no session
        CPPUNIT_ASSERT_EQUAL(size_t{3}, down.size());
        for (unsigned c = 0; c < 3; ++c) CPPUNIT_ASSERT_EQUAL(c + 1u, unsigned(open(lab, c, down[c]).inner.back()));
        CPPUNIT_ASSERT_EQUAL(uint64_t{1}, lab.counters().tx_no_session_drops);

        // Client 0 leaves; client 1 is still found. Once the worker has passed
        // a quiescent point, slot 10 is free for the next address that names it.
        const char* why = nullptr;
        const uint32_t sa_in = lab.session(0).sa_in, sa_out = lab.session(0).sa_out;
        CPPUNIT_ASSERT(dp::remove_session(dp, 10, &why) == shm::CommandStatus::Ok);
        down = lab.downstream({ipv4_udp(kCoreHost, kClientAddress, 1, 2, {1}),
                               ipv4_udp(kCoreHost, kClientAddress + 64, 1, 2, {2})});
        CPPUNIT_ASSERT_EQUAL(size_t{1}, down.size());
        CPPUNIT_ASSERT_EQUAL(uint8_t{2}, open(lab, 1, down[0]).inner.back());
        dp.sessions.reclaim();
        config::StaticSession next = lab.config().l2tp.static_sessions[0];
        next.name = "next";
        next.client_ipv4 = kClientAddress + 128;
        uint32_t index = 0;
        CPPUNIT_ASSERT(dp::install_session(dp, next, sa_in, sa_out, index, &why) == shm::CommandStatus::Ok);
        CPPUNIT_ASSERT_EQUAL(10u, index);
        // The address is taken, whichever way it is found.
        next.name = "again";
        next.session_id = 300;
        CPPUNIT_ASSERT(dp::install_session(dp, next, sa_in, sa_out, index, &why) ==
                       shm::CommandStatus::Duplicate);
        next.client_ipv4 = kClientAddress + 64;
        CPPUNIT_ASSERT(dp::install_session(dp, next, sa_in, sa_out, index, &why) ==
                       shm::CommandStatus::Duplicate);
        down = lab.downstream({ipv4_udp(kCoreHost, kClientAddress + 128, 1, 2, {4})});
        CPPUNIT_ASSERT_EQUAL(size_t{1}, down.size());
        CPPUNIT_ASSERT_EQUAL(uint8_t{4}, open(lab, 0, down[0]).inner.back());  // client 0's SAs
    }

    // /64s go to the prefix hash, other lengths (a delegated /48, a /128) to
    // the LPM6 table: the longest prefix wins, across both, and a prefix
    // that leaves falls back to the next longer one at once.
    void ipv6_prefixes_of_any_length_are_found() {
        ClientLab lab;
        const uint8_t lengths[3] = {48, 64, 128};
        const uint8_t prefixes[3][16] = {{0x20, 0x01, 0x0d, 0xb8, 0x02, 0x00},
                                         {0x20, 0x01, 0x0d, 0xb8, 0x02, 0x00, 0x00, 0x05},
                                         {0x20, 0x01, 0x0d, 0xb8, 0x03, 0x00, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x09}};
        for (unsigned i = 0; i < 3; ++i) {
            ClientSpec s;
            s.public_address = kClientPublic + i;
            s.address = kClientAddress + i;
            lab.add_client(s);
            config::StaticSession& session = lab.config().l2tp.static_sessions[i];
            std::copy(prefixes[i], prefixes[i] + 16, session.client_ipv6_prefix.begin());
            session.client_ipv6_prefix_length = lengths[i];
        }
        CPPUNIT_ASSERT_EQUAL(std::string(), lab.start());
        const uint8_t in_48[16] = {0x20, 0x01, 0x0d, 0xb8, 0x02, 0x00, 0xff, 0x06, 0, 0, 0, 0, 0, 0, 0, 1};
        const uint8_t in_64[16] = {0x20, 0x01, 0x0d, 0xb8, 0x02, 0x00, 0x00, 0x05, 0, 0, 0, 0, 0, 0, 0, 0x42};
        const uint8_t beside_128[16] = {0x20, 0x01, 0x0d, 0xb8, 0x03, 0x00, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x08};
        auto to = [](const uint8_t* address, uint8_t mark) { return ipv6_udp(kCoreHost6, address, 1, 2, {mark}); };
        // Who got each packet: the client whose SA opens it, by the mark it carries.
        auto receivers = [&](const std::vector<std::vector<uint8_t>>& packets) {
            std::vector<std::pair<unsigned, uint8_t>> got;
            for (const auto& f : lab.downstream(packets))
                for (unsigned c = 0; c < 3; ++c) {
                    Downstream d;
                    std::string why;
                    if (lab.client(c).downstream(f.data(), f.size(), d, why)) got.emplace_back(c, d.inner.back());
                }
            return got;
        };
        using Got = std::vector<std::pair<unsigned, uint8_t>>;
        CPPUNIT_ASSERT(receivers({to(in_48, 1), to(in_64, 2), to(prefixes[2], 3), to(beside_128, 4)}) ==
                       Got({{0, 1}, {1, 2}, {2, 3}}));
        CPPUNIT_ASSERT_EQUAL(uint64_t{1}, lab.counters().tx_no_session_drops);
        // Upstream, each may send from inside its own prefix only.
        auto from = [&](unsigned c, const uint8_t* address) {
            return lab.client(c).upstream_bytes(ipv6_udp(address, kCoreHost6, 1, 2, {}), proto::kPppIpv6);
        };
        CPPUNIT_ASSERT_EQUAL(size_t{2}, lab.upstream({from(0, in_48), from(2, prefixes[2]), from(2, beside_128),
                                                      from(0, prefixes[2])}).size());
        CPPUNIT_ASSERT_EQUAL(uint64_t{2}, lab.counters().rx_spoof_drops);

        dp::Dataplane& dp = lab.ring().dataplane();
        const char* why = nullptr;
        CPPUNIT_ASSERT(dp::remove_session(dp, lab.session_index(1), &why) == shm::CommandStatus::Ok);
        CPPUNIT_ASSERT(receivers({to(in_64, 5)}) == Got({{0, 5}}));  // the /48 holds it now
        CPPUNIT_ASSERT(dp::remove_session(dp, lab.session_index(0), &why) == shm::CommandStatus::Ok);
        CPPUNIT_ASSERT(dp::remove_session(dp, lab.session_index(2), &why) == shm::CommandStatus::Ok);
        CPPUNIT_ASSERT(receivers({to(in_48, 6), to(in_64, 7), to(prefixes[2], 8)}).empty());
        CPPUNIT_ASSERT_EQUAL(uint64_t{4}, lab.counters().tx_no_session_drops);
    }

    void sequencing_sessions_number_their_packets() {
        ClientLab lab;
        ClientSpec s;
        s.sequencing = true;
        lab.add_client(s);
        CPPUNIT_ASSERT_EQUAL(std::string(), lab.start());
        auto down = lab.downstream(std::vector<std::vector<uint8_t>>(3, ipv4_udp(kCoreHost, kClientAddress, 1, 2, {})));
        CPPUNIT_ASSERT_EQUAL(size_t{3}, down.size());
        for (uint16_t i = 0; i < 3; ++i) {
            const auto d = open(lab, 0, down[i]);
            CPPUNIT_ASSERT(d.l2tp_flags & proto::kL2tpFlagSequence);
            CPPUNIT_ASSERT_EQUAL(i, d.ns);
        }
    }

    void ipv6_sessions_need_1280_bytes() {
        ClientLab lab;
        lab.add_client({});
        lab.config().dataplane.access.mtu = 1300;  // GCM NAT-T leaves 1217 for the inner packet (83 bytes of wrapping)
        const std::string error = lab.start();
        CPPUNIT_ASSERT_MESSAGE(error, error.find("only 1217-byte packets fit") != std::string::npos);
        CPPUNIT_ASSERT_MESSAGE(error, error.find("below IPv6's 1280") != std::string::npos);
        CPPUNIT_ASSERT_MESSAGE(error, error.find("dataplane.access.mtu 1300") != std::string::npos);
        ClientLab v4_only;
        ClientSpec spec;
        spec.ipv6_index = 0;
        v4_only.add_client(spec);
        v4_only.config().dataplane.access.mtu = 1300;
        CPPUNIT_ASSERT_EQUAL(std::string(), v4_only.start());
        CPPUNIT_ASSERT_EQUAL(uint16_t{1217}, v4_only.session(0).mtu);
    }
};

CPPUNIT_TEST_SUITE_REGISTRATION(L2tpPathTest);

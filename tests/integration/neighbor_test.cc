// Next hops resolved on the wire (dataplane/neighbor.h): worker 0 asks for
// each port's gateways by ARP and Neighbor Discovery, nothing leaves towards
// a gateway before its MAC is known (and no sequence number is spent on it),
// what the gateways announce is learned and used, a changed MAC replaces the
// old one, an unconfirmed one is asked for again. And the IPv6 address of
// the core port: solicitations for it are answered, pings too, and it is the
// source of ICMPv6 Packet Too Big.
#include <arpa/inet.h>

#include <cppunit/extensions/HelperMacros.h>

#include <rte_cycles.h>

#include <cstring>
#include <vector>

#include "common/proto/arp.h"
#include "common/proto/byte_reader.h"
#include "common/proto/icmp.h"
#include "common/proto/ipv4.h"
#include "common/proto/ipv6.h"
#include "common/proto/l2tp.h"
#include "common/proto/nd.h"
#include "tests/support/client_lab.h"

using namespace conc;
using namespace conc::test;

namespace {

using Frames = std::vector<std::vector<uint8_t>>;

constexpr uint32_t kAccessGateway = 0xC63364FE;  // 198.51.100.254
constexpr uint32_t kCoreGateway = 0x0A0000FE;    // 10.0.0.254
const uint8_t kAccessGatewayMac[6] = {0x02, 0, 0, 0, 0x0a, 0x0a};
const uint8_t kCoreGatewayMac[6] = {0x02, 0, 0, 0, 0x0c, 0x0c};
const uint8_t kOur6[16] = {0x20, 0x01, 0x0d, 0xb8, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01};
const uint8_t kGateway6[16] = {0x20, 0x01, 0x0d, 0xb8, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xfe};
const uint8_t kHost6[16] = {0x20, 0x01, 0x0d, 0xb8, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x05};
const uint8_t kHostMac[6] = {0x02, 0, 0, 0, 2, 1};  // what ClientLab::downstream sends from

// A lab whose ports resolve their gateways instead of having gateway_mac.
void start_resolving(ClientLab& lab, bool ipv6) {
    lab.add_client({});
    auto& dp = lab.config().dataplane;
    dp.access.gateway_mac = dp.core.gateway_mac = {};
    dp.access.prefix_length = dp.core.prefix_length = 24;
    dp.access.gateway = kAccessGateway;
    dp.core.gateway = kCoreGateway;
    if (ipv6) {
        std::memcpy(dp.core.ipv6_address.data(), kOur6, 16);
        dp.core.ipv6_prefix_length = 64;
        std::memcpy(dp.core.gateway_ipv6.data(), kGateway6, 16);
    }
    CPPUNIT_ASSERT_EQUAL(std::string(), lab.start());
}

std::vector<uint8_t> arp(uint16_t operation, const uint8_t sender_mac[6], uint32_t sender, uint32_t target) {
    std::vector<uint8_t> f(60);
    proto::build_arp_request(f.data(), f.size(), sender_mac, htonl(sender), htonl(target));
    proto::write_u16(&f[20], operation);
    return f;
}

// Sends whole frames into a port and polls; ClientLab's upstream/downstream
// wrap IP packets, these are ARP and ND.
void inject(ClientLab& lab, const Frames& frames, bool core) {
    for (const auto& f : frames) {
        rte_mbuf* m = mbuf_from(lab.ring().pool(), f);
        if (core) lab.ring().inject_core(&m, 1);
        else lab.ring().inject_access(&m, 1);
    }
    lab.ring().poll_until_idle();
}

Frames drain(ClientLab& lab, bool core) { return core ? lab.ring().take_core() : lab.ring().take_access(); }

Frames of_type(const Frames& frames, uint16_t ether_type) {
    Frames out;
    for (const auto& f : frames)
        if (proto::load_u16(&f[12]) == ether_type) out.push_back(f);
    return out;
}

bool arp_request_for(const std::vector<uint8_t>& f, uint32_t target, uint32_t sender) {
    proto::ArpPacket a;
    return proto::load_u16(&f[12]) == proto::kEtherTypeArp && proto::parse_arp(&f[14], f.size() - 14, a) == proto::ArpError::Ok &&
           a.operation == proto::kArpOperationRequest && a.target_ip == htonl(target) && a.sender_ip == htonl(sender);
}

bool to_mac(const std::vector<uint8_t>& f, const uint8_t mac[6]) { return std::memcmp(f.data(), mac, 6) == 0; }

std::vector<uint8_t> ether(const uint8_t dst[6], const uint8_t src[6], const std::vector<uint8_t>& ip) {
    std::vector<uint8_t> f(14);
    proto::write_ethernet_header(f.data(), dst, src, (ip[0] >> 4) == 6 ? proto::kEtherTypeIpv6 : proto::kEtherTypeIpv4);
    f.insert(f.end(), ip.begin(), ip.end());
    return f;
}

std::vector<uint8_t> ping6(const uint8_t source[16], const uint8_t destination[16]) {
    std::vector<uint8_t> p(40 + 16);
    proto::write_ipv6_header(p.data(), source, destination, proto::kIpProtoIcmpv6, 16, 64);
    uint8_t* icmp = &p[40];
    icmp[0] = 128;  // echo request
    proto::write_u16(icmp + 4, 0x4242);
    proto::write_u16(icmp + 6, 7);
    std::memcpy(icmp + 8, "pingpong", 8);
    proto::write_u16(icmp + 2, proto::ipv6_upper_layer_checksum(source, destination, proto::kIpProtoIcmpv6, icmp, 16));
    return p;
}

}  // namespace

class NeighborTest : public CppUnit::TestFixture {
    CPPUNIT_TEST_SUITE(NeighborTest);
    CPPUNIT_TEST(gateways_are_resolved_by_arp_before_traffic_flows);
    CPPUNIT_TEST(a_gateway_that_changes_its_mac_is_followed);
    CPPUNIT_TEST(an_unconfirmed_gateway_is_asked_again);
    CPPUNIT_TEST(ipv6_gateway_is_resolved_by_neighbor_discovery);
    CPPUNIT_TEST(the_core_ipv6_address_answers);
    CPPUNIT_TEST_SUITE_END();

public:
    void gateways_are_resolved_by_arp_before_traffic_flows() {
        ClientLab lab;
        start_resolving(lab, false);
        inject(lab, {}, false);  // one poll: worker 0 asks
        const Frames access = drain(lab, false), core = drain(lab, true);
        CPPUNIT_ASSERT_EQUAL(size_t{1}, access.size());
        CPPUNIT_ASSERT(arp_request_for(access[0], kAccessGateway, 0xC6336401));
        CPPUNIT_ASSERT_EQUAL(size_t{1}, core.size());
        CPPUNIT_ASSERT(arp_request_for(core[0], kCoreGateway, 0x0A000001));
        CPPUNIT_ASSERT_EQUAL(uint64_t{2}, lab.counters().arp_requests_sent);

        // Nothing leaves towards an unknown gateway, and no sequence number is spent.
        const auto down = ipv4_udp(kCoreHost, kClientAddress, 2, 1, {1, 2, 3});
        const auto up = lab.client(0).upstream_bytes(ipv4_udp(kClientAddress, kCoreHost, 1, 2, {4}), proto::kPppIpv4);
        CPPUNIT_ASSERT(of_type(lab.downstream({down}), proto::kEtherTypeIpv4).empty());
        CPPUNIT_ASSERT(of_type(lab.upstream({up}), proto::kEtherTypeIpv4).empty());
        CPPUNIT_ASSERT_EQUAL(uint64_t{2}, lab.counters().tx_no_neighbor_drops);
        const dp::Dataplane& dp = lab.ring().dataplane();
        CPPUNIT_ASSERT_EQUAL(uint64_t{1}, dp.sas.at(lab.session(0).sa_out).next_sequence_relaxed());

        // The access gateway answers; the core gateway asks for someone else (RFC 826: learned all the same).
        inject(lab, {arp(proto::kArpOperationReply, kAccessGatewayMac, kAccessGateway, 0xC6336401)}, false);
        inject(lab, {arp(proto::kArpOperationRequest, kCoreGatewayMac, kCoreGateway, 0x0A000063)}, true);
        CPPUNIT_ASSERT_EQUAL(uint64_t{2}, lab.counters().neighbor_updates);
        CPPUNIT_ASSERT_EQUAL(uint64_t{0}, lab.counters().rx_arp_ignored);
        CPPUNIT_ASSERT(drain(lab, true).empty());  // not asked for us: no reply

        const Frames esp = of_type(lab.downstream({down}), proto::kEtherTypeIpv4);
        CPPUNIT_ASSERT_EQUAL(size_t{1}, esp.size());
        CPPUNIT_ASSERT(to_mac(esp[0], kAccessGatewayMac));
        Downstream d;
        std::string why;
        CPPUNIT_ASSERT_MESSAGE(why, lab.client(0).downstream(esp[0].data(), esp[0].size(), d, why));
        CPPUNIT_ASSERT_EQUAL(uint32_t{1}, d.seq);
        const auto up2 = lab.client(0).upstream_bytes(ipv4_udp(kClientAddress, kCoreHost, 1, 2, {5}), proto::kPppIpv4);
        const Frames forwarded = of_type(lab.upstream({up2}), proto::kEtherTypeIpv4);
        CPPUNIT_ASSERT_EQUAL(size_t{1}, forwarded.size());
        CPPUNIT_ASSERT(to_mac(forwarded[0], kCoreGatewayMac));

        // ARP from a stranger, not for us: nothing learned, counted.
        const uint8_t stranger[6] = {0x02, 0, 0, 0, 0x55, 0x55};
        inject(lab, {arp(proto::kArpOperationReply, stranger, 0xC6336477, 0xC6336401)}, false);
        CPPUNIT_ASSERT_EQUAL(uint64_t{1}, lab.counters().rx_arp_ignored);
        CPPUNIT_ASSERT_EQUAL(uint64_t{2}, lab.counters().neighbor_updates);
    }

    void a_gateway_that_changes_its_mac_is_followed() {
        ClientLab lab;
        start_resolving(lab, false);
        inject(lab, {arp(proto::kArpOperationReply, kAccessGatewayMac, kAccessGateway, 0xC6336401)}, false);
        const uint8_t standby[6] = {0x02, 0, 0, 0, 0x0b, 0x0b};  // a VRRP-less failover: gratuitous ARP
        inject(lab, {arp(proto::kArpOperationRequest, standby, kAccessGateway, kAccessGateway)}, false);
        CPPUNIT_ASSERT_EQUAL(uint64_t{2}, lab.counters().neighbor_updates);
        drain(lab, false);
        const Frames esp = of_type(lab.downstream({ipv4_udp(kCoreHost, kClientAddress, 2, 1, {1})}), proto::kEtherTypeIpv4);
        CPPUNIT_ASSERT_EQUAL(size_t{1}, esp.size());
        CPPUNIT_ASSERT(to_mac(esp[0], standby));
    }

    void an_unconfirmed_gateway_is_asked_again() {
        ClientLab lab;
        start_resolving(lab, false);
        inject(lab, {arp(proto::kArpOperationReply, kAccessGatewayMac, kAccessGateway, 0xC6336401)}, false);
        drain(lab, false);
        drain(lab, true);
        dp::Dataplane& dp = lab.ring().dataplane();
        // Not heard from for longer than the refresh time, and a second has passed for worker 0.
        dp.access.gateway.confirmed_tsc = rte_rdtsc() - (dp::kNeighborRefreshSeconds + 1) * rte_get_tsc_hz();
        lab.ring().workers()[0].next_solicit_tsc = 0;
        const Frames out = lab.downstream({ipv4_udp(kCoreHost, kClientAddress, 2, 1, {1})});
        const Frames requests = of_type(out, proto::kEtherTypeArp);
        CPPUNIT_ASSERT_EQUAL(size_t{1}, requests.size());
        CPPUNIT_ASSERT(arp_request_for(requests[0], kAccessGateway, 0xC6336401));
        // Meanwhile the MAC it had stays in use.
        const Frames esp = of_type(out, proto::kEtherTypeIpv4);
        CPPUNIT_ASSERT_EQUAL(size_t{1}, esp.size());
        CPPUNIT_ASSERT(to_mac(esp[0], kAccessGatewayMac));
    }

    void ipv6_gateway_is_resolved_by_neighbor_discovery() {
        ClientLab lab;
        start_resolving(lab, true);
        inject(lab, {}, true);
        const Frames core = drain(lab, true);
        const Frames ns_frames = of_type(core, proto::kEtherTypeIpv6);
        CPPUNIT_ASSERT_EQUAL(size_t{1}, ns_frames.size());
        proto::NeighborSolicitation ns;
        CPPUNIT_ASSERT(proto::parse_neighbor_solicitation(&ns_frames[0][14], ns_frames[0].size() - 14, ns) ==
                       proto::NdError::Ok);
        CPPUNIT_ASSERT(std::memcmp(ns.target, kGateway6, 16) == 0);
        CPPUNIT_ASSERT(std::memcmp(ns.source, kOur6, 16) == 0);
        const uint8_t group_mac[6] = {0x33, 0x33, 0xff, 0, 0, 0xfe};
        CPPUNIT_ASSERT(to_mac(ns_frames[0], group_mac));
        CPPUNIT_ASSERT_EQUAL(uint64_t{1}, lab.counters().nd_solicitations_sent);

        uint8_t client6[16];
        lab.client_ipv6(0, client6);
        const auto up6 = [&](uint8_t tag) {
            return lab.client(0).upstream_bytes(ipv6_udp(client6, kCoreHost6, 1, 2, {tag}), proto::kPppIpv6);
        };
        CPPUNIT_ASSERT(of_type(lab.upstream({up6(1)}), proto::kEtherTypeIpv6).empty());
        CPPUNIT_ASSERT_EQUAL(uint64_t{1}, lab.counters().tx_no_neighbor_drops);

        // The gateway's answer to our own solicitation, with its link-layer address.
        std::vector<uint8_t> na(proto::kNdFrameSize);
        CPPUNIT_ASSERT_EQUAL(proto::kNdFrameSize,
                             proto::build_neighbor_advertisement(na.data(), na.size(), ns, kCoreGatewayMac, kCoreGatewayMac));
        inject(lab, {na}, true);
        CPPUNIT_ASSERT_EQUAL(uint64_t{1}, lab.counters().neighbor_updates);
        const Frames forwarded = of_type(lab.upstream({up6(2)}), proto::kEtherTypeIpv6);
        CPPUNIT_ASSERT_EQUAL(size_t{1}, forwarded.size());
        CPPUNIT_ASSERT(to_mac(forwarded[0], kCoreGatewayMac));
        // IPv4 still waits for its own gateway: the families are resolved apart.
        CPPUNIT_ASSERT(of_type(lab.upstream({lab.client(0).upstream_bytes(
                                   ipv4_udp(kClientAddress, kCoreHost, 1, 2, {3}), proto::kPppIpv4)}),
                               proto::kEtherTypeIpv4)
                           .empty());
    }

    void the_core_ipv6_address_answers() {
        ClientLab lab;
        start_resolving(lab, true);
        inject(lab, {}, true);
        drain(lab, true);
        drain(lab, false);
        // A host asks for our address: answered from our MAC, with it in the option.
        std::vector<uint8_t> ask(proto::kNdFrameSize);
        proto::build_neighbor_solicitation(ask.data(), ask.size(), kHostMac, kHost6, kOur6);
        inject(lab, {ask}, true);
        Frames out = drain(lab, true);
        CPPUNIT_ASSERT_EQUAL(size_t{1}, out.size());
        proto::NeighborAdvertisement na;
        CPPUNIT_ASSERT(proto::parse_neighbor_advertisement(&out[0][14], out[0].size() - 14, na) == proto::NdError::Ok);
        CPPUNIT_ASSERT(std::memcmp(na.target, kOur6, 16) == 0);
        CPPUNIT_ASSERT(to_mac(out[0], kHostMac));
        CPPUNIT_ASSERT(na.flags & proto::kNdAdvertisementSolicited);
        const dp::PortState& core = lab.ring().dataplane().core;
        CPPUNIT_ASSERT(na.has_target_link_layer_address && std::memcmp(na.target_link_layer_address, core.mac, 6) == 0);
        CPPUNIT_ASSERT_EQUAL(uint64_t{1}, lab.counters().nd_advertisements);
        // A solicitation for another address is not ours to answer.
        proto::build_neighbor_solicitation(ask.data(), ask.size(), kHostMac, kHost6, kGateway6);
        inject(lab, {ask}, true);
        CPPUNIT_ASSERT(drain(lab, true).empty());
        CPPUNIT_ASSERT_EQUAL(uint64_t{1}, lab.counters().rx_nd_ignored);

        // Ping.
        inject(lab, {ether(core.mac, kHostMac, ping6(kHost6, kOur6))}, true);
        out = drain(lab, true);
        CPPUNIT_ASSERT_EQUAL(size_t{1}, out.size());
        CPPUNIT_ASSERT(to_mac(out[0], kHostMac));
        CPPUNIT_ASSERT_EQUAL(uint8_t{129}, out[0][14 + 40]);
        CPPUNIT_ASSERT(std::memcmp(&out[0][14 + 8], kOur6, 16) == 0);
        CPPUNIT_ASSERT_EQUAL(uint64_t{1}, lab.counters().icmp_echo_replies);

        // Too big for the client's MTU (1400): Packet Too Big from our address, once the gateway is known.
        std::vector<uint8_t> na_frame(proto::kNdFrameSize);
        proto::NeighborSolicitation ours;
        std::vector<uint8_t> probe(proto::kNdFrameSize);
        proto::build_neighbor_solicitation(probe.data(), probe.size(), core.mac, kOur6, kGateway6);
        proto::parse_neighbor_solicitation(&probe[14], probe.size() - 14, ours);
        proto::build_neighbor_advertisement(na_frame.data(), na_frame.size(), ours, kCoreGatewayMac, kCoreGatewayMac);
        inject(lab, {na_frame}, true);
        uint8_t client6[16];
        lab.client_ipv6(0, client6);
        lab.downstream({ipv6_udp(kHost6, client6, 2, 1, std::vector<uint8_t>(1452, 0x66))});
        CPPUNIT_ASSERT_EQUAL(size_t{1}, lab.core_out().size());
        const auto& ptb = lab.core_out()[0];
        CPPUNIT_ASSERT(to_mac(ptb, kCoreGatewayMac));
        CPPUNIT_ASSERT_EQUAL(uint8_t{2}, ptb[14 + 40]);  // Packet Too Big
        CPPUNIT_ASSERT(std::memcmp(&ptb[14 + 8], kOur6, 16) == 0);
        CPPUNIT_ASSERT_EQUAL(uint64_t{1}, lab.counters().tx_too_big_icmp_sent);
    }
};

CPPUNIT_TEST_SUITE_REGISTRATION(NeighborTest);

// Frames for the data plane itself: ARP for the ports' addresses and pings
// to them are answered out of the port they came in on.
#include <arpa/inet.h>

#include <cppunit/extensions/HelperMacros.h>

#include <cstring>
#include <vector>

#include "common/proto/arp.h"
#include "common/proto/byte_reader.h"
#include "common/proto/ipv4.h"
#include "tests/support/client_lab.h"

using namespace conc;
using namespace conc::test;

namespace {

const uint8_t kAsker[6] = {0x02, 0, 0, 0, 7, 7};
const uint8_t kBroadcast[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
constexpr uint32_t kAccessAddress = 0xC6336401;  // base_config(): 198.51.100.1
constexpr uint32_t kCoreAddress = 0x0A000001;    // 10.0.0.1

std::vector<uint8_t> arp_request(uint32_t sender, uint32_t target) {
    std::vector<uint8_t> f(60);
    proto::build_arp_request(f.data(), f.size(), kAsker, htonl(sender), htonl(target));
    return f;
}

std::vector<uint8_t> ping(uint32_t source, uint32_t destination) {
    std::vector<uint8_t> f(14 + 28 + 8);
    proto::write_ethernet_header(f.data(), kBroadcast, kAsker, proto::kEtherTypeIpv4);
    proto::write_ipv4_header(&f[14], htonl(source), htonl(destination), 1, 36, 64, 5, 0);
    uint8_t* icmp = &f[34];
    icmp[0] = 8;  // echo request
    proto::write_u16(icmp + 4, 0x1234);
    proto::write_u16(icmp + 6, 1);
    std::memcpy(icmp + 8, "pingpong", 8);
    proto::write_u16(icmp + 2, proto::internet_checksum(icmp, 16));
    return f;
}

void check_arp_reply(const std::vector<uint8_t>& f, uint32_t answered) {
    CPPUNIT_ASSERT(std::equal(kAsker, kAsker + 6, f.begin()));
    proto::ArpPacket reply;
    CPPUNIT_ASSERT(proto::parse_arp(&f[14], f.size() - 14, reply) == proto::ArpError::Ok);
    CPPUNIT_ASSERT_EQUAL(proto::kArpOperationReply, reply.operation);
    CPPUNIT_ASSERT_EQUAL(htonl(answered), reply.sender_ip);
}

void check_echo_reply(const std::vector<uint8_t>& f, uint32_t from, uint32_t to) {
    CPPUNIT_ASSERT(std::equal(kAsker, kAsker + 6, f.begin()));
    CPPUNIT_ASSERT_EQUAL(from, proto::load_u32(&f[14 + 12]));
    CPPUNIT_ASSERT_EQUAL(to, proto::load_u32(&f[14 + 16]));
    CPPUNIT_ASSERT_EQUAL(uint8_t{0}, f[34]);  // echo reply
    CPPUNIT_ASSERT_EQUAL(uint16_t{0}, proto::internet_checksum(&f[14], 20));
    CPPUNIT_ASSERT_EQUAL(uint16_t{0}, proto::internet_checksum(&f[34], 16));
    CPPUNIT_ASSERT_EQUAL(0, std::memcmp(&f[42], "pingpong", 8));
}

}  // namespace

class LocalDeliveryTest : public CppUnit::TestFixture {
    CPPUNIT_TEST_SUITE(LocalDeliveryTest);
    CPPUNIT_TEST(arp_for_our_addresses_is_answered);
    CPPUNIT_TEST(pings_to_our_addresses_are_answered);
    CPPUNIT_TEST_SUITE_END();

public:
    void arp_for_our_addresses_is_answered() {
        ClientLab lab;
        lab.add_client({});
        CPPUNIT_ASSERT_EQUAL(std::string(), lab.start());
        lab.upstream({arp_request(0xC6336402, kAccessAddress), arp_request(0xC6336402, 0xC6336409)});
        CPPUNIT_ASSERT_EQUAL(size_t{1}, lab.access_out().size());
        check_arp_reply(lab.access_out()[0], kAccessAddress);
        CPPUNIT_ASSERT_EQUAL(size_t{0}, lab.core_out().size());

        // downstream() takes IP packets; inject the ARP frame through the ring directly.
        rte_mbuf* m = mbuf_from(lab.ring().pool(), arp_request(0x0A000002, kCoreAddress));
        lab.ring().inject_core(&m, 1);
        lab.ring().poll_until_idle();
        const auto out = lab.ring().take_core();
        CPPUNIT_ASSERT_EQUAL(size_t{1}, out.size());
        check_arp_reply(out[0], kCoreAddress);
        CPPUNIT_ASSERT_EQUAL(uint64_t{2}, lab.counters().arp_replies);
        CPPUNIT_ASSERT_EQUAL(uint64_t{1}, lab.counters().rx_arp_ignored);
    }

    void pings_to_our_addresses_are_answered() {
        ClientLab lab;
        lab.add_client({});
        CPPUNIT_ASSERT_EQUAL(std::string(), lab.start());
        lab.upstream({ping(0xCB00710A, kAccessAddress)});
        CPPUNIT_ASSERT_EQUAL(size_t{1}, lab.access_out().size());
        check_echo_reply(lab.access_out()[0], kAccessAddress, 0xCB00710A);

        auto core_ping = ping(kCoreHost, kCoreAddress);
        lab.downstream({std::vector<uint8_t>(core_ping.begin() + 14, core_ping.end())});
        CPPUNIT_ASSERT_EQUAL(size_t{1}, lab.core_out().size());
        // downstream() sends from the core host's MAC 02:00:00:00:02:01.
        const auto& reply = lab.core_out()[0];
        const uint8_t host[6] = {0x02, 0, 0, 0, 2, 1};
        CPPUNIT_ASSERT(std::equal(host, host + 6, reply.begin()));
        CPPUNIT_ASSERT_EQUAL(kCoreAddress, proto::load_u32(&reply[14 + 12]));
        CPPUNIT_ASSERT_EQUAL(uint64_t{2}, lab.counters().icmp_echo_replies);
        CPPUNIT_ASSERT_EQUAL(size_t{0}, lab.access_out().size());  // nothing went to the clients
    }
};

CPPUNIT_TEST_SUITE_REGISTRATION(LocalDeliveryTest);

// ARP (common/proto/arp.h) and IPv6 Neighbor Discovery (common/proto/nd.h):
// parsing what asks for our addresses and building the frames we answer and
// ask with. Known answers made with scapy; parsed packets that must not be
// over-read sit right before an inaccessible page.
#include <cppunit/TestFixture.h>
#include <cppunit/extensions/HelperMacros.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <vector>

#include "common/proto/arp.h"
#include "common/proto/byte_reader.h"
#include "tests/support/guarded_buffer.h"
#include "common/proto/icmp.h"
#include "common/proto/ipv4.h"
#include "common/proto/ipv6.h"
#include "common/proto/nd.h"

namespace {

using namespace conc::proto;
using Bytes = std::vector<uint8_t>;

using conc::test::GuardedBuffer;

uint32_t address(uint8_t a, uint8_t b, uint8_t c, uint8_t d) {
    const uint8_t bytes[4] = {a, b, c, d};
    uint32_t v;
    std::memcpy(&v, bytes, 4);
    return v;
}

const uint8_t kOurMac[6] = {0x02, 0x00, 0x00, 0x00, 0x09, 0x09};
const uint8_t kPeerMac[6] = {0x02, 0x00, 0x00, 0x00, 0x01, 0x01};
const uint8_t kUs6[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01};
const uint8_t kPeer6[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x05};

// Made with scapy 2.5 (padded with zeros to 60 bytes):
// Ether(dst="ff:ff:ff:ff:ff:ff", src="02:00:00:00:01:01")/ARP(op=1,
// hwsrc="02:00:00:00:01:01", psrc="10.0.0.5", pdst="10.0.0.1"); our reply
// Ether(dst="02:00:00:00:01:01", src="02:00:00:00:09:09")/ARP(op=2,
// hwsrc="02:00:00:00:09:09", psrc="10.0.0.1", hwdst="02:00:00:00:01:01",
// pdst="10.0.0.5"); and our request Ether(dst="ff:ff:ff:ff:ff:ff",
// src="02:00:00:00:09:09")/ARP(op=1, hwsrc="02:00:00:00:09:09",
// psrc="10.0.0.1", pdst="10.0.0.254").
const Bytes kArpRequestFrame = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02, 0x00, 0x00, 0x00, 0x01, 0x01,
                                0x08, 0x06, 0x00, 0x01, 0x08, 0x00, 0x06, 0x04, 0x00, 0x01, 0x02, 0x00,
                                0x00, 0x00, 0x01, 0x01, 0x0a, 0x00, 0x00, 0x05, 0x00, 0x00, 0x00, 0x00,
                                0x00, 0x00, 0x0a, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
                                0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00};
const Bytes kArpReplyFrame = {0x02, 0x00, 0x00, 0x00, 0x01, 0x01, 0x02, 0x00, 0x00, 0x00, 0x09, 0x09, 0x08, 0x06, 0x00,
                              0x01, 0x08, 0x00, 0x06, 0x04, 0x00, 0x02, 0x02, 0x00, 0x00, 0x00, 0x09, 0x09, 0x0a, 0x00,
                              0x00, 0x01, 0x02, 0x00, 0x00, 0x00, 0x01, 0x01, 0x0a, 0x00, 0x00, 0x05, 0x00, 0x00, 0x00,
                              0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00};
const Bytes kOurArpRequestFrame = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02, 0x00, 0x00, 0x00, 0x09, 0x09,
                                   0x08, 0x06, 0x00, 0x01, 0x08, 0x00, 0x06, 0x04, 0x00, 0x01, 0x02, 0x00,
                                   0x00, 0x00, 0x09, 0x09, 0x0a, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00,
                                   0x00, 0x00, 0x0a, 0x00, 0x00, 0xfe, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
                                   0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00};

// Made with scapy 2.5: IPv6(src="2001:db8::5", dst="ff02::1:ff00:1",
// hlim=255)/ICMPv6ND_NS(tgt="2001:db8::1")/ICMPv6NDOptSrcLLAddr(
// lladdr="02:00:00:00:01:01"), and our answer Ether(dst="02:00:00:00:01:01",
// src="02:00:00:00:09:09")/IPv6(src="2001:db8::1", dst="2001:db8::5",
// hlim=255)/ICMPv6ND_NA(R=0, S=1, O=1, tgt="2001:db8::1")/
// ICMPv6NDOptDstLLAddr(lladdr="02:00:00:00:09:09").
const Bytes kSolicitation = {0x60, 0x00, 0x00, 0x00, 0x00, 0x20, 0x3a, 0xff, 0x20, 0x01, 0x0d, 0xb8, 0x00, 0x00, 0x00,
                             0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x05, 0xff, 0x02, 0x00, 0x00, 0x00, 0x00,
                             0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0xff, 0x00, 0x00, 0x01, 0x87, 0x00, 0x1b, 0x25, 0x00,
                             0x00, 0x00, 0x00, 0x20, 0x01, 0x0d, 0xb8, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
                             0x00, 0x00, 0x00, 0x01, 0x01, 0x01, 0x02, 0x00, 0x00, 0x00, 0x01, 0x01};
const Bytes kAdvertisementFrame = {
    0x02, 0x00, 0x00, 0x00, 0x01, 0x01, 0x02, 0x00, 0x00, 0x00, 0x09, 0x09, 0x86, 0xdd, 0x60, 0x00, 0x00, 0x00,
    0x00, 0x20, 0x3a, 0xff, 0x20, 0x01, 0x0d, 0xb8, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x01, 0x20, 0x01, 0x0d, 0xb8, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x05,
    0x88, 0x00, 0x81, 0x68, 0x60, 0x00, 0x00, 0x00, 0x20, 0x01, 0x0d, 0xb8, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x02, 0x01, 0x02, 0x00, 0x00, 0x00, 0x09, 0x09};

// Made with scapy 2.5: duplicate address detection, IPv6(src="::",
// dst="ff02::1:ff00:1", hlim=255)/ICMPv6ND_NS(tgt="2001:db8::1"), and our
// answer Ether(dst="33:33:00:00:00:01", src="02:00:00:00:09:09")/
// IPv6(src="2001:db8::1", dst="ff02::1", hlim=255)/ICMPv6ND_NA(R=0, S=0,
// O=1, tgt="2001:db8::1")/ICMPv6NDOptDstLLAddr(lladdr="02:00:00:00:09:09").
const Bytes kDadSolicitation = {0x60, 0x00, 0x00, 0x00, 0x00, 0x18, 0x3a, 0xff, 0x00, 0x00, 0x00, 0x00, 0x00,
                                0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xff, 0x02,
                                0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0xff, 0x00, 0x00,
                                0x01, 0x87, 0x00, 0x4c, 0xed, 0x00, 0x00, 0x00, 0x00, 0x20, 0x01, 0x0d, 0xb8,
                                0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01};
const Bytes kDadAdvertisementFrame = {
    0x33, 0x33, 0x00, 0x00, 0x00, 0x01, 0x02, 0x00, 0x00, 0x00, 0x09, 0x09, 0x86, 0xdd, 0x60, 0x00, 0x00, 0x00,
    0x00, 0x20, 0x3a, 0xff, 0x20, 0x01, 0x0d, 0xb8, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x01, 0xff, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01,
    0x88, 0x00, 0xf0, 0x22, 0x20, 0x00, 0x00, 0x00, 0x20, 0x01, 0x0d, 0xb8, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x02, 0x01, 0x02, 0x00, 0x00, 0x00, 0x09, 0x09};

// Made with scapy 2.5: a unicast solicitation without the option,
// IPv6(src="2001:db8::5", dst="2001:db8::1", hlim=255)/ICMPv6ND_NS(
// tgt="2001:db8::1"); and one with a Nonce option (RFC 3971, type 14) before
// the link-layer address: IPv6(src="fe80::5", dst="ff02::1:ff00:1",
// hlim=255)/ICMPv6ND_NS(tgt="fe80::1")/Raw(bytes([14, 1, 1, 2, 3, 4, 5, 6]))/
// ICMPv6NDOptSrcLLAddr(lladdr="02:aa:bb:cc:dd:ee").
const Bytes kUnicastSolicitation = {0x60, 0x00, 0x00, 0x00, 0x00, 0x18, 0x3a, 0xff, 0x20, 0x01, 0x0d, 0xb8, 0x00,
                                    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x05, 0x20, 0x01,
                                    0x0d, 0xb8, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
                                    0x01, 0x87, 0x00, 0xef, 0x7a, 0x00, 0x00, 0x00, 0x00, 0x20, 0x01, 0x0d, 0xb8,
                                    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01};
const Bytes kNonceSolicitation = {0x60, 0x00, 0x00, 0x00, 0x00, 0x28, 0x3a, 0xff, 0xfe, 0x80, 0x00, 0x00, 0x00, 0x00,
                                  0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x05, 0xff, 0x02, 0x00, 0x00,
                                  0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0xff, 0x00, 0x00, 0x01, 0x87, 0x00,
                                  0xc9, 0x1b, 0x00, 0x00, 0x00, 0x00, 0xfe, 0x80, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
                                  0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x0e, 0x01, 0x01, 0x02, 0x03, 0x04,
                                  0x05, 0x06, 0x01, 0x01, 0x02, 0xaa, 0xbb, 0xcc, 0xdd, 0xee};

// Made with scapy 2.5: our solicitation for 2001:db8::abcd:ef12,
// Ether(dst="33:33:ff:cd:ef:12", src="02:00:00:00:09:09")/IPv6(
// src="2001:db8::1", dst="ff02::1:ffcd:ef12", hlim=255)/ICMPv6ND_NS(
// tgt="2001:db8::abcd:ef12")/ICMPv6NDOptSrcLLAddr(lladdr="02:00:00:00:09:09").
const uint8_t kNeighbor6[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0xab, 0xcd, 0xef, 0x12};
const Bytes kOurSolicitationFrame = {
    0x33, 0x33, 0xff, 0xcd, 0xef, 0x12, 0x02, 0x00, 0x00, 0x00, 0x09, 0x09, 0x86, 0xdd, 0x60, 0x00, 0x00, 0x00,
    0x00, 0x20, 0x3a, 0xff, 0x20, 0x01, 0x0d, 0xb8, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x01, 0xff, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0xff, 0xcd, 0xef, 0x12,
    0x87, 0x00, 0x88, 0x62, 0x00, 0x00, 0x00, 0x00, 0x20, 0x01, 0x0d, 0xb8, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0xab, 0xcd, 0xef, 0x12, 0x01, 0x01, 0x02, 0x00, 0x00, 0x00, 0x09, 0x09};

Bytes arp_of(const Bytes& frame) { return Bytes(frame.begin() + kEthernetHeaderSize, frame.end()); }

// Rewrites the ICMPv6 checksum of an IPv6 packet after a test changed it.
void refresh_icmpv6_checksum(Bytes& p) {
    uint8_t* m = p.data() + kIpv6HeaderSize;
    const size_t len = load_u16(p.data() + 4);
    write_u16(m + 2, 0);
    write_u16(m + 2, ipv6_upper_layer_checksum(p.data() + 8, p.data() + 24, kIpProtoIcmpv6, m, len));
}

// A solicitation with options appended (payload length and checksum fixed).
Bytes with_options(Bytes p, const Bytes& options) {
    p.insert(p.end(), options.begin(), options.end());
    write_u16(p.data() + 4, static_cast<uint16_t>(p.size() - kIpv6HeaderSize));
    refresh_icmpv6_checksum(p);
    return p;
}

NdError parse_ns(const Bytes& p) {
    NeighborSolicitation ns{};
    return parse_neighbor_solicitation(p.data(), p.size(), ns);
}

}  // namespace

class ArpNdTest : public CppUnit::TestFixture {
    CPPUNIT_TEST_SUITE(ArpNdTest);
    CPPUNIT_TEST(testParseArpRequest);
    CPPUNIT_TEST(testParseArpReply);
    CPPUNIT_TEST(testParseArpErrors);
    CPPUNIT_TEST(testArpNeverReadsPastPacket);
    CPPUNIT_TEST(testBuildArpReply);
    CPPUNIT_TEST(testBuildArpReplyOnlyToRequests);
    CPPUNIT_TEST(testBuildArpRequest);
    CPPUNIT_TEST(testArpCapacity);
    CPPUNIT_TEST(testSolicitedNodeAddress);
    CPPUNIT_TEST(testParseSolicitation);
    CPPUNIT_TEST(testParseSolicitationOptions);
    CPPUNIT_TEST(testParseDadSolicitation);
    CPPUNIT_TEST(testParseSolicitationErrors);
    CPPUNIT_TEST(testParseSolicitationOptionErrors);
    CPPUNIT_TEST(testSolicitationNeverReadsPastPacket);
    CPPUNIT_TEST(testBuildAdvertisement);
    CPPUNIT_TEST(testBuildAdvertisementWithoutSourceOption);
    CPPUNIT_TEST(testBuildDadAdvertisement);
    CPPUNIT_TEST(testBuildSolicitation);
    CPPUNIT_TEST(testNdCapacity);
    CPPUNIT_TEST(testParseAdvertisement);
    CPPUNIT_TEST(testParseAdvertisementErrors);
    CPPUNIT_TEST(testAdvertisementNeverReadsPastPacket);
    CPPUNIT_TEST_SUITE_END();

public:
    void testParseArpRequest() {
        ArpPacket a{};
        // With the frame's 18 bytes of padding after it.
        CPPUNIT_ASSERT(parse_arp(kArpRequestFrame.data() + kEthernetHeaderSize, 46, a) == ArpError::Ok);
        CPPUNIT_ASSERT_EQUAL(kArpOperationRequest, a.operation);
        CPPUNIT_ASSERT(std::memcmp(a.sender_mac, kPeerMac, 6) == 0);
        CPPUNIT_ASSERT_EQUAL(address(10, 0, 0, 5), a.sender_ip);
        const uint8_t zero[6] = {};
        CPPUNIT_ASSERT(std::memcmp(a.target_mac, zero, 6) == 0);
        CPPUNIT_ASSERT_EQUAL(address(10, 0, 0, 1), a.target_ip);
        CPPUNIT_ASSERT(parse_arp(kArpRequestFrame.data() + kEthernetHeaderSize, kArpPacketSize, a) == ArpError::Ok);
    }

    void testParseArpReply() {
        ArpPacket a{};
        const Bytes reply = arp_of(kArpReplyFrame);
        CPPUNIT_ASSERT(parse_arp(reply.data(), reply.size(), a) == ArpError::Ok);
        CPPUNIT_ASSERT_EQUAL(kArpOperationReply, a.operation);
        CPPUNIT_ASSERT(std::memcmp(a.sender_mac, kOurMac, 6) == 0);
        CPPUNIT_ASSERT(std::memcmp(a.target_mac, kPeerMac, 6) == 0);
        CPPUNIT_ASSERT_EQUAL(address(10, 0, 0, 1), a.sender_ip);
        CPPUNIT_ASSERT_EQUAL(address(10, 0, 0, 5), a.target_ip);
    }

    void testParseArpErrors() {
        const Bytes good = arp_of(kArpRequestFrame);
        ArpPacket a{};
        for (size_t len = 0; len < kArpPacketSize; ++len)
            CPPUNIT_ASSERT(parse_arp(good.data(), len, a) == ArpError::Truncated);
        auto with = [&](size_t at, uint8_t value) {
            Bytes b = good;
            b[at] = value;
            return parse_arp(b.data(), b.size(), a);
        };
        CPPUNIT_ASSERT(with(1, 6) == ArpError::UnsupportedHardware);  // IEEE 802 hardware type
        CPPUNIT_ASSERT(with(0, 1) == ArpError::UnsupportedHardware);
        CPPUNIT_ASSERT(with(4, 8) == ArpError::UnsupportedHardware);  // 8-byte hardware addresses
        CPPUNIT_ASSERT(with(2, 0x86) == ArpError::UnsupportedProtocol);
        CPPUNIT_ASSERT(with(3, 0x01) == ArpError::UnsupportedProtocol);
        CPPUNIT_ASSERT(with(5, 16) == ArpError::UnsupportedProtocol);
        for (uint8_t op : {0, 3, 4, 8, 9}) CPPUNIT_ASSERT(with(7, op) == ArpError::BadOperation);
        CPPUNIT_ASSERT(with(6, 1) == ArpError::BadOperation);         // 0x0101
        CPPUNIT_ASSERT(with(8, 0x01) == ArpError::BadSenderAddress);  // 01:00:00:00:01:01, a group address
        CPPUNIT_ASSERT(with(8, 0xFF) == ArpError::BadSenderAddress);
        CPPUNIT_ASSERT(with(8, 0x00) == ArpError::Ok);
    }

    void testArpNeverReadsPastPacket() {
        GuardedBuffer guard;
        const Bytes good = arp_of(kArpRequestFrame);
        for (size_t len = 0; len <= kArpPacketSize; ++len) {
            ArpPacket a{};
            const ArpError e = parse_arp(guard.place(good.data(), len), len, a);
            CPPUNIT_ASSERT_EQUAL(len == kArpPacketSize, e == ArpError::Ok);
        }
    }

    void testBuildArpReply() {
        ArpPacket request{};
        CPPUNIT_ASSERT(parse_arp(kArpRequestFrame.data() + kEthernetHeaderSize, 46, request) == ArpError::Ok);
        Bytes out(100, 0xEE);
        CPPUNIT_ASSERT_EQUAL(kEthernetMinFrameSize, build_arp_reply(out.data(), out.size(), request, kOurMac));
        CPPUNIT_ASSERT(std::memcmp(out.data(), kArpReplyFrame.data(), kEthernetMinFrameSize) == 0);
        CPPUNIT_ASSERT_EQUAL(uint8_t(0xEE), out[kEthernetMinFrameSize]);
        // Re-parses as the reply it is.
        ArpPacket reply{};
        CPPUNIT_ASSERT(parse_arp(out.data() + kEthernetHeaderSize, 46, reply) == ArpError::Ok);
        CPPUNIT_ASSERT_EQUAL(kArpOperationReply, reply.operation);
        // Written over the request's own frame.
        Bytes in_place = kArpRequestFrame;
        CPPUNIT_ASSERT_EQUAL(kEthernetMinFrameSize,
                             build_arp_reply(in_place.data(), in_place.size(), request, kOurMac));
        CPPUNIT_ASSERT(in_place == kArpReplyFrame);
    }

    void testBuildArpReplyOnlyToRequests() {
        ArpPacket reply{};
        const Bytes p = arp_of(kArpReplyFrame);
        CPPUNIT_ASSERT(parse_arp(p.data(), p.size(), reply) == ArpError::Ok);
        Bytes out(60);
        CPPUNIT_ASSERT_EQUAL(size_t{0}, build_arp_reply(out.data(), out.size(), reply, kOurMac));
    }

    void testBuildArpRequest() {
        Bytes out(64, 0xEE);
        CPPUNIT_ASSERT_EQUAL(kEthernetMinFrameSize, build_arp_request(out.data(), out.size(), kOurMac,
                                                                      address(10, 0, 0, 1), address(10, 0, 0, 254)));
        CPPUNIT_ASSERT(std::memcmp(out.data(), kOurArpRequestFrame.data(), kEthernetMinFrameSize) == 0);
        CPPUNIT_ASSERT_EQUAL(uint8_t(0xEE), out[kEthernetMinFrameSize]);
        ArpPacket a{};
        CPPUNIT_ASSERT(parse_arp(out.data() + kEthernetHeaderSize, 46, a) == ArpError::Ok);
        CPPUNIT_ASSERT_EQUAL(address(10, 0, 0, 254), a.target_ip);
    }

    void testArpCapacity() {
        ArpPacket request{};
        CPPUNIT_ASSERT(parse_arp(kArpRequestFrame.data() + kEthernetHeaderSize, 46, request) == ArpError::Ok);
        GuardedBuffer guard;  // the frame ends at the unwritable page: exactly 60 bytes written
        uint8_t* out = guard.place(nullptr, 0) - kEthernetMinFrameSize;
        for (size_t cap = 0; cap < kEthernetMinFrameSize; ++cap) {
            CPPUNIT_ASSERT_EQUAL(size_t{0}, build_arp_reply(out, cap, request, kOurMac));
            CPPUNIT_ASSERT_EQUAL(size_t{0}, build_arp_request(out, cap, kOurMac, 1, 2));
        }
        CPPUNIT_ASSERT_EQUAL(kEthernetMinFrameSize, build_arp_reply(out, kEthernetMinFrameSize, request, kOurMac));
        CPPUNIT_ASSERT_EQUAL(kEthernetMinFrameSize, build_arp_request(out, kEthernetMinFrameSize, kOurMac, 1, 2));
    }

    void testSolicitedNodeAddress() {
        uint8_t group[16];
        solicited_node_address(kNeighbor6, group);
        const uint8_t expected[16] = {0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01, 0xff, 0xcd, 0xef, 0x12};
        CPPUNIT_ASSERT(std::memcmp(group, expected, 16) == 0);
        // In place.
        uint8_t same[16];
        std::memcpy(same, kNeighbor6, 16);
        solicited_node_address(same, same);
        CPPUNIT_ASSERT(std::memcmp(same, expected, 16) == 0);
    }

    void testParseSolicitation() {
        NeighborSolicitation ns{};
        CPPUNIT_ASSERT(parse_neighbor_solicitation(kSolicitation.data(), kSolicitation.size(), ns) == NdError::Ok);
        CPPUNIT_ASSERT(std::memcmp(ns.source, kPeer6, 16) == 0);
        CPPUNIT_ASSERT(std::memcmp(ns.target, kUs6, 16) == 0);
        uint8_t group[16];
        solicited_node_address(kUs6, group);
        CPPUNIT_ASSERT(std::memcmp(ns.destination, group, 16) == 0);
        CPPUNIT_ASSERT(ns.has_source_link_layer_address);
        CPPUNIT_ASSERT(std::memcmp(ns.source_link_layer_address, kPeerMac, 6) == 0);
        // In a minimum frame's padding.
        Bytes padded = kSolicitation;
        padded.resize(100, 0);
        CPPUNIT_ASSERT(parse_ns(padded) == NdError::Ok);
        // Without the option.
        CPPUNIT_ASSERT(parse_neighbor_solicitation(kUnicastSolicitation.data(), kUnicastSolicitation.size(), ns) ==
                       NdError::Ok);
        CPPUNIT_ASSERT(!ns.has_source_link_layer_address);
        CPPUNIT_ASSERT(std::memcmp(ns.destination, kUs6, 16) == 0);
    }

    void testParseSolicitationOptions() {
        NeighborSolicitation ns{};
        CPPUNIT_ASSERT(parse_neighbor_solicitation(kNonceSolicitation.data(), kNonceSolicitation.size(), ns) ==
                       NdError::Ok);
        const uint8_t mac[6] = {0x02, 0xaa, 0xbb, 0xcc, 0xdd, 0xee};
        CPPUNIT_ASSERT(ns.has_source_link_layer_address);
        CPPUNIT_ASSERT(std::memcmp(ns.source_link_layer_address, mac, 6) == 0);
        // A second source link-layer option: the first counts.
        Bytes twice = with_options(kSolicitation, {1, 1, 0x02, 0x99, 0x99, 0x99, 0x99, 0x99});
        CPPUNIT_ASSERT(parse_neighbor_solicitation(twice.data(), twice.size(), ns) == NdError::Ok);
        CPPUNIT_ASSERT(std::memcmp(ns.source_link_layer_address, kPeerMac, 6) == 0);
        // One of length 2 (16 bytes) is not Ethernet's: skipped, not an error.
        Bytes longer = with_options(kUnicastSolicitation, {1, 2, 2, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0});
        CPPUNIT_ASSERT(parse_neighbor_solicitation(longer.data(), longer.size(), ns) == NdError::Ok);
        CPPUNIT_ASSERT(!ns.has_source_link_layer_address);
        // Unknown options are skipped.
        Bytes unknown = with_options(kUnicastSolicitation, {200, 1, 0, 0, 0, 0, 0, 0, 1, 1, 2, 0, 0, 0, 0, 7});
        CPPUNIT_ASSERT(parse_neighbor_solicitation(unknown.data(), unknown.size(), ns) == NdError::Ok);
        const uint8_t seven[6] = {2, 0, 0, 0, 0, 7};
        CPPUNIT_ASSERT(std::memcmp(ns.source_link_layer_address, seven, 6) == 0);
    }

    void testParseDadSolicitation() {
        NeighborSolicitation ns{};
        CPPUNIT_ASSERT(parse_neighbor_solicitation(kDadSolicitation.data(), kDadSolicitation.size(), ns) ==
                       NdError::Ok);
        CPPUNIT_ASSERT(ipv6_is_unspecified(ns.source));
        CPPUNIT_ASSERT(!ns.has_source_link_layer_address);
        CPPUNIT_ASSERT(std::memcmp(ns.target, kUs6, 16) == 0);
        // RFC 4861 7.1.1: from the unspecified address, to a solicited-node group only ...
        Bytes unicast = kDadSolicitation;
        std::memcpy(unicast.data() + 24, kUs6, 16);
        refresh_icmpv6_checksum(unicast);
        CPPUNIT_ASSERT(parse_ns(unicast) == NdError::BadDestination);
        Bytes all_nodes = kDadSolicitation;
        all_nodes[36] = 0;  // ff02::1:0:1, outside ff02::1:ff00:0/104
        refresh_icmpv6_checksum(all_nodes);
        CPPUNIT_ASSERT(parse_ns(all_nodes) == NdError::BadDestination);
        // ... and without a source link-layer address.
        CPPUNIT_ASSERT(parse_ns(with_options(kDadSolicitation, {1, 1, 2, 0, 0, 0, 1, 1})) == NdError::BadOption);
        CPPUNIT_ASSERT(parse_ns(with_options(kDadSolicitation, {14, 1, 1, 2, 3, 4, 5, 6})) == NdError::Ok);
    }

    void testParseSolicitationErrors() {
        CPPUNIT_ASSERT(parse_ns(Bytes(kSolicitation.begin(), kSolicitation.begin() + 39)) == NdError::Truncated);
        CPPUNIT_ASSERT(parse_ns(Bytes(kSolicitation.begin(), kSolicitation.end() - 1)) == NdError::BadIpv6Header);
        Bytes p = kSolicitation;
        p[0] = 0x40;
        CPPUNIT_ASSERT(parse_ns(p) == NdError::BadIpv6Header);
        p = kSolicitation;
        p[6] = 17;
        CPPUNIT_ASSERT(parse_ns(p) == NdError::WrongMessage);
        for (uint8_t type : {133, 134, 136, 137, 128}) {
            p = kSolicitation;
            p[40] = type;
            refresh_icmpv6_checksum(p);
            CPPUNIT_ASSERT(parse_ns(p) == NdError::WrongMessage);
        }
        // Shorter than type..target (payload length cut, buffer with it).
        for (size_t payload = 0; payload < kNdMessageSize; ++payload) {
            p = Bytes(kSolicitation.begin(), kSolicitation.begin() + static_cast<long>(40 + payload));
            write_u16(p.data() + 4, static_cast<uint16_t>(payload));
            CPPUNIT_ASSERT(parse_ns(p) == NdError::Truncated);
        }
        for (uint8_t hops : {0, 1, 64, 254}) {
            p = kSolicitation;
            p[7] = hops;  // not in the checksum
            CPPUNIT_ASSERT(parse_ns(p) == NdError::BadHopLimit);
        }
        p = kSolicitation;
        p[41] = 1;
        refresh_icmpv6_checksum(p);
        CPPUNIT_ASSERT(parse_ns(p) == NdError::BadCode);
        for (size_t at : {size_t{8}, size_t{24}, size_t{42}, size_t{44}, size_t{48}, size_t{63}, size_t{71}}) {
            p = kSolicitation;
            p[at] ^= 0x10;
            CPPUNIT_ASSERT(parse_ns(p) == NdError::BadChecksum);
        }
        p = kSolicitation;
        p[48] = 0xff;  // target ff01:db8::1
        refresh_icmpv6_checksum(p);
        CPPUNIT_ASSERT(parse_ns(p) == NdError::BadTarget);
        p = kSolicitation;
        p[8] = 0xff;  // source ff01:db8::5
        refresh_icmpv6_checksum(p);
        CPPUNIT_ASSERT(parse_ns(p) == NdError::BadSourceAddress);
    }

    void testParseSolicitationOptionErrors() {
        const Bytes base = kUnicastSolicitation;
        CPPUNIT_ASSERT(parse_ns(with_options(base, {1, 0, 0, 0, 0, 0, 0, 0})) == NdError::BadOption);   // length 0
        CPPUNIT_ASSERT(parse_ns(with_options(base, {14, 2, 0, 0, 0, 0, 0, 0})) == NdError::BadOption);  // 16 > 8
        CPPUNIT_ASSERT(parse_ns(with_options(base, {14, 255, 0, 0, 0, 0, 0, 0})) == NdError::BadOption);
        CPPUNIT_ASSERT(parse_ns(with_options(base, {1})) == NdError::BadOption);  // no length byte
        CPPUNIT_ASSERT(parse_ns(with_options(base, {1, 1, 2, 0, 0, 0, 1, 1, 0})) == NdError::BadOption);
        // A good option and then a zero length: still refused (RFC 4861 7.1.1: all options length > 0).
        CPPUNIT_ASSERT(parse_ns(with_options(base, {1, 1, 2, 0, 0, 0, 1, 1, 3, 0})) == NdError::BadOption);
    }

    void testSolicitationNeverReadsPastPacket() {
        GuardedBuffer guard;
        for (const Bytes& p : {kSolicitation, kNonceSolicitation, kDadSolicitation}) {
            for (size_t len = 0; len <= p.size(); ++len) {
                NeighborSolicitation ns{};
                const NdError e = parse_neighbor_solicitation(guard.place(p.data(), len), len, ns);
                CPPUNIT_ASSERT_EQUAL(len == p.size(), e == NdError::Ok);
            }
            // Payload lengths that end inside the options, buffer ending with them.
            for (size_t payload = kNdMessageSize; payload < p.size() - kIpv6HeaderSize; ++payload) {
                Bytes cut(p.begin(), p.begin() + static_cast<long>(kIpv6HeaderSize + payload));
                write_u16(cut.data() + 4, static_cast<uint16_t>(payload));
                refresh_icmpv6_checksum(cut);
                NeighborSolicitation ns{};
                const NdError e = parse_neighbor_solicitation(guard.place(cut), cut.size(), ns);
                CPPUNIT_ASSERT((e == NdError::Ok) == (payload == kNdMessageSize || payload == kNdMessageSize + 8));
            }
        }
    }

    void testBuildAdvertisement() {
        NeighborSolicitation ns{};
        CPPUNIT_ASSERT(parse_neighbor_solicitation(kSolicitation.data(), kSolicitation.size(), ns) == NdError::Ok);
        const uint8_t elsewhere[6] = {0x02, 0x77, 0x77, 0x77, 0x77, 0x77};  // the option wins over the frame
        Bytes out(120, 0xEE);
        CPPUNIT_ASSERT_EQUAL(kNdFrameSize,
                             build_neighbor_advertisement(out.data(), out.size(), ns, kOurMac, elsewhere));
        CPPUNIT_ASSERT(std::memcmp(out.data(), kAdvertisementFrame.data(), kNdFrameSize) == 0);
        CPPUNIT_ASSERT_EQUAL(uint8_t(0xEE), out[kNdFrameSize]);
    }

    void testBuildAdvertisementWithoutSourceOption() {
        NeighborSolicitation ns{};
        CPPUNIT_ASSERT(parse_neighbor_solicitation(kUnicastSolicitation.data(), kUnicastSolicitation.size(), ns) ==
                       NdError::Ok);
        Bytes out(kNdFrameSize);
        CPPUNIT_ASSERT_EQUAL(kNdFrameSize, build_neighbor_advertisement(out.data(), out.size(), ns, kOurMac, kPeerMac));
        // The Ethernet destination is outside the checksum: the same frame as answering the option.
        CPPUNIT_ASSERT(out == kAdvertisementFrame);
    }

    void testBuildDadAdvertisement() {
        NeighborSolicitation ns{};
        CPPUNIT_ASSERT(parse_neighbor_solicitation(kDadSolicitation.data(), kDadSolicitation.size(), ns) ==
                       NdError::Ok);
        Bytes out(kNdFrameSize);
        CPPUNIT_ASSERT_EQUAL(kNdFrameSize, build_neighbor_advertisement(out.data(), out.size(), ns, kOurMac, kPeerMac));
        CPPUNIT_ASSERT(out == kDadAdvertisementFrame);
    }

    void testBuildSolicitation() {
        Bytes out(100, 0xEE);
        CPPUNIT_ASSERT_EQUAL(kNdFrameSize,
                             build_neighbor_solicitation(out.data(), out.size(), kOurMac, kUs6, kNeighbor6));
        CPPUNIT_ASSERT(std::memcmp(out.data(), kOurSolicitationFrame.data(), kNdFrameSize) == 0);
        CPPUNIT_ASSERT_EQUAL(uint8_t(0xEE), out[kNdFrameSize]);
        // It is a solicitation our own parser accepts, and its answer goes back to us.
        NeighborSolicitation ns{};
        CPPUNIT_ASSERT(parse_neighbor_solicitation(out.data() + kEthernetHeaderSize, kNdFrameSize - kEthernetHeaderSize,
                                                   ns) == NdError::Ok);
        CPPUNIT_ASSERT(std::memcmp(ns.target, kNeighbor6, 16) == 0);
        CPPUNIT_ASSERT(std::memcmp(ns.source_link_layer_address, kOurMac, 6) == 0);
        Bytes answer(kNdFrameSize);
        CPPUNIT_ASSERT_EQUAL(kNdFrameSize,
                             build_neighbor_advertisement(answer.data(), answer.size(), ns, kPeerMac, kPeerMac));
        CPPUNIT_ASSERT(std::memcmp(answer.data(), kOurMac, 6) == 0);
        CPPUNIT_ASSERT(std::memcmp(answer.data() + kEthernetHeaderSize + 24, kUs6, 16) == 0);
        const uint8_t* m = answer.data() + kEthernetHeaderSize + kIpv6HeaderSize;
        CPPUNIT_ASSERT_EQUAL(uint16_t(0), ipv6_upper_layer_checksum(kNeighbor6, kUs6, kIpProtoIcmpv6, m, 32));
    }

    // The scapy-made advertisements above, read back as a neighbour's.
    void testParseAdvertisement() {
        NeighborAdvertisement na{};
        const Bytes solicited(kAdvertisementFrame.begin() + kEthernetHeaderSize, kAdvertisementFrame.end());
        CPPUNIT_ASSERT(parse_neighbor_advertisement(solicited.data(), solicited.size(), na) == NdError::Ok);
        CPPUNIT_ASSERT(std::memcmp(na.source, kUs6, 16) == 0);
        CPPUNIT_ASSERT(std::memcmp(na.target, kUs6, 16) == 0);
        CPPUNIT_ASSERT_EQUAL(uint8_t(kNdAdvertisementSolicited | kNdAdvertisementOverride), na.flags);
        CPPUNIT_ASSERT(na.has_target_link_layer_address);
        CPPUNIT_ASSERT(std::memcmp(na.target_link_layer_address, kOurMac, 6) == 0);
        const Bytes dad(kDadAdvertisementFrame.begin() + kEthernetHeaderSize, kDadAdvertisementFrame.end());
        CPPUNIT_ASSERT(parse_neighbor_advertisement(dad.data(), dad.size(), na) == NdError::Ok);
        CPPUNIT_ASSERT_EQUAL(uint8_t(kNdAdvertisementOverride), na.flags);
        // Without the option: valid, nothing to learn.
        Bytes bare = solicited;
        bare.resize(kIpv6HeaderSize + kNdMessageSize);
        write_u16(bare.data() + 4, kNdMessageSize);
        refresh_icmpv6_checksum(bare);
        CPPUNIT_ASSERT(parse_neighbor_advertisement(bare.data(), bare.size(), na) == NdError::Ok);
        CPPUNIT_ASSERT(!na.has_target_link_layer_address);
    }

    void testParseAdvertisementErrors() {
        const Bytes solicited(kAdvertisementFrame.begin() + kEthernetHeaderSize, kAdvertisementFrame.end());
        auto parse = [](const Bytes& p) {
            NeighborAdvertisement na{};
            return parse_neighbor_advertisement(p.data(), p.size(), na);
        };
        CPPUNIT_ASSERT(parse(kSolicitation) == NdError::WrongMessage);
        Bytes hops = solicited;
        hops[7] = 254;  // forwarded: from off the link
        CPPUNIT_ASSERT(parse(hops) == NdError::BadHopLimit);
        Bytes sum = solicited;
        sum[kIpv6HeaderSize + 10] ^= 1;
        CPPUNIT_ASSERT(parse(sum) == NdError::BadChecksum);
        Bytes code = solicited;
        code[kIpv6HeaderSize + 1] = 1;
        refresh_icmpv6_checksum(code);
        CPPUNIT_ASSERT(parse(code) == NdError::BadCode);
        Bytes multicast_target = solicited;
        multicast_target[kIpv6HeaderSize + 8] = 0xff;
        refresh_icmpv6_checksum(multicast_target);
        CPPUNIT_ASSERT(parse(multicast_target) == NdError::BadTarget);
        // RFC 4861 7.1.2: Solicited set on one sent to all nodes.
        Bytes dad(kDadAdvertisementFrame.begin() + kEthernetHeaderSize, kDadAdvertisementFrame.end());
        dad[kIpv6HeaderSize + 4] |= kNdAdvertisementSolicited;
        refresh_icmpv6_checksum(dad);
        CPPUNIT_ASSERT(parse(dad) == NdError::BadSolicitedFlag);
        Bytes zero_option = solicited;
        zero_option[kIpv6HeaderSize + kNdMessageSize + 1] = 0;
        refresh_icmpv6_checksum(zero_option);
        CPPUNIT_ASSERT(parse(zero_option) == NdError::BadOption);
    }

    void testAdvertisementNeverReadsPastPacket() {
        GuardedBuffer guard;
        const Bytes p(kAdvertisementFrame.begin() + kEthernetHeaderSize, kAdvertisementFrame.end());
        for (size_t len = 0; len <= p.size(); ++len) {
            NeighborAdvertisement na{};
            const NdError e = parse_neighbor_advertisement(guard.place(p.data(), len), len, na);
            CPPUNIT_ASSERT_EQUAL(len == p.size(), e == NdError::Ok);
        }
    }

    void testNdCapacity() {
        NeighborSolicitation ns{};
        CPPUNIT_ASSERT(parse_neighbor_solicitation(kSolicitation.data(), kSolicitation.size(), ns) == NdError::Ok);
        GuardedBuffer guard;  // frames end at the unwritable page
        uint8_t* out = guard.place(nullptr, 0) - kNdFrameSize;
        for (size_t cap = 0; cap < kNdFrameSize; ++cap) {
            CPPUNIT_ASSERT_EQUAL(size_t{0}, build_neighbor_advertisement(out, cap, ns, kOurMac, kPeerMac));
            CPPUNIT_ASSERT_EQUAL(size_t{0}, build_neighbor_solicitation(out, cap, kOurMac, kUs6, kNeighbor6));
        }
        CPPUNIT_ASSERT_EQUAL(kNdFrameSize, build_neighbor_advertisement(out, kNdFrameSize, ns, kOurMac, kPeerMac));
        CPPUNIT_ASSERT(std::memcmp(out, kAdvertisementFrame.data(), kNdFrameSize) == 0);
        CPPUNIT_ASSERT_EQUAL(kNdFrameSize, build_neighbor_solicitation(out, kNdFrameSize, kOurMac, kUs6, kNeighbor6));
        CPPUNIT_ASSERT(std::memcmp(out, kOurSolicitationFrame.data(), kNdFrameSize) == 0);
    }
};

CPPUNIT_TEST_SUITE_REGISTRATION(ArpNdTest);

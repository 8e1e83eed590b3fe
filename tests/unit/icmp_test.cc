// ICMP and ICMPv6 messages we originate (common/proto/icmp.h): fragmentation
// needed, packet too big and echo replies. Known answers made with scapy;
// offending packets and requests that must not be over-read sit right
// before an inaccessible page.
#include "common/proto/icmp.h"

#include <cppunit/TestFixture.h>
#include <cppunit/extensions/HelperMacros.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <vector>

#include "common/proto/byte_reader.h"
#include "tests/support/guarded_buffer.h"
#include "common/proto/ipv4.h"
#include "common/proto/ipv6.h"

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

const uint32_t kUs = address(198, 51, 100, 1);
const uint8_t kUs6[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01};

// Made with scapy 2.5: IP(src="203.0.113.10", dst="10.0.0.5", id=0x1234,
// flags="DF", ttl=63)/UDP(sport=1701, dport=1701)/Raw(b"x" * 100), its first
// 40 bytes (the rest is more "x"), and the answer IP(src="198.51.100.1",
// dst="203.0.113.10", ttl=64, id=0, flags=0)/ICMP(type=3, code=4,
// nexthopmtu=1400)/Raw(offending[:28]).
const Bytes kOffendingHead = {0x45, 0x00, 0x00, 0x80, 0x12, 0x34, 0x40, 0x00, 0x3f, 0x11, 0xe3, 0x29, 0xcb, 0x00,
                              0x71, 0x0a, 0x0a, 0x00, 0x00, 0x05, 0x06, 0xa5, 0x06, 0xa5, 0x00, 0x6c, 0x24, 0x35,
                              0x78, 0x78, 0x78, 0x78, 0x78, 0x78, 0x78, 0x78, 0x78, 0x78, 0x78, 0x78};
const Bytes kFragNeeded = {0x45, 0x00, 0x00, 0x38, 0x00, 0x00, 0x00, 0x00, 0x40, 0x01, 0x14, 0x86, 0xc6, 0x33,
                           0x64, 0x01, 0xcb, 0x00, 0x71, 0x0a, 0x03, 0x04, 0xc5, 0x98, 0x00, 0x00, 0x05, 0x78,
                           0x45, 0x00, 0x00, 0x80, 0x12, 0x34, 0x40, 0x00, 0x3f, 0x11, 0xe3, 0x29, 0xcb, 0x00,
                           0x71, 0x0a, 0x0a, 0x00, 0x00, 0x05, 0x06, 0xa5, 0x06, 0xa5, 0x00, 0x6c, 0x24, 0x35};

Bytes offending_ipv4() {
    Bytes p = kOffendingHead;
    p.resize(0x80, 0x78);
    return p;
}

// Made with scapy 2.5: IPv6(src="2001:db8::5", dst="2001:db8:1::9",
// hlim=63)/UDP(sport=1701, dport=1701)/Raw(b"y" * 52), the header and UDP
// header (the rest is "y"), and the answer IPv6(src="2001:db8::1",
// dst="2001:db8::5", hlim=64)/ICMPv6PacketTooBig(mtu=1400)/Raw(offending):
// its first 56 bytes, the rest being the offending packet from byte 8 on.
const Bytes kOffending6Head = {0x60, 0x00, 0x00, 0x00, 0x00, 0x3c, 0x11, 0x3f, 0x20, 0x01, 0x0d, 0xb8,
                               0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x05,
                               0x20, 0x01, 0x0d, 0xb8, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
                               0x00, 0x00, 0x00, 0x09, 0x06, 0xa5, 0x06, 0xa5, 0x00, 0x3c, 0x40, 0x55};
const Bytes kPacketTooBigHead = {0x60, 0x00, 0x00, 0x00, 0x00, 0x6c, 0x3a, 0x40, 0x20, 0x01, 0x0d, 0xb8, 0x00, 0x00,
                                 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x20, 0x01, 0x0d, 0xb8,
                                 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x05, 0x02, 0x00,
                                 0x2b, 0x3b, 0x00, 0x00, 0x05, 0x78, 0x60, 0x00, 0x00, 0x00, 0x00, 0x3c, 0x11, 0x3f};

Bytes offending_ipv6() {
    Bytes p = kOffending6Head;
    p.resize(100, 0x79);
    return p;
}

// Made with scapy 2.5: IPv6(src="2001:db8::5", dst="2001:db8:1::9",
// hlim=63)/UDP(sport=1701, dport=1701)/Raw(bytes(i & 0xff for i in
// range(1400))), header and UDP header; the Packet Too Big for it (mtu=1400)
// quoting its first 1232 bytes, the first 48 bytes of the 1280.
const Bytes kBig6Head = {0x60, 0x00, 0x00, 0x00, 0x05, 0x80, 0x11, 0x3f, 0x20, 0x01, 0x0d, 0xb8,
                         0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x05,
                         0x20, 0x01, 0x0d, 0xb8, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
                         0x00, 0x00, 0x00, 0x09, 0x06, 0xa5, 0x06, 0xa5, 0x05, 0x80, 0xe8, 0xc6};
const Bytes kBigPacketTooBigHead = {0x60, 0x00, 0x00, 0x00, 0x04, 0xd8, 0x3a, 0x40, 0x20, 0x01, 0x0d, 0xb8,
                                    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01,
                                    0x20, 0x01, 0x0d, 0xb8, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
                                    0x00, 0x00, 0x00, 0x05, 0x02, 0x00, 0x00, 0x14, 0x00, 0x00, 0x05, 0x78};

// Made with scapy 2.5: IP(src="203.0.113.10", dst="198.51.100.1", id=0x4242,
// tos=0xb9, ttl=50)/ICMP(type=8, id=0x77, seq=3)/Raw(b"abcdefgh12345678")
// and the reply we expect: IP(src="198.51.100.1", dst="203.0.113.10",
// id=0x4242, tos=0xb8, ttl=64, flags=0)/ICMP(type=0, id=0x77, seq=3)/same.
const Bytes kEchoRequest = {0x45, 0xb9, 0x00, 0x2c, 0x42, 0x42, 0x00, 0x00, 0x32, 0x01, 0xdf, 0x96, 0xcb, 0x00, 0x71,
                            0x0a, 0xc6, 0x33, 0x64, 0x01, 0x08, 0x00, 0x95, 0x1b, 0x00, 0x77, 0x00, 0x03, 0x61, 0x62,
                            0x63, 0x64, 0x65, 0x66, 0x67, 0x68, 0x31, 0x32, 0x33, 0x34, 0x35, 0x36, 0x37, 0x38};
const Bytes kEchoReply = {0x45, 0xb8, 0x00, 0x2c, 0x42, 0x42, 0x00, 0x00, 0x40, 0x01, 0xd1, 0x97, 0xc6, 0x33, 0x64,
                          0x01, 0xcb, 0x00, 0x71, 0x0a, 0x00, 0x00, 0x9d, 0x1b, 0x00, 0x77, 0x00, 0x03, 0x61, 0x62,
                          0x63, 0x64, 0x65, 0x66, 0x67, 0x68, 0x31, 0x32, 0x33, 0x34, 0x35, 0x36, 0x37, 0x38};

// Made with scapy 2.5: IPv6(src="2001:db8::5", dst="2001:db8::1", tc=0xb9,
// fl=0x123, hlim=60)/ICMPv6EchoRequest(id=0x77, seq=3,
// data=b"abcdefgh12345678") and the reply we expect: IPv6(src="2001:db8::1",
// dst="2001:db8::5", tc=0xb8, fl=0, hlim=64)/ICMPv6EchoReply(same).
const Bytes kEchoRequest6 = {0x6b, 0x90, 0x01, 0x23, 0x00, 0x18, 0x3a, 0x3c, 0x20, 0x01, 0x0d, 0xb8, 0x00,
                             0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x05, 0x20, 0x01,
                             0x0d, 0xb8, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
                             0x01, 0x80, 0x00, 0xc1, 0x50, 0x00, 0x77, 0x00, 0x03, 0x61, 0x62, 0x63, 0x64,
                             0x65, 0x66, 0x67, 0x68, 0x31, 0x32, 0x33, 0x34, 0x35, 0x36, 0x37, 0x38};
const Bytes kEchoReply6 = {0x6b, 0x80, 0x00, 0x00, 0x00, 0x18, 0x3a, 0x40, 0x20, 0x01, 0x0d, 0xb8, 0x00,
                           0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x20, 0x01,
                           0x0d, 0xb8, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
                           0x05, 0x81, 0x00, 0xc0, 0x50, 0x00, 0x77, 0x00, 0x03, 0x61, 0x62, 0x63, 0x64,
                           0x65, 0x66, 0x67, 0x68, 0x31, 0x32, 0x33, 0x34, 0x35, 0x36, 0x37, 0x38};

// An IPv4 packet with a well-formed header: protocol, payload, flags/fragment.
Bytes ipv4_packet(uint32_t source, uint32_t destination, uint8_t protocol, const Bytes& payload,
                  uint16_t flags_fragment = 0) {
    Bytes p(kIpv4MinHeaderSize);
    p.insert(p.end(), payload.begin(), payload.end());
    write_ipv4_header(p.data(), source, destination, protocol, static_cast<uint16_t>(p.size()), 64, 7, flags_fragment);
    return p;
}

// An ICMP message of the given type, code and body with its checksum.
Bytes icmp_message(uint8_t type, uint8_t code, const Bytes& body) {
    Bytes m = {type, code, 0, 0};
    m.insert(m.end(), body.begin(), body.end());
    write_u16(m.data() + 2, internet_checksum(m.data(), m.size()));
    return m;
}

Bytes ipv6_packet(const uint8_t source[16], const uint8_t destination[16], uint8_t next_header, const Bytes& payload) {
    Bytes p(kIpv6HeaderSize);
    write_ipv6_header(p.data(), source, destination, next_header, static_cast<uint16_t>(payload.size()), 64);
    p.insert(p.end(), payload.begin(), payload.end());
    return p;
}

// An ICMPv6 message between source and destination with its checksum.
Bytes icmpv6_packet(const uint8_t source[16], const uint8_t destination[16], uint8_t type, uint8_t code,
                    const Bytes& body) {
    Bytes m = {type, code, 0, 0};
    m.insert(m.end(), body.begin(), body.end());
    write_u16(m.data() + 2, ipv6_upper_layer_checksum(source, destination, kIpProtoIcmpv6, m.data(), m.size()));
    return ipv6_packet(source, destination, kIpProtoIcmpv6, m);
}

void refresh_ipv4_checksum(Bytes& p) {
    p[10] = p[11] = 0;
    write_u16(p.data() + 10, internet_checksum(p.data(), (p[0] & 0x0F) * 4u));
}

size_t frag_needed(const Bytes& offending, size_t cap = 1500) {
    Bytes out(cap);
    return build_icmpv4_frag_needed(out.data(), cap, offending.data(), offending.size(), kUs, 1400);
}

size_t packet_too_big(const Bytes& offending, size_t cap = 1500) {
    Bytes out(cap);
    return build_icmpv6_packet_too_big(out.data(), cap, offending.data(), offending.size(), kUs6, 1400);
}

// What every ICMPv4 answer must satisfy: it parses, from us, protocol 1,
// ICMP checksum right.
void assert_valid_icmpv4(const uint8_t* p, size_t len, uint32_t source) {
    Ipv4Header h{};
    CPPUNIT_ASSERT(parse_ipv4(p, len, h) == Ipv4Error::Ok);
    CPPUNIT_ASSERT_EQUAL(size_t{h.total_length}, len);
    CPPUNIT_ASSERT_EQUAL(kIpProtoIcmp, h.protocol);
    CPPUNIT_ASSERT_EQUAL(source, h.source);
    CPPUNIT_ASSERT_EQUAL(uint16_t(0), internet_checksum(p + h.header_length, len - h.header_length));
}

void assert_valid_icmpv6(const uint8_t* p, size_t len) {
    Ipv6Header h{};
    CPPUNIT_ASSERT(parse_ipv6(p, len, h) == Ipv6Error::Ok);
    CPPUNIT_ASSERT_EQUAL(len, kIpv6HeaderSize + h.payload_length);
    CPPUNIT_ASSERT_EQUAL(kIpProtoIcmpv6, h.next_header);
    CPPUNIT_ASSERT_EQUAL(uint16_t(0), ipv6_upper_layer_checksum(h.source, h.destination, kIpProtoIcmpv6,
                                                                p + kIpv6HeaderSize, h.payload_length));
}

const uint8_t kPeer6[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x05};

}  // namespace

class IcmpTest : public CppUnit::TestFixture {
    CPPUNIT_TEST_SUITE(IcmpTest);
    CPPUNIT_TEST(testFragNeededKnownAnswer);
    CPPUNIT_TEST(testFragNeededQuotesOptionsAndShortPayloads);
    CPPUNIT_TEST(testFragNeededCapacity);
    CPPUNIT_TEST(testFragNeededUnparseable);
    CPPUNIT_TEST(testFragNeededNotForIcmpErrors);
    CPPUNIT_TEST(testFragNeededNotForLaterFragments);
    CPPUNIT_TEST(testFragNeededNotForGroupOrOddAddresses);
    CPPUNIT_TEST(testFragNeededInPlace);
    CPPUNIT_TEST(testFragNeededNeverReadsPastPacket);
    CPPUNIT_TEST(testPacketTooBigKnownAnswer);
    CPPUNIT_TEST(testPacketTooBigStaysWithinMinimumMtu);
    CPPUNIT_TEST(testPacketTooBigCapacity);
    CPPUNIT_TEST(testPacketTooBigUnparseable);
    CPPUNIT_TEST(testPacketTooBigNotForIcmpv6Errors);
    CPPUNIT_TEST(testPacketTooBigSources);
    CPPUNIT_TEST(testPacketTooBigInPlace);
    CPPUNIT_TEST(testPacketTooBigNeverReadsPastPacket);
    CPPUNIT_TEST(testEchoReplyKnownAnswer);
    CPPUNIT_TEST(testEchoReplyInPlaceAndPadded);
    CPPUNIT_TEST(testEchoReplyRejects);
    CPPUNIT_TEST(testEchoReplyNeverReadsPastPacket);
    CPPUNIT_TEST(testEcho6ReplyKnownAnswer);
    CPPUNIT_TEST(testEcho6ReplyInPlace);
    CPPUNIT_TEST(testEcho6ReplyRejects);
    CPPUNIT_TEST(testEcho6ReplyNeverReadsPastPacket);
    CPPUNIT_TEST_SUITE_END();

public:
    void testFragNeededKnownAnswer() {
        const Bytes offending = offending_ipv4();
        Bytes out(200, 0xEE);
        const size_t n =
            build_icmpv4_frag_needed(out.data(), out.size(), offending.data(), offending.size(), kUs, 1400);
        CPPUNIT_ASSERT_EQUAL(kFragNeeded.size(), n);
        CPPUNIT_ASSERT(std::memcmp(out.data(), kFragNeeded.data(), n) == 0);
        CPPUNIT_ASSERT_EQUAL(uint8_t(0xEE), out[n]);  // nothing written past the answer
        assert_valid_icmpv4(out.data(), n, kUs);
    }

    void testFragNeededQuotesOptionsAndShortPayloads() {
        // A 24-byte header (four NOP options) and a 3-byte payload: all 27 are quoted.
        Bytes p = ipv4_packet(address(203, 0, 113, 10), address(10, 0, 0, 5), 17, {1, 1, 1, 1, 5, 6, 7});
        p[0] = 0x46;
        write_u16(p.data() + 2, 27);
        refresh_ipv4_checksum(p);
        p.resize(27);
        Bytes out(100);
        const size_t n = build_icmpv4_frag_needed(out.data(), out.size(), p.data(), p.size(), kUs, 576);
        CPPUNIT_ASSERT_EQUAL(size_t{20 + 8 + 27}, n);
        assert_valid_icmpv4(out.data(), n, kUs);
        CPPUNIT_ASSERT(std::memcmp(out.data() + 28, p.data(), 27) == 0);
        CPPUNIT_ASSERT_EQUAL(uint16_t(576), load_u16(out.data() + 26));
        // An empty datagram: the header alone is quoted.
        const Bytes empty = ipv4_packet(address(203, 0, 113, 10), address(10, 0, 0, 5), 17, {});
        CPPUNIT_ASSERT_EQUAL(size_t{20 + 8 + 20}, frag_needed(empty));
        // A long payload and Ethernet padding: still header plus 8.
        Bytes padded = offending_ipv4();
        padded.resize(padded.size() + 40, 0);
        CPPUNIT_ASSERT_EQUAL(size_t{56}, frag_needed(padded));
    }

    void testFragNeededCapacity() {
        const Bytes offending = offending_ipv4();
        for (size_t cap = 0; cap < 56; ++cap) CPPUNIT_ASSERT_EQUAL(size_t{0}, frag_needed(offending, cap));
        GuardedBuffer out;  // an answer that fits exactly writes nothing past cap
        uint8_t* o = out.place(nullptr, 0) - 56;
        CPPUNIT_ASSERT_EQUAL(size_t{56},
                             build_icmpv4_frag_needed(o, 56, offending.data(), offending.size(), kUs, 1400));
        CPPUNIT_ASSERT(std::memcmp(o, kFragNeeded.data(), 56) == 0);
    }

    void testFragNeededUnparseable() {
        const Bytes good = offending_ipv4();
        Bytes bad = good;
        bad[10] ^= 1;  // header checksum
        CPPUNIT_ASSERT_EQUAL(size_t{0}, frag_needed(bad));
        bad = good;
        bad[0] = 0x65;
        CPPUNIT_ASSERT_EQUAL(size_t{0}, frag_needed(bad));
        Bytes cut(good.begin(), good.end() - 1);  // total length beyond the buffer
        CPPUNIT_ASSERT_EQUAL(size_t{0}, frag_needed(cut));
        CPPUNIT_ASSERT_EQUAL(size_t{0}, frag_needed(Bytes(good.begin(), good.begin() + 19)));
        CPPUNIT_ASSERT_EQUAL(size_t{0}, frag_needed(Bytes{}));
    }

    void testFragNeededNotForIcmpErrors() {
        const uint32_t peer = address(203, 0, 113, 10), core = address(10, 0, 0, 5);
        const Bytes body(60, 0x11);
        // RFC 1122 3.2.2: errors (and unknown types, taken for errors) are never answered with one.
        for (uint8_t type : {3, 4, 5, 11, 12, 1, 2, 6, 7, 19, 42, 255}) {
            CPPUNIT_ASSERT_EQUAL(size_t{0},
                                 frag_needed(ipv4_packet(peer, core, kIpProtoIcmp, icmp_message(type, 0, body))));
        }
        // Queries are: echo, router advertisement/solicitation, timestamp, information, address mask.
        for (uint8_t type : {0, 8, 9, 10, 13, 14, 15, 16, 17, 18}) {
            CPPUNIT_ASSERT_EQUAL(size_t{56},
                                 frag_needed(ipv4_packet(peer, core, kIpProtoIcmp, icmp_message(type, 0, body))));
        }
        // ICMP with no byte to say its type: not answered.
        CPPUNIT_ASSERT_EQUAL(size_t{0}, frag_needed(ipv4_packet(peer, core, kIpProtoIcmp, {})));
        // One byte is enough to see an echo request.
        CPPUNIT_ASSERT_EQUAL(size_t{20 + 8 + 21}, frag_needed(ipv4_packet(peer, core, kIpProtoIcmp, {8})));
    }

    void testFragNeededNotForLaterFragments() {
        const uint32_t peer = address(203, 0, 113, 10), core = address(10, 0, 0, 5);
        const Bytes payload(100, 0x22);
        for (uint16_t ff : {uint16_t{1}, uint16_t(kIpv4MoreFragments | 185), uint16_t(kIpv4DontFragment | 0x1FFF)}) {
            CPPUNIT_ASSERT_EQUAL(size_t{0}, frag_needed(ipv4_packet(peer, core, 17, payload, ff)));
        }
        // A first fragment is answered: it carries the transport header.
        CPPUNIT_ASSERT_EQUAL(size_t{56}, frag_needed(ipv4_packet(peer, core, 17, payload, kIpv4MoreFragments)));
        CPPUNIT_ASSERT_EQUAL(size_t{56}, frag_needed(ipv4_packet(peer, core, 17, payload, kIpv4DontFragment)));
    }

    void testFragNeededNotForGroupOrOddAddresses() {
        const uint32_t peer = address(203, 0, 113, 10), core = address(10, 0, 0, 5);
        const Bytes payload(40, 0x33);
        const uint32_t odd[] = {address(0, 0, 0, 0),        address(0, 1, 2, 3),   address(127, 0, 0, 1),
                                address(224, 0, 0, 1),      address(239, 1, 2, 3), address(240, 0, 0, 1),
                                address(255, 255, 255, 255)};
        for (uint32_t a : odd) {
            CPPUNIT_ASSERT_EQUAL(size_t{0}, frag_needed(ipv4_packet(a, core, 17, payload)));
            CPPUNIT_ASSERT_EQUAL(size_t{0}, frag_needed(ipv4_packet(peer, a, 17, payload)));
        }
        CPPUNIT_ASSERT_EQUAL(size_t{56},
                             frag_needed(ipv4_packet(address(1, 0, 0, 1), address(223, 255, 255, 254), 17, payload)));
    }

    void testFragNeededInPlace() {
        // The answer written over the offending packet itself (the data plane
        // may reuse its buffer) equals the one written elsewhere.
        Bytes buffer = offending_ipv4();
        const size_t n =
            build_icmpv4_frag_needed(buffer.data(), buffer.size(), buffer.data(), buffer.size(), kUs, 1400);
        CPPUNIT_ASSERT_EQUAL(kFragNeeded.size(), n);
        CPPUNIT_ASSERT(std::memcmp(buffer.data(), kFragNeeded.data(), n) == 0);
    }

    void testFragNeededNeverReadsPastPacket() {
        GuardedBuffer guard;
        Bytes options = ipv4_packet(address(203, 0, 113, 10), address(10, 0, 0, 5), 6, Bytes(50, 0x44));
        options.insert(options.begin() + 20, 40, 0x01);  // 40 bytes of NOP options
        options[0] = 0x4F;
        write_u16(options.data() + 2, static_cast<uint16_t>(options.size()));
        refresh_ipv4_checksum(options);
        const Bytes icmp = ipv4_packet(address(203, 0, 113, 10), address(10, 0, 0, 5), kIpProtoIcmp, {8});
        for (const Bytes& p : {offending_ipv4(), options, icmp}) {
            for (size_t len = 0; len <= p.size(); ++len) {
                Bytes out(200);
                const size_t n =
                    build_icmpv4_frag_needed(out.data(), out.size(), guard.place(p.data(), len), len, kUs, 1400);
                CPPUNIT_ASSERT_EQUAL(len == p.size(), n != 0);
                if (n) assert_valid_icmpv4(out.data(), n, kUs);
            }
        }
    }

    void testPacketTooBigKnownAnswer() {
        const Bytes offending = offending_ipv6();
        Bytes out(300, 0xEE);
        const size_t n =
            build_icmpv6_packet_too_big(out.data(), out.size(), offending.data(), offending.size(), kUs6, 1400);
        CPPUNIT_ASSERT_EQUAL(size_t{148}, n);
        CPPUNIT_ASSERT(std::memcmp(out.data(), kPacketTooBigHead.data(), kPacketTooBigHead.size()) == 0);
        CPPUNIT_ASSERT(std::memcmp(out.data() + 48, offending.data(), 100) == 0);
        CPPUNIT_ASSERT_EQUAL(uint8_t(0xEE), out[n]);
        assert_valid_icmpv6(out.data(), n);
    }

    void testPacketTooBigStaysWithinMinimumMtu() {
        Bytes big = kBig6Head;
        for (int i = 0; i < 1400; ++i) big.push_back(static_cast<uint8_t>(i));
        Bytes out(2000);
        const size_t n = build_icmpv6_packet_too_big(out.data(), out.size(), big.data(), big.size(), kUs6, 1400);
        CPPUNIT_ASSERT_EQUAL(kIpv6MinimumMtu, n);
        CPPUNIT_ASSERT(std::memcmp(out.data(), kBigPacketTooBigHead.data(), 48) == 0);
        CPPUNIT_ASSERT(std::memcmp(out.data() + 48, big.data(), 1232) == 0);
        assert_valid_icmpv6(out.data(), n);
        // A packet that quotes to exactly 1280 and one a byte shorter.
        for (size_t payload : {size_t{1192}, size_t{1191}}) {
            const Bytes p = ipv6_packet(kPeer6, kUs6, 17, Bytes(payload, 0x55));
            CPPUNIT_ASSERT_EQUAL(48 + 40 + payload, packet_too_big(p, 2000));
        }
    }

    void testPacketTooBigCapacity() {
        const Bytes offending = offending_ipv6();
        for (size_t cap = 0; cap < 148; ++cap) CPPUNIT_ASSERT_EQUAL(size_t{0}, packet_too_big(offending, cap));
        CPPUNIT_ASSERT_EQUAL(size_t{148}, packet_too_big(offending, 148));
    }

    void testPacketTooBigUnparseable() {
        const Bytes good = offending_ipv6();
        CPPUNIT_ASSERT_EQUAL(size_t{0}, packet_too_big(Bytes(good.begin(), good.end() - 1)));  // payload length
        CPPUNIT_ASSERT_EQUAL(size_t{0}, packet_too_big(Bytes(good.begin(), good.begin() + 39)));
        Bytes v4 = good;
        v4[0] = 0x45;
        CPPUNIT_ASSERT_EQUAL(size_t{0}, packet_too_big(v4));
        // A Destination Options header claiming more than the payload.
        Bytes ext = ipv6_packet(kPeer6, kUs6, kIpv6DestinationOptions, {17, 5, 0, 0, 0, 0, 0, 0});
        CPPUNIT_ASSERT_EQUAL(size_t{0}, packet_too_big(ext));
    }

    void testPacketTooBigNotForIcmpv6Errors() {
        const Bytes body(40, 0x66);
        for (uint8_t type : {1, 2, 3, 4, 100, 127}) {
            CPPUNIT_ASSERT_EQUAL(size_t{0}, packet_too_big(icmpv6_packet(kPeer6, kUs6, type, 0, body)));
        }
        for (uint8_t type : {128, 129, 135, 255}) {
            CPPUNIT_ASSERT_EQUAL(size_t{48 + 84}, packet_too_big(icmpv6_packet(kPeer6, kUs6, type, 0, body)));
        }
        // Behind a Destination Options header: still seen.
        Bytes error = {kIpProtoIcmpv6, 0, 1, 4, 0, 0, 0, 0, 1, 0, 0, 0};  // PadN, then type 1
        CPPUNIT_ASSERT_EQUAL(size_t{0}, packet_too_big(ipv6_packet(kPeer6, kUs6, kIpv6DestinationOptions, error)));
        error[8] = 128;
        CPPUNIT_ASSERT_EQUAL(size_t{48 + 52},
                             packet_too_big(ipv6_packet(kPeer6, kUs6, kIpv6DestinationOptions, error)));
        // ICMPv6 with no type byte: not answered.
        CPPUNIT_ASSERT_EQUAL(size_t{0}, packet_too_big(ipv6_packet(kPeer6, kUs6, kIpProtoIcmpv6, {})));
        // A later fragment's type is not known; it is answered (errors are never that large).
        const Bytes later = {kIpProtoIcmpv6, 0, 0x00, 0x08, 0, 0, 0, 1, 1, 0, 0, 0};
        CPPUNIT_ASSERT_EQUAL(size_t{48 + 52}, packet_too_big(ipv6_packet(kPeer6, kUs6, kIpv6Fragment, later)));
    }

    void testPacketTooBigSources() {
        const Bytes payload(30, 0x77);
        uint8_t odd[3][16] = {{}, {0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}, {}};
        odd[2][15] = 1;  // ::1
        for (const auto& a : odd) CPPUNIT_ASSERT_EQUAL(size_t{0}, packet_too_big(ipv6_packet(a, kUs6, 17, payload)));
        // RFC 4443 2.4(e.3): to a multicast destination, Packet Too Big is still sent.
        CPPUNIT_ASSERT_EQUAL(size_t{48 + 70}, packet_too_big(ipv6_packet(kPeer6, odd[1], 17, payload)));
    }

    void testPacketTooBigInPlace() {
        Bytes buffer = offending_ipv6();
        buffer.resize(300);
        const size_t n = build_icmpv6_packet_too_big(buffer.data(), buffer.size(), buffer.data(), 100, kUs6, 1400);
        CPPUNIT_ASSERT_EQUAL(size_t{148}, n);
        CPPUNIT_ASSERT(std::memcmp(buffer.data(), kPacketTooBigHead.data(), kPacketTooBigHead.size()) == 0);
        CPPUNIT_ASSERT(std::memcmp(buffer.data() + 48, offending_ipv6().data(), 100) == 0);
        // Our address may itself sit in the buffer being overwritten.
        Bytes shared = offending_ipv6();
        shared.resize(300);
        std::memcpy(shared.data() + 200, kUs6, 16);
        CPPUNIT_ASSERT_EQUAL(size_t{148}, build_icmpv6_packet_too_big(shared.data() + 150, 150, shared.data(), 100,
                                                                      shared.data() + 200, 1400));
        assert_valid_icmpv6(shared.data() + 150, 148);
    }

    void testPacketTooBigNeverReadsPastPacket() {
        GuardedBuffer guard;
        const Bytes chain = ipv6_packet(
            kPeer6, kUs6, kIpv6HopByHop,
            {kIpv6DestinationOptions, 0, 1, 4, 0, 0, 0, 0, kIpProtoIcmpv6, 0, 1, 4, 0, 0, 0, 0, 128, 0, 0, 0});
        for (const Bytes& p : {offending_ipv6(), chain}) {
            for (size_t len = 0; len <= p.size(); ++len) {
                Bytes out(300);
                const size_t n =
                    build_icmpv6_packet_too_big(out.data(), out.size(), guard.place(p.data(), len), len, kUs6, 1280);
                CPPUNIT_ASSERT_EQUAL(len == p.size(), n != 0);
                if (n) assert_valid_icmpv6(out.data(), n);
            }
        }
        // Payload lengths that cut the chain short, in a buffer that ends with
        // them: answered once the ICMPv6 type byte (payload byte 16) is there.
        for (size_t cut = 0; cut < 20; ++cut) {
            Bytes p(chain.begin(), chain.begin() + static_cast<long>(40 + cut));
            write_u16(p.data() + 4, static_cast<uint16_t>(cut));
            Bytes out(300);
            const size_t n = build_icmpv6_packet_too_big(out.data(), out.size(), guard.place(p), p.size(), kUs6, 1280);
            CPPUNIT_ASSERT_EQUAL(cut > 16 ? 48 + p.size() : size_t{0}, n);
        }
    }

    void testEchoReplyKnownAnswer() {
        Bytes out(100, 0xEE);
        const size_t n = build_icmpv4_echo_reply(out.data(), out.size(), kEchoRequest.data(), kEchoRequest.size());
        CPPUNIT_ASSERT_EQUAL(kEchoReply.size(), n);
        CPPUNIT_ASSERT(std::memcmp(out.data(), kEchoReply.data(), n) == 0);
        CPPUNIT_ASSERT_EQUAL(uint8_t(0xEE), out[n]);
        assert_valid_icmpv4(out.data(), n, address(198, 51, 100, 1));
    }

    void testEchoReplyInPlaceAndPadded() {
        Bytes buffer = kEchoRequest;
        buffer.resize(60, 0);  // a minimum Ethernet frame's padding after it
        CPPUNIT_ASSERT_EQUAL(kEchoReply.size(),
                             build_icmpv4_echo_reply(buffer.data(), buffer.size(), buffer.data(), buffer.size()));
        CPPUNIT_ASSERT(std::memcmp(buffer.data(), kEchoReply.data(), kEchoReply.size()) == 0);
        // Capacity: exactly the request's length.
        Bytes out(kEchoRequest.size());
        CPPUNIT_ASSERT_EQUAL(
            size_t{0}, build_icmpv4_echo_reply(out.data(), out.size() - 1, kEchoRequest.data(), kEchoRequest.size()));
        CPPUNIT_ASSERT_EQUAL(out.size(),
                             build_icmpv4_echo_reply(out.data(), out.size(), kEchoRequest.data(), kEchoRequest.size()));
        // The smallest request: no data.
        const Bytes small = ipv4_packet(address(203, 0, 113, 10), kUs, kIpProtoIcmp, icmp_message(8, 0, {0, 1, 0, 2}));
        CPPUNIT_ASSERT_EQUAL(size_t{28}, build_icmpv4_echo_reply(out.data(), out.size(), small.data(), small.size()));
        assert_valid_icmpv4(out.data(), 28, kUs);
        CPPUNIT_ASSERT_EQUAL(kIcmpEchoReply, out[20]);
    }

    void testEchoReplyRejects() {
        Bytes out(200);
        auto reply = [&](const Bytes& request) {
            return build_icmpv4_echo_reply(out.data(), out.size(), request.data(), request.size());
        };
        const uint32_t peer = address(203, 0, 113, 10);
        const Bytes body = {0, 0x77, 0, 3, 'a', 'b', 'c'};
        CPPUNIT_ASSERT_EQUAL(size_t{31}, reply(ipv4_packet(peer, kUs, kIpProtoIcmp, icmp_message(8, 0, body))));
        CPPUNIT_ASSERT_EQUAL(size_t{0}, reply(ipv4_packet(peer, kUs, kIpProtoIcmp, icmp_message(0, 0, body))));
        CPPUNIT_ASSERT_EQUAL(size_t{0}, reply(ipv4_packet(peer, kUs, kIpProtoIcmp, icmp_message(13, 0, body))));
        CPPUNIT_ASSERT_EQUAL(size_t{0}, reply(ipv4_packet(peer, kUs, kIpProtoIcmp, icmp_message(8, 1, body))));
        CPPUNIT_ASSERT_EQUAL(size_t{0}, reply(ipv4_packet(peer, kUs, 17, icmp_message(8, 0, body))));
        // Bad ICMP checksum.
        Bytes bad = ipv4_packet(peer, kUs, kIpProtoIcmp, icmp_message(8, 0, body));
        bad[23] ^= 1;
        CPPUNIT_ASSERT_EQUAL(size_t{0}, reply(bad));
        // Shorter than an ICMP header (checksum right for what is there).
        CPPUNIT_ASSERT_EQUAL(size_t{0}, reply(ipv4_packet(peer, kUs, kIpProtoIcmp, icmp_message(8, 0, {0, 1, 0}))));
        CPPUNIT_ASSERT_EQUAL(size_t{0}, reply(ipv4_packet(peer, kUs, kIpProtoIcmp, {})));
        // Fragments.
        for (uint16_t ff : {kIpv4MoreFragments, uint16_t{1}})
            CPPUNIT_ASSERT_EQUAL(size_t{0}, reply(ipv4_packet(peer, kUs, kIpProtoIcmp, icmp_message(8, 0, body), ff)));
        CPPUNIT_ASSERT_EQUAL(size_t{31},
                             reply(ipv4_packet(peer, kUs, kIpProtoIcmp, icmp_message(8, 0, body), kIpv4DontFragment)));
        // IP options (here Record Route): not answered.
        Bytes options = ipv4_packet(peer, kUs, kIpProtoIcmp, icmp_message(8, 0, body));
        options.insert(options.begin() + 20, {7, 7, 4, 0, 0, 0, 0, 0});
        options[0] = 0x47;
        write_u16(options.data() + 2, static_cast<uint16_t>(options.size()));
        refresh_ipv4_checksum(options);
        CPPUNIT_ASSERT_EQUAL(size_t{0}, reply(options));
        // Broadcast, multicast, zero or loopback on either side.
        for (uint32_t a : {address(255, 255, 255, 255), address(224, 0, 0, 1), address(0, 0, 0, 0),
                           address(127, 0, 0, 1), address(240, 1, 1, 1)}) {
            CPPUNIT_ASSERT_EQUAL(size_t{0}, reply(ipv4_packet(a, kUs, kIpProtoIcmp, icmp_message(8, 0, body))));
            CPPUNIT_ASSERT_EQUAL(size_t{0}, reply(ipv4_packet(peer, a, kIpProtoIcmp, icmp_message(8, 0, body))));
        }
        // Not IPv4 that parses.
        Bytes broken = kEchoRequest;
        broken[10] ^= 1;
        CPPUNIT_ASSERT_EQUAL(size_t{0}, reply(broken));
        CPPUNIT_ASSERT_EQUAL(size_t{0}, reply(Bytes(kEchoRequest.begin(), kEchoRequest.end() - 1)));
    }

    void testEchoReplyNeverReadsPastPacket() {
        GuardedBuffer guard;
        for (size_t len = 0; len <= kEchoRequest.size(); ++len) {
            Bytes out(100);
            const size_t n =
                build_icmpv4_echo_reply(out.data(), out.size(), guard.place(kEchoRequest.data(), len), len);
            CPPUNIT_ASSERT_EQUAL(len == kEchoRequest.size() ? kEchoReply.size() : size_t{0}, n);
        }
        // In place, in the guarded buffer, exactly filling it.
        uint8_t* p = guard.place(kEchoRequest);
        CPPUNIT_ASSERT_EQUAL(kEchoReply.size(),
                             build_icmpv4_echo_reply(p, kEchoRequest.size(), p, kEchoRequest.size()));
        CPPUNIT_ASSERT(std::memcmp(p, kEchoReply.data(), kEchoReply.size()) == 0);
    }

    void testEcho6ReplyKnownAnswer() {
        Bytes out(100, 0xEE);
        const size_t n = build_icmpv6_echo_reply(out.data(), out.size(), kEchoRequest6.data(), kEchoRequest6.size());
        CPPUNIT_ASSERT_EQUAL(kEchoReply6.size(), n);
        CPPUNIT_ASSERT(std::memcmp(out.data(), kEchoReply6.data(), n) == 0);
        CPPUNIT_ASSERT_EQUAL(uint8_t(0xEE), out[n]);
        assert_valid_icmpv6(out.data(), n);
    }

    void testEcho6ReplyInPlace() {
        Bytes buffer = kEchoRequest6;
        buffer.resize(80, 0);
        CPPUNIT_ASSERT_EQUAL(kEchoReply6.size(),
                             build_icmpv6_echo_reply(buffer.data(), buffer.size(), buffer.data(), buffer.size()));
        CPPUNIT_ASSERT(std::memcmp(buffer.data(), kEchoReply6.data(), kEchoReply6.size()) == 0);
        Bytes out(kEchoRequest6.size());
        CPPUNIT_ASSERT_EQUAL(
            size_t{0}, build_icmpv6_echo_reply(out.data(), out.size() - 1, kEchoRequest6.data(), kEchoRequest6.size()));
    }

    void testEcho6ReplyRejects() {
        Bytes out(200);
        auto reply = [&](const Bytes& request) {
            return build_icmpv6_echo_reply(out.data(), out.size(), request.data(), request.size());
        };
        const Bytes body = {0, 0x77, 0, 3, 'a', 'b', 'c'};
        CPPUNIT_ASSERT_EQUAL(size_t{51}, reply(icmpv6_packet(kPeer6, kUs6, 128, 0, body)));
        CPPUNIT_ASSERT_EQUAL(size_t{0}, reply(icmpv6_packet(kPeer6, kUs6, 129, 0, body)));
        CPPUNIT_ASSERT_EQUAL(size_t{0}, reply(icmpv6_packet(kPeer6, kUs6, 8, 0, body)));  // the IPv4 number
        CPPUNIT_ASSERT_EQUAL(size_t{0}, reply(icmpv6_packet(kPeer6, kUs6, 128, 1, body)));
        CPPUNIT_ASSERT_EQUAL(size_t{0}, reply(icmpv6_packet(kPeer6, kUs6, 128, 0, {0, 1, 0})));  // 7 bytes
        Bytes bad = icmpv6_packet(kPeer6, kUs6, 128, 0, body);
        bad.back() ^= 1;
        CPPUNIT_ASSERT_EQUAL(size_t{0}, reply(bad));
        // The checksum covers the pseudo-header: a request checksummed for another destination fails.
        Bytes other = icmpv6_packet(kPeer6, kPeer6, 128, 0, body);
        std::memcpy(other.data() + 24, kUs6, 16);
        CPPUNIT_ASSERT_EQUAL(size_t{0}, reply(other));
        // Extension headers in front: not answered.
        Bytes icmp = icmpv6_packet(kPeer6, kUs6, 128, 0, body);
        Bytes ext(icmp.begin() + 40, icmp.end());
        ext.insert(ext.begin(), {kIpProtoIcmpv6, 0, 1, 4, 0, 0, 0, 0});
        CPPUNIT_ASSERT_EQUAL(size_t{0}, reply(ipv6_packet(kPeer6, kUs6, kIpv6DestinationOptions, ext)));
        // Multicast or unspecified on either side, loopback source.
        uint8_t group[16] = {0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}, zero[16] = {}, loop[16] = {};
        loop[15] = 1;
        CPPUNIT_ASSERT_EQUAL(size_t{0}, reply(icmpv6_packet(kPeer6, group, 128, 0, body)));
        CPPUNIT_ASSERT_EQUAL(size_t{0}, reply(icmpv6_packet(group, kUs6, 128, 0, body)));
        CPPUNIT_ASSERT_EQUAL(size_t{0}, reply(icmpv6_packet(zero, kUs6, 128, 0, body)));
        CPPUNIT_ASSERT_EQUAL(size_t{0}, reply(icmpv6_packet(kPeer6, zero, 128, 0, body)));
        CPPUNIT_ASSERT_EQUAL(size_t{0}, reply(icmpv6_packet(loop, kUs6, 128, 0, body)));
        // Not IPv6 that parses.
        CPPUNIT_ASSERT_EQUAL(size_t{0}, reply(Bytes(kEchoRequest6.begin(), kEchoRequest6.end() - 1)));
        Bytes v4 = kEchoRequest6;
        v4[0] = 0x4b;
        CPPUNIT_ASSERT_EQUAL(size_t{0}, reply(v4));
    }

    void testEcho6ReplyNeverReadsPastPacket() {
        GuardedBuffer guard;
        for (size_t len = 0; len <= kEchoRequest6.size(); ++len) {
            Bytes out(100);
            const size_t n =
                build_icmpv6_echo_reply(out.data(), out.size(), guard.place(kEchoRequest6.data(), len), len);
            CPPUNIT_ASSERT_EQUAL(len == kEchoRequest6.size() ? kEchoReply6.size() : size_t{0}, n);
        }
        uint8_t* p = guard.place(kEchoRequest6);
        CPPUNIT_ASSERT_EQUAL(kEchoReply6.size(),
                             build_icmpv6_echo_reply(p, kEchoRequest6.size(), p, kEchoRequest6.size()));
        CPPUNIT_ASSERT(std::memcmp(p, kEchoReply6.data(), kEchoReply6.size()) == 0);
    }
};

CPPUNIT_TEST_SUITE_REGISTRATION(IcmpTest);

// IPv6 header parsing and writing, the extension-header walk, the
// upper-layer checksum and prefix matching (common/proto/ipv6.h). Buffers
// that must not be over-read sit right before an inaccessible page.
#include "common/proto/ipv6.h"

#include <cppunit/TestFixture.h>
#include <cppunit/extensions/HelperMacros.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <random>
#include <utility>
#include <vector>

#include "common/proto/byte_reader.h"
#include "tests/support/guarded_buffer.h"

namespace {

using namespace conc::proto;

using conc::test::GuardedBuffer;

// Made with scapy 2.5: IPv6(src="2001:db8::1", dst="2001:db8:0:1::2",
// tc=0xb8, fl=0x12345, hlim=64)/UDP(sport=1234, dport=5678)/b"hello".
const std::vector<uint8_t> kUdpPacket = {
    0x6b, 0x81, 0x23, 0x45, 0x00, 0x0d, 0x11, 0x40, 0x20, 0x01, 0x0d, 0xb8, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x20, 0x01, 0x0d, 0xb8, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x02, 0x04, 0xd2, 0x16, 0x2e, 0x00, 0x0d, 0x45, 0x8c, 0x68, 0x65, 0x6c, 0x6c, 0x6f};

const uint8_t kSource[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01};
const uint8_t kDestination[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0x01, 0, 0, 0, 0, 0, 0, 0, 0x02};

// Straightforward RFC 1071 sum over the pseudo-header and message, for comparison.
uint16_t reference_checksum(const uint8_t source[16], const uint8_t destination[16], uint8_t next_header,
                            const std::vector<uint8_t>& message) {
    std::vector<uint8_t> all(source, source + 16);
    all.insert(all.end(), destination, destination + 16);
    const uint32_t len = static_cast<uint32_t>(message.size());
    for (int shift = 24; shift >= 0; shift -= 8) all.push_back(static_cast<uint8_t>(len >> shift));
    all.insert(all.end(), {0, 0, 0, next_header});
    all.insert(all.end(), message.begin(), message.end());
    uint64_t sum = 0;
    for (size_t i = 0; i < all.size(); ++i) sum += (i % 2 == 0) ? uint64_t{all[i]} << 8 : all[i];
    while (sum >> 16) sum = (sum & 0xFFFF) + (sum >> 16);
    return static_cast<uint16_t>(~sum);
}

// An IPv6 packet with the given extension headers (type, bytes; byte 0 is
// overwritten with the next header) and an upper-layer payload of
// payload_len bytes of protocol upper.
std::vector<uint8_t> with_extensions(const std::vector<std::pair<uint8_t, std::vector<uint8_t>>>& extensions,
                                     uint8_t upper, size_t payload_len) {
    std::vector<uint8_t> p(kIpv6HeaderSize);
    size_t total = payload_len;
    for (const auto& e : extensions) total += e.second.size();
    const uint8_t first = extensions.empty() ? upper : extensions.front().first;
    write_ipv6_header(p.data(), kSource, kDestination, first, static_cast<uint16_t>(total), 64);
    for (size_t i = 0; i < extensions.size(); ++i) {
        std::vector<uint8_t> e = extensions[i].second;
        e[0] = i + 1 < extensions.size() ? extensions[i + 1].first : upper;
        p.insert(p.end(), e.begin(), e.end());
    }
    p.resize(p.size() + payload_len, 0x5A);
    return p;
}

// 0x0000 and 0xFFFF are both zero in ones' complement: a checksum may come
// out as either.
bool same_ones_complement(uint16_t a, uint16_t b) {
    return a == b || (a == 0 && b == 0xFFFF) || (a == 0xFFFF && b == 0);
}

}  // namespace

class Ipv6Test : public CppUnit::TestFixture {
    CPPUNIT_TEST_SUITE(Ipv6Test);
    CPPUNIT_TEST(testParseKnownPacket);
    CPPUNIT_TEST(testWriteKnownHeader);
    CPPUNIT_TEST(testParseTruncated);
    CPPUNIT_TEST(testParseBadVersion);
    CPPUNIT_TEST(testParseBadPayloadLength);
    CPPUNIT_TEST(testParseEthernetPadding);
    CPPUNIT_TEST(testParseNeverReadsPastBuffer);
    CPPUNIT_TEST(testWriteParseRoundTrip);
    CPPUNIT_TEST(testUpperLayerChecksumKnownAnswer);
    CPPUNIT_TEST(testUpperLayerChecksumAgainstReference);
    CPPUNIT_TEST(testUpperLayerChecksumNeverReadsPastMessage);
    CPPUNIT_TEST(testUpperLayerWithoutExtensions);
    CPPUNIT_TEST(testUpperLayerThroughExtensions);
    CPPUNIT_TEST(testUpperLayerFragments);
    CPPUNIT_TEST(testUpperLayerStopsAtEspAndNoNextHeader);
    CPPUNIT_TEST(testUpperLayerTruncatedExtensions);
    CPPUNIT_TEST(testPrefixMatch);
    CPPUNIT_TEST(testPrefixMatchBitBoundaries);
    CPPUNIT_TEST(testAddressClasses);
    CPPUNIT_TEST(testMulticastMac);
    CPPUNIT_TEST_SUITE_END();

public:
    void testParseKnownPacket() {
        Ipv6Header h{};
        CPPUNIT_ASSERT(parse_ipv6(kUdpPacket.data(), kUdpPacket.size(), h) == Ipv6Error::Ok);
        CPPUNIT_ASSERT_EQUAL(uint8_t(0xb8), h.traffic_class);
        CPPUNIT_ASSERT_EQUAL(uint32_t(0x12345), h.flow_label);
        CPPUNIT_ASSERT_EQUAL(uint16_t(13), h.payload_length);
        CPPUNIT_ASSERT_EQUAL(uint8_t(17), h.next_header);
        CPPUNIT_ASSERT_EQUAL(uint8_t(64), h.hop_limit);
        CPPUNIT_ASSERT(std::memcmp(h.source, kSource, 16) == 0);
        CPPUNIT_ASSERT(std::memcmp(h.destination, kDestination, 16) == 0);
    }

    void testWriteKnownHeader() {
        uint8_t out[kIpv6HeaderSize];
        std::memset(out, 0xEE, sizeof out);
        write_ipv6_header(out, kSource, kDestination, 17, 13, 64, 0xb8, 0x12345);
        CPPUNIT_ASSERT(std::memcmp(out, kUdpPacket.data(), kIpv6HeaderSize) == 0);
        // Defaults: traffic class and flow label 0; a flow label wider than 20 bits is cut.
        write_ipv6_header(out, kSource, kDestination, 58, 8, 255);
        CPPUNIT_ASSERT_EQUAL(uint32_t(0x60000000), load_u32(out));
        write_ipv6_header(out, kSource, kDestination, 58, 8, 255, 0, 0xFFF12345);
        CPPUNIT_ASSERT_EQUAL(uint32_t(0x60012345), load_u32(out));
    }

    void testParseTruncated() {
        Ipv6Header h{};
        for (size_t len = 0; len < kIpv6HeaderSize; ++len)
            CPPUNIT_ASSERT(parse_ipv6(kUdpPacket.data(), len, h) == Ipv6Error::Truncated);
    }

    void testParseBadVersion() {
        Ipv6Header h{};
        for (uint8_t version : {0, 4, 5, 7, 15}) {
            auto p = kUdpPacket;
            p[0] = static_cast<uint8_t>(version << 4 | (p[0] & 0x0F));
            CPPUNIT_ASSERT(parse_ipv6(p.data(), p.size(), h) == Ipv6Error::BadVersion);
        }
    }

    void testParseBadPayloadLength() {
        Ipv6Header h{};
        auto p = kUdpPacket;
        for (uint16_t length : {14, 100, 0xFFFF}) {
            write_u16(p.data() + 4, length);
            CPPUNIT_ASSERT(parse_ipv6(p.data(), p.size(), h) == Ipv6Error::BadPayloadLength);
        }
        CPPUNIT_ASSERT(parse_ipv6(kUdpPacket.data(), kUdpPacket.size() - 1, h) == Ipv6Error::BadPayloadLength);
        // Header only, payload length 0: well formed.
        write_u16(p.data() + 4, 0);
        CPPUNIT_ASSERT(parse_ipv6(p.data(), kIpv6HeaderSize, h) == Ipv6Error::Ok);
        CPPUNIT_ASSERT_EQUAL(uint16_t(0), h.payload_length);
    }

    void testParseEthernetPadding() {
        auto p = kUdpPacket;
        p.resize(p.size() + 30, 0);
        Ipv6Header h{};
        CPPUNIT_ASSERT(parse_ipv6(p.data(), p.size(), h) == Ipv6Error::Ok);
        CPPUNIT_ASSERT_EQUAL(uint16_t(13), h.payload_length);
    }

    void testParseNeverReadsPastBuffer() {
        GuardedBuffer guard;
        for (size_t len = 0; len <= kUdpPacket.size(); ++len) {
            Ipv6Header h{};
            const Ipv6Error e = parse_ipv6(guard.place(kUdpPacket.data(), len), len, h);
            CPPUNIT_ASSERT((e == Ipv6Error::Ok) == (len == kUdpPacket.size()));
            CPPUNIT_ASSERT((e == Ipv6Error::Truncated) == (len < kIpv6HeaderSize));
        }
    }

    void testWriteParseRoundTrip() {
        std::mt19937 rng(17);
        for (int i = 0; i < 500; ++i) {
            uint8_t source[16], destination[16];
            for (auto& b : source) b = static_cast<uint8_t>(rng());
            for (auto& b : destination) b = static_cast<uint8_t>(rng());
            const uint8_t next = static_cast<uint8_t>(rng()), hops = static_cast<uint8_t>(rng());
            const uint8_t tc = static_cast<uint8_t>(rng());
            const uint32_t flow = rng() & 0xFFFFF;
            const uint16_t payload = static_cast<uint16_t>(rng() % 1500);
            std::vector<uint8_t> p(kIpv6HeaderSize + payload, 0x5A);
            write_ipv6_header(p.data(), source, destination, next, payload, hops, tc, flow);
            Ipv6Header h{};
            CPPUNIT_ASSERT(parse_ipv6(p.data(), p.size(), h) == Ipv6Error::Ok);
            CPPUNIT_ASSERT(std::memcmp(h.source, source, 16) == 0);
            CPPUNIT_ASSERT(std::memcmp(h.destination, destination, 16) == 0);
            CPPUNIT_ASSERT_EQUAL(next, h.next_header);
            CPPUNIT_ASSERT_EQUAL(hops, h.hop_limit);
            CPPUNIT_ASSERT_EQUAL(tc, h.traffic_class);
            CPPUNIT_ASSERT_EQUAL(flow, h.flow_label);
            CPPUNIT_ASSERT_EQUAL(payload, h.payload_length);
            if (payload) CPPUNIT_ASSERT_EQUAL(uint8_t(0x5A), p[kIpv6HeaderSize]);
        }
    }

    void testUpperLayerChecksumKnownAnswer() {
        // scapy's UDP checksum in kUdpPacket (odd length: 13 bytes) verifies to 0 ...
        const uint8_t* udp = kUdpPacket.data() + kIpv6HeaderSize;
        CPPUNIT_ASSERT_EQUAL(uint16_t(0), ipv6_upper_layer_checksum(kSource, kDestination, 17, udp, 13));
        // ... and with the field zeroed, computes to what scapy wrote.
        std::vector<uint8_t> zeroed(udp, udp + 13);
        zeroed[6] = zeroed[7] = 0;
        CPPUNIT_ASSERT_EQUAL(uint16_t(0x458c), ipv6_upper_layer_checksum(kSource, kDestination, 17, zeroed.data(), 13));
        // The next header and the addresses are covered.
        CPPUNIT_ASSERT(ipv6_upper_layer_checksum(kSource, kDestination, 6, udp, 13) != 0);
        CPPUNIT_ASSERT(ipv6_upper_layer_checksum(kDestination, kDestination, 17, udp, 13) != 0);
    }

    void testUpperLayerChecksumAgainstReference() {
        std::mt19937 rng(5);
        // Lengths across the 16-bit boundary of the pseudo-header's 32-bit length too.
        for (size_t len : {size_t{0}, size_t{1}, size_t{2}, size_t{3}, size_t{7}, size_t{8}, size_t{99}, size_t{1232},
                           size_t{65535}, size_t{65536}, size_t{70001}}) {
            std::vector<uint8_t> m(len);
            for (auto& b : m) b = static_cast<uint8_t>(rng());
            uint8_t s[16], d[16];
            for (auto& b : s) b = static_cast<uint8_t>(rng());
            for (auto& b : d) b = static_cast<uint8_t>(rng());
            const uint8_t next = static_cast<uint8_t>(rng());
            const uint16_t expected = reference_checksum(s, d, next, m);
            const uint16_t got = ipv6_upper_layer_checksum(s, d, next, m.data(), m.size());
            CPPUNIT_ASSERT(same_ones_complement(expected, got));
        }
        // All 0xFF: carries must fold repeatedly.
        std::vector<uint8_t> ff(4000, 0xFF);
        uint8_t s[16], d[16];
        std::memset(s, 0xFF, 16);
        std::memset(d, 0xFF, 16);
        const uint16_t expected = reference_checksum(s, d, 0xFF, ff);
        const uint16_t got = ipv6_upper_layer_checksum(s, d, 0xFF, ff.data(), ff.size());
        CPPUNIT_ASSERT(same_ones_complement(expected, got));
    }

    void testUpperLayerChecksumNeverReadsPastMessage() {
        GuardedBuffer guard;
        const uint8_t* udp = kUdpPacket.data() + kIpv6HeaderSize;
        const uint8_t* placed = guard.place(udp, 13);
        CPPUNIT_ASSERT_EQUAL(uint16_t(0), ipv6_upper_layer_checksum(kSource, kDestination, 17, placed, 13));
        const uint8_t* source = guard.place(kSource, 16);  // addresses are read 16 bytes, no more
        CPPUNIT_ASSERT_EQUAL(uint16_t(0), ipv6_upper_layer_checksum(source, kDestination, 17, udp, 13));
    }

    void testUpperLayerWithoutExtensions() {
        Ipv6Header h{};
        CPPUNIT_ASSERT(parse_ipv6(kUdpPacket.data(), kUdpPacket.size(), h) == Ipv6Error::Ok);
        Ipv6UpperLayer u{};
        CPPUNIT_ASSERT(find_ipv6_upper_layer(kUdpPacket.data(), h, u));
        CPPUNIT_ASSERT_EQUAL(uint8_t(17), u.protocol);
        CPPUNIT_ASSERT_EQUAL(kIpv6HeaderSize, u.offset);
        CPPUNIT_ASSERT(!u.non_first_fragment);
    }

    void testUpperLayerThroughExtensions() {
        // Hop-by-Hop (8 bytes), Routing (24), Destination Options (16), AH (24: length 4 -> (4+2)*4), TCP.
        std::vector<uint8_t> hop(8, 0), routing(24, 0), options(16, 0), ah(24, 0);
        routing[1] = 2;
        options[1] = 1;
        ah[1] = 4;
        const auto p = with_extensions({{kIpv6HopByHop, hop},
                                        {kIpv6Routing, routing},
                                        {kIpv6DestinationOptions, options},
                                        {kIpv6AuthenticationHeader, ah}},
                                       6, 20);
        Ipv6Header h{};
        CPPUNIT_ASSERT(parse_ipv6(p.data(), p.size(), h) == Ipv6Error::Ok);
        Ipv6UpperLayer u{};
        CPPUNIT_ASSERT(find_ipv6_upper_layer(p.data(), h, u));
        CPPUNIT_ASSERT_EQUAL(uint8_t(6), u.protocol);
        CPPUNIT_ASSERT_EQUAL(kIpv6HeaderSize + 8 + 24 + 16 + 24, u.offset);
        CPPUNIT_ASSERT(!u.non_first_fragment);
        // An upper layer with no bytes after the extension headers still names its protocol.
        const auto empty = with_extensions({{kIpv6DestinationOptions, std::vector<uint8_t>(8, 0)}}, 58, 0);
        CPPUNIT_ASSERT(parse_ipv6(empty.data(), empty.size(), h) == Ipv6Error::Ok);
        CPPUNIT_ASSERT(find_ipv6_upper_layer(empty.data(), h, u));
        CPPUNIT_ASSERT_EQUAL(uint8_t(58), u.protocol);
        CPPUNIT_ASSERT_EQUAL(empty.size(), u.offset);
    }

    void testUpperLayerFragments() {
        Ipv6Header h{};
        Ipv6UpperLayer u{};
        // First fragment (offset 0, M set): the upper layer is here.
        std::vector<uint8_t> fragment = {0, 0, 0x00, 0x01, 0xde, 0xad, 0xbe, 0xef};
        auto first = with_extensions({{kIpv6Fragment, fragment}}, 17, 16);
        CPPUNIT_ASSERT(parse_ipv6(first.data(), first.size(), h) == Ipv6Error::Ok);
        CPPUNIT_ASSERT(find_ipv6_upper_layer(first.data(), h, u));
        CPPUNIT_ASSERT_EQUAL(uint8_t(17), u.protocol);
        CPPUNIT_ASSERT_EQUAL(kIpv6HeaderSize + 8, u.offset);
        CPPUNIT_ASSERT(!u.non_first_fragment);
        // Offset 1 (8 bytes), last fragment: it is not.
        fragment[2] = 0x00;
        fragment[3] = 0x08;
        // Its next header names what the first fragment's chain continues with.
        auto later = with_extensions({{kIpv6Fragment, fragment}}, kIpv6DestinationOptions, 16);
        CPPUNIT_ASSERT(parse_ipv6(later.data(), later.size(), h) == Ipv6Error::Ok);
        CPPUNIT_ASSERT(find_ipv6_upper_layer(later.data(), h, u));
        CPPUNIT_ASSERT(u.non_first_fragment);
        CPPUNIT_ASSERT_EQUAL(kIpv6DestinationOptions, u.protocol);  // no further walking
        CPPUNIT_ASSERT_EQUAL(kIpv6HeaderSize + 8, u.offset);
        // The reserved and M bits alone do not make a later fragment.
        fragment[2] = 0x00;
        fragment[3] = 0x07;
        auto flags = with_extensions({{kIpv6Fragment, fragment}}, 17, 16);
        CPPUNIT_ASSERT(parse_ipv6(flags.data(), flags.size(), h) == Ipv6Error::Ok);
        CPPUNIT_ASSERT(find_ipv6_upper_layer(flags.data(), h, u));
        CPPUNIT_ASSERT(!u.non_first_fragment);
    }

    void testUpperLayerStopsAtEspAndNoNextHeader() {
        Ipv6Header h{};
        Ipv6UpperLayer u{};
        for (uint8_t stop : {uint8_t{50}, kIpv6NoNextHeader}) {
            const auto p = with_extensions({{kIpv6DestinationOptions, std::vector<uint8_t>(8, 0)}}, stop, 12);
            CPPUNIT_ASSERT(parse_ipv6(p.data(), p.size(), h) == Ipv6Error::Ok);
            CPPUNIT_ASSERT(find_ipv6_upper_layer(p.data(), h, u));
            CPPUNIT_ASSERT_EQUAL(stop, u.protocol);
            CPPUNIT_ASSERT_EQUAL(kIpv6HeaderSize + 8, u.offset);
        }
    }

    void testUpperLayerTruncatedExtensions() {
        GuardedBuffer guard;
        Ipv6Header h{};
        Ipv6UpperLayer u{};
        // An extension header whose length runs past the payload, in a buffer
        // that ends at the payload: false, and no read past it.
        for (uint8_t type : {kIpv6HopByHop, kIpv6Routing, kIpv6DestinationOptions, kIpv6AuthenticationHeader}) {
            std::vector<uint8_t> e(8, 0);
            e[1] = 3;  // says 32 bytes (24 for AH)
            auto p = with_extensions({{type, e}}, 6, 0);
            const uint8_t* placed = guard.place(p);
            CPPUNIT_ASSERT(parse_ipv6(placed, p.size(), h) == Ipv6Error::Ok);
            CPPUNIT_ASSERT(!find_ipv6_upper_layer(placed, h, u));
        }
        // Every cut of a chain: payload length shortened to end inside it.
        std::vector<uint8_t> options(16, 0);
        options[1] = 1;
        const auto chain = with_extensions({{kIpv6HopByHop, std::vector<uint8_t>(8, 0)},
                                            {kIpv6Fragment, std::vector<uint8_t>(8, 0)},
                                            {kIpv6DestinationOptions, options}},
                                           6, 0);
        for (size_t cut = kIpv6HeaderSize; cut <= chain.size(); ++cut) {
            std::vector<uint8_t> p(chain.begin(), chain.begin() + static_cast<long>(cut));
            write_u16(p.data() + 4, static_cast<uint16_t>(cut - kIpv6HeaderSize));
            const uint8_t* placed = guard.place(p);
            CPPUNIT_ASSERT(parse_ipv6(placed, p.size(), h) == Ipv6Error::Ok);
            // Each cut leaves an announced header missing or partial, until the whole chain is there.
            CPPUNIT_ASSERT_EQUAL(cut == chain.size(), find_ipv6_upper_layer(placed, h, u));
            if (cut == chain.size()) CPPUNIT_ASSERT_EQUAL(uint8_t(6), u.protocol);
        }
    }

    void testPrefixMatch() {
        const uint8_t prefix[16] = {0x20, 0x01, 0x0d, 0xb8, 0x00, 0x42, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
        uint8_t in[16] = {0x20, 0x01, 0x0d, 0xb8, 0x00, 0x42, 0x00, 0x07, 1, 2, 3, 4, 5, 6, 7, 8};
        CPPUNIT_ASSERT(ipv6_address_in_prefix(in, prefix, 48));
        CPPUNIT_ASSERT(ipv6_address_in_prefix(in, prefix, 52));
        CPPUNIT_ASSERT(ipv6_address_in_prefix(in, prefix, 61));
        CPPUNIT_ASSERT(!ipv6_address_in_prefix(in, prefix, 62));  // ::7 sets bit 61 (0-based)
        CPPUNIT_ASSERT(!ipv6_address_in_prefix(in, prefix, 64));
        CPPUNIT_ASSERT(!ipv6_address_in_prefix(in, prefix, 128));
        CPPUNIT_ASSERT(ipv6_address_in_prefix(in, prefix, 0));  // the default route holds everything
        CPPUNIT_ASSERT(ipv6_address_in_prefix(in, in, 128));
        CPPUNIT_ASSERT(!ipv6_address_in_prefix(in, in, 129));  // no such prefix
        CPPUNIT_ASSERT(!ipv6_address_in_prefix(in, in, 1000));
        in[0] = 0x30;
        CPPUNIT_ASSERT(!ipv6_address_in_prefix(in, prefix, 4));
        CPPUNIT_ASSERT(ipv6_address_in_prefix(in, prefix, 3));
        // Reads no more than 16 bytes of either.
        GuardedBuffer a;
        GuardedBuffer b;
        const uint8_t* pa = a.place(prefix, 16);
        const uint8_t* pb = b.place(prefix, 16);
        for (unsigned length = 0; length <= 130; ++length)
            CPPUNIT_ASSERT_EQUAL(length <= 128, ipv6_address_in_prefix(pa, pb, length));
    }

    void testPrefixMatchBitBoundaries() {
        // Flip each bit of an address: it stays inside every prefix shorter
        // than the bit's position and leaves every longer one.
        const uint8_t prefix[16] = {0xfe, 0x80, 0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc,
                                    0xde, 0xf0, 0x0f, 0xed, 0xcb, 0xa9, 0x87, 0x65};
        for (unsigned bit = 0; bit < 128; ++bit) {
            uint8_t a[16];
            std::memcpy(a, prefix, 16);
            a[bit / 8] ^= static_cast<uint8_t>(0x80 >> (bit % 8));
            for (unsigned length = 0; length <= 128; ++length)
                CPPUNIT_ASSERT_EQUAL(length <= bit, ipv6_address_in_prefix(a, prefix, length));
        }
    }

    void testAddressClasses() {
        uint8_t a[16] = {};
        CPPUNIT_ASSERT(ipv6_is_unspecified(a));
        CPPUNIT_ASSERT(!ipv6_is_multicast(a));
        a[15] = 1;  // ::1
        CPPUNIT_ASSERT(!ipv6_is_unspecified(a));
        a[0] = 0xFF;
        CPPUNIT_ASSERT(ipv6_is_multicast(a));
        CPPUNIT_ASSERT(!ipv6_is_multicast(kSource));
        CPPUNIT_ASSERT(!ipv6_is_unspecified(kSource));
    }

    void testMulticastMac() {
        // RFC 2464 7: 33:33, then the group's last four bytes.
        const uint8_t group[16] = {0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01, 0xff, 0xcd, 0xef, 0x12};
        uint8_t mac[6];
        ipv6_multicast_mac(group, mac);
        const uint8_t expected[6] = {0x33, 0x33, 0xff, 0xcd, 0xef, 0x12};
        CPPUNIT_ASSERT(std::memcmp(mac, expected, 6) == 0);
    }
};

CPPUNIT_TEST_SUITE_REGISTRATION(Ipv6Test);

// IPv4/UDP header parsing and writing (common/proto/ipv4.h) and the
// bounds-checked ByteReader (common/proto/byte_reader.h). Buffers that must
// not be over-read sit right before an inaccessible page, so a read past the
// end crashes the test instead of passing by luck.
#include "common/proto/ipv4.h"

#include <cppunit/TestFixture.h>
#include <cppunit/extensions/HelperMacros.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <random>
#include <vector>

#include "common/proto/byte_reader.h"
#include "tests/support/guarded_buffer.h"

namespace {

using namespace conc::proto;

using conc::test::GuardedBuffer;

// Straightforward RFC 1071 sum, for comparison: odd byte is the high half.
uint16_t reference_checksum(const uint8_t* p, size_t len) {
    uint32_t sum = 0;
    for (size_t i = 0; i < len; ++i) {
        sum += (i % 2 == 0) ? uint32_t{p[i]} << 8 : p[i];
        sum = (sum & 0xFFFF) + (sum >> 16);
    }
    return static_cast<uint16_t>(~sum);
}

// Wikipedia's "IPv4 header checksum" example, checked by hand and with an
// independent sum: 192.168.0.1 -> 192.168.0.199, UDP, DF, checksum b861.
const std::vector<uint8_t> kHeader = {0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11,
                                      0xb8, 0x61, 0xc0, 0xa8, 0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7};

uint32_t address(uint8_t a, uint8_t b, uint8_t c, uint8_t d) {
    const uint8_t bytes[4] = {a, b, c, d};
    uint32_t v;
    std::memcpy(&v, bytes, 4);  // network byte order, as on the wire
    return v;
}

// kHeader with a payload behind it so total length 0x73 fits.
std::vector<uint8_t> datagram() {
    std::vector<uint8_t> d(kHeader);
    d.resize(0x73, 0xAB);
    return d;
}

void refresh_checksum(std::vector<uint8_t>& d) {
    const size_t ihl = (d[0] & 0x0F) * 4u;
    d[10] = d[11] = 0;
    write_u16(d.data() + 10, internet_checksum(d.data(), ihl));
}

}  // namespace

class Ipv4Test : public CppUnit::TestFixture {
    CPPUNIT_TEST_SUITE(Ipv4Test);
    CPPUNIT_TEST(testRfc1071Example);
    CPPUNIT_TEST(testChecksumOddLengths);
    CPPUNIT_TEST(testChecksumCarryFolding);
    CPPUNIT_TEST(testWriteHeaderKnownChecksum);
    CPPUNIT_TEST(testParseKnownHeader);
    CPPUNIT_TEST(testParseTruncated);
    CPPUNIT_TEST(testParseBadVersion);
    CPPUNIT_TEST(testParseBadHeaderLength);
    CPPUNIT_TEST(testParseBadTotalLength);
    CPPUNIT_TEST(testParseBadChecksum);
    CPPUNIT_TEST(testParseEthernetPadding);
    CPPUNIT_TEST(testFragmentFlags);
    CPPUNIT_TEST(testOptions);
    CPPUNIT_TEST(testParseNeverReadsPastBuffer);
    CPPUNIT_TEST(testWriteParseRoundTrip);
    CPPUNIT_TEST(testUdpLengthChecks);
    CPPUNIT_TEST(testUdpWriteParseRoundTrip);
    CPPUNIT_TEST(testEthernetHeader);
    CPPUNIT_TEST(testByteReaderReads);
    CPPUNIT_TEST(testByteReaderFailedReadLeavesStateAlone);
    CPPUNIT_TEST(testByteReaderNeverReadsPastEnd);
    CPPUNIT_TEST(testLoadWriteHelpers);
    CPPUNIT_TEST(testDecrementTtlKeepsChecksumValid);
    CPPUNIT_TEST_SUITE_END();

public:
    void testRfc1071Example() {
        // RFC 1071 3: 00 01 f2 03 f4 f5 f6 f7 sums to ddf2; the checksum is its complement.
        const uint8_t data[] = {0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7};
        CPPUNIT_ASSERT_EQUAL(uint16_t(0x220d), internet_checksum(data, sizeof data));
        CPPUNIT_ASSERT_EQUAL(uint16_t(0xffff), internet_checksum(data, 0));
    }

    void testChecksumOddLengths() {
        // RFC 1071 4.1: an odd last byte is padded with a zero on the right.
        const uint8_t one[] = {0xf6};
        CPPUNIT_ASSERT_EQUAL(uint16_t(~0xf600 & 0xFFFF), internet_checksum(one, 1));
        const uint8_t seven[] = {0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6};
        const uint8_t seven_padded[] = {0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0x00};
        CPPUNIT_ASSERT_EQUAL(internet_checksum(seven_padded, 8), internet_checksum(seven, 7));
        CPPUNIT_ASSERT_EQUAL(uint16_t(0x2304), internet_checksum(seven, 7));

        GuardedBuffer guard;
        std::mt19937 rng(7);
        for (size_t len = 0; len < 200; ++len) {
            std::vector<uint8_t> v(len);
            for (auto& b : v) b = static_cast<uint8_t>(rng());
            const uint8_t* p = guard.place(v);  // odd lengths end at the guard page
            CPPUNIT_ASSERT_EQUAL(reference_checksum(v.data(), len), internet_checksum(p, len));
        }
    }

    void testChecksumCarryFolding() {
        // Many 0xffff words: carries must fold back repeatedly.
        std::vector<uint8_t> ff(65535, 0xFF);
        CPPUNIT_ASSERT_EQUAL(reference_checksum(ff.data(), ff.size()), internet_checksum(ff.data(), ff.size()));
        std::vector<uint8_t> big(4000);
        for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<uint8_t>(0xF0 + i % 16);
        CPPUNIT_ASSERT_EQUAL(reference_checksum(big.data(), big.size()), internet_checksum(big.data(), big.size()));
        // A header with its checksum in place sums to zero (RFC 1071 1).
        CPPUNIT_ASSERT_EQUAL(uint16_t(0), internet_checksum(kHeader.data(), kHeader.size()));
    }

    void testWriteHeaderKnownChecksum() {
        uint8_t out[20];
        std::memset(out, 0xEE, sizeof out);
        write_ipv4_header(out, address(192, 168, 0, 1), address(192, 168, 0, 199), 17, 0x73, 64, 0, kIpv4DontFragment);
        CPPUNIT_ASSERT(std::memcmp(out, kHeader.data(), 20) == 0);
    }

    void testParseKnownHeader() {
        const auto d = datagram();
        Ipv4Header h{};
        CPPUNIT_ASSERT(parse_ipv4(d.data(), d.size(), h) == Ipv4Error::Ok);
        CPPUNIT_ASSERT_EQUAL(uint8_t(20), h.header_length);
        CPPUNIT_ASSERT_EQUAL(uint8_t(0), h.tos);
        CPPUNIT_ASSERT_EQUAL(uint16_t(0x73), h.total_length);
        CPPUNIT_ASSERT_EQUAL(uint16_t(0), h.identification);
        CPPUNIT_ASSERT_EQUAL(kIpv4DontFragment, h.flags_fragment);
        CPPUNIT_ASSERT_EQUAL(uint8_t(64), h.ttl);
        CPPUNIT_ASSERT_EQUAL(uint8_t(17), h.protocol);
        CPPUNIT_ASSERT_EQUAL(address(192, 168, 0, 1), h.source);
        CPPUNIT_ASSERT_EQUAL(address(192, 168, 0, 199), h.destination);
        CPPUNIT_ASSERT(!h.is_fragment());
        CPPUNIT_ASSERT(!h.has_options());
    }

    void testParseTruncated() {
        const auto d = datagram();
        Ipv4Header h{};
        for (size_t len = 0; len < 20; ++len) CPPUNIT_ASSERT(parse_ipv4(d.data(), len, h) == Ipv4Error::Truncated);
        // IHL says 24 bytes but only 20 are there.
        auto opt = d;
        opt[0] = 0x46;
        opt.insert(opt.begin() + 20, {0x01, 0x01, 0x01, 0x00});  // NOP NOP NOP EOL
        write_u16(opt.data() + 2, 24);
        refresh_checksum(opt);
        CPPUNIT_ASSERT(parse_ipv4(opt.data(), 24, h) == Ipv4Error::Ok);
        for (size_t len = 20; len < 24; ++len) CPPUNIT_ASSERT(parse_ipv4(opt.data(), len, h) == Ipv4Error::Truncated);
    }

    void testParseBadVersion() {
        Ipv4Header h{};
        for (uint8_t version : {0, 1, 5, 6, 15}) {
            auto d = datagram();
            d[0] = static_cast<uint8_t>(version << 4 | 5);
            refresh_checksum(d);
            CPPUNIT_ASSERT(parse_ipv4(d.data(), d.size(), h) == Ipv4Error::BadVersion);
        }
    }

    void testParseBadHeaderLength() {
        Ipv4Header h{};
        for (uint8_t ihl = 0; ihl < 5; ++ihl) {
            auto d = datagram();
            d[0] = static_cast<uint8_t>(0x40 | ihl);
            CPPUNIT_ASSERT(parse_ipv4(d.data(), d.size(), h) == Ipv4Error::BadHeaderLength);
        }
    }

    void testParseBadTotalLength() {
        Ipv4Header h{};
        // Longer than the buffer.
        auto d = datagram();
        write_u16(d.data() + 2, static_cast<uint16_t>(d.size() + 1));
        refresh_checksum(d);
        CPPUNIT_ASSERT(parse_ipv4(d.data(), d.size(), h) == Ipv4Error::BadTotalLength);
        write_u16(d.data() + 2, 0xFFFF);
        refresh_checksum(d);
        CPPUNIT_ASSERT(parse_ipv4(d.data(), d.size(), h) == Ipv4Error::BadTotalLength);
        // Shorter than the header.
        for (uint16_t total : {0, 1, 19}) {
            write_u16(d.data() + 2, total);
            refresh_checksum(d);
            CPPUNIT_ASSERT(parse_ipv4(d.data(), d.size(), h) == Ipv4Error::BadTotalLength);
        }
        // Exactly the header: an empty datagram is well formed.
        write_u16(d.data() + 2, 20);
        refresh_checksum(d);
        CPPUNIT_ASSERT(parse_ipv4(d.data(), 20, h) == Ipv4Error::Ok);
        // Shorter than IHL with options.
        auto opt = datagram();
        opt[0] = 0x46;
        write_u16(opt.data() + 2, 22);
        refresh_checksum(opt);
        CPPUNIT_ASSERT(parse_ipv4(opt.data(), opt.size(), h) == Ipv4Error::BadTotalLength);
    }

    void testParseBadChecksum() {
        Ipv4Header h{};
        for (size_t byte = 0; byte < 20; ++byte) {
            if (byte == 0 || byte == 2 || byte == 3) continue;  // those fail earlier checks
            auto d = datagram();
            d[byte] ^= 0x04;
            CPPUNIT_ASSERT(parse_ipv4(d.data(), d.size(), h) == Ipv4Error::BadChecksum);
        }
        // The checksum covers the options too.
        auto opt = datagram();
        opt[0] = 0x46;
        opt.insert(opt.begin() + 20, {0x01, 0x01, 0x01, 0x00});
        write_u16(opt.data() + 2, static_cast<uint16_t>(opt.size()));
        refresh_checksum(opt);
        CPPUNIT_ASSERT(parse_ipv4(opt.data(), opt.size(), h) == Ipv4Error::Ok);
        opt[22] ^= 0x10;
        CPPUNIT_ASSERT(parse_ipv4(opt.data(), opt.size(), h) == Ipv4Error::BadChecksum);
    }

    void testParseEthernetPadding() {
        // A 20-byte datagram in a minimum Ethernet frame arrives with 26 bytes of padding.
        std::vector<uint8_t> frame(46, 0);
        write_ipv4_header(frame.data(), address(10, 0, 0, 1), address(10, 0, 0, 2), 6, 20, 64, 1, 0);
        Ipv4Header h{};
        CPPUNIT_ASSERT(parse_ipv4(frame.data(), frame.size(), h) == Ipv4Error::Ok);
        CPPUNIT_ASSERT_EQUAL(uint16_t(20), h.total_length);
    }

    void testFragmentFlags() {
        struct Case {
            uint16_t flags_fragment;
            bool fragment;
        };
        const Case cases[] = {
            {0, false},
            {kIpv4DontFragment, false},
            {kIpv4MoreFragments, true},      // first fragment
            {185, true},                     // last fragment, offset 185*8
            {kIpv4MoreFragments | 1, true},  // middle fragment
            {kIpv4DontFragment | kIpv4FragmentOffsetMask, true},
            {0x8000, false},  // reserved bit alone is no fragment
        };
        for (const Case& c : cases) {
            uint8_t p[40] = {};
            write_ipv4_header(p, address(1, 2, 3, 4), address(5, 6, 7, 8), 50, 40, 64, 0x1234, c.flags_fragment);
            Ipv4Header h{};
            CPPUNIT_ASSERT(parse_ipv4(p, sizeof p, h) == Ipv4Error::Ok);
            CPPUNIT_ASSERT_EQUAL(c.flags_fragment, h.flags_fragment);
            CPPUNIT_ASSERT_EQUAL(c.fragment, h.is_fragment());
            CPPUNIT_ASSERT_EQUAL(uint16_t(0x1234), h.identification);
        }
    }

    void testOptions() {
        for (uint8_t ihl = 5; ihl <= 15; ++ihl) {
            std::vector<uint8_t> d(ihl * 4u + 8, 0);
            write_ipv4_header(d.data(), address(1, 1, 1, 1), address(2, 2, 2, 2), 17, static_cast<uint16_t>(d.size()),
                              1, 0, 0);
            d[0] = static_cast<uint8_t>(0x40 | ihl);  // options are all EOL (zero)
            refresh_checksum(d);
            Ipv4Header h{};
            CPPUNIT_ASSERT(parse_ipv4(d.data(), d.size(), h) == Ipv4Error::Ok);
            CPPUNIT_ASSERT_EQUAL(static_cast<uint8_t>(ihl * 4), h.header_length);
            CPPUNIT_ASSERT_EQUAL(ihl > 5, h.has_options());
        }
    }

    void testParseNeverReadsPastBuffer() {
        // Every prefix of a datagram, and of one claiming a 60-byte header and a
        // long total length, parsed where the byte after the end is unreadable.
        GuardedBuffer guard;
        auto opt = datagram();
        opt[0] = 0x4F;
        opt.insert(opt.begin() + 20, 40, 0x01);
        write_u16(opt.data() + 2, static_cast<uint16_t>(opt.size()));
        refresh_checksum(opt);
        for (const auto& d : {datagram(), opt}) {
            for (size_t len = 0; len <= d.size(); ++len) {
                Ipv4Header h{};
                const Ipv4Error e = parse_ipv4(guard.place(d.data(), len), len, h);
                CPPUNIT_ASSERT((e == Ipv4Error::Ok) == (len == d.size()));
            }
        }
        for (size_t len = 0; len <= 16; ++len) {
            UdpHeader u{};
            const uint8_t udp[16] = {0x11, 0x94, 0x11, 0x94, 0x00, 0x10};
            const bool ok = parse_udp(guard.place(udp, len), len, u);
            CPPUNIT_ASSERT_EQUAL(len == 16, ok);
        }
    }

    void testWriteParseRoundTrip() {
        std::mt19937 rng(11);
        for (int i = 0; i < 1000; ++i) {
            const uint32_t src = static_cast<uint32_t>(rng()), dst = static_cast<uint32_t>(rng());
            const uint8_t protocol = static_cast<uint8_t>(rng()), ttl = static_cast<uint8_t>(rng());
            const uint16_t total = static_cast<uint16_t>(20 + rng() % 1480);
            const uint16_t id = static_cast<uint16_t>(rng()), frag = static_cast<uint16_t>(rng());
            std::vector<uint8_t> d(total, 0x5A);
            write_ipv4_header(d.data(), src, dst, protocol, total, ttl, id, frag);
            CPPUNIT_ASSERT_EQUAL(reference_checksum(d.data(), 20), uint16_t(0));
            Ipv4Header h{};
            CPPUNIT_ASSERT(parse_ipv4(d.data(), d.size(), h) == Ipv4Error::Ok);
            CPPUNIT_ASSERT_EQUAL(src, h.source);
            CPPUNIT_ASSERT_EQUAL(dst, h.destination);
            CPPUNIT_ASSERT_EQUAL(protocol, h.protocol);
            CPPUNIT_ASSERT_EQUAL(ttl, h.ttl);
            CPPUNIT_ASSERT_EQUAL(total, h.total_length);
            CPPUNIT_ASSERT_EQUAL(id, h.identification);
            CPPUNIT_ASSERT_EQUAL(frag, h.flags_fragment);
            CPPUNIT_ASSERT_EQUAL(uint8_t(0), h.tos);
            CPPUNIT_ASSERT_EQUAL(uint8_t(20), h.header_length);
            if (total > 20) CPPUNIT_ASSERT_EQUAL(uint8_t(0x5A), d[20]);  // payload untouched
        }
    }

    void testUdpLengthChecks() {
        // NAT-T port 4500 both ways, UDP length 16: 8 header + 8 payload.
        const uint8_t udp[16] = {0x11, 0x94, 0x11, 0x94, 0x00, 0x10, 0x12, 0x34};
        UdpHeader u{};
        CPPUNIT_ASSERT(parse_udp(udp, 16, u));
        CPPUNIT_ASSERT_EQUAL(uint16_t(4500), u.source_port);
        CPPUNIT_ASSERT_EQUAL(uint16_t(4500), u.destination_port);
        CPPUNIT_ASSERT_EQUAL(uint16_t(16), u.length);
        CPPUNIT_ASSERT_EQUAL(uint16_t(0x1234), u.checksum);
        CPPUNIT_ASSERT(!parse_udp(udp, 15, u));  // length beyond the buffer
        for (size_t len = 0; len < 8; ++len) CPPUNIT_ASSERT(!parse_udp(udp, len, u));
        uint8_t bad[16];
        std::memcpy(bad, udp, sizeof bad);
        for (uint16_t length : {0, 1, 7}) {  // shorter than its own header
            write_u16(bad + 4, length);
            CPPUNIT_ASSERT(!parse_udp(bad, sizeof bad, u));
        }
        write_u16(bad + 4, 8);  // header only
        CPPUNIT_ASSERT(parse_udp(bad, sizeof bad, u));
        write_u16(bad + 4, 0xFFFF);
        CPPUNIT_ASSERT(!parse_udp(bad, sizeof bad, u));
    }

    void testUdpWriteParseRoundTrip() {
        uint8_t p[64] = {};
        write_udp_header(p, 4500, 61234, 64);
        const uint8_t expected[8] = {0x11, 0x94, 0xef, 0x32, 0x00, 0x40, 0x00, 0x00};
        CPPUNIT_ASSERT(std::memcmp(p, expected, 8) == 0);
        UdpHeader u{};
        CPPUNIT_ASSERT(parse_udp(p, sizeof p, u));
        CPPUNIT_ASSERT_EQUAL(uint16_t(4500), u.source_port);
        CPPUNIT_ASSERT_EQUAL(uint16_t(61234), u.destination_port);
        CPPUNIT_ASSERT_EQUAL(uint16_t(64), u.length);
        CPPUNIT_ASSERT_EQUAL(uint16_t(0), u.checksum);  // RFC 3948 2.1: zero checksum
    }

    void testEthernetHeader() {
        const uint8_t dst[6] = {0x02, 0x00, 0x00, 0x00, 0x00, 0x01};
        const uint8_t src[6] = {0x02, 0x00, 0x00, 0x00, 0x00, 0x02};
        uint8_t p[kEthernetHeaderSize];
        write_ethernet_header(p, dst, src, kEtherTypeIpv4);
        const uint8_t expected[14] = {0x02, 0, 0, 0, 0, 0x01, 0x02, 0, 0, 0, 0, 0x02, 0x08, 0x00};
        CPPUNIT_ASSERT(std::memcmp(p, expected, sizeof expected) == 0);
    }

    void testByteReaderReads() {
        const uint8_t data[] = {0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a};
        ByteReader r(data, sizeof data);
        uint8_t b = 0;
        uint16_t w = 0;
        uint32_t d = 0;
        uint8_t bytes[2] = {};
        CPPUNIT_ASSERT(r.read_u8(b));
        CPPUNIT_ASSERT_EQUAL(uint8_t(0x01), b);
        CPPUNIT_ASSERT(r.read_u16(w));
        CPPUNIT_ASSERT_EQUAL(uint16_t(0x0203), w);
        CPPUNIT_ASSERT(r.read_u32(d));
        CPPUNIT_ASSERT_EQUAL(uint32_t(0x04050607), d);
        CPPUNIT_ASSERT(r.skip(1));
        CPPUNIT_ASSERT(r.current() == data + 8);
        CPPUNIT_ASSERT(r.read_bytes(bytes, 2));
        CPPUNIT_ASSERT_EQUAL(uint8_t(0x09), bytes[0]);
        CPPUNIT_ASSERT_EQUAL(uint8_t(0x0a), bytes[1]);
        CPPUNIT_ASSERT_EQUAL(size_t(0), r.remaining());
        CPPUNIT_ASSERT_EQUAL(sizeof data, r.offset());
        CPPUNIT_ASSERT(r.skip(0));
        CPPUNIT_ASSERT(r.read_bytes(bytes, 0));
        CPPUNIT_ASSERT(!r.read_u8(b));
    }

    void testByteReaderFailedReadLeavesStateAlone() {
        const uint8_t data[] = {0xAA, 0xBB, 0xCC};
        ByteReader r(data, sizeof data);
        CPPUNIT_ASSERT(r.skip(1));
        uint32_t d = 0x11111111;
        uint16_t w = 0x2222;
        uint8_t bytes[4] = {0x33, 0x33, 0x33, 0x33};
        CPPUNIT_ASSERT(!r.read_u32(d));
        CPPUNIT_ASSERT(!r.read_bytes(bytes, 3));
        CPPUNIT_ASSERT(!r.skip(3));
        CPPUNIT_ASSERT(!r.skip(SIZE_MAX));  // must not wrap the offset
        volatile size_t huge = SIZE_MAX;    // volatile: keep GCC from flagging the memcpy it guards
        CPPUNIT_ASSERT(!r.read_bytes(bytes, huge));
        CPPUNIT_ASSERT_EQUAL(uint32_t(0x11111111), d);
        CPPUNIT_ASSERT_EQUAL(uint8_t(0x33), bytes[0]);
        CPPUNIT_ASSERT_EQUAL(size_t(1), r.offset());
        CPPUNIT_ASSERT_EQUAL(size_t(2), r.remaining());
        CPPUNIT_ASSERT(r.read_u16(w));
        CPPUNIT_ASSERT_EQUAL(uint16_t(0xBBCC), w);
        CPPUNIT_ASSERT(!r.read_u16(w));
        CPPUNIT_ASSERT(!r.read_u8(bytes[0]));
        CPPUNIT_ASSERT_EQUAL(uint16_t(0xBBCC), w);
        ByteReader empty(nullptr, 0);
        CPPUNIT_ASSERT(!empty.read_u8(bytes[0]));
        CPPUNIT_ASSERT(!empty.skip(1));
        CPPUNIT_ASSERT_EQUAL(size_t(0), empty.remaining());
    }

    void testByteReaderNeverReadsPastEnd() {
        // Random reads over buffers that end at an unreadable page: every read
        // either succeeds within bounds or fails, and the total consumed never
        // exceeds the size.
        GuardedBuffer guard;
        std::mt19937 rng(3);
        std::vector<uint8_t> bytes(64);
        for (auto& b : bytes) b = static_cast<uint8_t>(rng());
        for (size_t size = 0; size <= bytes.size(); ++size) {
            const uint8_t* p = guard.place(bytes.data(), size);
            for (int round = 0; round < 20; ++round) {
                ByteReader r(p, size);
                size_t consumed = 0;
                for (int op = 0; op < 40; ++op) {
                    const size_t before = r.offset();
                    bool ok = false;
                    size_t want = 0;
                    uint8_t b;
                    uint16_t w;
                    uint32_t d;
                    uint8_t out[8];
                    switch (rng() % 5) {
                        case 0:
                            want = 1;
                            ok = r.read_u8(b);
                            if (ok) CPPUNIT_ASSERT_EQUAL(bytes[before], b);
                            break;
                        case 1:
                            want = 2;
                            ok = r.read_u16(w);
                            if (ok) CPPUNIT_ASSERT_EQUAL(load_u16(&bytes[before]), w);
                            break;
                        case 2:
                            want = 4;
                            ok = r.read_u32(d);
                            if (ok) CPPUNIT_ASSERT_EQUAL(load_u32(&bytes[before]), d);
                            break;
                        case 3:
                            want = rng() % 9;
                            ok = r.read_bytes(out, want);
                            if (ok && want) CPPUNIT_ASSERT(std::memcmp(out, &bytes[before], want) == 0);
                            break;
                        default:
                            want = rng() % 9;
                            ok = r.skip(want);
                            break;
                    }
                    CPPUNIT_ASSERT_EQUAL(want <= size - before, ok);
                    if (ok) consumed += want;
                    CPPUNIT_ASSERT_EQUAL(consumed, r.offset());
                    CPPUNIT_ASSERT_EQUAL(size - consumed, r.remaining());
                }
            }
        }
    }

    void testDecrementTtlKeepsChecksumValid() {
        // Against the checksum summed again from scratch, for every TTL a router
        // forwards (2..255), random headers with and without options, and a
        // header whose checksum is 0x0000 (RFC 1624's -0 case; 0xFFFF needs an
        // all-zero header, which no IPv4 header is).
        std::mt19937 rng(1624);
        for (int round = 0; round < 4000; ++round) {
            const size_t header_len = 20 + 4 * (round % 11);
            std::vector<uint8_t> h(header_len);
            for (auto& b : h) b = static_cast<uint8_t>(rng());
            h[0] = static_cast<uint8_t>(0x40 | header_len / 4);
            h[8] = static_cast<uint8_t>(2 + round % 254);
            write_u16(&h[10], 0);
            write_u16(&h[10], internet_checksum(h.data(), header_len));
            std::vector<uint8_t> expected = h;
            expected[8] = static_cast<uint8_t>(h[8] - 1);
            write_u16(&expected[10], 0);
            write_u16(&expected[10], internet_checksum(expected.data(), header_len));
            decrement_ipv4_ttl(h.data());
            CPPUNIT_ASSERT_EQUAL(expected[8], h[8]);
            CPPUNIT_ASSERT_EQUAL(uint16_t(0), internet_checksum(h.data(), header_len));
            for (size_t i = 0; i < header_len; ++i)
                if (i != 10 && i != 11) CPPUNIT_ASSERT_EQUAL(expected[i], h[i]);
        }
        // A header whose sum leaves checksum 0x0000 keeps a valid one after the hop.
        std::vector<uint8_t> h = kHeader;
        for (uint32_t id = 0; id < 0x10000; ++id) {
            write_u16(&h[4], static_cast<uint16_t>(id));
            write_u16(&h[10], 0);
            write_u16(&h[10], internet_checksum(h.data(), h.size()));
            if (load_u16(&h[10]) == 0 || load_u16(&h[10]) == 0xFFFF) {
                decrement_ipv4_ttl(h.data());
                CPPUNIT_ASSERT_EQUAL(uint16_t(0), internet_checksum(h.data(), h.size()));
                return;
            }
        }
        CPPUNIT_FAIL("no identification gave a checksum of 0x0000 or 0xFFFF");
    }

    void testLoadWriteHelpers() {
        uint8_t p[4];
        write_u16(p, 0xBEEF);
        CPPUNIT_ASSERT_EQUAL(uint8_t(0xBE), p[0]);
        CPPUNIT_ASSERT_EQUAL(uint8_t(0xEF), p[1]);
        CPPUNIT_ASSERT_EQUAL(uint16_t(0xBEEF), load_u16(p));
        write_u32(p, 0xDEADBEEF);
        const uint8_t expected[4] = {0xDE, 0xAD, 0xBE, 0xEF};
        CPPUNIT_ASSERT(std::memcmp(p, expected, 4) == 0);
        CPPUNIT_ASSERT_EQUAL(uint32_t(0xDEADBEEF), load_u32(p));
    }
};

CPPUNIT_TEST_SUITE_REGISTRATION(Ipv4Test);

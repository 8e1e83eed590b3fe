// TCP MSS clamping and the RFC 1624 incremental checksum update
// (common/proto/tcp_mss.h). Segments that must not be over-read sit right
// before an inaccessible page.
#include "common/proto/tcp_mss.h"

#include <cppunit/TestFixture.h>
#include <cppunit/extensions/HelperMacros.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <random>
#include <vector>

#include "common/proto/byte_reader.h"
#include "tests/support/guarded_buffer.h"
#include "common/proto/ipv4.h"
#include "common/proto/ipv6.h"

namespace {

using namespace conc::proto;

using conc::test::GuardedBuffer;

const uint8_t kSource4[4] = {10, 0, 0, 1};
const uint8_t kDestination4[4] = {192, 0, 2, 7};

// The TCP checksum over the IPv4 pseudo-header (RFC 9293 3.1), computed
// from scratch. 0 over a segment with a correct checksum in place.
uint16_t tcp_ipv4_checksum(const std::vector<uint8_t>& segment) {
    std::vector<uint8_t> all(kSource4, kSource4 + 4);
    all.insert(all.end(), kDestination4, kDestination4 + 4);
    all.insert(all.end(), {0, 6, static_cast<uint8_t>(segment.size() >> 8), static_cast<uint8_t>(segment.size())});
    all.insert(all.end(), segment.begin(), segment.end());
    return internet_checksum(all.data(), all.size());
}

// Made with scapy 2.5: IP(src="10.0.0.1", dst="192.0.2.7")/TCP(sport=40000,
// dport=443, seq=1000, flags="S", window=64240, options=[("MSS", 1460),
// ("SAckOK", b""), ("Timestamp", (12345, 0)), ("NOP", None), ("WScale", 7)]),
// the TCP part; and the same with MSS 1360, checksum recomputed by scapy.
const std::vector<uint8_t> kSyn = {0x9c, 0x40, 0x01, 0xbb, 0x00, 0x00, 0x03, 0xe8, 0x00, 0x00, 0x00, 0x00, 0xa0, 0x02,
                                   0xfa, 0xf0, 0xae, 0xea, 0x00, 0x00, 0x02, 0x04, 0x05, 0xb4, 0x04, 0x02, 0x08, 0x0a,
                                   0x00, 0x00, 0x30, 0x39, 0x00, 0x00, 0x00, 0x00, 0x01, 0x03, 0x03, 0x07};
const std::vector<uint8_t> kSynClamped1360 = {0x9c, 0x40, 0x01, 0xbb, 0x00, 0x00, 0x03, 0xe8, 0x00, 0x00,
                                              0x00, 0x00, 0xa0, 0x02, 0xfa, 0xf0, 0xaf, 0x4e, 0x00, 0x00,
                                              0x02, 0x04, 0x05, 0x50, 0x04, 0x02, 0x08, 0x0a, 0x00, 0x00,
                                              0x30, 0x39, 0x00, 0x00, 0x00, 0x00, 0x01, 0x03, 0x03, 0x07};

// Made with scapy 2.5: the same addresses, TCP(sport=40000, dport=443, seq=7,
// flags="S", options=[("NOP", None), ("MSS", 1460), ("NOP", None) x3]): the
// MSS value starts at byte 23, an odd offset; and the same with MSS 1200.
const std::vector<uint8_t> kSynOddMss = {0x9c, 0x40, 0x01, 0xbb, 0x00, 0x00, 0x00, 0x07, 0x00, 0x00,
                                         0x00, 0x00, 0x70, 0x02, 0x20, 0x00, 0x4b, 0xc6, 0x00, 0x00,
                                         0x01, 0x02, 0x04, 0x05, 0xb4, 0x01, 0x01, 0x01};
const std::vector<uint8_t> kSynOddMssClamped1200 = {0x9c, 0x40, 0x01, 0xbb, 0x00, 0x00, 0x00, 0x07, 0x00, 0x00,
                                                    0x00, 0x00, 0x70, 0x02, 0x20, 0x00, 0x4f, 0xc7, 0x00, 0x00,
                                                    0x01, 0x02, 0x04, 0x04, 0xb0, 0x01, 0x01, 0x01};

// Made with scapy 2.5: IPv6(src="2001:db8::10", dst="2001:db8::20")/TCP(
// sport=443, dport=50000, seq=5, ack=9, flags="SA", options=[("MSS", 1440),
// ("NOP", None), ("WScale", 8)]), the TCP part; and the same with MSS 1380.
const uint8_t kSource6[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10};
const uint8_t kDestination6[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x20};
const std::vector<uint8_t> kSynAck6 = {0x01, 0xbb, 0xc3, 0x50, 0x00, 0x00, 0x00, 0x05, 0x00, 0x00,
                                       0x00, 0x09, 0x70, 0x12, 0x20, 0x00, 0x43, 0x60, 0x00, 0x00,
                                       0x02, 0x04, 0x05, 0xa0, 0x01, 0x03, 0x03, 0x08};
const std::vector<uint8_t> kSynAck6Clamped1380 = {0x01, 0xbb, 0xc3, 0x50, 0x00, 0x00, 0x00, 0x05, 0x00, 0x00,
                                                  0x00, 0x09, 0x70, 0x12, 0x20, 0x00, 0x43, 0x9c, 0x00, 0x00,
                                                  0x02, 0x04, 0x05, 0x64, 0x01, 0x03, 0x03, 0x08};

// A SYN from 10.0.0.1 to 192.0.2.7 with the given options (padded with EOL
// to a multiple of 4) and payload bytes, its checksum correct.
std::vector<uint8_t> syn_with_options(std::vector<uint8_t> options, size_t payload = 0, uint8_t flags = kTcpFlagSyn) {
    while (options.size() % 4) options.push_back(kTcpOptionEnd);
    std::vector<uint8_t> s(kTcpMinHeaderSize, 0);
    write_u16(s.data(), 40000);
    write_u16(s.data() + 2, 443);
    write_u32(s.data() + 4, 0x01020304);
    s[12] = static_cast<uint8_t>((kTcpMinHeaderSize + options.size()) / 4 << 4);
    s[13] = flags;
    write_u16(s.data() + 14, 65535);
    s.insert(s.end(), options.begin(), options.end());
    for (size_t i = 0; i < payload; ++i) s.push_back(static_cast<uint8_t>(0xA0 + i));
    write_u16(s.data() + 16, tcp_ipv4_checksum(s));
    return s;
}

// Asserts clamp_tcp_mss leaves the segment as it is and says so.
void assert_unchanged(std::vector<uint8_t> segment, uint16_t max_mss) {
    const auto before = segment;
    CPPUNIT_ASSERT(!clamp_tcp_mss(segment.data(), segment.size(), max_mss));
    CPPUNIT_ASSERT(segment == before);
}

// 0x0000 and 0xFFFF are both zero in ones' complement: a checksum may come
// out as either.
bool same_ones_complement(uint16_t a, uint16_t b) {
    return a == b || (a == 0 && b == 0xFFFF) || (a == 0xFFFF && b == 0);
}

}  // namespace

class TcpMssTest : public CppUnit::TestFixture {
    CPPUNIT_TEST_SUITE(TcpMssTest);
    CPPUNIT_TEST(testChecksumReplaceRfc1624Example);
    CPPUNIT_TEST(testChecksumReplaceMatchesRecomputation);
    CPPUNIT_TEST(testClampKnownIpv4Syn);
    CPPUNIT_TEST(testClampOddOffsetMss);
    CPPUNIT_TEST(testClampIpv6SynAck);
    CPPUNIT_TEST(testNoChangeAtOrBelowLimit);
    CPPUNIT_TEST(testOnlySynSegments);
    CPPUNIT_TEST(testNoMssOption);
    CPPUNIT_TEST(testMalformedOptionsChangeNothing);
    CPPUNIT_TEST(testStopsAtEndOfOptionList);
    CPPUNIT_TEST(testMssOfWrongLengthIsLeftAlone);
    CPPUNIT_TEST(testEveryMssOptionIsClamped);
    CPPUNIT_TEST(testBadDataOffset);
    CPPUNIT_TEST(testLongestOptionList);
    CPPUNIT_TEST(testNeverReadsPastSegment);
    CPPUNIT_TEST(testRandomSegmentsKeepValidChecksums);
    CPPUNIT_TEST_SUITE_END();

public:
    void testChecksumReplaceRfc1624Example() {
        // RFC 1624 4: m = 0x5555 becomes 0x3285 under HC = 0xDD2F; eqn 3 gives 0x0000.
        CPPUNIT_ASSERT_EQUAL(uint16_t(0x0000), checksum_replace_u16(0xDD2F, 0x5555, 0x3285));
        // No change, no change.
        CPPUNIT_ASSERT_EQUAL(uint16_t(0x1234), checksum_replace_u16(0x1234, 0xBEEF, 0xBEEF));
    }

    void testChecksumReplaceMatchesRecomputation() {
        std::mt19937 rng(1624);
        for (int i = 0; i < 2000; ++i) {
            std::vector<uint8_t> d(2 + rng() % 60 * 2);
            for (auto& b : d) b = static_cast<uint8_t>(rng());
            const size_t at = rng() % (d.size() / 2) * 2;
            const uint16_t before = internet_checksum(d.data(), d.size());
            const uint16_t old_word = load_u16(d.data() + at), new_word = static_cast<uint16_t>(rng());
            write_u16(d.data() + at, new_word);
            const uint16_t expected = internet_checksum(d.data(), d.size());
            const uint16_t got = checksum_replace_u16(before, old_word, new_word);
            CPPUNIT_ASSERT(same_ones_complement(expected, got));
        }
    }

    void testClampKnownIpv4Syn() {
        auto s = kSyn;
        CPPUNIT_ASSERT_EQUAL(uint16_t(0), tcp_ipv4_checksum(s));
        CPPUNIT_ASSERT(clamp_tcp_mss(s.data(), s.size(), 1360));
        CPPUNIT_ASSERT(s == kSynClamped1360);
        CPPUNIT_ASSERT_EQUAL(uint16_t(0), tcp_ipv4_checksum(s));
        // Clamping again to the same value changes nothing.
        assert_unchanged(s, 1360);
    }

    void testClampOddOffsetMss() {
        auto s = kSynOddMss;
        CPPUNIT_ASSERT(clamp_tcp_mss(s.data(), s.size(), 1200));
        CPPUNIT_ASSERT(s == kSynOddMssClamped1200);
        CPPUNIT_ASSERT_EQUAL(uint16_t(0), tcp_ipv4_checksum(s));
    }

    void testClampIpv6SynAck() {
        auto s = kSynAck6;
        CPPUNIT_ASSERT_EQUAL(uint16_t(0), ipv6_upper_layer_checksum(kSource6, kDestination6, 6, s.data(), s.size()));
        CPPUNIT_ASSERT(clamp_tcp_mss(s.data(), s.size(), 1380));
        CPPUNIT_ASSERT(s == kSynAck6Clamped1380);
        CPPUNIT_ASSERT_EQUAL(uint16_t(0), ipv6_upper_layer_checksum(kSource6, kDestination6, 6, s.data(), s.size()));
    }

    void testNoChangeAtOrBelowLimit() {
        assert_unchanged(kSyn, 1460);
        assert_unchanged(kSyn, 1461);
        assert_unchanged(kSyn, 0xFFFF);
        assert_unchanged(kSynOddMss, 1460);
        auto s = kSyn;
        CPPUNIT_ASSERT(clamp_tcp_mss(s.data(), s.size(), 1459));
        CPPUNIT_ASSERT_EQUAL(uint16_t(1459), load_u16(s.data() + 22));
        CPPUNIT_ASSERT_EQUAL(uint16_t(0), tcp_ipv4_checksum(s));
    }

    void testOnlySynSegments() {
        const std::vector<uint8_t> mss = {kTcpOptionMss, 4, 0x05, 0xb4};
        for (uint8_t flags : {0x10, 0x18, 0x01, 0x04, 0x00, 0xFD})
            assert_unchanged(syn_with_options(mss, 0, flags), 536);
        // SYN with other flags (SYN-ACK, SYN with ECE/CWR) is clamped.
        for (uint8_t flags : {0x02, 0x12, 0xC2}) {
            auto s = syn_with_options(mss, 0, flags);
            CPPUNIT_ASSERT(clamp_tcp_mss(s.data(), s.size(), 536));
            CPPUNIT_ASSERT_EQUAL(uint16_t(536), load_u16(s.data() + 22));
            CPPUNIT_ASSERT_EQUAL(uint16_t(0), tcp_ipv4_checksum(s));
        }
    }

    void testNoMssOption() {
        assert_unchanged(syn_with_options({}), 536);
        assert_unchanged(syn_with_options({kTcpOptionNop, kTcpOptionNop, 3, 3, 7}), 536);  // window scale only
        assert_unchanged(syn_with_options({4, 2, 8, 10, 0, 0, 0, 1, 0, 0, 0, 0}), 536);    // SACK-permitted, timestamps
    }

    void testMalformedOptionsChangeNothing() {
        // A good MSS option first, then the list goes wrong: nothing at all changes.
        const std::vector<uint8_t> mss = {kTcpOptionMss, 4, 0x05, 0xb4};
        auto with = [&](std::vector<uint8_t> tail) {
            std::vector<uint8_t> o = mss;
            o.insert(o.end(), tail.begin(), tail.end());
            return o;
        };
        assert_unchanged(syn_with_options(with({3, 0, 0, 0})), 536);  // length 0
        assert_unchanged(syn_with_options(with({3, 1, 0, 0})), 536);  // length 1
        assert_unchanged(syn_with_options(with({3, 5, 0, 0})), 536);  // past the header by one
        assert_unchanged(syn_with_options(with({8, 0xFF, 0, 0})), 536);
        // A kind with no room for its length byte, in the header's last byte.
        assert_unchanged(syn_with_options(with({kTcpOptionNop, kTcpOptionNop, kTcpOptionNop, 30})), 536);
        // Malformed before the MSS option.
        std::vector<uint8_t> before = {5, 1, 0, 0};
        before.insert(before.end(), mss.begin(), mss.end());
        assert_unchanged(syn_with_options(before), 536);
        // The MSS option itself overruns.
        assert_unchanged(syn_with_options({kTcpOptionNop, kTcpOptionNop, kTcpOptionMss, 4, 0x05, 0xb4, kTcpOptionNop,
                                           kTcpOptionNop, kTcpOptionNop, kTcpOptionNop, kTcpOptionMss, 4}),
                         536);
    }

    void testStopsAtEndOfOptionList() {
        // RFC 9293 3.1: after EOL the rest is padding, whatever it holds.
        auto s = syn_with_options({kTcpOptionEnd, 0, 0, 0, kTcpOptionMss, 4, 0x05, 0xb4});
        assert_unchanged(s, 536);
        // Garbage after EOL does not make the list malformed.
        s = syn_with_options({kTcpOptionMss, 4, 0x05, 0xb4, kTcpOptionEnd, 0x07, 0x00, 0x01});
        CPPUNIT_ASSERT(clamp_tcp_mss(s.data(), s.size(), 536));
        CPPUNIT_ASSERT_EQUAL(uint16_t(536), load_u16(s.data() + 22));
        CPPUNIT_ASSERT_EQUAL(uint16_t(0), tcp_ipv4_checksum(s));
    }

    void testMssOfWrongLengthIsLeftAlone() {
        // Kind 2 with length 6 is skipped whole; the real MSS option behind it is clamped.
        auto s = syn_with_options({kTcpOptionMss, 6, 0x05, 0xb4, 0x05, 0xb4, kTcpOptionMss, 4, 0x05, 0xb4});
        CPPUNIT_ASSERT(clamp_tcp_mss(s.data(), s.size(), 1000));
        CPPUNIT_ASSERT_EQUAL(uint16_t(1460), load_u16(s.data() + 22));
        CPPUNIT_ASSERT_EQUAL(uint16_t(1000), load_u16(s.data() + 28));
        CPPUNIT_ASSERT_EQUAL(uint16_t(0), tcp_ipv4_checksum(s));
        assert_unchanged(syn_with_options({kTcpOptionMss, 3, 0xFF, kTcpOptionNop}), 1000);
    }

    void testEveryMssOptionIsClamped() {
        auto s = syn_with_options({kTcpOptionMss, 4, 0x05, 0xb4, kTcpOptionNop, kTcpOptionMss, 4, 0x23, 0x28});
        CPPUNIT_ASSERT(clamp_tcp_mss(s.data(), s.size(), 1400));
        CPPUNIT_ASSERT_EQUAL(uint16_t(1400), load_u16(s.data() + 22));
        CPPUNIT_ASSERT_EQUAL(uint16_t(1400), load_u16(s.data() + 27));
        CPPUNIT_ASSERT_EQUAL(uint16_t(0), tcp_ipv4_checksum(s));
    }

    void testBadDataOffset() {
        auto s = kSyn;
        for (uint8_t offset = 0; offset < 5; ++offset) {
            s[12] = static_cast<uint8_t>(offset << 4);
            assert_unchanged(s, 536);
        }
        // The header says 40 bytes; fewer are there.
        for (size_t len = 0; len < kSyn.size(); ++len) {
            std::vector<uint8_t> cut(kSyn.begin(), kSyn.begin() + static_cast<long>(len));
            assert_unchanged(cut, 536);
        }
    }

    void testLongestOptionList() {
        // Data offset 15: 40 bytes of options, MSS in the last four.
        std::vector<uint8_t> options(36, kTcpOptionNop);
        options.insert(options.end(), {kTcpOptionMss, 4, 0xFF, 0xFF});
        auto s = syn_with_options(options, 100);
        CPPUNIT_ASSERT_EQUAL(uint8_t(0xF0), s[12]);
        CPPUNIT_ASSERT(clamp_tcp_mss(s.data(), s.size(), 1220));
        CPPUNIT_ASSERT_EQUAL(uint16_t(1220), load_u16(s.data() + 58));
        CPPUNIT_ASSERT_EQUAL(uint16_t(0), tcp_ipv4_checksum(s));
        CPPUNIT_ASSERT_EQUAL(uint8_t(0xA0), s[60]);  // payload untouched
    }

    void testNeverReadsPastSegment() {
        // Every prefix of each segment, ending at an unreadable page: only the
        // whole header is clamped. Also option lists whose last option claims
        // more than is there.
        GuardedBuffer guard;
        std::vector<std::vector<uint8_t>> segments = {kSyn, kSynOddMss, kSynAck6};
        std::vector<uint8_t> overrun(kSyn);
        overrun[38] = 40;  // window scale at byte 37 claiming 40 bytes
        segments.push_back(overrun);
        for (const auto& seg : segments) {
            const size_t header = static_cast<size_t>(seg[12] >> 4) * 4;
            for (size_t len = 0; len <= seg.size(); ++len) {
                uint8_t* p = guard.place(seg.data(), len);
                const bool changed = clamp_tcp_mss(p, len, 536);
                CPPUNIT_ASSERT_EQUAL(len >= header && &seg != &segments.back(), changed);
            }
        }
    }

    void testRandomSegmentsKeepValidChecksums() {
        // Random option lists of NOPs, MSS options and other options at every
        // alignment: after clamping the checksum still verifies and every MSS
        // is min(old, limit).
        std::mt19937 rng(6691);
        for (int i = 0; i < 3000; ++i) {
            std::vector<uint8_t> options;
            std::vector<size_t> mss_at;
            while (options.size() < 32) {
                switch (rng() % 4) {
                    case 0:
                        options.push_back(kTcpOptionNop);
                        break;
                    case 1: {
                        mss_at.push_back(kTcpMinHeaderSize + options.size() + 2);
                        const uint16_t v = static_cast<uint16_t>(rng());
                        options.insert(options.end(),
                                       {kTcpOptionMss, 4, static_cast<uint8_t>(v >> 8), static_cast<uint8_t>(v)});
                        break;
                    }
                    case 2: {
                        const uint8_t len = static_cast<uint8_t>(2 + rng() % 6);
                        options.push_back(static_cast<uint8_t>(3 + rng() % 250));
                        options.push_back(len);
                        for (int k = 2; k < len; ++k) options.push_back(static_cast<uint8_t>(rng()));
                        break;
                    }
                    default:
                        options.push_back(kTcpOptionNop);
                        options.push_back(kTcpOptionNop);
                        break;
                }
            }
            if (options.size() > 40) continue;
            auto s = syn_with_options(options, rng() % 30);
            std::vector<uint16_t> before;
            for (size_t at : mss_at) before.push_back(load_u16(s.data() + at));
            const uint16_t limit = static_cast<uint16_t>(rng());
            const bool changed = clamp_tcp_mss(s.data(), s.size(), limit);
            bool expect_change = false;
            for (size_t k = 0; k < mss_at.size(); ++k) {
                CPPUNIT_ASSERT_EQUAL(std::min(before[k], limit), load_u16(s.data() + mss_at[k]));
                expect_change |= before[k] > limit;
            }
            CPPUNIT_ASSERT_EQUAL(expect_change, changed);
            CPPUNIT_ASSERT_EQUAL(uint16_t(0), tcp_ipv4_checksum(s));
        }
    }
};

CPPUNIT_TEST_SUITE_REGISTRATION(TcpMssTest);

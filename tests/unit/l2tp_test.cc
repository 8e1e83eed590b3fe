// L2TPv2 data headers (RFC 2661 3.1), PPP framing (RFC 1661 6.5/6.6, RFC 1662
// 3.2) and IPv4 fragmentation (RFC 791 3.2): every optional field, every
// error, no read past the buffer.
#include <cppunit/extensions/HelperMacros.h>

#include <cstring>
#include <vector>

#include "common/proto/byte_reader.h"
#include "common/proto/ipv4.h"
#include "common/proto/l2tp.h"

using namespace conc::proto;

class L2tpTest : public CppUnit::TestFixture {
    CPPUNIT_TEST_SUITE(L2tpTest);
    CPPUNIT_TEST(minimal_data_header);
    CPPUNIT_TEST(all_optional_fields);
    CPPUNIT_TEST(length_shorter_than_datagram_trims);
    CPPUNIT_TEST(control_message_ids);
    CPPUNIT_TEST(errors);
    CPPUNIT_TEST(every_truncation_is_caught);
    CPPUNIT_TEST(written_header_parses_back);
    CPPUNIT_TEST(ppp_framings);
    CPPUNIT_TEST(ppp_errors);
    CPPUNIT_TEST(fragments_cover_the_packet);
    CPPUNIT_TEST(fragment_refusals);
    CPPUNIT_TEST(only_copied_options_follow);
    CPPUNIT_TEST_SUITE_END();

public:
    void minimal_data_header() {
        const uint8_t p[] = {0x00, 0x02, 0x12, 0x34, 0x56, 0x78, 0xFF, 0x03};
        L2tpHeader h;
        CPPUNIT_ASSERT(parse_l2tp(p, sizeof p, h) == L2tpError::Ok);
        CPPUNIT_ASSERT(!h.is_control());
        CPPUNIT_ASSERT_EQUAL(uint16_t{0x1234}, h.tunnel_id);
        CPPUNIT_ASSERT_EQUAL(uint16_t{0x5678}, h.session_id);
        CPPUNIT_ASSERT_EQUAL(uint16_t{6}, h.payload_offset);
        CPPUNIT_ASSERT_EQUAL(uint16_t{2}, h.payload_len);
    }

    void all_optional_fields() {
        // T=0 L=1 S=1 O=1 P=1, ver 2; length, ids, Ns, Nr, offset size 3 + pad.
        const uint8_t p[] = {0x4B, 0x02, 0x00, 0x14, 0x00, 0x01, 0x00, 0x02, 0x00, 0x05, 0x00, 0x06,
                             0x00, 0x03, 0xAA, 0xAA, 0xAA, 0xFF, 0x03, 0x21};
        L2tpHeader h;
        CPPUNIT_ASSERT(parse_l2tp(p, sizeof p, h) == L2tpError::Ok);
        CPPUNIT_ASSERT(h.has_sequence());
        CPPUNIT_ASSERT_EQUAL(uint16_t{5}, h.ns);
        CPPUNIT_ASSERT_EQUAL(uint16_t{6}, h.nr);
        CPPUNIT_ASSERT_EQUAL(uint16_t{17}, h.payload_offset);
        CPPUNIT_ASSERT_EQUAL(uint16_t{3}, h.payload_len);
    }

    void length_shorter_than_datagram_trims() {
        const uint8_t p[] = {0x40, 0x02, 0x00, 0x09, 0x00, 0x01, 0x00, 0x02, 0x21, 0xEE, 0xEE};
        L2tpHeader h;
        CPPUNIT_ASSERT(parse_l2tp(p, sizeof p, h) == L2tpError::Ok);
        CPPUNIT_ASSERT_EQUAL(uint16_t{1}, h.payload_len);  // the two trailing bytes are not the message's
    }

    void control_message_ids() {
        const uint8_t p[] = {0xC8, 0x02, 0x00, 0x0C, 0x00, 0x09, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00};
        L2tpHeader h;
        CPPUNIT_ASSERT(parse_l2tp(p, sizeof p, h) == L2tpError::Ok);
        CPPUNIT_ASSERT(h.is_control());
        CPPUNIT_ASSERT_EQUAL(uint16_t{9}, h.tunnel_id);
    }

    void errors() {
        L2tpHeader h;
        const uint8_t v3[] = {0x00, 0x03, 0, 1, 0, 2};
        CPPUNIT_ASSERT(parse_l2tp(v3, sizeof v3, h) == L2tpError::BadVersion);
        const uint8_t too_long[] = {0x40, 0x02, 0x00, 0x20, 0, 1, 0, 2};
        CPPUNIT_ASSERT(parse_l2tp(too_long, sizeof too_long, h) == L2tpError::BadLength);
        const uint8_t length_inside_header[] = {0x40, 0x02, 0x00, 0x04, 0, 1, 0, 2};
        CPPUNIT_ASSERT(parse_l2tp(length_inside_header, sizeof length_inside_header, h) == L2tpError::BadLength);
        const uint8_t offset_past_end[] = {0x02, 0x02, 0, 1, 0, 2, 0x00, 0x09, 0xAA};
        CPPUNIT_ASSERT(parse_l2tp(offset_past_end, sizeof offset_past_end, h) == L2tpError::BadOffset);
    }

    void every_truncation_is_caught() {
        const std::vector<uint8_t> full = {0x4B, 0x02, 0x00, 0x11, 0x00, 0x01, 0x00, 0x02, 0x00,
                                           0x05, 0x00, 0x06, 0x00, 0x02, 0xAA, 0xAA, 0x21};
        for (size_t len = 0; len < 14; ++len) {
            // Exactly len bytes on the heap: ASan would see a read past them.
            std::vector<uint8_t> cut(full.begin(), full.begin() + static_cast<long>(len));
            L2tpHeader h;
            CPPUNIT_ASSERT(parse_l2tp(cut.data(), cut.size(), h) != L2tpError::Ok);
        }
    }

    void written_header_parses_back() {
        for (bool sequencing : {false, true}) {
            uint8_t p[10];
            write_l2tp_data_header(p, 0xBEEF, 0x0102, sequencing, 77);
            L2tpHeader h;
            CPPUNIT_ASSERT(parse_l2tp(p, l2tp_data_header_size(sequencing), h) == L2tpError::Ok);
            CPPUNIT_ASSERT_EQUAL(uint16_t{0xBEEF}, h.tunnel_id);
            CPPUNIT_ASSERT_EQUAL(uint16_t{0x0102}, h.session_id);
            CPPUNIT_ASSERT_EQUAL(sequencing, h.has_sequence());
            if (sequencing) CPPUNIT_ASSERT_EQUAL(uint16_t{77}, h.ns);
            CPPUNIT_ASSERT_EQUAL(uint16_t(l2tp_data_header_size(sequencing)), h.payload_offset);
        }
    }

    void ppp_framings() {
        PppFrame f;
        const uint8_t full[] = {0xFF, 0x03, 0x00, 0x21, 0x45};
        CPPUNIT_ASSERT(parse_ppp(full, sizeof full, f) == PppError::Ok);
        CPPUNIT_ASSERT_EQUAL(kPppIpv4, f.protocol);
        CPPUNIT_ASSERT_EQUAL(uint16_t{4}, f.payload_offset);
        const uint8_t acfc[] = {0x00, 0x57, 0x60};
        CPPUNIT_ASSERT(parse_ppp(acfc, sizeof acfc, f) == PppError::Ok);
        CPPUNIT_ASSERT_EQUAL(kPppIpv6, f.protocol);
        CPPUNIT_ASSERT_EQUAL(uint16_t{2}, f.payload_offset);
        const uint8_t pfc[] = {0xFF, 0x03, 0x21, 0x45};
        CPPUNIT_ASSERT(parse_ppp(pfc, sizeof pfc, f) == PppError::Ok);
        CPPUNIT_ASSERT_EQUAL(kPppIpv4, f.protocol);
        CPPUNIT_ASSERT_EQUAL(uint16_t{3}, f.payload_offset);
        const uint8_t both[] = {0x21, 0x45};
        CPPUNIT_ASSERT(parse_ppp(both, sizeof both, f) == PppError::Ok);
        CPPUNIT_ASSERT_EQUAL(uint16_t{1}, f.payload_offset);
        const uint8_t lcp[] = {0xC0, 0x21, 0x09};
        CPPUNIT_ASSERT(parse_ppp(lcp, sizeof lcp, f) == PppError::Ok);
        CPPUNIT_ASSERT_EQUAL(uint16_t{0xC021}, f.protocol);
        uint8_t written[4];
        write_ppp_header(written, kPppIpv6);
        CPPUNIT_ASSERT(parse_ppp(written, sizeof written, f) == PppError::Ok);
        CPPUNIT_ASSERT_EQUAL(kPppIpv6, f.protocol);
    }

    void ppp_errors() {
        PppFrame f;
        const uint8_t even[] = {0x00, 0x20};
        CPPUNIT_ASSERT(parse_ppp(even, sizeof even, f) == PppError::BadProtocol);
        const uint8_t only_address_control[] = {0xFF, 0x03};
        CPPUNIT_ASSERT(parse_ppp(only_address_control, sizeof only_address_control, f) == PppError::Truncated);
        const uint8_t half[] = {0xFF, 0x03, 0x00};
        CPPUNIT_ASSERT(parse_ppp(half, sizeof half, f) == PppError::Truncated);
        CPPUNIT_ASSERT(parse_ppp(half, 0, f) == PppError::Truncated);
    }

    void fragments_cover_the_packet() {
        // 20-byte header + 1000 bytes, MTU 400: 376 + 376 + 248.
        std::vector<uint8_t> ip(1020);
        for (size_t i = 20; i < ip.size(); ++i) ip[i] = static_cast<uint8_t>(i);
        write_ipv4_header(ip.data(), 0x01020304, 0x05060708, 17, 1020, 64, 99, 0);
        std::vector<uint8_t> reassembled(1000);
        size_t offset = 0, next = 0, pieces = 0;
        do {
            uint8_t out[400];
            const size_t len = write_ipv4_fragment(out, sizeof out, ip.data(), ip.size(), offset, 400, next);
            CPPUNIT_ASSERT(len > 20 && len <= 400);
            Ipv4Header h;
            CPPUNIT_ASSERT(parse_ipv4(out, len, h) == Ipv4Error::Ok);  // checksum and lengths right
            CPPUNIT_ASSERT_EQUAL(uint16_t{99}, h.identification);
            CPPUNIT_ASSERT_EQUAL(next != 0, (h.flags_fragment & kIpv4MoreFragments) != 0);
            CPPUNIT_ASSERT_EQUAL(offset, (h.flags_fragment & kIpv4FragmentOffsetMask) * size_t{8});
            std::memcpy(&reassembled[offset], out + 20, len - 20);
            offset = next;
            ++pieces;
        } while (next);
        CPPUNIT_ASSERT_EQUAL(size_t{3}, pieces);
        CPPUNIT_ASSERT(std::equal(reassembled.begin(), reassembled.end(), ip.begin() + 20));
    }

    void fragment_refusals() {
        std::vector<uint8_t> ip(100);
        size_t next;
        uint8_t out[200];
        write_ipv4_header(ip.data(), 1, 2, 17, 100, 64, 1, kIpv4DontFragment);
        CPPUNIT_ASSERT_EQUAL(size_t{0}, write_ipv4_fragment(out, sizeof out, ip.data(), ip.size(), 0, 60, next));
        write_ipv4_header(ip.data(), 1, 2, 17, 100, 64, 1, 0);
        CPPUNIT_ASSERT_EQUAL(size_t{0}, write_ipv4_fragment(out, sizeof out, ip.data(), ip.size(), 0, 27, next));  // < header + 8
        CPPUNIT_ASSERT_EQUAL(size_t{0}, write_ipv4_fragment(out, 30, ip.data(), ip.size(), 0, 60, next));  // out too small
        CPPUNIT_ASSERT_EQUAL(size_t{0}, write_ipv4_fragment(out, sizeof out, ip.data(), ip.size(), 4, 60, next));  // not /8
        CPPUNIT_ASSERT_EQUAL(size_t{0}, write_ipv4_fragment(out, sizeof out, ip.data(), 10, 0, 60, next));  // truncated
        // A fragment of a fragment keeps its place and its MF bit.
        write_ipv4_header(ip.data(), 1, 2, 17, 100, 64, 1, kIpv4MoreFragments | 10);
        const size_t len = write_ipv4_fragment(out, sizeof out, ip.data(), ip.size(), 40, 60, next);
        CPPUNIT_ASSERT_EQUAL(size_t{60}, len);
        CPPUNIT_ASSERT_EQUAL(uint16_t(kIpv4MoreFragments | (10 + 5)), load_u16(out + 6));
        // One at the last offset the field holds with 80 bytes after it ends
        // past 65535: its second piece's offset would spill into the flags.
        write_ipv4_header(ip.data(), 1, 2, 17, 100, 64, 1, kIpv4FragmentOffsetMask);
        CPPUNIT_ASSERT_EQUAL(size_t{0}, write_ipv4_fragment(out, sizeof out, ip.data(), ip.size(), 0, 60, next));
        // Ending at 65535 exactly is still a datagram.
        write_ipv4_header(ip.data(), 1, 2, 17, 100, 64, 1, (0xFFFF - 80) / 8);
        CPPUNIT_ASSERT(write_ipv4_fragment(out, sizeof out, ip.data(), ip.size(), 40, 60, next) > 0);
        CPPUNIT_ASSERT_EQUAL(uint16_t((0xFFFF - 80) / 8 + 5), load_u16(out + 6));
    }

    void only_copied_options_follow() {
        // 32-byte header: Record Route (7, not copied, 7 bytes) + Router Alert
        // (148, copied, 4 bytes) + EOL; 200 bytes of payload, MTU 128.
        std::vector<uint8_t> ip(32 + 200, 0);
        const uint8_t options[] = {7, 7, 4, 0, 0, 0, 0, 148, 4, 0, 0, 0};
        write_ipv4_header(ip.data(), 1, 2, 17, static_cast<uint16_t>(ip.size()), 64, 1, 0);
        ip[0] = 0x48;
        std::memcpy(&ip[20], options, sizeof options);
        write_u16(&ip[10], 0);
        write_u16(&ip[10], internet_checksum(ip.data(), 32));
        uint8_t first[128], second[128];
        size_t next = 0;
        CPPUNIT_ASSERT(write_ipv4_fragment(first, sizeof first, ip.data(), ip.size(), 0, 128, next) > 0);
        CPPUNIT_ASSERT_EQUAL(0, std::memcmp(first + 20, options, sizeof options));  // the first keeps all
        CPPUNIT_ASSERT(write_ipv4_fragment(second, sizeof second, ip.data(), ip.size(), next, 128, next) > 0);
        const uint8_t expected[] = {1, 1, 1, 1, 1, 1, 1, 148, 4, 0, 0, 0};
        CPPUNIT_ASSERT_EQUAL(0, std::memcmp(second + 20, expected, sizeof expected));
        Ipv4Header h;
        CPPUNIT_ASSERT(parse_ipv4(second, 128, h) == Ipv4Error::Ok);
        CPPUNIT_ASSERT_EQUAL(uint8_t{32}, h.header_length);
    }
};

CPPUNIT_TEST_SUITE_REGISTRATION(L2tpTest);

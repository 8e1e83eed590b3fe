#include "common/proto/ipv4.h"

#include <arpa/inet.h>

#include <cstring>

#include "common/proto/byte_reader.h"

namespace conc::proto {

void write_ipv4_header(uint8_t* p, uint32_t source, uint32_t destination, uint8_t protocol, uint16_t total_length,
                       uint8_t ttl, uint16_t identification, uint16_t flags_fragment) {
    p[0] = 0x45;
    p[1] = 0;
    write_u16(p + 2, total_length);
    write_u16(p + 4, identification);
    write_u16(p + 6, flags_fragment);
    p[8] = ttl;
    p[9] = protocol;
    std::memcpy(p + 12, &source, 4);
    std::memcpy(p + 16, &destination, 4);
    // Summed from the values, not read back: loading words over the byte
    // stores just made stalls store forwarding (6% of a downstream packet).
    const uint32_t s = ntohl(source), d = ntohl(destination);
    uint32_t sum = 0x4500u + total_length + identification + flags_fragment + (uint32_t{ttl} << 8 | protocol) +
                   (s >> 16) + (s & 0xFFFF) + (d >> 16) + (d & 0xFFFF);
    sum = (sum & 0xFFFF) + (sum >> 16);
    sum = (sum & 0xFFFF) + (sum >> 16);
    write_u16(p + 10, static_cast<uint16_t>(~sum));
}

size_t write_ipv4_fragment(uint8_t* out, size_t cap, const uint8_t* ip, size_t len, size_t offset, uint16_t mtu,
                           size_t& next) {
    next = 0;
    Ipv4Header h;
    if (parse_ipv4(ip, len, h) != Ipv4Error::Ok || (h.flags_fragment & kIpv4DontFragment)) return 0;
    const size_t payload_total = h.total_length - h.header_length;
    const size_t original_offset = (h.flags_fragment & kIpv4FragmentOffsetMask) * 8u;
    if (mtu < h.header_length + 8u || offset >= payload_total || offset % 8) return 0;
    // A fragment reaching past the largest datagram (RFC 791: 65535 bytes)
    // has pieces whose offset the 13-bit field cannot hold.
    if (original_offset + payload_total > 0xFFFF) return 0;
    const size_t max_chunk = (mtu - h.header_length) / 8 * 8;
    const size_t chunk = payload_total - offset < max_chunk ? payload_total - offset : max_chunk;
    const size_t fragment_len = h.header_length + chunk;
    if (fragment_len > cap) return 0;
    const bool more = offset + chunk < payload_total;
    // A fragment of a fragment keeps the original's place and its MF bit.
    const bool original_more = h.flags_fragment & kIpv4MoreFragments;
    std::memcpy(out, ip, h.header_length);
    // RFC 791 3.1: only options with the copied flag go into fragments after
    // the first; the others become NOPs, so the header keeps its length.
    if (original_offset + offset > 0) {
        for (size_t at = kIpv4MinHeaderSize; at < h.header_length;) {
            const uint8_t type = out[at];
            if (type == 0) break;  // end of option list
            if (type == 1) {
                ++at;
                continue;
            }
            const size_t option_len = at + 1 < h.header_length ? out[at + 1] : 0;
            if (option_len < 2 || at + option_len > h.header_length) {  // malformed: blank the rest
                std::memset(out + at, 1, h.header_length - at);
                break;
            }
            if (!(type & 0x80)) std::memset(out + at, 1, option_len);
            at += option_len;
        }
    }
    std::memcpy(out + h.header_length, ip + h.header_length + offset, chunk);
    write_u16(out + 2, static_cast<uint16_t>(fragment_len));
    write_u16(out + 6, static_cast<uint16_t>(((more || original_more) ? kIpv4MoreFragments : 0) |
                                             ((original_offset + offset) / 8)));
    write_u16(out + 10, 0);
    write_u16(out + 10, internet_checksum(out, h.header_length));
    next = more ? offset + chunk : 0;
    return fragment_len;
}

}  // namespace conc::proto

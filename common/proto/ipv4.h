// Ethernet, IPv4 and UDP headers: bounds-checked parsing and writing. The
// data plane parses every received frame with these and builds every header
// it sends with these, so one function owns each layout.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "common/proto/byte_reader.h"

namespace conc::proto {

inline constexpr size_t kEthernetHeaderSize = 14;
inline constexpr uint16_t kEtherTypeIpv4 = 0x0800;
inline constexpr uint16_t kEtherTypeArp = 0x0806;
inline constexpr uint16_t kEtherTypeIpv6 = 0x86DD;
inline constexpr size_t kIpv4MinHeaderSize = 20;
inline constexpr size_t kUdpHeaderSize = 8;
inline constexpr uint16_t kIpv4MoreFragments = 0x2000;
inline constexpr uint16_t kIpv4DontFragment = 0x4000;
inline constexpr uint16_t kIpv4FragmentOffsetMask = 0x1FFF;

enum class Ipv4Error : uint8_t { Ok, Truncated, BadVersion, BadHeaderLength, BadTotalLength, BadChecksum };

// Addresses stay in network byte order (as uint32 loaded from the wire
// unchanged), so comparing with stored addresses needs no swap.
struct Ipv4Header {
    uint8_t header_length;   // bytes, 20..60
    uint8_t tos;
    uint16_t total_length;
    uint16_t identification;
    uint16_t flags_fragment; // flags and fragment offset, host order
    uint8_t ttl;
    uint8_t protocol;
    uint32_t source;         // network byte order
    uint32_t destination;    // network byte order

    bool is_fragment() const { return (flags_fragment & (kIpv4MoreFragments | kIpv4FragmentOffsetMask)) != 0; }
    bool has_options() const { return header_length > kIpv4MinHeaderSize; }
};

// Parses the IPv4 header at p (len bytes available, which may include
// Ethernet padding after the datagram). Verifies version, lengths and the
// header checksum.
inline Ipv4Error parse_ipv4(const uint8_t* p, size_t len, Ipv4Header& out);

// Internet checksum (RFC 1071) of len bytes, folded and complemented, in host
// order (write it with write_u16). Inline: every header on the fast path is
// checked or written with it.
inline uint16_t internet_checksum(const uint8_t* p, size_t len) {
    // RFC 1071 2(B): the sum is byte-order independent, so add 32-bit words
    // as the CPU loads them and swap once at the end.
    uint64_t sum = 0;
    size_t i = 0;
    for (; i + 4 <= len; i += 4) {
        uint32_t word;
        std::memcpy(&word, p + i, 4);
        sum += word;
    }
    if (i + 2 <= len) {
        uint16_t half;
        std::memcpy(&half, p + i, 2);
        sum += half;
        i += 2;
    }
    if (i < len) {
        uint16_t last = 0;
        std::memcpy(&last, p + i, 1);  // the odd byte is the high byte in network order
        sum += last;
    }
    sum = (sum & 0xFFFFFFFF) + (sum >> 32);
    sum = (sum & 0xFFFF) + (sum >> 16);
    sum = (sum & 0xFFFF) + (sum >> 16);
    sum = (sum & 0xFFFF) + (sum >> 16);
    uint16_t bytes = static_cast<uint16_t>(~sum);  // network order in memory
    uint8_t b[2];
    std::memcpy(b, &bytes, 2);
    return static_cast<uint16_t>(b[0] << 8 | b[1]);
}

// RFC 1624 3, eqn 3: a checksum (host order) after one 16-bit word it covers
// changed from old_word to new_word. The word must sit at an even offset
// from the start of the checksummed data; for one at an odd offset pass both
// values byte-swapped (RFC 1071 2(B)).
inline uint16_t checksum_replace_u16(uint16_t checksum, uint16_t old_word, uint16_t new_word) {
    uint32_t sum = static_cast<uint16_t>(~checksum);
    sum += static_cast<uint16_t>(~old_word);
    sum += new_word;
    sum = (sum & 0xFFFF) + (sum >> 16);
    sum = (sum & 0xFFFF) + (sum >> 16);
    return static_cast<uint16_t>(~sum);
}

// A router hop on an IPv4 header whose checksum was verified and whose TTL
// is above 1: the TTL goes down by one and the checksum is updated for that
// word alone (RFC 1624 3; RFC 1141's use of it). Summing the header again
// would read the two fields just stored, which the CPU cannot forward from
// its store buffer to a wider load: a stall of tens of cycles per packet.
inline void decrement_ipv4_ttl(uint8_t* ip) {
    const uint16_t old_word = load_u16(ip + 8);  // TTL, protocol
    const uint16_t new_word = static_cast<uint16_t>(old_word - 0x100);
    write_u16(ip + 10, checksum_replace_u16(load_u16(ip + 10), old_word, new_word));
    ip[8] = static_cast<uint8_t>(new_word >> 8);
}

// Writes a 20-byte IPv4 header (no options) with its checksum.
// Addresses in network byte order.
void write_ipv4_header(uint8_t* p, uint32_t source, uint32_t destination, uint8_t protocol, uint16_t total_length,
                       uint8_t ttl, uint16_t identification, uint16_t flags_fragment);

// RFC 1122 3.2.2 and 3.2.1.3: neither "this network" (0/8), loopback,
// multicast, class E nor the limited broadcast names one host. Network order.
inline bool ipv4_names_one_host(uint32_t address) {
    uint8_t first;
    std::memcpy(&first, &address, 1);  // the first byte in memory is the first octet
    return first != 0 && first != 127 && first < 224;
}

// RFC 791 3.2 fragmentation: writes the fragment of the IPv4 packet (ip, len)
// whose payload starts at byte offset, sized for mtu, into out; next is set to
// the following fragment's offset, or 0 after the last. Returns the
// fragment's length, 0 if it cannot be made (DF set, MTU below the header +
// 8 bytes, out too small, packet unparsable, a fragment whose end lies past
// 65535 bytes). Fragments after the first keep
// only the options marked to be copied; the others become NOPs.
size_t write_ipv4_fragment(uint8_t* out, size_t cap, const uint8_t* ip, size_t len, size_t offset, uint16_t mtu,
                           size_t& next);

struct UdpHeader {
    uint16_t source_port;       // host order
    uint16_t destination_port;  // host order
    uint16_t length;
    uint16_t checksum;
};

// Parses a UDP header; the UDP length must fit in len.
inline bool parse_udp(const uint8_t* p, size_t len, UdpHeader& out);

// Writes a UDP header with checksum 0 (allowed for IPv4, RFC 768; RFC 3948
// 2.1 for ESP-in-UDP). Ports in host order. Inline and one 8-byte store:
// every packet meets it, and ESP's 16-byte loads of the datagram follow.
inline void write_udp_header(uint8_t* p, uint16_t source_port, uint16_t destination_port, uint16_t length) {
    write_u64(p, uint64_t{source_port} << 48 | uint64_t{destination_port} << 32 | uint64_t{length} << 16);
}

// Inline: every forwarded packet meets it, and out of line it was a call for five stores.
inline void write_ethernet_header(uint8_t* p, const uint8_t destination[6], const uint8_t source[6],
                                  uint16_t ether_type) {
    std::memcpy(p, destination, 6);
    std::memcpy(p + 6, source, 6);
    write_u16(p + 12, ether_type);
}

// The parsers are inline: every packet meets them, and called out of line
// their results would go through memory (as in parse_l2tp, l2tp.h).
inline Ipv4Error parse_ipv4(const uint8_t* p, size_t len, Ipv4Header& out) {
    if (len < kIpv4MinHeaderSize) return Ipv4Error::Truncated;
    if (p[0] >> 4 != 4) return Ipv4Error::BadVersion;
    out.header_length = static_cast<uint8_t>((p[0] & 0x0F) * 4);
    if (out.header_length < kIpv4MinHeaderSize) return Ipv4Error::BadHeaderLength;
    if (len < out.header_length) return Ipv4Error::Truncated;
    out.tos = p[1];
    out.total_length = load_u16(p + 2);
    if (out.total_length < out.header_length || out.total_length > len) return Ipv4Error::BadTotalLength;
    // Nearly every header has no options: summed at a constant length, the loop unrolls to five adds.
    const uint16_t checksum = out.header_length == kIpv4MinHeaderSize ? internet_checksum(p, kIpv4MinHeaderSize)
                                                                       : internet_checksum(p, out.header_length);
    if (checksum != 0) return Ipv4Error::BadChecksum;
    out.identification = load_u16(p + 4);
    out.flags_fragment = load_u16(p + 6);
    out.ttl = p[8];
    out.protocol = p[9];
    std::memcpy(&out.source, p + 12, 4);
    std::memcpy(&out.destination, p + 16, 4);
    return Ipv4Error::Ok;
}

inline bool parse_udp(const uint8_t* p, size_t len, UdpHeader& out) {
    if (len < kUdpHeaderSize) return false;
    out.source_port = load_u16(p);
    out.destination_port = load_u16(p + 2);
    out.length = load_u16(p + 4);
    out.checksum = load_u16(p + 6);
    return out.length >= kUdpHeaderSize && out.length <= len;
}

}  // namespace conc::proto

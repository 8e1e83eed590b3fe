#include "common/proto/ipv6.h"

#include <cstring>

#include "common/proto/byte_reader.h"
#include "common/proto/ipv4.h"

namespace conc::proto {

Ipv6Error parse_ipv6(const uint8_t* p, size_t len, Ipv6Header& out) {
    if (len < kIpv6HeaderSize) return Ipv6Error::Truncated;
    if (p[0] >> 4 != 6) return Ipv6Error::BadVersion;
    const uint32_t first_word = load_u32(p);
    out.traffic_class = static_cast<uint8_t>(first_word >> 20);
    out.flow_label = first_word & 0xFFFFF;
    out.payload_length = load_u16(p + 4);
    if (out.payload_length > len - kIpv6HeaderSize) return Ipv6Error::BadPayloadLength;
    out.next_header = p[6];
    out.hop_limit = p[7];
    std::memcpy(out.source, p + 8, 16);
    std::memcpy(out.destination, p + 24, 16);
    return Ipv6Error::Ok;
}

void write_ipv6_header(uint8_t* p, const uint8_t source[16], const uint8_t destination[16], uint8_t next_header,
                       uint16_t payload_length, uint8_t hop_limit, uint8_t traffic_class, uint32_t flow_label) {
    write_u32(p, uint32_t{6} << 28 | uint32_t{traffic_class} << 20 | (flow_label & 0xFFFFF));
    write_u16(p + 4, payload_length);
    p[6] = next_header;
    p[7] = hop_limit;
    std::memcpy(p + 8, source, 16);
    std::memcpy(p + 24, destination, 16);
}

bool find_ipv6_upper_layer(const uint8_t* p, const Ipv6Header& header, Ipv6UpperLayer& out) {
    const size_t end = kIpv6HeaderSize + header.payload_length;
    uint8_t next = header.next_header;
    size_t offset = kIpv6HeaderSize;
    out.non_first_fragment = false;
    // Each step moves at least 8 bytes forward, so the loop ends by the payload length.
    for (;;) {
        size_t length;
        if (next == kIpv6HopByHop || next == kIpv6Routing || next == kIpv6DestinationOptions) {
            if (end - offset < 2) return false;
            length = (size_t{p[offset + 1]} + 1) * 8;  // RFC 8200 4.3: 8-octet units, not counting the first 8
        } else if (next == kIpv6AuthenticationHeader) {
            if (end - offset < 2) return false;
            length = (size_t{p[offset + 1]} + 2) * 4;  // RFC 4302 2.2: 4-octet units, minus 2
        } else if (next == kIpv6Fragment) {
            length = 8;
        } else {
            break;  // upper layer, ESP or No Next Header
        }
        if (end - offset < length) return false;
        // RFC 8200 4.5: a fragment offset other than 0 means the upper-layer header is in another fragment.
        if (next == kIpv6Fragment && (load_u16(p + offset + 2) & 0xFFF8) != 0) out.non_first_fragment = true;
        next = p[offset];
        offset += length;
        if (out.non_first_fragment) break;
    }
    out.protocol = next;
    out.offset = offset;
    return true;
}

uint16_t ipv6_upper_layer_checksum(const uint8_t source[16], const uint8_t destination[16], uint8_t next_header,
                                   const uint8_t* message, size_t len) {
    // Ones' complement addition is associative: the message's folded sum plus
    // the pseudo-header's words (addresses, 32-bit length, next header).
    uint64_t sum = static_cast<uint16_t>(~internet_checksum(message, len));
    for (size_t i = 0; i < 16; i += 2) sum += load_u16(source + i) + load_u16(destination + i);
    sum += (len >> 16) & 0xFFFF;
    sum += len & 0xFFFF;
    sum += next_header;
    sum = (sum & 0xFFFF) + (sum >> 16);
    sum = (sum & 0xFFFF) + (sum >> 16);
    sum = (sum & 0xFFFF) + (sum >> 16);
    return static_cast<uint16_t>(~sum);
}

bool ipv6_address_in_prefix(const uint8_t address[16], const uint8_t prefix[16], unsigned prefix_length) {
    if (prefix_length > 128) return false;
    const unsigned whole = prefix_length / 8, bits = prefix_length % 8;
    if (std::memcmp(address, prefix, whole) != 0) return false;
    if (bits == 0) return true;
    const uint8_t mask = static_cast<uint8_t>(0xFF << (8 - bits));
    return ((address[whole] ^ prefix[whole]) & mask) == 0;
}

bool ipv6_is_unspecified(const uint8_t address[16]) {
    static constexpr uint8_t kZero[16] = {};
    return std::memcmp(address, kZero, 16) == 0;
}

void ipv6_multicast_mac(const uint8_t group[16], uint8_t mac[6]) {
    mac[0] = 0x33;
    mac[1] = 0x33;
    std::memcpy(mac + 2, group + 12, 4);
}

}  // namespace conc::proto

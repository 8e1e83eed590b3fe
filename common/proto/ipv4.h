// Ethernet, IPv4 and UDP headers: bounds-checked parsing and writing. The
// data plane parses every received frame with these and builds every header
// it sends with these, so one function owns each layout.
#pragma once

#include <cstddef>
#include <cstdint>

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
Ipv4Error parse_ipv4(const uint8_t* p, size_t len, Ipv4Header& out);

// Internet checksum (RFC 1071) of len bytes, folded and complemented.
uint16_t internet_checksum(const uint8_t* p, size_t len);

// Writes a 20-byte IPv4 header (no options) with its checksum.
// Addresses in network byte order.
void write_ipv4_header(uint8_t* p, uint32_t source, uint32_t destination, uint8_t protocol, uint16_t total_length,
                       uint8_t ttl, uint16_t identification, uint16_t flags_fragment);

struct UdpHeader {
    uint16_t source_port;       // host order
    uint16_t destination_port;  // host order
    uint16_t length;
    uint16_t checksum;
};

// Parses a UDP header; the UDP length must fit in len.
bool parse_udp(const uint8_t* p, size_t len, UdpHeader& out);

// Writes a UDP header with checksum 0 (allowed for IPv4, RFC 768; RFC 3948
// 2.1 for ESP-in-UDP). Ports in host order.
void write_udp_header(uint8_t* p, uint16_t source_port, uint16_t destination_port, uint16_t length);

void write_ethernet_header(uint8_t* p, const uint8_t destination[6], const uint8_t source[6], uint16_t ether_type);

}  // namespace conc::proto

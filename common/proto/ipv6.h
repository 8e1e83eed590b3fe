// IPv6 (RFC 8200) header: bounds-checked parsing and writing, the walk over
// extension headers to the upper-layer header, the upper-layer checksum with
// its pseudo-header, and prefix matching. Addresses stay as the 16 bytes on
// the wire.
#pragma once

#include <cstddef>
#include <cstdint>

namespace conc::proto {

inline constexpr size_t kIpv6HeaderSize = 40;
inline constexpr size_t kIpv6AddressSize = 16;
inline constexpr size_t kIpv6MinimumMtu = 1280;  // RFC 8200 5
inline constexpr uint8_t kIpv6HopByHop = 0;
inline constexpr uint8_t kIpv6Routing = 43;
inline constexpr uint8_t kIpv6Fragment = 44;
inline constexpr uint8_t kIpv6AuthenticationHeader = 51;
inline constexpr uint8_t kIpv6NoNextHeader = 59;
inline constexpr uint8_t kIpv6DestinationOptions = 60;

enum class Ipv6Error : uint8_t { Ok, Truncated, BadVersion, BadPayloadLength };

struct Ipv6Header {
    uint8_t traffic_class;
    uint32_t flow_label;      // 20 bits, host order
    uint16_t payload_length;  // bytes after the 40-byte header, extension headers included
    uint8_t next_header;
    uint8_t hop_limit;
    uint8_t source[16];
    uint8_t destination[16];
};

// Parses the IPv6 header at p (len bytes available, which may include
// Ethernet padding after the packet). The payload length must fit in len;
// jumbograms (payload length 0 with a Jumbo option, RFC 2675) are not
// supported and parse as an empty payload.
Ipv6Error parse_ipv6(const uint8_t* p, size_t len, Ipv6Header& out);

// Writes a 40-byte IPv6 header (version 6).
void write_ipv6_header(uint8_t* p, const uint8_t source[16], const uint8_t destination[16], uint8_t next_header,
                       uint16_t payload_length, uint8_t hop_limit, uint8_t traffic_class = 0, uint32_t flow_label = 0);

struct Ipv6UpperLayer {
    uint8_t protocol;         // next header value after the extension headers
    size_t offset;            // from the start of the IPv6 header
    bool non_first_fragment;  // offset is past a Fragment header with a non-zero offset: no upper-layer header here
};

// Walks the Hop-by-Hop, Routing, Destination Options, Fragment and AH
// extension headers of a packet parse_ipv6 accepted (p and header from that
// call) to the upper-layer header. False when an extension header runs past
// the payload length.
bool find_ipv6_upper_layer(const uint8_t* p, const Ipv6Header& header, Ipv6UpperLayer& out);

// RFC 8200 8.1: the checksum of an upper-layer message (ICMPv6, TCP, UDP)
// of len bytes with the pseudo-header in front, in host order. Over a
// message with its checksum in place the result is 0.
uint16_t ipv6_upper_layer_checksum(const uint8_t source[16], const uint8_t destination[16], uint8_t next_header,
                                   const uint8_t* message, size_t len);

// True when the first prefix_length bits of address equal those of prefix.
// A prefix_length above 128 matches nothing.
bool ipv6_address_in_prefix(const uint8_t address[16], const uint8_t prefix[16], unsigned prefix_length);

// RFC 4291 2.5.2 and 2.7.
bool ipv6_is_unspecified(const uint8_t address[16]);
inline bool ipv6_is_multicast(const uint8_t address[16]) { return address[0] == 0xFF; }

// RFC 2464 7: the Ethernet address of an IPv6 multicast group, 33:33 and
// the group's last 32 bits.
void ipv6_multicast_mac(const uint8_t group[16], uint8_t mac[6]);

}  // namespace conc::proto

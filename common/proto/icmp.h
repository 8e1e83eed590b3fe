// ICMP (RFC 792, RFC 1191) and ICMPv6 (RFC 4443) messages the data plane
// sends itself: "fragmentation needed" and "packet too big" for packets that
// do not fit the tunnel, and echo replies for pings to our own addresses.
// Each builder writes a whole IP packet (no Ethernet header) into out and
// returns its length, or 0 when nothing should be sent or cap is too small.
#pragma once

#include <cstddef>
#include <cstdint>

namespace conc::proto {

inline constexpr uint8_t kIpProtoIcmp = 1;
inline constexpr uint8_t kIpProtoIcmpv6 = 58;
inline constexpr size_t kIcmpHeaderSize = 8;  // type, code, checksum, 4 bytes rest-of-header
inline constexpr uint8_t kIcmpEchoReply = 0;
inline constexpr uint8_t kIcmpDestinationUnreachable = 3;
inline constexpr uint8_t kIcmpFragmentationNeeded = 4;  // code of Destination Unreachable
inline constexpr uint8_t kIcmpEchoRequest = 8;
inline constexpr uint8_t kIcmpv6PacketTooBig = 2;
inline constexpr uint8_t kIcmpv6EchoRequest = 128;
inline constexpr uint8_t kIcmpv6EchoReply = 129;
inline constexpr uint8_t kOriginatedTtl = 64;  // TTL and hop limit of what we originate (RFC 1700)

// RFC 792 / RFC 1191 4: Destination Unreachable, Fragmentation Needed and DF
// set, from our_address to the source of offending_ipv4, with next_hop_mtu
// and the offending IP header plus the first 8 bytes of its payload. 0 when
// the offending packet does not parse or must not be answered with an error
// (RFC 1122 3.2.2: an ICMP error, a non-first fragment, a source that is not
// one host, a multicast or broadcast destination). Addresses in network
// byte order.
size_t build_icmpv4_frag_needed(uint8_t* out, size_t cap, const uint8_t* offending_ipv4, size_t offending_len,
                                uint32_t our_address, uint16_t next_hop_mtu);

// RFC 4443 3.2: Packet Too Big from our_address to the source of
// offending_ipv6, quoting as much of it as keeps the whole packet within
// 1280 bytes. 0 when the offending packet does not parse or must not be
// answered (RFC 4443 2.4(e): an ICMPv6 error, an unspecified or multicast
// source; a multicast destination is answered, as 2.4(e.3) allows).
size_t build_icmpv6_packet_too_big(uint8_t* out, size_t cap, const uint8_t* offending_ipv6, size_t len,
                                   const uint8_t our_address[16], uint32_t mtu);

// RFC 792 echo reply to request_ipv4, an echo request the caller found
// addressed to us: addresses swapped, type 0, TTL 64, same identifier,
// sequence number and data. 0 unless the request is a whole, unfragmented,
// checksummed echo request between unicast addresses. Requests with IP
// options are not answered: RFC 1122 3.2.2.6 wants a source route reversed
// and record route updated, and RFC 7126 advises dropping those anyway.
// out may be request_ipv4 itself, to answer in place.
size_t build_icmpv4_echo_reply(uint8_t* out, size_t cap, const uint8_t* request_ipv4, size_t len);

// RFC 4443 4.2 echo reply to request_ipv6, likewise: type 129, hop limit 64.
// Requests with extension headers or to a multicast address are not
// answered. out may be request_ipv6 itself.
size_t build_icmpv6_echo_reply(uint8_t* out, size_t cap, const uint8_t* request_ipv6, size_t len);

}  // namespace conc::proto

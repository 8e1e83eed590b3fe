#include "common/proto/icmp.h"

#include <algorithm>
#include <cstring>

#include "common/proto/byte_reader.h"
#include "common/proto/ipv4.h"
#include "common/proto/ipv6.h"

namespace conc::proto {

namespace {

bool ipv6_names_one_host(const uint8_t address[16]) {
    static constexpr uint8_t kLoopback[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
    return !ipv6_is_unspecified(address) && !ipv6_is_multicast(address) && std::memcmp(address, kLoopback, 16) != 0;
}

// RFC 792/950/1256/1393 informational types; every other type, unknown ones
// included, is taken for an error and never answered with one (as Linux does).
bool is_icmpv4_query(uint8_t type) {
    return type == 0 || type == 8 || type == 9 || type == 10 || (type >= 13 && type <= 18);
}

void write_ipv4_reply_header(uint8_t* p, uint32_t source, uint32_t destination, uint16_t total_length,
                             uint16_t identification, uint8_t tos) {
    write_ipv4_header(p, source, destination, kIpProtoIcmp, total_length, kOriginatedTtl, identification, 0);
    p[1] = tos;
    p[10] = p[11] = 0;
    write_u16(p + 10, internet_checksum(p, kIpv4MinHeaderSize));
}

}  // namespace

size_t build_icmpv4_frag_needed(uint8_t* out, size_t cap, const uint8_t* offending_ipv4, size_t offending_len,
                                uint32_t our_address, uint16_t next_hop_mtu) {
    Ipv4Header h{};
    if (parse_ipv4(offending_ipv4, offending_len, h) != Ipv4Error::Ok) return 0;
    if ((h.flags_fragment & kIpv4FragmentOffsetMask) != 0) return 0;
    if (!ipv4_names_one_host(h.source) || !ipv4_names_one_host(h.destination)) return 0;
    const size_t payload = h.total_length - h.header_length;
    if (h.protocol == kIpProtoIcmp && (payload == 0 || !is_icmpv4_query(offending_ipv4[h.header_length]))) return 0;

    // RFC 792: the internet header plus the first 64 bits of the datagram's data.
    const size_t quote = h.header_length + std::min<size_t>(payload, 8);
    const size_t total = kIpv4MinHeaderSize + kIcmpHeaderSize + quote;
    if (cap < total) return 0;
    uint8_t* icmp = out + kIpv4MinHeaderSize;
    std::memmove(icmp + kIcmpHeaderSize, offending_ipv4, quote);  // first: out may overlap the offending packet
    icmp[0] = kIcmpDestinationUnreachable;
    icmp[1] = kIcmpFragmentationNeeded;
    write_u16(icmp + 2, 0);
    write_u16(icmp + 4, 0);
    write_u16(icmp + 6, next_hop_mtu);  // RFC 1191 4: low-order 16 bits of the rest-of-header
    write_u16(icmp + 2, internet_checksum(icmp, kIcmpHeaderSize + quote));
    write_ipv4_header(out, our_address, h.source, kIpProtoIcmp, static_cast<uint16_t>(total), kOriginatedTtl, 0, 0);
    return total;
}

size_t build_icmpv6_packet_too_big(uint8_t* out, size_t cap, const uint8_t* offending_ipv6, size_t len,
                                   const uint8_t our_address[16], uint32_t mtu) {
    Ipv6Header h{};
    if (parse_ipv6(offending_ipv6, len, h) != Ipv6Error::Ok) return 0;
    if (!ipv6_names_one_host(h.source)) return 0;
    Ipv6UpperLayer upper{};
    if (!find_ipv6_upper_layer(offending_ipv6, h, upper)) return 0;
    const size_t packet = kIpv6HeaderSize + h.payload_length;
    if (upper.protocol == kIpProtoIcmpv6 && !upper.non_first_fragment) {
        // RFC 4443 2.1: types 0-127 are errors. No type byte: not answered either.
        if (upper.offset >= packet || offending_ipv6[upper.offset] < 128) return 0;
    }

    const size_t quote = std::min(packet, kIpv6MinimumMtu - kIpv6HeaderSize - kIcmpHeaderSize);
    const size_t total = kIpv6HeaderSize + kIcmpHeaderSize + quote;
    if (cap < total) return 0;
    uint8_t source[16], destination[16];  // copies: out may overlap the offending packet or our_address
    std::memcpy(source, our_address, 16);
    std::memcpy(destination, h.source, 16);
    uint8_t* icmp = out + kIpv6HeaderSize;
    std::memmove(icmp + kIcmpHeaderSize, offending_ipv6, quote);
    icmp[0] = kIcmpv6PacketTooBig;
    icmp[1] = 0;
    write_u16(icmp + 2, 0);
    write_u32(icmp + 4, mtu);
    const size_t icmp_len = kIcmpHeaderSize + quote;
    write_u16(icmp + 2, ipv6_upper_layer_checksum(source, destination, kIpProtoIcmpv6, icmp, icmp_len));
    write_ipv6_header(out, source, destination, kIpProtoIcmpv6, static_cast<uint16_t>(icmp_len), kOriginatedTtl);
    return total;
}

size_t build_icmpv4_echo_reply(uint8_t* out, size_t cap, const uint8_t* request_ipv4, size_t len) {
    Ipv4Header h{};
    if (parse_ipv4(request_ipv4, len, h) != Ipv4Error::Ok) return 0;
    if (h.protocol != kIpProtoIcmp || h.is_fragment() || h.has_options()) return 0;
    if (!ipv4_names_one_host(h.source) || !ipv4_names_one_host(h.destination)) return 0;
    const uint8_t* request = request_ipv4 + kIpv4MinHeaderSize;
    const size_t icmp_len = h.total_length - kIpv4MinHeaderSize;
    if (icmp_len < kIcmpHeaderSize || request[0] != kIcmpEchoRequest || request[1] != 0) return 0;
    if (internet_checksum(request, icmp_len) != 0) return 0;
    if (cap < h.total_length) return 0;

    uint8_t* reply = out + kIpv4MinHeaderSize;
    std::memmove(reply, request, icmp_len);
    reply[0] = kIcmpEchoReply;
    write_u16(reply + 2, 0);
    write_u16(reply + 2, internet_checksum(reply, icmp_len));
    // RFC 1349 5.1: a reply keeps the request's TOS; the DSCP, that is, not the ECN bits (RFC 3168).
    write_ipv4_reply_header(out, h.destination, h.source, h.total_length, h.identification,
                            static_cast<uint8_t>(h.tos & 0xFC));
    return h.total_length;
}

size_t build_icmpv6_echo_reply(uint8_t* out, size_t cap, const uint8_t* request_ipv6, size_t len) {
    Ipv6Header h{};
    if (parse_ipv6(request_ipv6, len, h) != Ipv6Error::Ok) return 0;
    if (h.next_header != kIpProtoIcmpv6) return 0;
    if (!ipv6_names_one_host(h.source) || !ipv6_names_one_host(h.destination)) return 0;
    const uint8_t* request = request_ipv6 + kIpv6HeaderSize;
    const size_t icmp_len = h.payload_length;
    if (icmp_len < kIcmpHeaderSize || request[0] != kIcmpv6EchoRequest || request[1] != 0) return 0;
    if (ipv6_upper_layer_checksum(h.source, h.destination, kIpProtoIcmpv6, request, icmp_len) != 0) return 0;
    const size_t total = kIpv6HeaderSize + icmp_len;
    if (cap < total) return 0;

    uint8_t* reply = out + kIpv6HeaderSize;
    std::memmove(reply, request, icmp_len);
    reply[0] = kIcmpv6EchoReply;
    write_u16(reply + 2, 0);
    write_u16(reply + 2, ipv6_upper_layer_checksum(h.destination, h.source, kIpProtoIcmpv6, reply, icmp_len));
    write_ipv6_header(out, h.destination, h.source, kIpProtoIcmpv6, h.payload_length, kOriginatedTtl,
                      static_cast<uint8_t>(h.traffic_class & 0xFC));
    return total;
}

}  // namespace conc::proto

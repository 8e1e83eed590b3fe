#include "common/proto/nd.h"

#include <cstring>

#include "common/proto/byte_reader.h"
#include "common/proto/icmp.h"

namespace conc::proto {

namespace {

constexpr uint8_t kSolicitedNodePrefix[16] = {0xFF, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01, 0xFF, 0, 0, 0};
constexpr unsigned kSolicitedNodePrefixLength = 104;

// Both messages share a layout: type, code, checksum, 4 bytes of flags or
// reserved, the target, then one link-layer address option carrying our MAC.
size_t write_nd_frame(uint8_t* out, size_t cap, const uint8_t ethernet_destination[6], const uint8_t our_mac[6],
                      const uint8_t source[16], const uint8_t destination[16], uint8_t type, uint8_t flags,
                      const uint8_t target[16], uint8_t option) {
    if (cap < kNdFrameSize) return 0;
    // Copies first: the caller's addresses may sit in out.
    uint8_t eth_destination[6], mac[6], ip_source[16], ip_destination[16], target_address[16];
    std::memcpy(eth_destination, ethernet_destination, 6);
    std::memcpy(mac, our_mac, 6);
    std::memcpy(ip_source, source, 16);
    std::memcpy(ip_destination, destination, 16);
    std::memcpy(target_address, target, 16);

    constexpr size_t message_len = kNdMessageSize + kNdLinkLayerOptionSize;
    write_ethernet_header(out, eth_destination, mac, kEtherTypeIpv6);
    write_ipv6_header(out + kEthernetHeaderSize, ip_source, ip_destination, kIpProtoIcmpv6, message_len, kNdHopLimit);
    uint8_t* m = out + kEthernetHeaderSize + kIpv6HeaderSize;
    m[0] = type;
    m[1] = 0;
    write_u16(m + 2, 0);
    write_u32(m + 4, uint32_t{flags} << 24);
    std::memcpy(m + 8, target_address, 16);
    m[24] = option;
    m[25] = 1;  // in units of 8 bytes
    std::memcpy(m + 26, mac, 6);
    write_u16(m + 2, ipv6_upper_layer_checksum(ip_source, ip_destination, kIpProtoIcmpv6, m, message_len));
    return kNdFrameSize;
}

}  // namespace

void solicited_node_address(const uint8_t address[16], uint8_t group[16]) {
    uint8_t low[3];
    std::memcpy(low, address + 13, 3);
    std::memcpy(group, kSolicitedNodePrefix, 13);
    std::memcpy(group + 13, low, 3);
}

namespace {

// RFC 4861 7.1.1 and 7.1.2, what both messages must pass: ICMPv6 of the
// expected type right after the IPv6 header, at least 24 bytes, hop limit
// 255, code 0, a right checksum, a unicast target.
NdError validate_message(const uint8_t* p, size_t len, uint8_t type, Ipv6Header& h) {
    const Ipv6Error e = parse_ipv6(p, len, h);
    if (e == Ipv6Error::Truncated) return NdError::Truncated;
    if (e != Ipv6Error::Ok) return NdError::BadIpv6Header;
    if (h.next_header != kIpProtoIcmpv6) return NdError::WrongMessage;
    const uint8_t* m = p + kIpv6HeaderSize;
    const size_t m_len = h.payload_length;
    if (m_len >= 1 && m[0] != type) return NdError::WrongMessage;
    if (m_len < kNdMessageSize) return NdError::Truncated;
    if (h.hop_limit != kNdHopLimit) return NdError::BadHopLimit;
    if (m[1] != 0) return NdError::BadCode;
    if (ipv6_upper_layer_checksum(h.source, h.destination, kIpProtoIcmpv6, m, m_len) != 0) return NdError::BadChecksum;
    if (ipv6_is_multicast(m + 8)) return NdError::BadTarget;
    return NdError::Ok;
}

// RFC 4861 4.6: options are type, length in units of 8 bytes (0 is
// invalid), contents. Finds the first Ethernet (RFC 2464 8: length 1)
// link-layer address option of option_type; other lengths are not for us.
NdError find_link_layer_address(const uint8_t* m, size_t m_len, uint8_t option_type, bool& found, uint8_t mac[6]) {
    found = false;
    for (size_t i = kNdMessageSize; i < m_len;) {
        if (m_len - i < 2) return NdError::BadOption;
        const size_t option_len = size_t{m[i + 1]} * 8;
        if (option_len == 0 || option_len > m_len - i) return NdError::BadOption;
        if (m[i] == option_type && option_len == kNdLinkLayerOptionSize && !found) {
            std::memcpy(mac, m + i + 2, 6);
            found = true;
        }
        i += option_len;
    }
    return NdError::Ok;
}

}  // namespace

NdError parse_neighbor_solicitation(const uint8_t* p, size_t len, NeighborSolicitation& out) {
    Ipv6Header h{};
    if (NdError e = validate_message(p, len, kNdNeighborSolicitation, h); e != NdError::Ok) return e;
    if (ipv6_is_multicast(h.source)) return NdError::BadSourceAddress;
    const bool from_unspecified = ipv6_is_unspecified(h.source);
    if (from_unspecified && !ipv6_address_in_prefix(h.destination, kSolicitedNodePrefix, kSolicitedNodePrefixLength))
        return NdError::BadDestination;
    const uint8_t* m = p + kIpv6HeaderSize;
    NdError e = find_link_layer_address(m, h.payload_length, kNdOptionSourceLinkLayerAddress,
                                        out.has_source_link_layer_address, out.source_link_layer_address);
    if (e != NdError::Ok) return e;
    // RFC 4861 7.1.1: none in DAD, whose sender has no address yet.
    if (from_unspecified && out.has_source_link_layer_address) return NdError::BadOption;
    std::memcpy(out.source, h.source, 16);
    std::memcpy(out.destination, h.destination, 16);
    std::memcpy(out.target, m + 8, 16);
    return NdError::Ok;
}

NdError parse_neighbor_advertisement(const uint8_t* p, size_t len, NeighborAdvertisement& out) {
    Ipv6Header h{};
    if (NdError e = validate_message(p, len, kNdNeighborAdvertisement, h); e != NdError::Ok) return e;
    const uint8_t* m = p + kIpv6HeaderSize;
    out.flags = m[4];
    // RFC 4861 7.1.2: a solicited advertisement goes to the one who asked.
    if (ipv6_is_multicast(h.destination) && (out.flags & kNdAdvertisementSolicited)) return NdError::BadSolicitedFlag;
    NdError e = find_link_layer_address(m, h.payload_length, kNdOptionTargetLinkLayerAddress,
                                        out.has_target_link_layer_address, out.target_link_layer_address);
    if (e != NdError::Ok) return e;
    std::memcpy(out.source, h.source, 16);
    std::memcpy(out.target, m + 8, 16);
    return NdError::Ok;
}

size_t build_neighbor_advertisement(uint8_t* out_frame, size_t cap, const NeighborSolicitation& solicitation,
                                    const uint8_t our_mac[6], const uint8_t frame_source[6]) {
    static constexpr uint8_t kAllNodes[16] = {0xFF, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01};
    if (ipv6_is_unspecified(solicitation.source)) {
        // RFC 4861 7.2.4: answering DAD, to all-nodes and not solicited.
        uint8_t all_nodes_mac[6];
        ipv6_multicast_mac(kAllNodes, all_nodes_mac);
        return write_nd_frame(out_frame, cap, all_nodes_mac, our_mac, solicitation.target, kAllNodes,
                              kNdNeighborAdvertisement, kNdAdvertisementOverride, solicitation.target,
                              kNdOptionTargetLinkLayerAddress);
    }
    const uint8_t* destination_mac =
        solicitation.has_source_link_layer_address ? solicitation.source_link_layer_address : frame_source;
    return write_nd_frame(out_frame, cap, destination_mac, our_mac, solicitation.target, solicitation.source,
                          kNdNeighborAdvertisement, kNdAdvertisementSolicited | kNdAdvertisementOverride,
                          solicitation.target, kNdOptionTargetLinkLayerAddress);
}

size_t build_neighbor_solicitation(uint8_t* out_frame, size_t cap, const uint8_t our_mac[6],
                                   const uint8_t our_address[16], const uint8_t target[16]) {
    uint8_t group[16], group_mac[6];
    solicited_node_address(target, group);
    ipv6_multicast_mac(group, group_mac);
    return write_nd_frame(out_frame, cap, group_mac, our_mac, our_address, group, kNdNeighborSolicitation, 0, target,
                          kNdOptionSourceLinkLayerAddress);
}

}  // namespace conc::proto

// IPv6 Neighbor Discovery (RFC 4861) for our own addresses on Ethernet:
// validating the Neighbor Solicitations that ask for them, answering with
// Neighbor Advertisements, soliciting the neighbours we send to and reading
// their advertisements. Frames are whole Ethernet + IPv6 + ICMPv6.
#pragma once

#include <cstddef>
#include <cstdint>

#include "common/proto/ipv4.h"
#include "common/proto/ipv6.h"

namespace conc::proto {

inline constexpr uint8_t kNdNeighborSolicitation = 135;
inline constexpr uint8_t kNdNeighborAdvertisement = 136;
inline constexpr uint8_t kNdHopLimit = 255;  // RFC 4861 7.1: proves the sender is on the link
inline constexpr uint8_t kNdOptionSourceLinkLayerAddress = 1;
inline constexpr uint8_t kNdOptionTargetLinkLayerAddress = 2;
inline constexpr uint8_t kNdAdvertisementSolicited = 0x40;  // S flag
inline constexpr uint8_t kNdAdvertisementOverride = 0x20;   // O flag
inline constexpr size_t kNdMessageSize = 24;                // type, code, checksum, flags/reserved, target
inline constexpr size_t kNdLinkLayerOptionSize = 8;         // RFC 2464 8: type, length 1, 6-byte MAC
inline constexpr size_t kNdFrameSize = kEthernetHeaderSize + kIpv6HeaderSize + kNdMessageSize + kNdLinkLayerOptionSize;

enum class NdError : uint8_t {
    Ok,
    Truncated,                // IPv6 header, or an ICMPv6 message shorter than 24 bytes
    BadIpv6Header,            // version or payload length
    WrongMessage,             // not ICMPv6 right after the IPv6 header, or another type
    BadHopLimit,              // not 255: from off the link
    BadCode,
    BadChecksum,
    BadTarget,         // a multicast target
    BadSourceAddress,  // a multicast source
    BadDestination,    // from the unspecified address to other than a solicited-node group
    BadOption,         // length 0, running past the message, or a source link-layer address in DAD
    BadSolicitedFlag,  // an advertisement to a multicast group with the Solicited flag
};

struct NeighborSolicitation {
    uint8_t source[16];  // unspecified for duplicate address detection (RFC 4862 5.4.2)
    uint8_t destination[16];
    uint8_t target[16];
    bool has_source_link_layer_address;
    uint8_t source_link_layer_address[6];
};

// RFC 4861 7.1.1: validates the Neighbor Solicitation in the IPv6 packet at
// p (len may include Ethernet padding). Whether the target is ours is for
// the caller to check. Extension headers are not supported: WrongMessage.
NdError parse_neighbor_solicitation(const uint8_t* p, size_t len, NeighborSolicitation& out);

struct NeighborAdvertisement {
    uint8_t source[16];
    uint8_t target[16];
    uint8_t flags;  // kNdAdvertisementSolicited, kNdAdvertisementOverride (and R, 0x80)
    bool has_target_link_layer_address;
    uint8_t target_link_layer_address[6];
};

// RFC 4861 7.1.2: validates the Neighbor Advertisement in the IPv6 packet at
// p (len may include Ethernet padding), reading its Target Link-Layer
// Address option. Whether the target is a neighbour we asked for is for the caller.
NdError parse_neighbor_advertisement(const uint8_t* p, size_t len, NeighborAdvertisement& out);

// RFC 4861 7.2.4: the Neighbor Advertisement for solicitation's target from
// our_mac, with the Override flag and a Target Link-Layer Address option.
// Sent to the solicitation's source with the Solicited flag, to the MAC in
// its Source Link-Layer Address option or else to frame_source (the
// Ethernet source of the frame that carried it); a solicitation from the
// unspecified address (DAD) is answered to all-nodes without the Solicited
// flag. Returns kNdFrameSize, or 0 if cap is too small.
size_t build_neighbor_advertisement(uint8_t* out_frame, size_t cap, const NeighborSolicitation& solicitation,
                                    const uint8_t our_mac[6], const uint8_t frame_source[6]);

// RFC 4861 7.2.2: a multicast Neighbor Solicitation for target from
// our_address/our_mac, to target's solicited-node group and its Ethernet
// address, with a Source Link-Layer Address option. Returns kNdFrameSize, or
// 0 if cap is too small.
size_t build_neighbor_solicitation(uint8_t* out_frame, size_t cap, const uint8_t our_mac[6],
                                   const uint8_t our_address[16], const uint8_t target[16]);

// RFC 4291 2.7.1: ff02::1:ff00:0/104 with the low 24 bits of address.
void solicited_node_address(const uint8_t address[16], uint8_t group[16]);

}  // namespace conc::proto

#include "dataplane/local_delivery.h"

#include <cstring>

#include "common/proto/arp.h"
#include "common/proto/icmp.h"
#include "common/proto/ipv4.h"
#include "common/proto/ipv6.h"
#include "common/proto/nd.h"

namespace conc::dp {

void receive_arp(WorkerContext& ctx, PortState& port, TxBuffer& tx, rte_mbuf* m, const uint8_t* arp, size_t len) {
    proto::ArpPacket packet;
    if (proto::parse_arp(arp, len, packet) != proto::ArpError::Ok) {
        ++ctx.counters.rx_arp_ignored;
        rte_pktmbuf_free(m);
        return;
    }
    // RFC 826: whatever the operation, the sender told us its MAC.
    const bool learned = learn_ipv4_neighbor(ctx, port, packet.sender_ip, packet.sender_mac);
    if (packet.operation != proto::kArpOperationRequest || packet.target_ip != port.address) {
        if (!learned) ++ctx.counters.rx_arp_ignored;
        rte_pktmbuf_free(m);
        return;
    }
    // The reply is built into the request's own mbuf (60 bytes, from its start).
    if (!write_frame(m, proto::kEthernetMinFrameSize, [&](uint8_t* out, size_t cap) {
            return proto::build_arp_reply(out, cap, packet, port.mac);
        })) {
        ++ctx.counters.rx_arp_ignored;
        rte_pktmbuf_free(m);
        return;
    }
    ++ctx.counters.arp_replies;
    tx.add(m);
}

void receive_local_ipv4(WorkerContext& ctx, const PortState& port, TxBuffer& tx, rte_mbuf* m, uint8_t* ip,
                        size_t len) {
    const size_t reply = proto::build_icmpv4_echo_reply(ip, len, ip, len);
    if (reply == 0) {
        ++ctx.counters.rx_local_other_drops;
        rte_pktmbuf_free(m);
        return;
    }
    // Back to whoever handed us the request: its source MAC is the next hop.
    uint8_t* frame = rte_pktmbuf_mtod(m, uint8_t*);
    uint8_t requester[6];
    std::memcpy(requester, frame + 6, 6);
    proto::write_ethernet_header(frame, requester, port.mac, proto::kEtherTypeIpv4);
    rte_pktmbuf_trim(m, static_cast<uint16_t>(rte_pktmbuf_data_len(m) - proto::kEthernetHeaderSize - reply));
    ++ctx.counters.icmp_echo_replies;
    tx.add(m);
}

bool receive_local_ipv6(WorkerContext& ctx, PortState& port, TxBuffer& tx, rte_mbuf* m, uint8_t* ip, size_t len) {
    if (!port.has_ipv6_address() || len < proto::kIpv6HeaderSize) return false;
    // Multicast is never forwarded to clients: ND for us or others, router
    // advertisements, MLD all stop here.
    const uint8_t* destination = ip + 24;
    const bool to_us = std::memcmp(destination, port.ipv6_address, 16) == 0;
    if (!to_us && !proto::ipv6_is_multicast(destination)) return false;

    uint8_t* frame = rte_pktmbuf_mtod(m, uint8_t*);
    uint8_t frame_source[6];
    std::memcpy(frame_source, frame + 6, 6);
    const uint8_t type = len > proto::kIpv6HeaderSize && ip[6] == proto::kIpProtoIcmpv6 ? ip[proto::kIpv6HeaderSize] : 0;
    if (type == proto::kNdNeighborSolicitation) {
        proto::NeighborSolicitation ns;
        if (proto::parse_neighbor_solicitation(ip, len, ns) == proto::NdError::Ok) {
            // RFC 4861 7.2.3: the solicitor's link-layer address is worth keeping.
            if (ns.has_source_link_layer_address) learn_ipv6_neighbor(ctx, port, ns.source, ns.source_link_layer_address);
            if (std::memcmp(ns.target, port.ipv6_address, 16) == 0 &&
                write_frame(m, proto::kNdFrameSize, [&](uint8_t* out, size_t cap) {
                    return proto::build_neighbor_advertisement(out, cap, ns, port.mac, frame_source);
                })) {
                ++ctx.counters.nd_advertisements;
                tx.add(m);
                return true;
            }
        }
    } else if (type == proto::kNdNeighborAdvertisement) {
        proto::NeighborAdvertisement na;
        if (proto::parse_neighbor_advertisement(ip, len, na) == proto::NdError::Ok && na.has_target_link_layer_address &&
            learn_ipv6_neighbor(ctx, port, na.target, na.target_link_layer_address)) {
            rte_pktmbuf_free(m);
            return true;
        }
    } else if (to_us) {
        // Pings to our address are answered to whoever handed them to us; anything else is a counted drop.
        const size_t reply = proto::build_icmpv6_echo_reply(ip, len, ip, len);
        if (reply == 0) {
            ++ctx.counters.rx_local_other_drops;
            rte_pktmbuf_free(m);
            return true;
        }
        proto::write_ethernet_header(frame, frame_source, port.mac, proto::kEtherTypeIpv6);
        rte_pktmbuf_trim(m, static_cast<uint16_t>(rte_pktmbuf_data_len(m) - proto::kEthernetHeaderSize - reply));
        ++ctx.counters.icmp_echo_replies;
        tx.add(m);
        return true;
    }
    ++ctx.counters.rx_nd_ignored;
    rte_pktmbuf_free(m);
    return true;
}

}  // namespace conc::dp

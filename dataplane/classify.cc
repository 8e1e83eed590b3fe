// Access-port classification (DESIGN.md, upstream step 1): every frame is
// either ESP for decap, IKE for the control plane, a NAT keepalive, or a
// counted drop.
#include <rte_mbuf.h>

#include "common/proto/byte_reader.h"
#include "common/proto/esp.h"
#include "common/proto/ipv4.h"
#include "common/proto/ipv6.h"
#include "dataplane/local_delivery.h"
#include "dataplane/punt.h"
#include "dataplane/worker.h"

namespace conc::dp {

namespace {

enum class AccessClass : uint8_t { Esp, EspInUdp, Dropped, Consumed };

// IKE (UDP 500, or UDP 4500 behind the non-ESP marker) goes to the control plane.
AccessClass punt_ike(WorkerContext& ctx, rte_mbuf* m, const proto::Ipv4Header& ip, const proto::UdpHeader& udp,
                     const uint8_t* payload, size_t payload_len, bool natt) {
    ++ctx.counters.rx_ike_punts;
    shm::PuntHeader h{};
    h.kind = natt ? shm::PuntKind::IkeNatT : shm::PuntKind::Ike;
    h.port = 0;
    h.outer_source = ip.source;
    h.outer_destination = ip.destination;
    h.outer_source_port = rte_cpu_to_be_16(udp.source_port);
    h.outer_destination_port = rte_cpu_to_be_16(udp.destination_port);
    h.sa_index = shm::kNoIndex;
    h.session_index = shm::kNoIndex;
    const size_t skip = natt ? proto::kNonEspMarkerSize : 0;
    punt_to_control_plane(ctx, m, h, payload + skip, static_cast<uint16_t>(payload_len - skip));
    return AccessClass::Consumed;
}

AccessClass classify_frame(WorkerContext& ctx, rte_mbuf* m, uint16_t& esp_offset) {
    WorkerCounters& c = ctx.counters;
    const uint8_t* frame = rte_pktmbuf_mtod(m, const uint8_t*);
    const size_t len = rte_pktmbuf_data_len(m);
    const uint16_t ether_type = len >= proto::kEthernetHeaderSize ? proto::load_u16(frame + 12) : 0;
    if (ether_type == proto::kEtherTypeArp) {
        receive_arp(ctx, ctx.dp->access, ctx.access_tx, m, frame + proto::kEthernetHeaderSize,
                    len - proto::kEthernetHeaderSize);
        return AccessClass::Consumed;
    }
    if (ether_type == proto::kEtherTypeIpv6 && ctx.dp->access.has_ipv6_address()) {
        // Clients reach us over IPv4; IPv6 here is Neighbor Discovery and ping for our address.
        // Without an IPv6 address the port is IPv4 only: IPv6 counts as non-IP below.
        proto::Ipv6Header h;
        uint8_t* ip = const_cast<uint8_t*>(frame) + proto::kEthernetHeaderSize;
        if (proto::parse_ipv6(ip, len - proto::kEthernetHeaderSize, h) != proto::Ipv6Error::Ok) {
            ++c.rx_ip_header_drops;
            return AccessClass::Dropped;
        }
        if (receive_local_ipv6(ctx, ctx.dp->access, ctx.access_tx, m, ip, proto::kIpv6HeaderSize + h.payload_length))
            return AccessClass::Consumed;
        ++c.rx_not_local_drops;
        return AccessClass::Dropped;
    }
    if (ether_type != proto::kEtherTypeIpv4) {
        ++c.rx_non_ip_drops;
        return AccessClass::Dropped;
    }
    const uint8_t* l3 = frame + proto::kEthernetHeaderSize;
    proto::Ipv4Header ip;
    if (proto::parse_ipv4(l3, len - proto::kEthernetHeaderSize, ip) != proto::Ipv4Error::Ok) {
        ++c.rx_ip_header_drops;
        return AccessClass::Dropped;
    }
    if (ip.destination != ctx.dp->access.address) {
        ++c.rx_not_local_drops;
        return AccessClass::Dropped;
    }
    if (ip.is_fragment()) {
        ++c.rx_ip_fragment_drops;
        return AccessClass::Dropped;
    }
    if (ip.has_options()) {
        ++c.rx_ip_options_drops;
        return AccessClass::Dropped;
    }
    // Drop Ethernet padding so the frame ends where the datagram does.
    narrow_frame(m, frame, static_cast<uint16_t>(proto::kEthernetHeaderSize + ip.total_length));

    const uint16_t l4_offset = static_cast<uint16_t>(proto::kEthernetHeaderSize + ip.header_length);
    const uint8_t* l4 = frame + l4_offset;
    const size_t l4_len = ip.total_length - ip.header_length;
    if (ip.protocol == proto::kIpProtoEsp) {
        esp_offset = l4_offset;
        return AccessClass::Esp;
    }
    if (ip.protocol != proto::kIpProtoUdp) {
        receive_local_ipv4(ctx, ctx.dp->access, ctx.access_tx, m, const_cast<uint8_t*>(l3), ip.total_length);
        return AccessClass::Consumed;
    }
    proto::UdpHeader udp;
    if (!proto::parse_udp(l4, l4_len, udp)) {
        ++c.rx_udp_header_drops;
        return AccessClass::Dropped;
    }
    const uint8_t* payload = l4 + proto::kUdpHeaderSize;
    const size_t payload_len = udp.length - proto::kUdpHeaderSize;
    if (udp.destination_port == proto::kIkePort) return punt_ike(ctx, m, ip, udp, payload, payload_len, false);
    if (udp.destination_port != proto::kNatTPort) {
        ++c.rx_other_drops;
        return AccessClass::Dropped;
    }
    // RFC 3948 2.2/2.3: keepalive, IKE behind the non-ESP marker, or ESP.
    if (payload_len == 1 && payload[0] == proto::kNatKeepalive) {
        ++c.rx_natt_keepalive_drops;
        return AccessClass::Dropped;
    }
    if (payload_len >= proto::kNonEspMarkerSize && proto::load_u32(payload) == 0)
        return punt_ike(ctx, m, ip, udp, payload, payload_len, true);
    if (payload_len < proto::kEspHeaderSize) {
        ++c.rx_esp_truncated_drops;
        return AccessClass::Dropped;
    }
    // The UDP length may be shorter than the IP payload; ESP ends with UDP.
    narrow_frame(m, frame, static_cast<uint16_t>(l4_offset + udp.length));
    esp_offset = static_cast<uint16_t>(l4_offset + proto::kUdpHeaderSize);
    return AccessClass::EspInUdp;
}

}  // namespace

void access_receive(WorkerContext& ctx, rte_mbuf** packets, uint16_t n) {
    EspBatch batch;
    ctx.counters.rx_access_packets += n;
    for (uint16_t i = 0; i < n; ++i) {
        rte_mbuf* m = packets[i];
        if (m->nb_segs > 1 && rte_pktmbuf_linearize(m) != 0) {
            ++ctx.counters.rx_other_drops;
            rte_pktmbuf_free(m);
            continue;
        }
        uint16_t esp_offset = 0;
        const AccessClass kind = classify_frame(ctx, m, esp_offset);
        switch (kind) {
            case AccessClass::Esp:
            case AccessClass::EspInUdp:
                batch.mbuf[batch.count] = m;
                batch.esp_offset[batch.count] = esp_offset;
                batch.udp_encap[batch.count] = kind == AccessClass::EspInUdp;
                ++batch.count;
                ++ctx.counters.rx_esp_packets;
                ctx.counters.rx_esp_udp_packets += kind == AccessClass::EspInUdp;
                break;
            case AccessClass::Dropped:
                rte_pktmbuf_free(m);
                break;
            case AccessClass::Consumed:  // answered or dropped by local delivery
                break;
        }
    }
    if (batch.count) receive_esp(ctx, batch);
}

}  // namespace conc::dp

// Downstream (DESIGN.md, downstream), a burst at a time: a core-port packet is
// looked up by destination among the clients' addresses and prefixes, its TTL
// decremented, TCP MSS clamped, checked against the session's PPP MTU (DF or
// IPv6: ICMP "too big" back to the sender; otherwise fragmented), wrapped in
// PPP + L2TP + UDP 1701 and handed to ESP with the session's outbound SA.
#include <cstring>

#include <rte_mbuf.h>

#include "common/proto/byte_reader.h"
#include "common/proto/icmp.h"
#include "common/proto/ipv4.h"
#include "common/proto/ipv6.h"
#include "common/proto/l2tp.h"
#include "common/proto/tcp_mss.h"
#include "dataplane/local_delivery.h"
#include "dataplane/worker.h"

namespace conc::dp {

namespace {

struct CorePacket {
    uint8_t* ip;
    uint16_t ip_len;
    bool ipv6;
};

enum class CoreFrame : uint8_t { Forward, Drop, Consumed };

// Validates the frame and finds the packet in it (the caller narrows the frame
// to it, Ethernet padding dropped, once it is to be wrapped); answers ARP, Neighbor
// Discovery and pings for the core port's own addresses. Drop = counted, the caller frees.
CoreFrame parse_core_frame(WorkerContext& ctx, rte_mbuf* m, CorePacket& out, uint32_t& ipv4_destination) {
    WorkerCounters& c = ctx.counters;
    if (m->nb_segs > 1 && rte_pktmbuf_linearize(m) != 0) return ++c.rx_other_drops, CoreFrame::Drop;
    uint8_t* frame = rte_pktmbuf_mtod(m, uint8_t*);
    const size_t len = rte_pktmbuf_data_len(m);
    if (len < proto::kEthernetHeaderSize) return ++c.rx_non_ip_drops, CoreFrame::Drop;
    const uint16_t ether_type = proto::load_u16(frame + 12);
    out.ip = frame + proto::kEthernetHeaderSize;
    const size_t available = len - proto::kEthernetHeaderSize;
    if (ether_type == proto::kEtherTypeArp) {
        receive_arp(ctx, ctx.dp->core, ctx.core_tx, m, out.ip, available);
        return CoreFrame::Consumed;
    }
    if (ether_type == proto::kEtherTypeIpv4) {
        proto::Ipv4Header h;
        if (proto::parse_ipv4(out.ip, available, h) != proto::Ipv4Error::Ok)
            return ++c.rx_ip_header_drops, CoreFrame::Drop;
        if (h.destination == ctx.dp->core.address) {
            receive_local_ipv4(ctx, ctx.dp->core, ctx.core_tx, m, out.ip, h.total_length);
            return CoreFrame::Consumed;
        }
        out.ip_len = h.total_length;
        out.ipv6 = false;
        ipv4_destination = h.destination;
    } else if (ether_type == proto::kEtherTypeIpv6) {
        proto::Ipv6Header h;
        if (proto::parse_ipv6(out.ip, available, h) != proto::Ipv6Error::Ok)
            return ++c.rx_ip_header_drops, CoreFrame::Drop;
        out.ip_len = static_cast<uint16_t>(proto::kIpv6HeaderSize + h.payload_length);
        if (receive_local_ipv6(ctx, ctx.dp->core, ctx.core_tx, m, out.ip, out.ip_len)) return CoreFrame::Consumed;
        out.ipv6 = true;
        ipv4_destination = 0;
    } else {
        return ++c.rx_non_ip_drops, CoreFrame::Drop;
    }
    return CoreFrame::Forward;  // the frame is narrowed to the packet when it is wrapped
}

// RFC 1191 / RFC 8201: tells the sender the path MTU; false if no ICMP was
// due (ICMP errors are not answered with ICMP errors) or no mbuf was free.
bool send_too_big(WorkerContext& ctx, const CorePacket& p, uint16_t mtu) {
    rte_mbuf* reply = rte_pktmbuf_alloc(ctx.dp->pool);
    if (!reply) return false;
    uint8_t* out = rte_pktmbuf_mtod(reply, uint8_t*);
    const size_t room = rte_pktmbuf_tailroom(reply);
    size_t len;
    if (p.ipv6) {
        // ICMPv6 errors need a source address of ours (RFC 4443 2.2).
        if (!ctx.dp->core.has_ipv6_address()) len = 0;
        else
            len = proto::build_icmpv6_packet_too_big(out + proto::kEthernetHeaderSize,
                                                     room - proto::kEthernetHeaderSize, p.ip, p.ip_len,
                                                     ctx.dp->core.ipv6_address, mtu);
    } else {
        len = proto::build_icmpv4_frag_needed(out + proto::kEthernetHeaderSize, room - proto::kEthernetHeaderSize,
                                              p.ip, p.ip_len, ctx.dp->core.address, mtu);
    }
    if (len == 0) {
        rte_pktmbuf_free(reply);
        return false;
    }
    rte_pktmbuf_append(reply, static_cast<uint16_t>(proto::kEthernetHeaderSize + len));
    send_to_gateway(ctx, ctx.dp->core, ctx.core_tx, reply, p.ipv6 ? proto::kEtherTypeIpv6 : proto::kEtherTypeIpv4);
    return true;
}

}  // namespace

void l2tp_encapsulate(WorkerContext& ctx, rte_mbuf* m, Session& s, uint16_t ip_len, uint16_t ppp_protocol,
                      EspEncapBatch& out) {
    // Read once: an UpdateSession may turn sequencing on or off meanwhile,
    // and the header written must be the one room was made for.
    const bool sequencing = std::atomic_ref<bool>(s.sequencing).load(std::memory_order_relaxed);
    const size_t l2tp_size = proto::l2tp_data_header_size(sequencing);
    const uint16_t udp_len = static_cast<uint16_t>(proto::kUdpHeaderSize + l2tp_size + proto::kPppHeaderSize + ip_len);
    uint8_t* udp = reinterpret_cast<uint8_t*>(rte_pktmbuf_prepend(m, static_cast<uint16_t>(udp_len - ip_len)));
    if (!udp) {
        ++ctx.counters.tx_esp_too_big_drops;
        rte_pktmbuf_free(m);
        return;
    }
    // RFC 3948 and RFC 768: checksum 0 for IPv4 UDP; ESP authenticates it.
    proto::write_udp_header(udp, proto::kL2tpPort, s.peer_port, udp_len);
    const uint16_t ns = sequencing ? s.next_ns.fetch_add(1, std::memory_order_relaxed) : 0;
    proto::write_l2tp_data_header(udp + proto::kUdpHeaderSize, s.peer_tunnel_id, s.peer_session_id, sequencing, ns);
    proto::write_ppp_header(udp + proto::kUdpHeaderSize + l2tp_size, ppp_protocol);
    s.count_tx(ctx.queue, ip_len);
    // A rekey may change it meanwhile; the old SA stays installed for the grace period.
    add_to_esp_batch(ctx, out, m, &ctx.dp->sas.at(std::atomic_ref<uint32_t>(s.sa_out).load(std::memory_order_relaxed)));
}

namespace {

// RFC 791 fragmentation of a packet without DF that exceeds the session's
// MTU: copies each fragment into a new mbuf and encapsulates it.
void fragment_and_encapsulate(WorkerContext& ctx, const CorePacket& p, Session& s, EspEncapBatch& out) {
    for (size_t offset = 0;;) {
        rte_mbuf* frag = rte_pktmbuf_alloc(ctx.dp->pool);
        if (!frag) {
            ++ctx.counters.tx_fragment_drops;
            return;
        }
        // Room for the headers the encapsulation will prepend is the headroom.
        uint8_t* data = rte_pktmbuf_mtod(frag, uint8_t*);
        size_t next = 0;
        const size_t len = proto::write_ipv4_fragment(data, rte_pktmbuf_tailroom(frag), p.ip, p.ip_len, offset,
                                                      s.mtu, next);
        if (len == 0) {
            ++ctx.counters.tx_fragment_drops;
            rte_pktmbuf_free(frag);
            return;
        }
        rte_pktmbuf_append(frag, static_cast<uint16_t>(len));
        ++ctx.counters.tx_fragments;
        l2tp_encapsulate(ctx, frag, s, static_cast<uint16_t>(len), proto::kPppIpv4, out);
        if (next == 0) return;
        offset = next;
    }
}

}  // namespace

void core_receive(WorkerContext& ctx, rte_mbuf** packets, uint16_t n) {
    WorkerCounters& c = ctx.counters;
    CorePacket parsed[kMaxBurst];
    uint32_t ipv4_destinations[kMaxBurst] = {};  // zeroed: GCC cannot see that only [0, count) is read
    Session* sessions[kMaxBurst];
    uint16_t count = 0;
    c.rx_core_packets += n;
    for (uint16_t i = 0; i < n; ++i) {
        switch (parse_core_frame(ctx, packets[i], parsed[count], ipv4_destinations[count])) {
            case CoreFrame::Forward: packets[count++] = packets[i]; break;
            case CoreFrame::Drop: rte_pktmbuf_free(packets[i]); break;
            case CoreFrame::Consumed: break;
        }
    }
    // The slots the destinations name, fetched for the whole burst and
    // confirmed when each packet's turn comes.
    for (uint16_t i = 0; i < count; ++i) {
        sessions[i] = ctx.dp->sessions.ipv4_candidate(ipv4_destinations[i]);
        prefetch_session(sessions[i], CacheLevel::L2);
    }

    EspEncapBatch out;
    for (uint16_t i = 0; i < count; ++i) {
        rte_mbuf* m = packets[i];
        CorePacket& p = parsed[i];
        Session* s = p.ipv6 ? ctx.dp->sessions.lookup_ipv6(p.ip + 24)
                            : ctx.dp->sessions.resolve_ipv4(sessions[i], ipv4_destinations[i]);
        if (!s) {
            ++c.tx_no_session_drops;
            rte_pktmbuf_free(m);
            continue;
        }
        // We are a router hop: TTL / hop limit go down by one.
        uint8_t& ttl = p.ip[p.ipv6 ? 7 : 8];
        if (ttl <= 1) {
            ++c.tx_ttl_exceeded_drops;
            rte_pktmbuf_free(m);
            continue;
        }
        uint8_t* l4;
        size_t l4_len;
        uint8_t protocol;
        if (p.ipv6) {
            --ttl;
            l4 = p.ip + proto::kIpv6HeaderSize;
            l4_len = p.ip_len - proto::kIpv6HeaderSize;
            protocol = p.ip[6];
        } else {
            const size_t header_len = (p.ip[0] & 0x0F) * 4u;
            proto::decrement_ipv4_ttl(p.ip);  // parse_core_frame verified the checksum
            l4 = p.ip + header_len;
            l4_len = p.ip_len - header_len;
            protocol = p.ip[9];
            if (proto::load_u16(p.ip + 6) & proto::kIpv4FragmentOffsetMask) protocol = 0;  // no TCP header here
        }
        // The server's SYN-ACK is clamped too: both ends then fit the tunnel.
        if (protocol == proto::kIpProtoTcp &&
            proto::clamp_tcp_mss(l4, l4_len, p.ipv6 ? s->mss_ipv6 : s->mss_ipv4))
            ++c.tx_mss_clamped;

        if (p.ip_len > s->mtu) {
            const bool dont_fragment = p.ipv6 || (proto::load_u16(p.ip + 6) & proto::kIpv4DontFragment);
            if (dont_fragment) {
                if (send_too_big(ctx, p, s->mtu)) ++c.tx_too_big_icmp_sent;
                else ++c.tx_too_big_drops;
            } else {
                fragment_and_encapsulate(ctx, p, *s, out);
            }
            rte_pktmbuf_free(m);
            continue;
        }
        narrow_frame(m, p.ip, p.ip_len);  // without Ethernet header and padding
        l2tp_encapsulate(ctx, m, *s, p.ip_len, p.ipv6 ? proto::kPppIpv6 : proto::kPppIpv4, out);
    }
    if (out.count) esp_encap(ctx, out);
}

}  // namespace conc::dp

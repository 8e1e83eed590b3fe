// Upstream L2TP and PPP (DESIGN.md, upstream step 3), a burst at a time: the
// decrypted UDP datagram must be L2TP to port 1701; control messages go to the
// control plane; data messages are found by (SA, tunnel id, session id), so a
// session only ever takes packets from its own SA; PPP carrying IPv4 or IPv6
// is checked against the client's address, its TTL decremented, TCP MSS
// clamped, and it leaves the core port; other PPP protocols are punted.
#include <atomic>
#include <cstring>

#include <rte_mbuf.h>

#include "common/proto/byte_reader.h"
#include "common/proto/ipv4.h"
#include "common/proto/ipv6.h"
#include "common/proto/l2tp.h"
#include "common/proto/tcp_mss.h"
#include "dataplane/punt.h"
#include "dataplane/worker.h"

namespace conc::dp {

namespace {

// Rewrites the frame to Ethernet + the inner packet at ip (ip_len bytes)
// towards the core next hop.
void send_to_core(WorkerContext& ctx, rte_mbuf* m, const uint8_t* ip, uint16_t ip_len, uint16_t ether_type) {
    narrow_frame(m, ip - proto::kEthernetHeaderSize, static_cast<uint16_t>(proto::kEthernetHeaderSize + ip_len));
    send_to_gateway(ctx, ctx.dp->core, ctx.core_tx, m, ether_type);
}

void clamp_mss(WorkerContext& ctx, uint8_t* l4, size_t l4_len, uint8_t protocol, uint16_t mss) {
    if (protocol == proto::kIpProtoTcp && mss && proto::clamp_tcp_mss(l4, l4_len, mss)) ++ctx.counters.rx_mss_clamped;
}

// Returns false when the packet was dropped (and counted).
bool forward_ipv4(WorkerContext& ctx, rte_mbuf* m, Session& s, uint8_t* ip, size_t len) {
    WorkerCounters& c = ctx.counters;
    proto::Ipv4Header h;
    if (proto::parse_ipv4(ip, len, h) != proto::Ipv4Error::Ok) return ++c.rx_inner_ip_header_drops, false;
    // The client may only send from the address IPCP gave it.
    if (h.source != s.client_ipv4 || s.client_ipv4 == 0) return ++c.rx_spoof_drops, ++s.counters.spoof_drops, false;
    if (h.ttl <= 1) return ++c.rx_ttl_exceeded_drops, false;
    proto::decrement_ipv4_ttl(ip);
    if (!h.is_fragment() || (h.flags_fragment & proto::kIpv4FragmentOffsetMask) == 0)
        clamp_mss(ctx, ip + h.header_length, h.total_length - h.header_length, h.protocol, s.mss_ipv4);
    ++s.counters.rx_packets;
    s.counters.rx_bytes += h.total_length;
    send_to_core(ctx, m, ip, h.total_length, proto::kEtherTypeIpv4);
    return true;
}

bool forward_ipv6(WorkerContext& ctx, rte_mbuf* m, Session& s, uint8_t* ip, size_t len) {
    WorkerCounters& c = ctx.counters;
    proto::Ipv6Header h;
    if (proto::parse_ipv6(ip, len, h) != proto::Ipv6Error::Ok) return ++c.rx_inner_ip_header_drops, false;
    if (s.ipv6_prefix_length == 0 || !proto::ipv6_address_in_prefix(h.source, s.ipv6_prefix, s.ipv6_prefix_length))
        return ++c.rx_spoof_drops, ++s.counters.spoof_drops, false;
    if (h.hop_limit <= 1) return ++c.rx_ttl_exceeded_drops, false;
    ip[7] = static_cast<uint8_t>(h.hop_limit - 1);
    const uint16_t ip_len = static_cast<uint16_t>(proto::kIpv6HeaderSize + h.payload_length);
    // Extension headers are left alone: a SYN directly behind the fixed header is the case that matters.
    clamp_mss(ctx, ip + proto::kIpv6HeaderSize, h.payload_length, h.next_header, s.mss_ipv6);
    ++s.counters.rx_packets;
    s.counters.rx_bytes += ip_len;
    send_to_core(ctx, m, ip, ip_len, proto::kEtherTypeIpv6);
    return true;
}

// What every decrypted punt says about where it came from: its SA's peer.
shm::PuntHeader punt_header(const SecurityAssociation& sa, uint32_t sa_index) {
    shm::PuntHeader h{};
    h.port = 0;
    const SecurityAssociation::PeerEndpoint peer = sa.peer();
    h.outer_source = peer.address;
    h.outer_destination = sa.local_address;
    h.outer_source_port = sa.udp_encap ? peer.port : 0;
    h.outer_destination_port = sa.udp_encap ? peer.local_port : 0;
    h.sa_index = sa_index;
    h.session_index = shm::kNoIndex;
    return h;
}

// The session the SA points at, if it is the one the packet names (as a
// lookup would have found it: in use, bound to this SA, the same ids).
Session* hinted_session(WorkerContext& ctx, SecurityAssociation& sa, const SessionKey& key) {
    const uint32_t hint = sa.session_hint().load(std::memory_order_acquire);
    if (hint == kNoSessionHint) return nullptr;
    Session& s = ctx.dp->sessions.at(hint);
    const bool in_use = std::atomic_ref<bool>(s.in_use).load(std::memory_order_acquire);
    // The SA the session sends through now, or the one before a rekey.
    const bool bound = std::atomic_ref<uint32_t>(s.sa_in).load(std::memory_order_relaxed) == key.sa_in ||
                       std::atomic_ref<uint32_t>(s.previous_sa_in).load(std::memory_order_relaxed) == key.sa_in;
    const bool same = in_use && bound && s.tunnel_id == key.tunnel_id && s.session_id == key.session_id;
    return same ? &s : nullptr;
}

}  // namespace

void l2tp_decap(WorkerContext& ctx, L2tpBatch& batch) {
    WorkerCounters& c = ctx.counters;
    Session* sessions[kMaxBurst];
    uint16_t ppp_offset[kMaxBurst], ppp_len[kMaxBurst];
    // Packets whose SA did not point at their session are looked up together.
    uint16_t unhinted[kMaxBurst];
    SessionKey unhinted_keys[kMaxBurst];
    Session* found[kMaxBurst];
    uint16_t misses = 0;
    uint16_t n = 0;
    for (uint16_t i = 0; i < batch.count; ++i) {
        rte_mbuf* m = batch.mbuf[i];
        const uint8_t* udp = rte_pktmbuf_mtod(m, const uint8_t*);
        proto::UdpHeader u;
        if (!proto::parse_udp(udp, rte_pktmbuf_data_len(m), u)) {
            ++c.rx_udp_header_drops;
            rte_pktmbuf_free(m);
            continue;
        }
        // RFC 3193 4: L2TP/IPsec SAs carry L2TP to UDP port 1701 only.
        if (u.destination_port != proto::kL2tpPort) {
            ++c.rx_l2tp_port_drops;
            rte_pktmbuf_free(m);
            continue;
        }
        proto::L2tpHeader l2tp;
        if (proto::parse_l2tp(udp + proto::kUdpHeaderSize, u.length - proto::kUdpHeaderSize, l2tp) !=
            proto::L2tpError::Ok) {
            ++c.rx_l2tp_header_drops;
            rte_pktmbuf_free(m);
            continue;
        }
        if (l2tp.is_control()) {
            ++c.rx_l2tp_control_punts;
            shm::PuntHeader h = punt_header(*batch.sa[i], ctx.dp->sas.index_of(batch.sa[i]));
            h.kind = shm::PuntKind::L2tpControl;
            h.tunnel_id = l2tp.tunnel_id;
            h.session_id = l2tp.session_id;
            h.l2tp_peer_port = u.source_port;
            const uint8_t* message = udp + proto::kUdpHeaderSize;
            punt_to_control_plane(ctx, m, h, message, static_cast<uint16_t>(u.length - proto::kUdpHeaderSize));
            continue;
        }
        const SessionKey key{ctx.dp->sas.index_of(batch.sa[i]), l2tp.tunnel_id, l2tp.session_id};
        sessions[n] = hinted_session(ctx, *batch.sa[i], key);
        if (!sessions[n]) {
            unhinted[misses] = n;
            unhinted_keys[misses++] = key;
        }
        ppp_offset[n] = static_cast<uint16_t>(proto::kUdpHeaderSize + l2tp.payload_offset);
        ppp_len[n] = l2tp.payload_len;
        batch.mbuf[n++] = m;
    }
    batch.count = 0;
    if (misses) {
        ctx.dp->sessions.lookup_upstream(unhinted_keys, misses, found);
        for (uint16_t i = 0; i < misses; ++i) {
            prefetch_session(found[i], CacheLevel::L2);
            sessions[unhinted[i]] = found[i];
        }
    }

    for (uint16_t i = 0; i < n; ++i) {
        rte_mbuf* m = batch.mbuf[i];
        Session* s = sessions[i];
        if (!s) {
            ++c.rx_l2tp_unknown_session_drops;
            rte_pktmbuf_free(m);
            continue;
        }
        uint8_t* ppp = rte_pktmbuf_mtod_offset(m, uint8_t*, ppp_offset[i]);
        proto::PppFrame frame;
        if (proto::parse_ppp(ppp, ppp_len[i], frame) != proto::PppError::Ok) {
            ++c.rx_ppp_header_drops;
            rte_pktmbuf_free(m);
            continue;
        }
        uint8_t* ip = ppp + frame.payload_offset;
        const size_t ip_len = ppp_len[i] - frame.payload_offset;
        bool sent;
        if (frame.protocol == proto::kPppIpv4) sent = forward_ipv4(ctx, m, *s, ip, ip_len);
        else if (frame.protocol == proto::kPppIpv6) sent = forward_ipv6(ctx, m, *s, ip, ip_len);
        else {
            // LCP, authentication, NCPs, CCP: the control plane's.
            ++c.rx_ppp_control_punts;
            const uint32_t sa_in = std::atomic_ref<uint32_t>(s->sa_in).load(std::memory_order_relaxed);  // a rekey may change it
            shm::PuntHeader h = punt_header(ctx.dp->sas.at(sa_in), sa_in);
            h.kind = shm::PuntKind::PppControl;
            h.session_index = ctx.dp->sessions.index_of(s);
            h.tunnel_id = s->tunnel_id;
            h.session_id = s->session_id;
            h.ppp_protocol = frame.protocol;
            h.l2tp_peer_port = s->peer_port;
            punt_to_control_plane(ctx, m, h, ip, static_cast<uint16_t>(ip_len));
            continue;
        }
        if (!sent) rte_pktmbuf_free(m);
    }
}

}  // namespace conc::dp

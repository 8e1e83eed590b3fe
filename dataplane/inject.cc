// Intents from the control plane (common/shm/contract.h, inject ring): an IKE
// datagram to an address and port, an L2TP control message through an SA, a
// PPP frame on a session. The control plane hands over only payloads; the
// framing and the encryption happen here, on the same code path as forwarded
// traffic. Worker 0 drains the ring, a few intents per poll.
#include <cstring>

#include <rte_mbuf.h>

#include "common/proto/esp.h"
#include "common/proto/ipv4.h"
#include "common/proto/l2tp.h"
#include "dataplane/worker.h"

namespace conc::dp {

namespace {

inline constexpr uint8_t kIkeTtl = 64;

// RFC 3948 2.2: IKE on port 4500 carries the non-ESP marker.
bool send_ike(WorkerContext& ctx, rte_mbuf* m, const shm::InjectHeader& h) {
    if (h.local_port != proto::kIkePort && h.local_port != proto::kNatTPort) return false;
    const PortState& access = ctx.dp->access;
    const bool natt = h.local_port == proto::kNatTPort;
    const uint16_t marker = natt ? proto::kNonEspMarkerSize : 0;
    const uint16_t udp_len = static_cast<uint16_t>(proto::kUdpHeaderSize + marker + h.payload_length);
    uint8_t* frame = reinterpret_cast<uint8_t*>(rte_pktmbuf_prepend(
        m, static_cast<uint16_t>(proto::kEthernetHeaderSize + proto::kIpv4MinHeaderSize + proto::kUdpHeaderSize +
                                 marker)));
    if (!frame || proto::kIpv4MinHeaderSize + udp_len > ctx.dp->config->dataplane.access.mtu) return false;
    uint8_t* ip = frame + proto::kEthernetHeaderSize;
    uint8_t* udp = ip + proto::kIpv4MinHeaderSize;
    proto::write_ipv4_header(ip, access.address, h.peer_address, proto::kIpProtoUdp,
                             static_cast<uint16_t>(proto::kIpv4MinHeaderSize + udp_len), kIkeTtl,
                             ctx.ip_identification++, 0);
    proto::write_udp_header(udp, h.local_port, rte_be_to_cpu_16(h.peer_port), udp_len);
    if (natt) std::memset(udp + proto::kUdpHeaderSize, 0, proto::kNonEspMarkerSize);
    // A good intent even while the gateway is unknown: then counted like forwarded traffic.
    send_to_gateway(ctx, access, ctx.access_tx, m, proto::kEtherTypeIpv4);
    return true;
}

bool send_l2tp_control(WorkerContext& ctx, rte_mbuf* m, const shm::InjectHeader& h, EspEncapBatch& out) {
    SaTable& sas = ctx.dp->sas;
    if (!sas.valid(h.sa_out) || sas.at(h.sa_out).direction != config::SaDirection::Outbound) return false;
    const uint16_t udp_len = static_cast<uint16_t>(proto::kUdpHeaderSize + h.payload_length);
    uint8_t* udp = reinterpret_cast<uint8_t*>(rte_pktmbuf_prepend(m, proto::kUdpHeaderSize));
    if (!udp) return false;
    proto::write_udp_header(udp, proto::kL2tpPort, h.l2tp_peer_port ? h.l2tp_peer_port : proto::kL2tpPort, udp_len);
    add_to_esp_batch(ctx, out, m, &sas.at(h.sa_out));
    return true;
}

bool send_ppp(WorkerContext& ctx, rte_mbuf* m, const shm::InjectHeader& h, EspEncapBatch& out) {
    SessionTable& sessions = ctx.dp->sessions;
    // IP goes through the forwarding path, with its checks; intents carry control protocols.
    if (!sessions.valid(h.session_index) || h.ppp_protocol == proto::kPppIpv4 || h.ppp_protocol == proto::kPppIpv6)
        return false;
    l2tp_encapsulate(ctx, m, sessions.at(h.session_index), h.payload_length, h.ppp_protocol, out);
    return true;
}

}  // namespace

unsigned inject_receive(WorkerContext& ctx) {
    rte_ring* ring = ctx.dp->control.injects;
    rte_mbuf* intents[shm::kInjectPerPoll];
    const unsigned n = rte_ring_sc_dequeue_burst(ring, reinterpret_cast<void**>(intents), shm::kInjectPerPoll, nullptr);
    if (n == 0) return 0;
    EspEncapBatch out;
    for (unsigned i = 0; i < n; ++i) {
        rte_mbuf* m = intents[i];
        shm::InjectHeader h;
        bool sent = false;
        if (m->nb_segs == 1 && rte_pktmbuf_data_len(m) >= sizeof h) {
            std::memcpy(&h, rte_pktmbuf_mtod(m, const void*), sizeof h);
            rte_pktmbuf_adj(m, sizeof h);
            if (h.version == shm::kContractVersion && h.payload_length == rte_pktmbuf_data_len(m)) {
                switch (h.kind) {
                    case shm::InjectKind::IkeDatagram: sent = send_ike(ctx, m, h); break;
                    case shm::InjectKind::L2tpControl: sent = send_l2tp_control(ctx, m, h, out); break;
                    case shm::InjectKind::PppFrame: sent = send_ppp(ctx, m, h, out); break;
                }
            }
        }
        if (sent) {
            ++ctx.counters.inject_packets;
        } else {
            ++ctx.counters.inject_bad_intent_drops;
            rte_pktmbuf_free(m);
        }
    }
    if (out.count) esp_encap(ctx, out);
    return n;
}

}  // namespace conc::dp

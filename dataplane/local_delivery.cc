#include "dataplane/local_delivery.h"

#include <cstring>

#include "common/proto/arp.h"
#include "common/proto/icmp.h"
#include "common/proto/ipv4.h"

namespace conc::dp {

void receive_arp(WorkerContext& ctx, const PortState& port, TxBuffer& tx, rte_mbuf* m, const uint8_t* arp,
                 size_t len) {
    proto::ArpPacket request;
    if (proto::parse_arp(arp, len, request) != proto::ArpError::Ok ||
        request.operation != proto::kArpOperationRequest || request.target_ip != port.address) {
        // Replies, gratuitous ARP and requests for other hosts: next hops are
        // static (gateway_mac) until resolution lands, so nothing to learn.
        ++ctx.counters.rx_arp_ignored;
        rte_pktmbuf_free(m);
        return;
    }
    // The reply is built into the request's own mbuf (60 bytes, from its start).
    const proto::ArpPacket copy = request;
    rte_pktmbuf_reset(m);
    uint8_t* out = reinterpret_cast<uint8_t*>(rte_pktmbuf_append(m, proto::kEthernetMinFrameSize));
    if (!out || proto::build_arp_reply(out, proto::kEthernetMinFrameSize, copy, port.mac) == 0) {
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

}  // namespace conc::dp

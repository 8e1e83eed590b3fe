#include "dataplane/neighbor.h"

#include <rte_cycles.h>
#include <rte_mbuf.h>

#include "common/proto/arp.h"
#include "common/proto/ipv4.h"
#include "common/proto/nd.h"
#include "dataplane/worker.h"

namespace conc::dp {

namespace {

void learn(WorkerContext& ctx, NextHop& hop, const uint8_t mac[6]) {
    const uint64_t packed = NextHop::pack(mac);
    if (hop.mac.exchange(packed, std::memory_order_relaxed) != packed) ++ctx.counters.neighbor_updates;
    hop.confirmed_tsc.store(rte_rdtsc(), std::memory_order_relaxed);
}

bool due(const NextHop& hop, uint64_t now) {
    if (!hop.resolve) return false;
    if (hop.mac.load(std::memory_order_relaxed) == 0) return true;
    return now - hop.confirmed_tsc.load(std::memory_order_relaxed) > kNeighborRefreshSeconds * rte_get_tsc_hz();
}

// Builds one len-byte request frame with build(out, len) into a fresh mbuf for tx.
template <typename Build>
unsigned send_request(WorkerContext& ctx, TxBuffer& tx, uint64_t& counter, size_t len, Build&& build) {
    rte_mbuf* m = rte_pktmbuf_alloc(ctx.dp->pool);
    if (!m) return 0;
    if (!write_frame(m, len, build)) {
        rte_pktmbuf_free(m);
        return 0;
    }
    ++counter;
    tx.add(m);
    return 1;
}

unsigned solicit(WorkerContext& ctx, PortState& port, TxBuffer& tx, uint64_t now) {
    unsigned sent = 0;
    if (due(port.gateway, now))
        sent += send_request(ctx, tx, ctx.counters.arp_requests_sent, proto::kEthernetMinFrameSize, [&](uint8_t* out, size_t cap) {
            return proto::build_arp_request(out, cap, port.mac, port.address, port.gateway.ipv4);
        });
    if (due(port.gateway6, now))
        sent += send_request(ctx, tx, ctx.counters.nd_solicitations_sent, proto::kNdFrameSize, [&](uint8_t* out, size_t cap) {
            return proto::build_neighbor_solicitation(out, cap, port.mac, port.ipv6_address, port.gateway6.ipv6);
        });
    return sent;
}

}  // namespace

bool learn_ipv4_neighbor(WorkerContext& ctx, PortState& port, uint32_t address, const uint8_t mac[6]) {
    if (!port.gateway.resolve || address != port.gateway.ipv4) return false;
    learn(ctx, port.gateway, mac);
    return true;
}

bool learn_ipv6_neighbor(WorkerContext& ctx, PortState& port, const uint8_t address[16], const uint8_t mac[6]) {
    if (!port.gateway6.resolve || std::memcmp(address, port.gateway6.ipv6, 16) != 0) return false;
    learn(ctx, port.gateway6, mac);
    return true;
}

void send_to_gateway(WorkerContext& ctx, const PortState& port, TxBuffer& tx, rte_mbuf* m, uint16_t ether_type) {
    uint8_t mac[6];
    if (!(ether_type == proto::kEtherTypeIpv6 ? port.gateway6 : port.gateway).get(mac)) {
        ++ctx.counters.tx_no_neighbor_drops;
        rte_pktmbuf_free(m);
        return;
    }
    proto::write_ethernet_header(rte_pktmbuf_mtod(m, uint8_t*), mac, port.mac, ether_type);
    tx.add(m);
}

unsigned solicit_next_hops(WorkerContext& ctx) {
    const uint64_t now = rte_rdtsc();
    if (now < ctx.next_solicit_tsc) return 0;
    ctx.next_solicit_tsc = now + rte_get_tsc_hz();
    return solicit(ctx, ctx.dp->access, ctx.access_tx, now) + solicit(ctx, ctx.dp->core, ctx.core_tx, now);
}

}  // namespace conc::dp

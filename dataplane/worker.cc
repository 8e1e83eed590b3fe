#include "dataplane/worker.h"

#include <cstring>

namespace conc::dp {

uint16_t TxBuffer::flush(uint16_t port, uint16_t queue, uint64_t& full_drops) {
    if (count_ == 0) return 0;
    const uint16_t sent = rte_eth_tx_burst(port, queue, packets_, count_);
    for (uint16_t i = sent; i < count_; ++i) rte_pktmbuf_free(packets_[i]);
    full_drops += count_ - sent + overflow_;
    count_ = 0;
    overflow_ = 0;
    return sent;
}

bool worker_init(WorkerContext& ctx, Dataplane* dp, unsigned lcore, uint16_t queue) {
    ctx.dp = dp;
    ctx.lcore = lcore;
    ctx.queue = queue;
    ctx.imb = alloc_imb_manager(static_cast<int>(rte_lcore_to_socket_id(lcore)));
    if (!ctx.imb) return false;
    rte_rcu_qsbr_thread_register(dp->control.rcu, queue);
    rte_rcu_qsbr_thread_online(dp->control.rcu, queue);
    // The CBC IV keystream is keyed from the DRBG: no randomness, no worker.
    return imb_get_errno(ctx.imb) == 0 && ctx.ivs.init(ctx.imb);
}

void worker_release(WorkerContext& ctx) {
    if (ctx.imb) {
        // Offline: removals no longer wait for this worker.
        rte_rcu_qsbr_thread_offline(ctx.dp->control.rcu, ctx.queue);
        rte_rcu_qsbr_thread_unregister(ctx.dp->control.rcu, ctx.queue);
        free_imb_manager(ctx.imb);
    }
    ctx.imb = nullptr;
}

void worker_poll_once(WorkerContext& ctx) {
    rte_mbuf* packets[kMaxBurst];
    Dataplane& dp = *ctx.dp;
    // Between polls a worker holds no pointer into the tables.
    rte_rcu_qsbr_quiescent(dp.control.rcu, ctx.queue);
    const uint64_t start = rte_rdtsc();
    const uint16_t from_access = rte_eth_rx_burst(dp.access.port_id, ctx.queue, packets, dp.burst_size);
    if (from_access) access_receive(ctx, packets, from_access);
    const uint16_t from_core = rte_eth_rx_burst(dp.core.port_id, ctx.queue, packets, dp.burst_size);
    if (from_core) core_receive(ctx, packets, from_core);
    const unsigned injected = ctx.queue == 0 ? inject_receive(ctx) + solicit_next_hops(ctx) : 0;
    const unsigned handed = handoff_receive(ctx);
    if (from_access + from_core + injected + handed == 0) return;
    ctx.counters.tx_core_packets += ctx.core_tx.flush(dp.core.port_id, ctx.queue, ctx.counters.tx_full_drops);
    ctx.counters.tx_access_packets +=
        ctx.access_tx.flush(dp.access.port_id, ctx.queue, ctx.counters.tx_full_drops);
    // Load as operators read it (busy share of the core) and the benchmark's
    // cycles per packet; idle polls pay one TSC read only.
    ctx.counters.busy_cycles += rte_rdtsc() - start;
    ++ctx.counters.busy_polls;
}

int worker_main(void* arg) {
    WorkerContext& ctx = *static_cast<WorkerContext*>(arg);
    while (!ctx.dp->stop.load(std::memory_order_relaxed)) worker_poll_once(ctx);
    return 0;
}

}  // namespace conc::dp

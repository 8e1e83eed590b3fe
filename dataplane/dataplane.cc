#include "dataplane/dataplane.h"

#include <cinttypes>
#include <cstdio>
#include <unordered_map>

#include <rte_errno.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>

#include "common/proto/ipv4.h"
#include "common/proto/l2tp.h"
#include "dataplane/control.h"
#include "dataplane/port.h"

namespace conc::dp {

namespace {
// Room for a few bursts from each other worker: hand-offs are the exception
// (RSS keeps an SA's flow on one queue), so a full ring means a stuck owner.
constexpr unsigned kHandoffRingSize = 1024;
}  // namespace

uint16_t largest_inner_packet(const SecurityAssociation& sa, bool sequencing, uint16_t access_mtu) {
    const unsigned overhead = proto::kIpv4MinHeaderSize + (sa.udp_encap ? proto::kUdpHeaderSize : 0) +
                              esp_header_room(sa) + (sa.block_size - 1u) + proto::kEspTrailerSize + sa.icv_size +
                              proto::kUdpHeaderSize + proto::l2tp_data_header_size(sequencing) +
                              proto::kPppHeaderSize;
    return static_cast<uint16_t>(access_mtu > overhead ? access_mtu - overhead : 0);
}

std::string dataplane_start(Dataplane& dp, const config::Config& cfg, std::vector<WorkerContext>& workers) {
    dp.config = &cfg;
    dp.burst_size = cfg.dataplane.burst_size;
    const auto& lcores = cfg.dataplane.worker_lcores;
    const uint16_t queues = static_cast<uint16_t>(lcores.size());
    workers = std::vector<WorkerContext>(queues);

    // The first data plane of a process (concentrator-dp's only one) uses the
    // contract's names, which concentrator-cp looks up; tests bring several
    // up and down in one process and number the others.
    static unsigned instance = 0;
    const std::string suffix = instance ? "_" + std::to_string(instance) : "";
    ++instance;
    const shm::Names names = shm::names_for(suffix);
    // What the rings can hold at once: every RX and TX descriptor of both
    // ports (many PMDs free sent mbufs lazily), each lcore's cache, a burst
    // in flight per worker. Fewer and the NIC runs dry under load (rx_nombuf).
    constexpr unsigned kPoolCache = 256;
    const auto& d = cfg.dataplane;
    const uint64_t held = uint64_t{queues} * (d.access.rx_descriptors + d.access.tx_descriptors +
                                              d.core.rx_descriptors + d.core.tx_descriptors + 2u * d.burst_size) +
                          (queues + 1u) * kPoolCache;
    if (d.mbufs < held)
        std::fprintf(stderr,
                     "concentrator-dp: warning: dataplane.mbufs %u is fewer than the %" PRIu64
                     " that %u worker(s)' rings and caches can hold; raise it or packets will be dropped as "
                     "rx_nombuf under load\n",
                     d.mbufs, held, queues);
    dp.pool = rte_pktmbuf_pool_create(names.pool.c_str(), cfg.dataplane.mbufs, kPoolCache, 0,
                                      RTE_MBUF_DEFAULT_BUF_SIZE, rte_socket_id());
    if (!dp.pool) return std::string("cannot create the mbuf pool (dataplane.mbufs): ") + rte_strerror(rte_errno);
    std::string error = start_port("access", cfg.dataplane.access, queues, dp.pool, dp.access);
    if (error.empty()) error = start_port("core", cfg.dataplane.core, queues, dp.pool, dp.core);
    if (error.empty()) error = control_create(dp, suffix, queues);
    if (!error.empty()) return error;
    // Multi-producer (any worker hands off), single consumer (the owner).
    for (uint16_t q = 0; q < queues && queues > 1; ++q) {
        const std::string name = "conc_handoff" + suffix + "_" + std::to_string(q);
        dp.handoff.push_back(rte_ring_create(name.c_str(), kHandoffRingSize, rte_socket_id(), RING_F_SC_DEQ));
        if (!dp.handoff.back()) return "cannot create the ESP hand-off ring " + name + ": " + rte_strerror(rte_errno);
    }

    const char* why = nullptr;
    if (!dp.sas.create(("conc_sa" + suffix).c_str(), cfg.dataplane.max_sas, rte_socket_id(), dp.control.rcu, &why))
        return why;
    if (!dp.sessions.create(("conc_sess" + suffix).c_str(), cfg.dataplane.max_sessions, rte_socket_id(),
                            dp.control.rcu, &why))
        return why;
    for (uint16_t q = 0; q < queues; ++q)
        if (!worker_init(workers[q], &dp, lcores[q], q))
            return "IPsec-MB found no usable implementation for this CPU";
    if (dp.install_static) {
        std::unordered_map<std::string, uint32_t> sa_index;
        for (const auto& sa : cfg.ipsec.static_sas)
            if (install_sa(dp, sa, sa_index[sa.name], &why) != shm::CommandStatus::Ok)
                return cfg.path + ":" + std::to_string(sa.line) + ": ipsec.static_sas \"" + sa.name + "\": " + why;
        // The loader checked that both names exist with the right directions.
        for (const auto& session : cfg.l2tp.static_sessions) {
            uint32_t index;
            if (install_session(dp, session, sa_index.at(session.sa_in), sa_index.at(session.sa_out), index, &why) !=
                shm::CommandStatus::Ok)
                return cfg.path + ":" + std::to_string(session.line) + ": l2tp.static_sessions \"" + session.name +
                       "\": " + why;
        }
    }
    control_publish(dp, workers.data(), queues);
    return {};
}

void dataplane_stop(Dataplane& dp, std::vector<WorkerContext>& workers) {
    for (auto& w : workers) worker_release(w);
    control_release(dp);
    for (rte_ring* r : dp.handoff) {
        rte_mbuf* m;
        while (rte_ring_sc_dequeue(r, reinterpret_cast<void**>(&m)) == 0) rte_pktmbuf_free(m);
        rte_ring_free(r);
    }
    dp.handoff.clear();
    stop_port(dp.access);
    stop_port(dp.core);
    dp.access.started = dp.core.started = false;
    rte_mempool_free(dp.pool);  // after the ports: they hold mbufs until closed
    dp.pool = nullptr;
}

}  // namespace conc::dp

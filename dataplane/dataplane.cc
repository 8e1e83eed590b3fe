#include "dataplane/dataplane.h"

#include <unordered_map>

#include <rte_errno.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>

#include "common/proto/ipv4.h"
#include "common/proto/l2tp.h"
#include "dataplane/port.h"

namespace conc::dp {

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

    // Names are unique per instance: tests bring several data planes up and
    // down in one process.
    static unsigned instance = 0;
    const std::string suffix = std::to_string(instance++);
    dp.pool = rte_pktmbuf_pool_create(("conc_mbufs" + suffix).c_str(), cfg.dataplane.mbufs, 256, 0, RTE_MBUF_DEFAULT_BUF_SIZE,
                                      rte_socket_id());
    if (!dp.pool) return std::string("cannot create the mbuf pool (dataplane.mbufs): ") + rte_strerror(rte_errno);
    std::string error = start_port("access", cfg.dataplane.access, queues, dp.pool, dp.access);
    if (error.empty()) error = start_port("core", cfg.dataplane.core, queues, dp.pool, dp.core);
    if (!error.empty()) return error;

    const char* why = nullptr;
    if (!dp.sas.create(("conc_sa" + suffix).c_str(), cfg.dataplane.max_sas, rte_socket_id(), &why)) return why;
    if (!dp.sessions.create(("conc_sess" + suffix).c_str(), cfg.dataplane.max_sessions, rte_socket_id(), &why))
        return why;
    for (uint16_t q = 0; q < queues; ++q)
        if (!worker_init(workers[q], &dp, lcores[q], q))
            return "IPsec-MB found no usable implementation for this CPU";
    std::unordered_map<std::string, uint32_t> sa_index;
    for (const auto& sa : cfg.ipsec.static_sas) {
        const uint32_t window = sa.replay_window ? sa.replay_window : cfg.ipsec.replay_window;
        if (!dp.sas.install(workers[0].imb, sa, cfg.dataplane.access.address, window, sa_index[sa.name], &why))
            return cfg.path + ":" + std::to_string(sa.line) + ": ipsec.static_sas \"" + sa.name + "\": " + why;
    }
    // The loader checked that both names exist with the right directions.
    for (const auto& session : cfg.l2tp.static_sessions) {
        const uint32_t sa_out = sa_index.at(session.sa_out);
        const uint16_t max_inner = largest_inner_packet(dp.sas.at(sa_out), session.sequencing,
                                                        cfg.dataplane.access.mtu);
        // RFC 8200 5: an IPv6 link carries 1280 bytes; no smaller MTU may be signalled.
        if (session.client_ipv6_prefix_length && max_inner < 1280)
            return cfg.path + ":" + std::to_string(session.line) + ": l2tp.static_sessions \"" + session.name +
                   "\": with dataplane.access.mtu " + std::to_string(cfg.dataplane.access.mtu) +
                   " only " + std::to_string(max_inner) +
                   "-byte packets fit through this session's SA, below IPv6's 1280; raise the access MTU or drop "
                   "the IPv6 prefix";
        if (!dp.sessions.install(session, sa_index.at(session.sa_in), sa_out, max_inner, &why))
            return cfg.path + ":" + std::to_string(session.line) + ": l2tp.static_sessions \"" + session.name +
                   "\": " + why;
    }
    return {};
}

void dataplane_stop(Dataplane& dp, std::vector<WorkerContext>& workers) {
    for (auto& w : workers) worker_release(w);
    stop_port(dp.access);
    stop_port(dp.core);
    dp.access.started = dp.core.started = false;
    rte_mempool_free(dp.pool);  // after the ports: they hold mbufs until closed
    dp.pool = nullptr;
}

}  // namespace conc::dp

#include "tests/support/ring_dataplane.h"

#include <arpa/inet.h>

#include <cstring>
#include <stdexcept>

#include <rte_eal.h>
#include <rte_eth_ring.h>
#include <rte_lcore.h>

#include "common/proto/ipv4.h"
#include "dataplane/dataplane.h"

namespace conc::test {

bool init_eal(const std::vector<std::string>& extra, bool use_hugepages) {
    static bool done = false;
    if (done) return true;
    std::vector<std::string> args = {"conc-test", "--no-pci", "--no-telemetry", "--log-level", "lib.eal:error"};
    // Without hugepages (--no-huge implies legacy memory, which excludes
    // --in-memory): nothing is shared, so nothing is left behind either.
    if (use_hugepages) args.push_back("--in-memory");
    else args.insert(args.end(), {"--no-huge", "--no-shconf", "-m", "1024"});
    bool has_lcores = false;
    for (const auto& a : extra) has_lcores |= a == "-l" || a == "--lcores";
    if (!has_lcores) args.insert(args.end(), {"-l", "0"});
    args.insert(args.end(), extra.begin(), extra.end());
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    done = rte_eal_init(static_cast<int>(argv.size()), argv.data()) >= 0;
    return done;
}

std::string RingDataplane::start(config::Config cfg, unsigned ring_size) {
    static unsigned instance = 0;
    const std::string id = std::to_string(instance++);
    const unsigned queues = static_cast<unsigned>(cfg.dataplane.worker_lcores.size());
    for (unsigned q = 0; q < queues; ++q) {
        auto make_ring = [&](const char* what) {
            const std::string name = "t" + id + what + std::to_string(q);
            return rte_ring_create(name.c_str(), ring_size, rte_socket_id(), RING_F_SP_ENQ | RING_F_SC_DEQ);
        };
        access_rx_.push_back(make_ring("arx"));
        access_tx_.push_back(make_ring("atx"));
        core_rx_.push_back(make_ring("crx"));
        core_tx_.push_back(make_ring("ctx"));
        if (!access_rx_[q] || !access_tx_[q] || !core_rx_[q] || !core_tx_[q]) return "cannot create rings";
    }
    const int access_port =
        rte_eth_from_rings(("ra" + id).c_str(), access_rx_.data(), queues, access_tx_.data(), queues, rte_socket_id());
    const int core_port =
        rte_eth_from_rings(("rc" + id).c_str(), core_rx_.data(), queues, core_tx_.data(), queues, rte_socket_id());
    if (access_port < 0 || core_port < 0) return "cannot create ring ports";
    // The data plane finds ports by their ethdev name, as for any device.
    char name[RTE_ETH_NAME_MAX_LEN];
    rte_eth_dev_get_name_by_port(static_cast<uint16_t>(access_port), name);
    cfg.dataplane.access.device = name;
    rte_eth_dev_get_name_by_port(static_cast<uint16_t>(core_port), name);
    cfg.dataplane.core.device = name;
    cfg_ = std::move(cfg);
    running_ = true;
    return dp::dataplane_start(dp_, cfg_, workers_);
}

void RingDataplane::stop() {
    if (!running_) return;
    running_ = false;
    rte_mbuf* m[64];
    for (auto* rings : {&access_rx_, &access_tx_, &core_rx_, &core_tx_})
        for (rte_ring* r : *rings) {
            unsigned n;
            while ((n = rte_ring_dequeue_burst(r, reinterpret_cast<void**>(m), 64, nullptr)) > 0)
                rte_pktmbuf_free_bulk(m, n);
        }
    dp::dataplane_stop(dp_, workers_);
    for (auto* rings : {&access_rx_, &access_tx_, &core_rx_, &core_tx_})
        for (rte_ring* r : *rings) rte_ring_free(r);
}

void RingDataplane::control_pass() {
    dp::control_poll(dp_, workers_.data(), static_cast<unsigned>(workers_.size()));
}

void RingDataplane::poll_until_idle(unsigned w) {
    do dp::worker_poll_once(workers_[w]);
    while (rte_ring_count(access_rx_[w]) || rte_ring_count(core_rx_[w]) ||
           (!dp_.handoff.empty() && rte_ring_count(dp_.handoff[w])));
}

uint32_t RingDataplane::session_index(const std::string& name) const {
    for (uint32_t i = 0; i < dp_.sessions.high_water(); ++i)
        if (dp_.sessions.valid(i) && name == dp_.sessions.name(i)) return i;
    throw std::out_of_range("no session named " + name);
}

dp::WorkerCounters RingDataplane::counters() const {
    dp::WorkerCounters total;
    for (const auto& w : workers_) total += w.counters;
    return total;
}

std::vector<std::vector<uint8_t>> RingDataplane::take(const std::vector<rte_ring*>& rings) {
    std::vector<std::vector<uint8_t>> frames;
    rte_mbuf* m[64];
    for (unsigned n; (n = drain(rings, m, 64)) > 0;)
        for (unsigned i = 0; i < n; ++i) {
            const uint8_t* p = rte_pktmbuf_mtod(m[i], const uint8_t*);
            frames.emplace_back(p, p + rte_pktmbuf_data_len(m[i]));
            rte_pktmbuf_free(m[i]);
        }
    return frames;
}

shm::Command command_by_index(shm::CommandType type, uint32_t index) {
    shm::Command c{};
    c.version = shm::kContractVersion;
    c.type = type;
    c.index = index;
    return c;
}

rte_mbuf* mbuf_from(rte_mempool* pool, const std::vector<uint8_t>& frame) {
    rte_mbuf* m = rte_pktmbuf_alloc(pool);
    void* room = m ? rte_pktmbuf_append(m, static_cast<uint16_t>(frame.size())) : nullptr;
    if (!room) {
        if (m) rte_pktmbuf_free(m);
        throw std::length_error("test frame does not fit one mbuf");
    }
    std::memcpy(room, frame.data(), frame.size());
    return m;
}

rte_mbuf* build_udp_frame(rte_mempool* pool, const uint8_t dst_mac[6], const uint8_t src_mac[6], uint32_t src,
                          uint32_t dst, uint16_t sport, uint16_t dport, const uint8_t* payload, uint16_t payload_len) {
    rte_mbuf* m = rte_pktmbuf_alloc(pool);
    if (!m) return nullptr;
    const uint16_t len = static_cast<uint16_t>(proto::kEthernetHeaderSize + proto::kIpv4MinHeaderSize +
                                               proto::kUdpHeaderSize + payload_len);
    uint8_t* p = reinterpret_cast<uint8_t*>(rte_pktmbuf_append(m, len));
    if (!p) {
        rte_pktmbuf_free(m);
        return nullptr;
    }
    proto::write_ethernet_header(p, dst_mac, src_mac, proto::kEtherTypeIpv4);
    proto::write_ipv4_header(p + 14, htonl(src), htonl(dst), proto::kIpProtoUdp,
                             static_cast<uint16_t>(len - proto::kEthernetHeaderSize), 64, 1, 0);
    proto::write_udp_header(p + 34, sport, dport, static_cast<uint16_t>(proto::kUdpHeaderSize + payload_len));
    if (payload_len) std::memcpy(p + 42, payload, payload_len);
    return m;
}

config::Config base_config() {
    config::Config cfg;
    cfg.path = "<test>";
    cfg.dataplane.worker_lcores = {0};
    cfg.dataplane.mbufs = 8191;
    cfg.dataplane.max_sas = 1024;
    cfg.dataplane.burst_size = 32;
    cfg.dataplane.access.address = 0xC6336401;  // 198.51.100.1
    cfg.dataplane.access.gateway_mac = {0x02, 0, 0, 0, 1, 1};
    cfg.dataplane.core.address = 0x0A000001;    // 10.0.0.1
    cfg.dataplane.core.gateway_mac = {0x02, 0, 0, 0, 2, 1};
    cfg.ipsec.replay_window = 1024;
    return cfg;
}

config::StaticSa make_sa(const std::string& name, config::SaDirection dir, uint32_t spi, proto::EspCipher cipher,
                         proto::EspIntegrity integrity, uint32_t peer, bool udp_encap, uint32_t key_seed) {
    config::StaticSa sa;
    sa.name = name;
    sa.direction = dir;
    sa.spi = spi;
    sa.cipher = cipher;
    sa.integrity = integrity;
    sa.cipher_key.resize(proto::cipher_info(cipher).key_size);
    sa.integrity_key.resize(proto::integrity_info(integrity).key_size);
    uint32_t x = key_seed * 2654435761u + 1;
    for (auto& b : sa.cipher_key) b = static_cast<uint8_t>((x = x * 1103515245u + 12345u) >> 16);
    for (auto& b : sa.integrity_key) b = static_cast<uint8_t>((x = x * 1103515245u + 12345u) >> 16);
    sa.peer_address = peer;
    sa.udp_encap = udp_encap;
    return sa;
}

}  // namespace conc::test

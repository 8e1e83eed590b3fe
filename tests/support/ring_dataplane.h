// A whole data plane on in-memory ring ports, for the integration tests and
// the benchmark: the same start-up, stages and worker loop as concentrator-dp,
// with the test holding the far end of every port's rings.
#pragma once

#include <string>
#include <vector>

#include <rte_mbuf.h>
#include <rte_ring.h>

#include "common/config/config.h"
#include "dataplane/worker.h"

namespace conc::test {

// Initialises the EAL once per process (in-memory, no PCI, no hugepages
// unless use_hugepages). Extra args are appended (e.g. "-l", "0-1").
bool init_eal(const std::vector<std::string>& extra = {}, bool use_hugepages = false);

class RingDataplane {
public:
    // Overrides the config's port devices with ring ports (one RX and one TX
    // ring per worker in cfg) and starts the data plane; empty on success.
    std::string start(config::Config cfg, unsigned ring_size = 4096);
    void stop();
    ~RingDataplane() { stop(); }

    // Far ends: what the test puts on the wire towards a port and what the
    // data plane sent out of it.
    // queue: the worker's (RSS would pick it on a NIC).
    unsigned inject_access(rte_mbuf** packets, unsigned n, unsigned queue = 0) {
        return enqueue(access_rx_[queue], packets, n);
    }
    unsigned inject_core(rte_mbuf** packets, unsigned n, unsigned queue = 0) {
        return enqueue(core_rx_[queue], packets, n);
    }
    unsigned drain_access(rte_mbuf** out, unsigned max) { return drain(access_tx_, out, max); }
    unsigned drain_core(rte_mbuf** out, unsigned max) { return drain(core_tx_, out, max); }
    // The same, as bytes: every frame waiting on the port, the mbufs freed.
    std::vector<std::vector<uint8_t>> take_access() { return take(access_tx_); }
    std::vector<std::vector<uint8_t>> take_core() { return take(core_tx_); }

    // Runs worker 0's loop body once (single-threaded tests).
    void poll() { dp::worker_poll_once(workers_[0]); }
    // One pass of the main lcore, as concentrator-dp's main loop makes it:
    // commands applied and acknowledged, removed entries reclaimed.
    void control_pass();
    // Runs worker w's loop body until its RX rings and hand-off ring are empty.
    void poll_until_idle(unsigned w = 0);

    dp::Dataplane& dataplane() { return dp_; }
    // The table index of the session with this name (sessions sit where their
    // client address names, so not in the order the config lists them).
    uint32_t session_index(const std::string& name) const;
    std::vector<dp::WorkerContext>& workers() { return workers_; }
    dp::WorkerCounters counters() const;
    const config::Config& config() const { return cfg_; }
    rte_mempool* pool() const { return dp_.pool; }

private:
    static unsigned enqueue(rte_ring* r, rte_mbuf** packets, unsigned n) {
        return rte_ring_enqueue_burst(r, reinterpret_cast<void**>(packets), n, nullptr);
    }
    // Whatever any worker sent out of a port, queue by queue.
    static unsigned drain(const std::vector<rte_ring*>& rings, rte_mbuf** out, unsigned max) {
        for (rte_ring* r : rings)
            if (unsigned n = rte_ring_dequeue_burst(r, reinterpret_cast<void**>(out), max, nullptr)) return n;
        return 0;
    }
    static std::vector<std::vector<uint8_t>> take(const std::vector<rte_ring*>& rings);

    config::Config cfg_;
    dp::Dataplane dp_;
    std::vector<dp::WorkerContext> workers_;
    std::vector<rte_ring*> access_rx_, access_tx_, core_rx_, core_tx_;
    bool running_ = false;
};

// A frame in a new mbuf from pool; throws std::length_error if it does not fit one.
// A command that names a table entry (DeleteSa, DeleteSession), in the
// current contract version.
shm::Command command_by_index(shm::CommandType type, uint32_t index);

rte_mbuf* mbuf_from(rte_mempool* pool, const std::vector<uint8_t>& frame);

// Builds Ether/IPv4/UDP frames in mbufs (addresses in host order as in config).
rte_mbuf* build_udp_frame(rte_mempool* pool, const uint8_t dst_mac[6], const uint8_t src_mac[6], uint32_t src,
                          uint32_t dst, uint16_t sport, uint16_t dport, const uint8_t* payload, uint16_t payload_len);

// A config with sensible defaults for tests: ring devices are filled in by
// RingDataplane::start; access 198.51.100.1, core 10.0.0.1, one worker on lcore 0.
config::Config base_config();

// An SA spec with random keys of the right sizes for the transform.
config::StaticSa make_sa(const std::string& name, config::SaDirection dir, uint32_t spi, proto::EspCipher cipher,
                         proto::EspIntegrity integrity, uint32_t peer, bool udp_encap, uint32_t key_seed);

}  // namespace conc::test

#include "controlplane/dp_link.h"

#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <thread>

#include <rte_memzone.h>

namespace conc::cp {

std::string DataplaneLink::attach(const shm::Names& names) {
    const rte_memzone* state = rte_memzone_lookup(names.state.c_str());
    const rte_memzone* sas = rte_memzone_lookup(names.sa_zone.c_str());
    const rte_memzone* sessions = rte_memzone_lookup(names.session_zone.c_str());
    if (!state || !sas || !sessions) return "the data plane's shared state is not there (is concentrator-dp starting?)";
    state_ = static_cast<shm::SharedState*>(state->addr);
    if (state_->version != shm::kContractVersion)
        return "the data plane speaks contract version " + std::to_string(state_->version) + ", this is version " +
               std::to_string(shm::kContractVersion);
    sas_ = static_cast<const shm::PublishedSa*>(sas->addr);
    sessions_ = static_cast<const shm::PublishedSession*>(sessions->addr);
    commands_ = rte_ring_lookup(names.command_ring.c_str());
    acks_ = rte_ring_lookup(names.ack_ring.c_str());
    punts_ = rte_ring_lookup(names.punt_ring.c_str());
    injects_ = rte_ring_lookup(names.inject_ring.c_str());
    pool_ = rte_mempool_lookup(names.pool.c_str());
    if (!commands_ || !acks_ || !punts_ || !injects_ || !pool_) return "the data plane's rings or pool are missing";
    return {};
}

bool DataplaneLink::alive() const {
    if (!state_ || std::atomic_ref<uint64_t>(state_->magic).load() != shm::kStateMagic) return false;
    return kill(state_->dataplane_pid, 0) == 0 || errno != ESRCH;
}

bool DataplaneLink::claim(int32_t& holder) {
    int32_t expected = 0;
    const int32_t self = getpid();
    if (state_->controlplane_pid.compare_exchange_strong(expected, self)) return claimed_ = true;
    // A holder that died without releasing (SIGKILL) is replaced.
    if (kill(expected, 0) != 0 && errno == ESRCH && state_->controlplane_pid.compare_exchange_strong(expected, self))
        return claimed_ = true;
    holder = expected;
    return false;
}

void DataplaneLink::release() {
    if (!claimed_) return;
    int32_t self = getpid();
    state_->controlplane_pid.compare_exchange_strong(self, 0);
    claimed_ = false;
    rte_mbuf* left[64];
    for (unsigned n; (n = receive_punts(left, 64));)
        for (unsigned i = 0; i < n; ++i) free_frame(left[i]);
}

std::optional<shm::CommandAck> DataplaneLink::execute(shm::Command command, int timeout_ms) {
    command.version = shm::kContractVersion;
    command.sequence = next_sequence_++;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    while (rte_ring_enqueue_elem(commands_, &command, sizeof command) != 0) {
        if (std::chrono::steady_clock::now() > deadline) return std::nullopt;
        std::this_thread::sleep_for(std::chrono::microseconds(100));
    }
    shm::CommandAck ack;
    while (std::chrono::steady_clock::now() <= deadline) {
        if (rte_ring_dequeue_elem(acks_, &ack, sizeof ack) == 0) {
            if (ack.sequence == command.sequence) return ack;
            continue;  // an ack for a command of an earlier control plane
        }
        std::this_thread::sleep_for(std::chrono::microseconds(100));
    }
    return std::nullopt;
}

unsigned DataplaneLink::receive_punts(rte_mbuf** out, unsigned max) {
    return rte_ring_sc_dequeue_burst(punts_, reinterpret_cast<void**>(out), max, nullptr);
}

void DataplaneLink::free_frame(rte_mbuf* m) {
    if ((m = rte_pktmbuf_prefree_seg(m)) != nullptr) {
        void* object = m;
        rte_mempool_generic_put(m->pool, &object, 1, nullptr);
    }
}

bool DataplaneLink::inject(shm::InjectHeader header, const uint8_t* payload, uint16_t payload_len) {
    void* object;
    if (rte_mempool_generic_get(pool_, &object, 1, nullptr) != 0) return false;
    rte_mbuf* m = static_cast<rte_mbuf*>(object);
    rte_pktmbuf_reset(m);
    header.version = shm::kContractVersion;
    header.payload_length = payload_len;
    uint8_t* data = reinterpret_cast<uint8_t*>(rte_pktmbuf_append(m, static_cast<uint16_t>(sizeof header + payload_len)));
    if (data) {
        std::memcpy(data, &header, sizeof header);
        std::memcpy(data + sizeof header, payload, payload_len);
        if (rte_ring_mp_enqueue(injects_, m) == 0) return true;
    }
    free_frame(m);
    return false;
}

}  // namespace conc::cp

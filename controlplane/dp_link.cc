#include "controlplane/dp_link.h"

#include <unistd.h>

#include <chrono>
#include <cstring>
#include <thread>
#include <utility>

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
    return !shm::process_gone(state_->dataplane_pid);
}

bool DataplaneLink::claim(int32_t& holder) {
    const int32_t self = getpid();
    std::atomic<int32_t>& owner = state_->controlplane_pid;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(1);
    for (int32_t seen = 0;;) {
        if (owner.compare_exchange_strong(seen, self)) break;  // seen: who has it now
        // A holder or drainer that died without letting go is replaced (the
        // compare-exchange again, from what was seen).
        if (seen != 0 && shm::holder_gone(seen)) continue;
        // Someone is freeing a gone holder's punts (a ring's worth of mbufs):
        // the ring is not ours to read until it is done.
        if (seen < 0 && std::chrono::steady_clock::now() < deadline) {
            std::this_thread::sleep_for(std::chrono::milliseconds(1));
            seen = 0;
            continue;
        }
        if (seen != 0) {
            holder = seen;
            return false;
        }
    }
    drain_acks();  // what is in the ack ring now answers a predecessor's commands
    return claimed_ = true;
}

void DataplaneLink::release() {
    if (!claimed_) return;
    claimed_ = false;
    // Ours until what is left is freed (draining: no new punts, and a
    // successor's claim waits rather than dequeuing beside us).
    int32_t self = getpid();
    if (!state_->controlplane_pid.compare_exchange_strong(self, shm::draining_pid(self))) return;
    rte_mbuf* left[64];
    for (unsigned n; (n = receive_punts(left, 64));)
        for (unsigned i = 0; i < n; ++i) free_frame(left[i]);
    state_->controlplane_pid.store(0, std::memory_order_release);
}

const char* outcome_name(CommandResult::Outcome o) {
    switch (o) {
        case CommandResult::Outcome::Acked: return "acked";
        case CommandResult::Outcome::NotQueued: return "not queued (command ring full)";
        case CommandResult::Outcome::Unanswered: return "no answer in time (the data plane may still apply it)";
        case CommandResult::Outcome::DataplaneGone: return "the data plane went away";
    }
    return "?";
}

bool DataplaneLink::sort_acks(uint32_t sequence, shm::CommandAck& found) {
    bool got = false;
    for (shm::CommandAck ack; rte_ring_dequeue_elem(acks_, &ack, sizeof ack) == 0;) {
        if (sequence != 0 && ack.sequence == sequence) {
            found = ack;
            got = true;
        } else if (const auto it = unanswered_.find(ack.sequence); it != unanswered_.end()) {
            late_acks_.push_back({ack, std::move(it->second)});
            unanswered_.erase(it);
        } else {
            ++stale_acks_;
        }
    }
    return got;
}

CommandResult DataplaneLink::execute(shm::Command command, const std::string& what, int timeout_ms) {
    CommandResult result;
    command.version = shm::kContractVersion;
    do command.sequence = state_->next_command_sequence.fetch_add(1);
    while (command.sequence == 0);  // 0 means none (sort_acks)
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    while (rte_ring_enqueue_elem(commands_, &command, sizeof command) != 0) {
        if (std::chrono::steady_clock::now() > deadline) return result;
        std::this_thread::sleep_for(std::chrono::microseconds(100));
    }
    result.sequence = command.sequence;
    for (unsigned round = 0;; ++round) {
        if (sort_acks(command.sequence, result.ack)) {
            result.outcome = CommandResult::Outcome::Acked;
            return result;
        }
        if (round % 64 == 63 && !alive()) {  // every few milliseconds
            result.outcome = CommandResult::Outcome::DataplaneGone;
            break;
        }
        if (std::chrono::steady_clock::now() > deadline) {
            result.outcome = CommandResult::Outcome::Unanswered;
            break;
        }
        std::this_thread::sleep_for(std::chrono::microseconds(100));
    }
    // Its ack may still come: kept for take_late_acks(), within what the ack ring can hold.
    if (unanswered_.size() >= shm::kAckRingSize) unanswered_.erase(unanswered_.begin());
    unanswered_[command.sequence] = what;
    return result;
}

void DataplaneLink::drain_acks() {
    shm::CommandAck unused;
    sort_acks(0, unused);
}

std::vector<LateAck> DataplaneLink::take_late_acks() {
    drain_acks();
    return std::exchange(late_acks_, {});
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
    if (size_t{payload_len} + sizeof header > UINT16_MAX) return false;  // the sum would wrap in the append below
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

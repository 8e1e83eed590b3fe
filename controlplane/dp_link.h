// The control plane's end of the shared-memory contract
// (common/shm/contract.h): finds the data plane's rings and zones after the
// EAL has attached as a secondary process, sends commands and waits for their
// acks, takes punted frames and hands over intents.
//
// The EAL gives this process an lcore id that a data-plane lcore may also
// have, so mbufs are taken from and returned to the shared pool without the
// per-lcore mempool caches.
#pragma once

#include <optional>
#include <string>

#include <rte_mbuf.h>
#include <rte_mempool.h>
#include <rte_ring.h>

#include "common/shm/contract.h"

namespace conc::cp {

class DataplaneLink {
public:
    // Empty on success, else what is missing.
    std::string attach(const shm::Names& names);
    // The data plane still runs and is ready.
    bool alive() const;
    // Claims the punt ring: false (with the pid) if another live control plane has it.
    bool claim(int32_t& holder);
    void release();

    // Sends a command and waits up to timeout_ms for its ack.
    std::optional<shm::CommandAck> execute(shm::Command command, int timeout_ms = 2000);

    unsigned receive_punts(rte_mbuf** out, unsigned max);
    static void free_frame(rte_mbuf* m);
    // Queues an intent; false if no mbuf or the ring is full (counted by the caller).
    bool inject(shm::InjectHeader header, const uint8_t* payload, uint16_t payload_len);

    const shm::SharedState& state() const { return *state_; }
    const shm::PublishedSa& sa(uint32_t index) const { return sas_[index]; }
    const shm::PublishedSession& session(uint32_t index) const { return sessions_[index]; }

private:
    shm::SharedState* state_ = nullptr;
    const shm::PublishedSa* sas_ = nullptr;
    const shm::PublishedSession* sessions_ = nullptr;
    rte_ring* commands_ = nullptr;
    rte_ring* acks_ = nullptr;
    rte_ring* punts_ = nullptr;
    rte_ring* injects_ = nullptr;
    rte_mempool* pool_ = nullptr;
    uint32_t next_sequence_ = 1;
    bool claimed_ = false;
};

}  // namespace conc::cp

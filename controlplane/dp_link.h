// The control plane's end of the shared-memory contract
// (common/shm/contract.h): finds the data plane's rings and zones after the
// EAL has attached as a secondary process, sends commands and waits for their
// acks, takes punted frames and hands over intents.
//
// The EAL gives this process an lcore id that a data-plane lcore may also
// have, so mbufs are taken from and returned to the shared pool without the
// per-lcore mempool caches.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <rte_mbuf.h>
#include <rte_mempool.h>
#include <rte_ring.h>

#include "common/shm/contract.h"

namespace conc::cp {

// What became of a command (DataplaneLink::execute).
struct CommandResult {
    enum class Outcome : uint8_t {
        Acked,          // ack is the data plane's answer
        NotQueued,      // the command ring stayed full: nothing was sent
        Unanswered,     // sent, no ack in time: the data plane may still apply it,
                        // and its ack then comes out of take_late_acks()
        DataplaneGone,  // the data plane went away while it waited (an ack
                        // that comes after all is a late one, as for Unanswered)
    };
    Outcome outcome = Outcome::NotQueued;
    uint32_t sequence = 0;  // the command's (0 if not queued)
    shm::CommandAck ack{};
};
const char* outcome_name(CommandResult::Outcome o);

// An ack that came after its command had been given up on, with what the
// caller said the command was.
struct LateAck {
    shm::CommandAck ack;
    std::string what;
};

class DataplaneLink {
public:
    // Empty on success, else what is missing.
    std::string attach(const shm::Names& names);
    // The data plane still runs and is ready.
    bool alive() const;
    // Claims the punt ring: false (with the pid) if another live control
    // plane has it. The acks a predecessor left unread are discarded (stale_acks).
    bool claim(int32_t& holder);
    void release();

    // Sends a command under a sequence number unique for the data plane's
    // life (SharedState::next_command_sequence) and waits up to timeout_ms for
    // the ack that carries it. Acks for commands that timed out earlier are
    // kept for take_late_acks(), named by their `what`; any other ack is
    // stale and only counted.
    CommandResult execute(shm::Command command, const std::string& what = "command", int timeout_ms = 2000);
    // The acks that came after their commands had been given up on (Unanswered), oldest first.
    std::vector<LateAck> take_late_acks();
    // Acks that belonged to no command of this control plane (a predecessor's).
    uint64_t stale_acks() const { return stale_acks_; }

    unsigned receive_punts(rte_mbuf** out, unsigned max);
    static void free_frame(rte_mbuf* m);
    // Queues an intent; false if no mbuf or the ring is full (counted by the caller).
    bool inject(shm::InjectHeader header, const uint8_t* payload, uint16_t payload_len);

    const shm::SharedState& state() const { return *state_; }
    const shm::PublishedSa& sa(uint32_t index) const { return sas_[index]; }
    const shm::PublishedSession& session(uint32_t index) const { return sessions_[index]; }

private:
    // Dequeues every ack waiting; the one for `sequence` (if any) goes to found.
    bool sort_acks(uint32_t sequence, shm::CommandAck& found);
    // The same with no command waiting: every ack is late or stale.
    void drain_acks();

    shm::SharedState* state_ = nullptr;
    const shm::PublishedSa* sas_ = nullptr;
    const shm::PublishedSession* sessions_ = nullptr;
    rte_ring* commands_ = nullptr;
    rte_ring* acks_ = nullptr;
    rte_ring* punts_ = nullptr;
    rte_ring* injects_ = nullptr;
    rte_mempool* pool_ = nullptr;
    bool claimed_ = false;
    std::map<uint32_t, std::string> unanswered_;  // sequence given up on -> what, at most kAckRingSize
    std::vector<LateAck> late_acks_;
    uint64_t stale_acks_ = 0;
};

}  // namespace conc::cp

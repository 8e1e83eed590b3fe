// Packet and byte counters of an SA or a session, and how several workers
// add to the ones any of them may write (an outbound SA's, a session's
// downstream ones: RSS on the core port spreads a client's flows over
// workers) without a locked add per packet on the common path.
#pragma once

#include <atomic>
#include <cstdint>

namespace conc::dp {

inline constexpr uint16_t kNoOwner = 0xFFFF;

// Trivial, so that it can share a union; value-initialise it ({}) for zeros.
struct PacketCounters {
    uint64_t packets;
    uint64_t bytes;
};

// A counter several workers may add to at once. Uncontended, a locked add
// costs about 6 cycles in the benchmark.
inline void add_shared_counter(uint64_t& counter, uint64_t value) {
    std::atomic_ref<uint64_t>(counter).fetch_add(value, std::memory_order_relaxed);
}

// Adds one packet of bytes to counters any worker may write. The first
// worker to count claims owned (owner holds its queue) and from then on
// adds to it plainly, as its only writer; every other worker adds to
// shared with locked adds. owner and owned sit in the line the packet
// touches anyway, shared in one only the other workers touch. Readers sum
// the two (counter_total). Ownership is sticky until the SA or session is
// installed again: when RSS keeps a client's downstream on one worker (one
// flow, or one core queue) every packet takes the plain path.
inline void count_packet(uint16_t& owner, uint16_t worker, PacketCounters& owned, PacketCounters& shared,
                         uint64_t bytes) {
    std::atomic_ref<uint16_t> claim(owner);
    uint16_t current = claim.load(std::memory_order_relaxed);
    if (current == worker ||
        (current == kNoOwner && claim.compare_exchange_strong(current, worker, std::memory_order_relaxed))) {
        // One writer: load and store, no lock; relaxed atomics for the readers on other lcores.
        std::atomic_ref<uint64_t> packets(owned.packets), total(owned.bytes);
        packets.store(packets.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
        total.store(total.load(std::memory_order_relaxed) + bytes, std::memory_order_relaxed);
        return;
    }
    add_shared_counter(shared.packets, 1);
    add_shared_counter(shared.bytes, bytes);
}

// What a reader on another lcore sees of counters written as above (or of
// owned alone, shared being all zero, for counters with one writer).
inline PacketCounters counter_total(const PacketCounters& owned, const PacketCounters& shared) {
    const auto load = [](const uint64_t& v) { return __atomic_load_n(&v, __ATOMIC_RELAXED); };
    return {load(owned.packets) + load(shared.packets), load(owned.bytes) + load(shared.bytes)};
}

}  // namespace conc::dp

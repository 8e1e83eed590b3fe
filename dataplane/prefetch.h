// Which cache a burst stage's prefetches fill. A prefetch into L1 holds one
// of the core's few L1 miss buffers until its line arrives from memory; one
// into L2 holds an L2 miss buffer, of which there are more, and the load
// that later finds the line in L2 is a short wait. Short packets read few
// lines each and are worked on quickly, so their lines are best brought all
// the way in; a burst of long packets has two or three times the lines in
// flight and fills L1's buffers, so every other miss (the packets' own
// lines, the crypto library's stack) queues behind the prefetches.
// Measured with 100k clients, AES-GCM-128 (dataplane_bench, AMD EPYC):
// everything into L1, upstream IMIX +35-40% over one client; the same lines
// into L2, +16-20%; but upstream 64 B from +9% to +17%. Hence by the burst:
// L1 for bursts of short packets, L2 for the rest, and always L2 for
// prefetches a whole burst issues at once (two lines per packet, 64 for a burst).
#pragma once

#include <cstdint>

#include <rte_prefetch.h>

namespace conc::dp {

enum class CacheLevel : uint8_t { L1, L2 };

// rte_prefetch0/1 are asm statements: GCC 12 dropped __builtin_prefetch from the SA prefetch loops.
inline void prefetch_line(const void* p, CacheLevel level) {
    if (level == CacheLevel::L2) rte_prefetch1(p);
    else rte_prefetch0(p);
}

// Mean length up to which a burst counts as short: a GCM packet this long
// reads 8 SA lines (transform, 3 of round keys, 4 of hash powers).
inline constexpr uint32_t kShortPacketBytes = 256;

// For a burst of `packets` packets of `bytes` bytes in all (ESP or L2TP lengths).
inline CacheLevel burst_prefetch_level(uint32_t bytes, uint16_t packets) {
    return bytes > kShortPacketBytes * packets ? CacheLevel::L2 : CacheLevel::L1;
}

}  // namespace conc::dp

// Burst lookups in an rte_hash whose data is an index into an array: the one
// loop every table (SAs by SPI or peer, sessions by ids) uses.
#pragma once

#include <cstdint>

#include <rte_hash.h>

namespace conc::dp {

template <typename Entry, typename Key>
void bulk_lookup(const rte_hash* hash, Entry* entries, const Key* keys, unsigned n, Entry** out) {
    const void* key_pointers[RTE_HASH_LOOKUP_BULK_MAX];
    void* data[RTE_HASH_LOOKUP_BULK_MAX];
    for (unsigned base = 0; base < n; base += RTE_HASH_LOOKUP_BULK_MAX) {
        const unsigned count = n - base < RTE_HASH_LOOKUP_BULK_MAX ? n - base : RTE_HASH_LOOKUP_BULK_MAX;
        for (unsigned i = 0; i < count; ++i) key_pointers[i] = &keys[base + i];
        uint64_t hits = 0;
        rte_hash_lookup_bulk_data(hash, key_pointers, count, &hits, data);
        for (unsigned i = 0; i < count; ++i)
            out[base + i] = (hits >> i & 1) ? &entries[reinterpret_cast<uintptr_t>(data[i])] : nullptr;
    }
}

}  // namespace conc::dp

// An exact-match table from a 32-bit key (an SPI, a client's IPv4 address)
// to a 32-bit table index, made for lookups that miss the cache: a key and
// its index are one 64-bit word, seven to a 64-byte bucket, so a cold lookup
// costs one line where rte_hash costs two (bucket, then key store), and a
// warm one a multiply and a few compares. Open addressing over buckets, at
// most half full; each bucket counts the keys that went past it because it
// was full, so a lookup stops at the first bucket nothing went past, and an
// erased entry is simply empty again (no tombstones to pile up). It holds
// the SAs and sessions that could not sit in the slot their key names
// (dataplane/slot_map.h).
//
// One writer (the main lcore); workers read without locks. Entries and
// counts are single words written atomically, so a reader sees an entry
// whole or not at all; what an index points at is freed only after an RCU
// grace period, as with rte_hash.
#pragma once

#include <atomic>
#include <cstdint>

namespace conc::dp {

class IndexTable {
public:
    static constexpr unsigned kEntriesPerBucket = 7;
    static constexpr uint32_t kNotFound = 0xFFFFFFFF;

    struct alignas(64) Bucket {
        std::atomic<uint64_t> passed_over{0};  // keys stored further on because this bucket was full
        std::atomic<uint64_t> entries[kEntriesPerBucket]{};  // key << 32 | value; 0 = empty
    };
    static_assert(sizeof(Bucket) == 64);

    // Buckets for capacity keys at no more than half full (a power of two, at least 2).
    static uint32_t buckets_for(uint32_t capacity);

    // Uses zeroed storage of buckets_for(capacity) buckets (a power of two,
    // at least 2), which the caller owns.
    void attach(Bucket* buckets, uint32_t bucket_count);
    // Or allocates it in hugepage memory on socket; release() frees it.
    bool create(const char* name, uint32_t capacity, int socket);
    void release();

    // Key 0 is reserved (SPI 0 and address 0.0.0.0 are never looked up).
    // False if key is 0 or present already, or the table is full.
    bool insert(uint32_t key, uint32_t value);
    // False if key is not present.
    bool erase(uint32_t key);
    uint32_t find(uint32_t key) const;  // kNotFound if absent
    // Workers may read it too: an empty table needs no probe.
    uint32_t size() const { return size_.load(std::memory_order_relaxed); }

private:
    // MurmurHash3's finalizer: every key bit moves every bucket bit, so
    // sequential SPIs and addresses (whose varying bits are the top ones in
    // network byte order) spread evenly; a plain multiply clustered them.
    uint32_t home(uint32_t key) const {
        key ^= key >> 16;
        key *= 0x85EBCA6Bu;
        key ^= key >> 13;
        key *= 0xC2B2AE35u;
        key ^= key >> 16;
        return key & bucket_mask_;
    }

    Bucket* buckets_ = nullptr;
    uint32_t bucket_mask_ = 0;
    std::atomic<uint32_t> size_{0};
};

inline uint32_t IndexTable::find(uint32_t key) const {
    if (key == 0) return kNotFound;
    uint32_t b = home(key);
    for (uint32_t probes = 0; probes <= bucket_mask_; ++probes, b = (b + 1) & bucket_mask_) {
        const Bucket& bucket = buckets_[b];
        for (const auto& e : bucket.entries) {
            const uint64_t word = e.load(std::memory_order_acquire);
            if (static_cast<uint32_t>(word >> 32) == key) return static_cast<uint32_t>(word);
        }
        if (bucket.passed_over.load(std::memory_order_acquire) == 0) break;
    }
    return kNotFound;
}

}  // namespace conc::dp

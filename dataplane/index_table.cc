#include "dataplane/index_table.h"

#include <rte_malloc.h>

namespace conc::dp {

uint32_t IndexTable::buckets_for(uint32_t capacity) {
    const uint64_t wanted = (2 * uint64_t{capacity} + kEntriesPerBucket - 1) / kEntriesPerBucket;
    uint32_t n = 2;
    while (n < wanted) n <<= 1;
    return n;
}

void IndexTable::attach(Bucket* buckets, uint32_t bucket_count) {
    buckets_ = buckets;
    bucket_mask_ = bucket_count - 1;
    size_.store(0, std::memory_order_relaxed);
}

bool IndexTable::create(const char* name, uint32_t capacity, int socket) {
    const uint32_t count = buckets_for(capacity);
    auto* buckets = static_cast<Bucket*>(rte_zmalloc_socket(name, sizeof(Bucket) * count, alignof(Bucket), socket));
    if (!buckets) return false;
    attach(buckets, count);
    return true;
}

void IndexTable::release() {
    rte_free(buckets_);
    buckets_ = nullptr;
}

bool IndexTable::insert(uint32_t key, uint32_t value) {
    if (key == 0 || find(key) != kNotFound || size() >= (bucket_mask_ + 1) * kEntriesPerBucket) return false;
    // Count the pass-overs first: a reader that meets a full bucket must
    // already know to look further when the entry appears beyond it.
    uint32_t b = home(key);
    for (uint32_t probes = 0; probes <= bucket_mask_; ++probes, b = (b + 1) & bucket_mask_) {
        for (auto& e : buckets_[b].entries) {
            if (e.load(std::memory_order_relaxed) != 0) continue;
            e.store(uint64_t{key} << 32 | value, std::memory_order_release);
            size_.fetch_add(1, std::memory_order_relaxed);
            return true;
        }
        buckets_[b].passed_over.fetch_add(1, std::memory_order_release);
    }
    return false;  // not reached: the table is never more than half full
}

bool IndexTable::erase(uint32_t key) {
    if (key == 0) return false;
    uint32_t b = home(key);
    for (uint32_t probes = 0; probes <= bucket_mask_; ++probes, b = (b + 1) & bucket_mask_) {
        for (auto& e : buckets_[b].entries) {
            if (static_cast<uint32_t>(e.load(std::memory_order_relaxed) >> 32) != key) continue;
            e.store(0, std::memory_order_release);
            // The buckets it had passed over no longer send readers on for it.
            for (uint32_t p = home(key); p != b; p = (p + 1) & bucket_mask_)
                buckets_[p].passed_over.fetch_sub(1, std::memory_order_release);
            size_.fetch_sub(1, std::memory_order_relaxed);
            return true;
        }
        if (buckets_[b].passed_over.load(std::memory_order_relaxed) == 0) break;
    }
    return false;
}

}  // namespace conc::dp

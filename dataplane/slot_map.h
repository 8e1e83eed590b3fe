// Which slots of a table (SAs, sessions) are free. Entries go to the slot
// their key names when it is free (an inbound SA's SPI, a session's client
// address: shm::slot_of), where workers find them without a hash lookup;
// the others fill from the top down, so the two kinds meet only when the
// table is full. Main lcore only.
#pragma once

#include <algorithm>
#include <cstdint>
#include <vector>

namespace conc::dp {

class SlotMap {
public:
    void reset(uint32_t capacity) {
        capacity_ = capacity;
        high_water_ = 0;
        free_.assign((capacity + 63) / 64, ~uint64_t{0});
        if (capacity % 64) free_.back() = (uint64_t{1} << capacity % 64) - 1;
        highest_free_word_ = free_.empty() ? 0 : static_cast<uint32_t>(free_.size() - 1);
    }

    bool is_free(uint32_t slot) const { return slot < capacity_ && (free_[slot / 64] >> (slot % 64) & 1); }

    uint32_t highest_free() {  // capacity if none
        for (uint32_t w = highest_free_word_ + 1; w-- > 0;) {
            if (w < free_.size() && free_[w]) {
                highest_free_word_ = w;
                return w * 64 + 63 - static_cast<uint32_t>(__builtin_clzll(free_[w]));
            }
        }
        highest_free_word_ = 0;
        return capacity_;
    }

    void take(uint32_t slot) {
        free_[slot / 64] &= ~(uint64_t{1} << slot % 64);
        high_water_ = std::max(high_water_, slot + 1);
    }

    // Once no worker can still hold what was there (RCU).
    void release(uint32_t slot) {
        free_[slot / 64] |= uint64_t{1} << slot % 64;
        highest_free_word_ = std::max(highest_free_word_, slot / 64);
    }

    // Slots [0, high_water()) may have been taken.
    uint32_t high_water() const { return high_water_; }

    // Calls f(slot) for every slot taken (in use, or removed and awaiting
    // reclaim), skipping the free ones between them.
    template <typename F>
    void for_each_taken(F&& f) const {
        for (uint32_t w = 0; w * 64 < high_water_; ++w)
            for (uint64_t taken = ~free_[w]; taken; taken &= taken - 1) {
                const uint32_t slot = w * 64 + static_cast<uint32_t>(__builtin_ctzll(taken));
                if (slot < capacity_) f(slot);
            }
    }

private:
    std::vector<uint64_t> free_;  // a set bit is a free slot
    uint32_t capacity_ = 0;
    uint32_t high_water_ = 0;
    uint32_t highest_free_word_ = 0;  // no free slot in the words above
};

}  // namespace conc::dp

// Anti-replay window, RFC 4303 3.4.3, kept as the RFC 6479 bitmap: W bits of
// history plus at least one spare 64-bit block, a power of two blocks in all,
// so advancing the window clears whole blocks instead of shifting. check() runs before decryption; update() only
// after the ICV verified, and reports a duplicate that raced in the same burst.
#pragma once

#include <cstdint>

namespace conc::dp {

enum class ReplayVerdict : uint8_t { Ok, Replayed, LeftOfWindow, ZeroSequence };

class ReplayWindow {
public:
    // bitmap must hold words(window_bits) zeroed words; window_bits is a
    // multiple of 64, or 0 for no anti-replay (RFC 4303 3.4.3 allows the
    // receiver to disable it).
    static constexpr uint32_t words(uint32_t window_bits) {
        if (window_bits == 0) return 0;
        uint32_t n = 1;
        while (n < window_bits / 64 + 1) n <<= 1;
        return n;
    }

    // Bitmap words an SA holds inline: windows up to 1984 bits use them.
    static constexpr uint32_t kInlineWords = 32;

    void init(uint64_t* bitmap, uint32_t window_bits) { init(bitmap, window_bits, words(window_bits)); }
    // A bitmap larger than the window needs works the same: bitmap_words is a
    // power of two of at least words(window_bits).
    void init(uint64_t* bitmap, uint32_t window_bits, uint32_t bitmap_words) {
        bitmap_ = bitmap;
        window_bits_ = window_bits;
        index_mask_ = window_bits ? bitmap_words * 64 - 1 : 0;
        highest_ = 0;
    }
    bool enabled() const { return window_bits_ != 0; }
    uint32_t window_bits() const { return window_bits_; }
    uint32_t highest() const { return highest_; }
    uint64_t* storage() const { return bitmap_; }

    ReplayVerdict check(uint32_t seq) const {
        if (seq == 0) return ReplayVerdict::ZeroSequence;  // never sent: the first is 1
        if (!enabled() || seq > highest_) return ReplayVerdict::Ok;
        if (static_cast<uint64_t>(seq) + window_bits_ <= highest_) return ReplayVerdict::LeftOfWindow;
        return test_bit(seq) ? ReplayVerdict::Replayed : ReplayVerdict::Ok;
    }

    // Marks seq as received; call only for an authenticated packet that passed
    // check(). Returns the verdict again because another packet of the same
    // burst may have taken the number (or moved the window) in between.
    ReplayVerdict update(uint32_t seq) {
        if (!enabled()) return ReplayVerdict::Ok;
        if (seq > highest_) {
            const uint32_t word_mask = index_mask_ / 64;
            uint32_t old_block = highest_ / 64, new_block = seq / 64;
            uint32_t diff = new_block - old_block;
            if (diff > word_mask + 1) diff = word_mask + 1;
            for (uint32_t i = 1; i <= diff; ++i) bitmap_[(old_block + i) & word_mask] = 0;
            highest_ = seq;
        } else {
            if (static_cast<uint64_t>(seq) + window_bits_ <= highest_) return ReplayVerdict::LeftOfWindow;
            if (test_bit(seq)) return ReplayVerdict::Replayed;
        }
        uint32_t bit = seq & index_mask_;
        bitmap_[bit / 64] |= uint64_t{1} << (bit % 64);
        return ReplayVerdict::Ok;
    }

private:
    bool test_bit(uint32_t seq) const {
        uint32_t bit = seq & index_mask_;
        return bitmap_[bit / 64] >> (bit % 64) & 1;
    }

    uint64_t* bitmap_ = nullptr;
    uint32_t window_bits_ = 0;
    uint32_t index_mask_ = 0;
    uint32_t highest_ = 0;
};

}  // namespace conc::dp

// Anti-replay window, RFC 4303 3.4.3, kept as the RFC 6479 bitmap: W bits of
// history plus at least one spare 64-bit block, a power of two blocks in all,
// so advancing the window clears whole blocks instead of shifting. check() runs before decryption; update() only
// after the ICV verified, and reports a duplicate that raced in the same burst.
#pragma once

#include <cstdint>

namespace conc::dp {

enum class ReplayVerdict : uint8_t { Ok, Replayed, LeftOfWindow, ZeroSequence };

// What an SA keeps of its window beside the transform: 8 bytes, so the SA's
// first line holds it. The bitmap lives elsewhere (ReplayWindow is given it).
struct ReplayState {
    uint32_t highest = 0;
    uint16_t window_blocks = 0;  // W / 64; 0 = no anti-replay (RFC 4303 3.4.3 lets the receiver disable it)
    uint8_t bitmap_bits_log2 = 0;
    uint8_t unused = 0;
};
static_assert(sizeof(ReplayState) == 8);

// A window at work: an SA's ReplayState and its bitmap, taken together for a check or an update.
class ReplayWindow {
public:
    // The bitmap a window of window_bits needs, in 64-bit words; window_bits is
    // a multiple of 64, at most 65536 (config's kMaxReplayWindow), or 0.
    static constexpr uint32_t words(uint32_t window_bits) {
        if (window_bits == 0) return 0;
        uint32_t n = 1;
        while (n < window_bits / 64 + 1) n <<= 1;
        return n;
    }

    // Bitmap words an SA holds inline: windows up to 1984 bits use them.
    static constexpr uint32_t kInlineWords = 32;

    // Starts state empty for window_bits over a zeroed bitmap of bitmap_words,
    // a power of two of at least words(window_bits): a larger bitmap than the
    // window needs works the same.
    static void init(ReplayState& state, uint32_t window_bits, uint32_t bitmap_words) {
        state = ReplayState{};
        if (window_bits == 0) return;
        state.window_blocks = static_cast<uint16_t>(window_bits / 64);
        while ((1u << state.bitmap_bits_log2) < bitmap_words * 64) ++state.bitmap_bits_log2;
    }
    static uint32_t bitmap_words(const ReplayState& state) {
        return state.window_blocks ? (1u << state.bitmap_bits_log2) / 64 : 0;
    }

    ReplayWindow(ReplayState& state, uint64_t* bitmap) : state_(&state), bitmap_(bitmap) {}

    bool enabled() const { return state_->window_blocks != 0; }
    uint32_t window_bits() const { return uint32_t{state_->window_blocks} * 64; }
    uint32_t highest() const { return state_->highest; }

    ReplayVerdict check(uint32_t seq) const {
        if (seq == 0) return ReplayVerdict::ZeroSequence;  // never sent: the first is 1
        const uint32_t highest = state_->highest;
        if (!enabled() || seq > highest) return ReplayVerdict::Ok;
        if (static_cast<uint64_t>(seq) + window_bits() <= highest) return ReplayVerdict::LeftOfWindow;
        return test_bit(seq) ? ReplayVerdict::Replayed : ReplayVerdict::Ok;
    }

    // Marks seq as received; call only for an authenticated packet that passed
    // check(). Returns the verdict again because another packet of the same
    // burst may have taken the number (or moved the window) in between.
    ReplayVerdict update(uint32_t seq) {
        if (!enabled()) return ReplayVerdict::Ok;
        const uint32_t highest = state_->highest;
        if (seq > highest) {
            const uint32_t word_mask = index_mask() / 64;
            uint32_t old_block = highest / 64, new_block = seq / 64;
            uint32_t diff = new_block - old_block;
            if (diff > word_mask + 1) diff = word_mask + 1;
            for (uint32_t i = 1; i <= diff; ++i) bitmap_[(old_block + i) & word_mask] = 0;
            state_->highest = seq;
        } else {
            if (static_cast<uint64_t>(seq) + window_bits() <= highest) return ReplayVerdict::LeftOfWindow;
            if (test_bit(seq)) return ReplayVerdict::Replayed;
        }
        uint32_t bit = seq & index_mask();
        bitmap_[bit / 64] |= uint64_t{1} << (bit % 64);
        return ReplayVerdict::Ok;
    }

private:
    uint32_t index_mask() const { return (uint32_t{1} << state_->bitmap_bits_log2) - 1; }
    bool test_bit(uint32_t seq) const {
        uint32_t bit = seq & index_mask();
        return bitmap_[bit / 64] >> (bit % 64) & 1;
    }

    ReplayState* state_;
    uint64_t* bitmap_;
};

}  // namespace conc::dp

// Anti-replay window (RFC 4303 3.4.3, bitmap as in RFC 6479): edge cases by
// hand, then long random sequences against a plain reference model
// (std::set of accepted numbers + the highest one).
#include "dataplane/ipsec/replay_window.h"

#include <cppunit/TestFixture.h>
#include <cppunit/extensions/HelperMacros.h>

#include <cstdint>
#include <cstring>
#include <random>
#include <set>
#include <string>
#include <vector>

namespace {

using conc::dp::ReplayState;
using conc::dp::ReplayVerdict;
using conc::dp::ReplayWindow;

const char* verdict_name(ReplayVerdict v) {
    switch (v) {
        case ReplayVerdict::Ok: return "Ok";
        case ReplayVerdict::Replayed: return "Replayed";
        case ReplayVerdict::LeftOfWindow: return "LeftOfWindow";
        case ReplayVerdict::ZeroSequence: return "ZeroSequence";
    }
    return "?";
}

// A window with its own zeroed storage, as the SA table provides it.
struct Window {
    // bitmap_words 0: the smallest bitmap for the window; else a larger one,
    // as an SA's inline bitmap is for small windows.
    explicit Window(uint32_t bits, uint32_t bitmap_words = 0) { reset(bits, bitmap_words); }
    Window(const Window&) = delete;
    Window& operator=(const Window&) = delete;

    void reset(uint32_t bits, uint32_t bitmap_words = 0) {
        // The extra last word is a canary: nothing may write past the bitmap.
        const uint32_t words = bitmap_words ? bitmap_words : ReplayWindow::words(bits);
        storage.assign(words + 1, 0);
        storage.back() = kCanary;
        ReplayWindow::init(state, bits, words);
        window = ReplayWindow(state, bits ? storage.data() : nullptr);
    }
    bool canary_intact() const { return storage.back() == kCanary; }

    // The fast path's order: check() before decryption, update() after the
    // ICV verified. Returns update()'s verdict when check() passed.
    ReplayVerdict receive(uint32_t seq) {
        const ReplayVerdict v = window.check(seq);
        return v == ReplayVerdict::Ok ? window.update(seq) : v;
    }

    static constexpr uint64_t kCanary = 0xC0FFEE0DDBA11ULL;
    std::vector<uint64_t> storage;
    ReplayState state;
    ReplayWindow window{state, nullptr};
};

// What RFC 4303 3.4.3 asks for, written as plainly as possible: W numbers
// (highest - W + 1 .. highest) are inside the window; left of it everything
// is refused; inside it, only numbers not yet received pass.
struct ReferenceWindow {
    explicit ReferenceWindow(uint32_t bits) : window_bits(bits) {}

    ReplayVerdict check(uint32_t seq) const {
        if (seq == 0) return ReplayVerdict::ZeroSequence;
        if (window_bits == 0 || seq > highest) return ReplayVerdict::Ok;
        if (uint64_t{seq} + window_bits <= highest) return ReplayVerdict::LeftOfWindow;
        return received.count(seq) ? ReplayVerdict::Replayed : ReplayVerdict::Ok;
    }
    ReplayVerdict update(uint32_t seq) {
        if (window_bits == 0) return ReplayVerdict::Ok;
        const ReplayVerdict v = check(seq);
        if (v != ReplayVerdict::Ok) return v;
        received.insert(seq);
        if (seq > highest) highest = seq;
        // Keep the set small: what is left of the window can never matter again.
        while (!received.empty() && uint64_t{*received.begin()} + window_bits <= highest)
            received.erase(received.begin());
        return ReplayVerdict::Ok;
    }

    uint32_t window_bits;
    uint32_t highest = 0;
    std::set<uint32_t> received;
};

#define ASSERT_VERDICT(expected, actual) \
    CPPUNIT_ASSERT_EQUAL(std::string(verdict_name(expected)), std::string(verdict_name(actual)))

}  // namespace

class ReplayWindowTest : public CppUnit::TestFixture {
    CPPUNIT_TEST_SUITE(ReplayWindowTest);
    CPPUNIT_TEST(testWordsSizes);
    CPPUNIT_TEST(testZeroSequenceRefused);
    CPPUNIT_TEST(testInOrder);
    CPPUNIT_TEST(testReplayRefused);
    CPPUNIT_TEST(testLeftEdgeOfWindow);
    CPPUNIT_TEST(testOutOfOrderWithinWindow);
    CPPUNIT_TEST(testBigJumpsClearStaleBits);
    CPPUNIT_TEST(testJumpAfterOneFullBitmapTurn);
    CPPUNIT_TEST(testHighestSequenceNumber);
    CPPUNIT_TEST(testCheckDoesNotModify);
    CPPUNIT_TEST(testUpdateCatchesDuplicateInSameBurst);
    CPPUNIT_TEST(testUpdateCatchesWindowMovedInSameBurst);
    CPPUNIT_TEST(testDisabledWindow);
    CPPUNIT_TEST(testRandomAgainstModel64);
    CPPUNIT_TEST(testRandomAgainstModel1024);
    CPPUNIT_TEST(testRandomAgainstModel4096);
    CPPUNIT_TEST(testRandomAgainstModelInlineBitmap);
    CPPUNIT_TEST_SUITE_END();

public:
    void testWordsSizes() {
        // RFC 6479: W bits plus at least one spare 64-bit block, power of two blocks.
        CPPUNIT_ASSERT_EQUAL(0u, ReplayWindow::words(0));
        CPPUNIT_ASSERT_EQUAL(2u, ReplayWindow::words(64));
        CPPUNIT_ASSERT_EQUAL(4u, ReplayWindow::words(128));
        CPPUNIT_ASSERT_EQUAL(4u, ReplayWindow::words(192));
        CPPUNIT_ASSERT_EQUAL(8u, ReplayWindow::words(256));
        CPPUNIT_ASSERT_EQUAL(32u, ReplayWindow::words(1024));
        CPPUNIT_ASSERT_EQUAL(128u, ReplayWindow::words(4096));
        CPPUNIT_ASSERT_EQUAL(2048u, ReplayWindow::words(65536));
        for (uint32_t bits = 64; bits <= 65536; bits += 64) {
            const uint32_t w = ReplayWindow::words(bits);
            CPPUNIT_ASSERT(w * 64 >= bits + 64);
            CPPUNIT_ASSERT_EQUAL(0u, w & (w - 1));
        }
        Window win(1024);
        CPPUNIT_ASSERT(win.window.enabled());
        CPPUNIT_ASSERT_EQUAL(1024u, win.window.window_bits());
        CPPUNIT_ASSERT_EQUAL(0u, win.window.highest());
        CPPUNIT_ASSERT_EQUAL(32u, ReplayWindow::bitmap_words(win.state));
        // An SA's inline bitmap is larger than a small window needs.
        Window small(64, ReplayWindow::kInlineWords);
        CPPUNIT_ASSERT_EQUAL(ReplayWindow::kInlineWords, ReplayWindow::bitmap_words(small.state));
        CPPUNIT_ASSERT_EQUAL(64u, small.window.window_bits());
        Window largest(65536);
        CPPUNIT_ASSERT_EQUAL(2048u, ReplayWindow::bitmap_words(largest.state));
        CPPUNIT_ASSERT_EQUAL(65536u, largest.window.window_bits());
        Window off(0);
        CPPUNIT_ASSERT(!off.window.enabled());
        CPPUNIT_ASSERT_EQUAL(0u, ReplayWindow::bitmap_words(off.state));
    }

    void testZeroSequenceRefused() {
        for (uint32_t bits : {0u, 64u, 1024u, 4096u}) {
            Window w(bits);
            ASSERT_VERDICT(ReplayVerdict::ZeroSequence, w.window.check(0));
            ASSERT_VERDICT(ReplayVerdict::Ok, w.receive(5));
            ASSERT_VERDICT(ReplayVerdict::ZeroSequence, w.window.check(0));
        }
    }

    void testInOrder() {
        for (uint32_t bits : {64u, 1024u, 4096u}) {
            Window w(bits);
            for (uint32_t seq = 1; seq <= 3 * bits + 17; ++seq) {
                ASSERT_VERDICT(ReplayVerdict::Ok, w.receive(seq));
                CPPUNIT_ASSERT_EQUAL(seq, w.window.highest());
            }
            CPPUNIT_ASSERT(w.canary_intact());
        }
    }

    void testReplayRefused() {
        for (uint32_t bits : {64u, 1024u, 4096u}) {
            Window w(bits);
            for (uint32_t seq = 1; seq <= 200; ++seq) ASSERT_VERDICT(ReplayVerdict::Ok, w.receive(seq));
            // Every number still inside the window is a replay, for check() and update().
            const uint32_t lowest_inside = 200 > bits ? 200 - bits + 1 : 1;
            for (uint32_t seq = lowest_inside; seq <= 200; ++seq) {
                ASSERT_VERDICT(ReplayVerdict::Replayed, w.window.check(seq));
                ASSERT_VERDICT(ReplayVerdict::Replayed, w.window.update(seq));
            }
            CPPUNIT_ASSERT_EQUAL(200u, w.window.highest());
        }
    }

    void testLeftEdgeOfWindow() {
        // RFC 4303 3.4.3: the window's right edge is the highest number received;
        // W numbers fit in it, so W - 1 behind is inside, W and W + 1 behind are not.
        for (uint32_t bits : {64u, 1024u, 4096u}) {
            Window w(bits);
            const uint32_t highest = 10 * bits + 5;
            ASSERT_VERDICT(ReplayVerdict::Ok, w.receive(highest));
            ASSERT_VERDICT(ReplayVerdict::Ok, w.window.check(highest - (bits - 1)));
            ASSERT_VERDICT(ReplayVerdict::LeftOfWindow, w.window.check(highest - bits));
            ASSERT_VERDICT(ReplayVerdict::LeftOfWindow, w.window.check(highest - bits - 1));
            ASSERT_VERDICT(ReplayVerdict::LeftOfWindow, w.window.check(1));
            ASSERT_VERDICT(ReplayVerdict::LeftOfWindow, w.window.update(highest - bits));
            ASSERT_VERDICT(ReplayVerdict::LeftOfWindow, w.window.update(highest - bits - 1));
            // The oldest number inside is accepted once, then is a replay.
            ASSERT_VERDICT(ReplayVerdict::Ok, w.receive(highest - (bits - 1)));
            ASSERT_VERDICT(ReplayVerdict::Replayed, w.receive(highest - (bits - 1)));
            CPPUNIT_ASSERT_EQUAL(highest, w.window.highest());
            // Early in the SA nothing is left of the window yet.
            Window fresh(bits);
            ASSERT_VERDICT(ReplayVerdict::Ok, fresh.receive(bits));
            ASSERT_VERDICT(ReplayVerdict::Ok, fresh.receive(1));
            ASSERT_VERDICT(ReplayVerdict::Ok, fresh.receive(bits + 1));
            ASSERT_VERDICT(ReplayVerdict::LeftOfWindow, fresh.receive(1));
            CPPUNIT_ASSERT(w.canary_intact() && fresh.canary_intact());
        }
    }

    void testOutOfOrderWithinWindow() {
        for (uint32_t bits : {64u, 1024u, 4096u}) {
            Window w(bits);
            const uint32_t top = bits + 1000;
            ASSERT_VERDICT(ReplayVerdict::Ok, w.receive(top));
            // Everything inside the window, newest first, then a few odd ones.
            for (uint32_t seq = top - 1; seq > top - bits; --seq) ASSERT_VERDICT(ReplayVerdict::Ok, w.receive(seq));
            for (uint32_t seq = top - bits + 1; seq <= top; ++seq)
                ASSERT_VERDICT(ReplayVerdict::Replayed, w.receive(seq));
            CPPUNIT_ASSERT_EQUAL(top, w.window.highest());
            // Interleaved: even numbers ahead first, then the odd ones behind them.
            for (uint32_t seq = top + 2; seq <= top + 40; seq += 2) ASSERT_VERDICT(ReplayVerdict::Ok, w.receive(seq));
            for (uint32_t seq = top + 1; seq < top + 40; seq += 2) ASSERT_VERDICT(ReplayVerdict::Ok, w.receive(seq));
            for (uint32_t seq = top + 1; seq <= top + 40; ++seq)
                ASSERT_VERDICT(ReplayVerdict::Replayed, w.receive(seq));
            CPPUNIT_ASSERT(w.canary_intact());
        }
    }

    void testBigJumpsClearStaleBits() {
        // After a jump the bitmap blocks are reused: bits of old numbers must not
        // show up as replays of new ones that map to the same bit.
        for (uint32_t bits : {64u, 1024u, 4096u}) {
            const uint32_t ring = ReplayWindow::words(bits) * 64;
            for (uint32_t jump :
                 {bits - 1, bits, bits + 1, 2 * bits, ring - 1, ring, ring + 1, ring + 64, 5 * ring + 3, 1u << 20}) {
                Window w(bits);
                for (uint32_t seq = 1; seq <= bits; ++seq) ASSERT_VERDICT(ReplayVerdict::Ok, w.receive(seq));
                const uint32_t top = bits + jump;
                ASSERT_VERDICT(ReplayVerdict::Ok, w.receive(top));
                CPPUNIT_ASSERT_EQUAL(top, w.window.highest());
                for (uint32_t seq = top - bits + 1; seq < top; ++seq) {
                    const ReplayVerdict expected = seq <= bits ? ReplayVerdict::Replayed : ReplayVerdict::Ok;
                    ASSERT_VERDICT(expected, w.window.check(seq));
                }
                if (jump >= bits) ASSERT_VERDICT(ReplayVerdict::LeftOfWindow, w.window.check(bits));
                for (uint32_t seq = top - bits + 1; seq < top; ++seq) {
                    if (seq > bits) ASSERT_VERDICT(ReplayVerdict::Ok, w.receive(seq));
                }
                CPPUNIT_ASSERT(w.canary_intact());
            }
        }
    }

    void testJumpAfterOneFullBitmapTurn() {
        // Numbers exactly one bitmap length apart share a bit: the newer must pass.
        Window w(64);
        const uint32_t ring = ReplayWindow::words(64) * 64;
        ASSERT_VERDICT(ReplayVerdict::Ok, w.receive(100));
        ASSERT_VERDICT(ReplayVerdict::Ok, w.receive(100 + ring - 1));
        ASSERT_VERDICT(ReplayVerdict::LeftOfWindow, w.window.check(100));
        ASSERT_VERDICT(ReplayVerdict::Ok, w.receive(100 + ring));
        ASSERT_VERDICT(ReplayVerdict::Replayed, w.receive(100 + ring));
        ASSERT_VERDICT(ReplayVerdict::Replayed, w.receive(100 + ring - 1));
    }

    void testHighestSequenceNumber() {
        // RFC 4303 3.3.3: the sender never wraps, so 0xFFFFFFFF is the last number.
        for (uint32_t bits : {64u, 1024u, 4096u}) {
            Window w(bits);
            ASSERT_VERDICT(ReplayVerdict::Ok, w.receive(1));
            ASSERT_VERDICT(ReplayVerdict::Ok, w.receive(0xFFFFFFFFu));
            CPPUNIT_ASSERT_EQUAL(0xFFFFFFFFu, w.window.highest());
            ASSERT_VERDICT(ReplayVerdict::Replayed, w.receive(0xFFFFFFFFu));
            ASSERT_VERDICT(ReplayVerdict::Ok, w.receive(0xFFFFFFFEu));
            ASSERT_VERDICT(ReplayVerdict::Ok, w.receive(0xFFFFFFFFu - (bits - 1)));
            ASSERT_VERDICT(ReplayVerdict::LeftOfWindow, w.receive(0xFFFFFFFFu - bits));
            ASSERT_VERDICT(ReplayVerdict::LeftOfWindow, w.receive(1));
            ASSERT_VERDICT(ReplayVerdict::LeftOfWindow, w.receive(2));
            ASSERT_VERDICT(ReplayVerdict::ZeroSequence, w.receive(0));
            for (uint32_t seq = 0xFFFFFFFFu - (bits - 2); seq < 0xFFFFFFFEu; ++seq)
                ASSERT_VERDICT(ReplayVerdict::Ok, w.receive(seq));
            for (uint32_t seq = 0xFFFFFFFFu - (bits - 1); seq != 0; ++seq)
                ASSERT_VERDICT(ReplayVerdict::Replayed, w.receive(seq));
            CPPUNIT_ASSERT(w.canary_intact());
        }
    }

    void testCheckDoesNotModify() {
        Window w(1024);
        for (uint32_t seq : {5u, 7u, 900u, 1500u, 1499u}) ASSERT_VERDICT(ReplayVerdict::Ok, w.receive(seq));
        const std::vector<uint64_t> before = w.storage;
        const uint32_t highest = w.window.highest();
        for (uint32_t seq : {0u, 1u, 5u, 476u, 477u, 1000u, 1499u, 1500u, 1501u, 2600u, 100000u, 0xFFFFFFFFu}) {
            w.window.check(seq);
            w.window.check(seq);
        }
        CPPUNIT_ASSERT_EQUAL(highest, w.window.highest());
        CPPUNIT_ASSERT(before == w.storage);
        // And a number that only went through check() is still new.
        ASSERT_VERDICT(ReplayVerdict::Ok, w.receive(1501));
    }

    void testUpdateCatchesDuplicateInSameBurst() {
        // Two copies of one packet in a burst both pass check() before either is
        // authenticated; update() must let exactly one through.
        for (uint32_t bits : {64u, 1024u, 4096u}) {
            Window w(bits);
            ASSERT_VERDICT(ReplayVerdict::Ok, w.receive(50));
            for (uint32_t seq : {40u, 51u, 5000u}) {
                ASSERT_VERDICT(ReplayVerdict::Ok, w.window.check(seq));
                ASSERT_VERDICT(ReplayVerdict::Ok, w.window.check(seq));
                ASSERT_VERDICT(ReplayVerdict::Ok, w.window.update(seq));
                ASSERT_VERDICT(ReplayVerdict::Replayed, w.window.update(seq));
            }
        }
    }

    void testUpdateCatchesWindowMovedInSameBurst() {
        // A packet checked while inside the window, but a later one of the same
        // burst moved the window past it before it was marked.
        Window w(64);
        ASSERT_VERDICT(ReplayVerdict::Ok, w.receive(100));
        ASSERT_VERDICT(ReplayVerdict::Ok, w.window.check(60));
        ASSERT_VERDICT(ReplayVerdict::Ok, w.window.check(300));
        ASSERT_VERDICT(ReplayVerdict::Ok, w.window.update(300));
        ASSERT_VERDICT(ReplayVerdict::LeftOfWindow, w.window.update(60));
        CPPUNIT_ASSERT_EQUAL(300u, w.window.highest());
    }

    void testDisabledWindow() {
        // RFC 4303 3.4.3: the receiver may turn anti-replay off; then only the
        // never-sent number 0 is refused.
        Window w(0);
        CPPUNIT_ASSERT(!w.window.enabled());
        CPPUNIT_ASSERT_EQUAL(0u, w.window.window_bits());
        for (uint32_t seq : {1u, 1u, 1000u, 2u, 2u, 0xFFFFFFFFu, 1u}) {
            ASSERT_VERDICT(ReplayVerdict::Ok, w.window.check(seq));
            ASSERT_VERDICT(ReplayVerdict::Ok, w.window.update(seq));
        }
        ASSERT_VERDICT(ReplayVerdict::ZeroSequence, w.window.check(0));
        CPPUNIT_ASSERT(w.canary_intact());
    }

    void testRandomAgainstModel64() { random_against_model(64, 1); }
    void testRandomAgainstModel1024() { random_against_model(1024, 2); }
    void testRandomAgainstModel4096() { random_against_model(4096, 3); }
    // An SA keeps windows up to 1984 bits in its inline 32-word bitmap.
    void testRandomAgainstModelInlineBitmap() {
        for (uint32_t bits : {64u, 1024u, 1984u}) random_against_model(bits, 4, ReplayWindow::kInlineWords);
    }

private:
    // 100k numbers around the moving right edge (mostly inside or just left of
    // the window, some ahead, a few big jumps), in bursts: all checked first,
    // then the ones that passed updated, as the decap stage does.
    static void random_against_model(uint32_t bits, uint32_t seed, uint32_t bitmap_words = 0) {
        Window w(bits, bitmap_words);
        ReferenceWindow model(bits);
        std::mt19937 rng(seed);
        constexpr int kNumbers = 100000;
        int done = 0;
        uint32_t burst[32];
        ReplayVerdict checked[32];
        while (done < kNumbers) {
            const int n = 1 + static_cast<int>(rng() % 32);
            for (int i = 0; i < n; ++i) {
                const uint32_t r = rng() % 100;
                int64_t seq;
                const int64_t top = model.highest;
                if (r < 45)
                    seq = top + 1 + rng() % 4;  // in order, small gaps
                else if (r < 80)
                    seq = top - static_cast<int64_t>(rng() % (bits + bits / 4 + 2));  // reorder/replay/left
                else if (r < 90)
                    seq = top - static_cast<int64_t>(rng() % 8);  // near duplicates
                else if (r < 97)
                    seq = top + 1 + rng() % (3 * bits);  // jumps ahead
                else if (r < 99)
                    seq = top + 1 + rng() % (1u << 24);  // big jumps
                else
                    seq = 0;
                if (seq < 0) seq = rng() % 3;
                if (seq > 0xFFFFFFFFll) seq = 0xFFFFFFFFll - rng() % 3;
                burst[i] = static_cast<uint32_t>(seq);
            }
            for (int i = 0; i < n; ++i) {
                checked[i] = w.window.check(burst[i]);
                const ReplayVerdict expected = model.check(burst[i]);
                if (expected != checked[i]) {
                    CPPUNIT_FAIL("W=" + std::to_string(bits) + " check(" + std::to_string(burst[i]) + ") after " +
                                 std::to_string(done + i) + " numbers, highest " + std::to_string(model.highest) +
                                 ": got " + verdict_name(checked[i]) + ", model " + verdict_name(expected));
                }
            }
            for (int i = 0; i < n; ++i) {
                if (checked[i] != ReplayVerdict::Ok) continue;
                const ReplayVerdict got = w.window.update(burst[i]);
                const ReplayVerdict expected = model.update(burst[i]);
                if (expected != got) {
                    CPPUNIT_FAIL("W=" + std::to_string(bits) + " update(" + std::to_string(burst[i]) + "): got " +
                                 verdict_name(got) + ", model " + verdict_name(expected));
                }
                CPPUNIT_ASSERT_EQUAL(model.highest, w.window.highest());
            }
            done += n;
            if (model.highest > 0xF0000000u) {  // start over before the space runs out
                w.reset(bits);
                model = ReferenceWindow(bits);
            }
        }
        CPPUNIT_ASSERT(w.canary_intact());
    }
};

CPPUNIT_TEST_SUITE_REGISTRATION(ReplayWindowTest);

// The order and reach of the burst stages' SA prefetches
// (dataplane/ipsec/sa.h, SaPrefetchWindow): every packet's lines are asked
// for once, in order, before the packet is worked on; never more than
// kSaPrefetchAhead packets ahead; and no further ahead once about
// kSaPrefetchLines lines are on their way. And which cache a burst's
// prefetches fill (dataplane/prefetch.h): L1 for short packets, L2 for the rest.
#include <cppunit/TestFixture.h>
#include <cppunit/extensions/HelperMacros.h>

#include <vector>

#include "dataplane/ipsec/sa.h"

using conc::dp::burst_prefetch_level;
using conc::dp::CacheLevel;
using conc::dp::kSaPrefetchAhead;
using conc::dp::kSaPrefetchLines;
using conc::dp::SaPrefetchWindow;

namespace {

// Runs a window over packets of the given line counts; returns, for each
// packet worked on, how far the prefetches had got (the first packet not asked for).
std::vector<unsigned> reach(const std::vector<unsigned>& lines) {
    std::vector<unsigned> asked;
    SaPrefetchWindow window(static_cast<uint16_t>(lines.size()), [&](uint16_t i) {
        CPPUNIT_ASSERT_EQUAL(static_cast<unsigned>(asked.size()), unsigned(i));  // in order, once each
        asked.push_back(i);
        return lines[i];
    });
    std::vector<unsigned> out;
    for (uint16_t i = 0; i < lines.size(); ++i) {
        window.advance_to(i);
        CPPUNIT_ASSERT(asked.size() > i);  // this packet's lines are on their way
        out.push_back(static_cast<unsigned>(asked.size()));
    }
    CPPUNIT_ASSERT_EQUAL(lines.size(), asked.size());
    return out;
}

}  // namespace

class SaPrefetchTest : public CppUnit::TestFixture {
    CPPUNIT_TEST_SUITE(SaPrefetchTest);
    CPPUNIT_TEST(testShortPacketsGoAheadByPackets);
    CPPUNIT_TEST(testLongPacketsGoAheadByLines);
    CPPUNIT_TEST(testRepeatedSaCostsNothing);
    CPPUNIT_TEST(testMixedAndEmptyBursts);
    CPPUNIT_TEST(testCacheLevelByBurst);
    CPPUNIT_TEST_SUITE_END();

public:
    void testShortPacketsGoAheadByPackets() {
        // 7 lines a packet: 6 ahead is 42 lines, under the budget.
        const std::vector<unsigned> r = reach(std::vector<unsigned>(32, 7));
        for (unsigned i = 0; i < 32; ++i)
            CPPUNIT_ASSERT_EQUAL(std::min(32u, i + kSaPrefetchAhead + 1), r[i]);
    }

    void testLongPacketsGoAheadByLines() {
        // 18 lines a packet: the third one ahead takes the window past 48 lines.
        static_assert(kSaPrefetchLines == 48);
        const std::vector<unsigned> r = reach(std::vector<unsigned>(32, 18));
        for (unsigned i = 0; i < 32; ++i) CPPUNIT_ASSERT_EQUAL(std::min(32u, i + 3), r[i]);
    }

    void testRepeatedSaCostsNothing() {
        // A run on one SA asks for its lines once (the others return 0): the window stops only at the packet limit.
        std::vector<unsigned> lines(32, 0);
        lines[0] = 18;
        const std::vector<unsigned> r = reach(lines);
        for (unsigned i = 0; i < 32; ++i) CPPUNIT_ASSERT_EQUAL(std::min(32u, i + kSaPrefetchAhead + 1), r[i]);
    }

    void testMixedAndEmptyBursts() {
        CPPUNIT_ASSERT(reach({}).empty());
        CPPUNIT_ASSERT_EQUAL(1u, reach({18})[0]);
        // A long packet ahead holds the window back until it is worked on.
        const std::vector<unsigned> r = reach({7, 7, 40, 7, 7, 7, 7, 7, 7, 7});
        CPPUNIT_ASSERT_EQUAL(3u, r[0]);   // 7 + 7 + 40 = 54 lines on their way
        CPPUNIT_ASSERT_EQUAL(4u, r[1]);   // 7 + 40 = 47 left, one more packet
        CPPUNIT_ASSERT_EQUAL(5u, r[2]);
        CPPUNIT_ASSERT_EQUAL(10u, r[3]);  // the long one done: as far as the packet limit, to the end
    }

    void testCacheLevelByBurst() {
        auto level = [](const std::vector<uint32_t>& lengths) {
            uint32_t bytes = 0;
            for (uint32_t l : lengths) bytes += l;
            return burst_prefetch_level(bytes, static_cast<uint16_t>(lengths.size()));
        };
        CPPUNIT_ASSERT(level(std::vector<uint32_t>(32, 110)) == CacheLevel::L1);   // 64-byte inner packets in ESP
        CPPUNIT_ASSERT(level(std::vector<uint32_t>(32, 256)) == CacheLevel::L1);   // the limit is still short
        CPPUNIT_ASSERT(level(std::vector<uint32_t>(32, 257)) == CacheLevel::L2);
        CPPUNIT_ASSERT(level(std::vector<uint32_t>(32, 1446)) == CacheLevel::L2);
        // IMIX (7 x 64, 4 x 576, 1 x 1400 inner): a mean of about 360 bytes.
        CPPUNIT_ASSERT(level({110, 110, 110, 110, 110, 110, 110, 622, 622, 622, 622, 1446}) == CacheLevel::L2);
        // One long packet among short ones keeps the burst short.
        std::vector<uint32_t> mostly_short(32, 110);
        mostly_short[5] = 1446;
        CPPUNIT_ASSERT(level(mostly_short) == CacheLevel::L1);
        CPPUNIT_ASSERT(level({}) == CacheLevel::L1);
        CPPUNIT_ASSERT(level({1}) == CacheLevel::L1);
    }
};

CPPUNIT_TEST_SUITE_REGISTRATION(SaPrefetchTest);

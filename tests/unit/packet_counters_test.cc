// Counters any worker may add to (dataplane/packet_counters.h): the first
// worker claims the owned half and adds without a lock, the others add to the
// shared half, and nothing is lost when they count at once while a reader
// sums the two.
#include "dataplane/packet_counters.h"

#include <cppunit/TestFixture.h>
#include <cppunit/extensions/HelperMacros.h>

#include <atomic>
#include <thread>
#include <vector>

using conc::dp::count_packet;
using conc::dp::counter_total;
using conc::dp::kNoOwner;
using conc::dp::PacketCounters;

class PacketCountersTest : public CppUnit::TestFixture {
    CPPUNIT_TEST_SUITE(PacketCountersTest);
    CPPUNIT_TEST(testFirstWorkerOwns);
    CPPUNIT_TEST(testConcurrentWorkersLoseNothing);
    CPPUNIT_TEST_SUITE_END();

public:
    void testFirstWorkerOwns() {
        uint16_t owner = kNoOwner;
        PacketCounters owned{}, shared{};
        count_packet(owner, 3, owned, shared, 100);
        CPPUNIT_ASSERT_EQUAL(uint16_t{3}, owner);
        count_packet(owner, 1, owned, shared, 40);
        count_packet(owner, 3, owned, shared, 60);
        count_packet(owner, 0, owned, shared, 1);
        CPPUNIT_ASSERT_EQUAL(uint16_t{3}, owner);  // sticky
        CPPUNIT_ASSERT_EQUAL(uint64_t{2}, owned.packets);
        CPPUNIT_ASSERT_EQUAL(uint64_t{160}, owned.bytes);
        CPPUNIT_ASSERT_EQUAL(uint64_t{2}, shared.packets);
        CPPUNIT_ASSERT_EQUAL(uint64_t{41}, shared.bytes);
        const PacketCounters total = counter_total(owned, shared);
        CPPUNIT_ASSERT_EQUAL(uint64_t{4}, total.packets);
        CPPUNIT_ASSERT_EQUAL(uint64_t{201}, total.bytes);
    }

    // Four workers race for the claim and then count; a reader sums all the
    // while and never sees the totals go back.
    void testConcurrentWorkersLoseNothing() {
        constexpr unsigned kWorkers = 4, kEach = 200000;
        uint16_t owner = kNoOwner;
        PacketCounters owned{}, shared{};
        std::atomic<bool> go{false}, done{false};
        std::atomic<unsigned> finished{0};
        std::vector<std::thread> workers;
        for (uint16_t w = 0; w < kWorkers; ++w)
            workers.emplace_back([&, w] {
                while (!go.load()) std::this_thread::yield();
                for (unsigned i = 0; i < kEach; ++i) count_packet(owner, w, owned, shared, w + 1u);
                finished.fetch_add(1);
            });
        bool monotonic = true;
        std::thread reader([&] {
            PacketCounters last{};
            while (!done.load()) {
                const PacketCounters now = counter_total(owned, shared);
                if (now.packets < last.packets || now.bytes < last.bytes) monotonic = false;
                last = now;
            }
        });
        go = true;
        for (auto& t : workers) t.join();
        done = true;
        reader.join();
        CPPUNIT_ASSERT(monotonic);
        CPPUNIT_ASSERT(owner < kWorkers);
        const PacketCounters total = counter_total(owned, shared);
        CPPUNIT_ASSERT_EQUAL(uint64_t{kWorkers} * kEach, total.packets);
        CPPUNIT_ASSERT_EQUAL(uint64_t{kEach} * (1 + 2 + 3 + 4), total.bytes);
        // The owner's packets, and only its, are in the owned half.
        CPPUNIT_ASSERT_EQUAL(uint64_t{kEach}, owned.packets);
        CPPUNIT_ASSERT_EQUAL(uint64_t{kEach} * (owner + 1u), owned.bytes);
    }
};

CPPUNIT_TEST_SUITE_REGISTRATION(PacketCountersTest);

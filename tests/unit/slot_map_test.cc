// Free-slot bookkeeping of the SA and session tables (dataplane/slot_map.h)
// and the slot a key names (common/shm/contract.h), against a std::set
// model: entries that name their slot, others from the top down, releases,
// capacities that are not a multiple of 64, a full table.
#include "dataplane/slot_map.h"

#include <cppunit/TestFixture.h>
#include <cppunit/extensions/HelperMacros.h>

#include <random>
#include <set>
#include <vector>

#include "common/shm/contract.h"

using conc::dp::SlotMap;

class SlotMapTest : public CppUnit::TestFixture {
    CPPUNIT_TEST_SUITE(SlotMapTest);
    CPPUNIT_TEST(testKeysNameSlots);
    CPPUNIT_TEST(testTopDownAndNamedMeetWhenFull);
    CPPUNIT_TEST(testRandomChurnAgainstModel);
    CPPUNIT_TEST_SUITE_END();

public:
    void testKeysNameSlots() {
        CPPUNIT_ASSERT_EQUAL(0u, conc::shm::slot_mask(1));
        CPPUNIT_ASSERT_EQUAL(1023u, conc::shm::slot_mask(1000));
        CPPUNIT_ASSERT_EQUAL(1023u, conc::shm::slot_mask(1024));
        CPPUNIT_ASSERT_EQUAL(262143u, conc::shm::slot_mask(204800));
        // SPIs counting up, and a pool of client addresses, name distinct slots.
        const uint32_t mask = conc::shm::slot_mask(204800);
        CPPUNIT_ASSERT_EQUAL(5u, conc::shm::slot_of(0x10000005, mask));
        CPPUNIT_ASSERT_EQUAL(0x1000Au, conc::shm::slot_of(0x6441000A, mask));  // 100.65.0.10
    }

    void testTopDownAndNamedMeetWhenFull() {
        SlotMap m;
        m.reset(100);  // not a multiple of 64: slots 100-127 never exist
        CPPUNIT_ASSERT(!m.is_free(100) && !m.is_free(127));
        CPPUNIT_ASSERT_EQUAL(0u, m.high_water());
        CPPUNIT_ASSERT_EQUAL(99u, m.highest_free());
        for (uint32_t i = 0; i < 50; ++i) m.take(i);                  // named from the bottom
        for (uint32_t i = 0; i < 50; ++i) m.take(m.highest_free());   // the others from the top
        CPPUNIT_ASSERT_EQUAL(100u, m.highest_free());                 // full: the capacity
        CPPUNIT_ASSERT_EQUAL(100u, m.high_water());
        m.release(7);
        m.release(70);
        CPPUNIT_ASSERT_EQUAL(70u, m.highest_free());
        m.take(70);
        CPPUNIT_ASSERT_EQUAL(7u, m.highest_free());
        CPPUNIT_ASSERT(m.is_free(7) && !m.is_free(8));
        std::vector<uint32_t> taken;
        m.for_each_taken([&](uint32_t s) { taken.push_back(s); });
        CPPUNIT_ASSERT_EQUAL(size_t{99}, taken.size());
        CPPUNIT_ASSERT_EQUAL(6u, taken[6]);
        CPPUNIT_ASSERT_EQUAL(8u, taken[7]);
        CPPUNIT_ASSERT_EQUAL(99u, taken.back());
    }

    void testRandomChurnAgainstModel() {
        constexpr uint32_t kCapacity = 1000;
        SlotMap m;
        m.reset(kCapacity);
        std::set<uint32_t> used;
        std::mt19937 rng(7);
        for (int step = 0; step < 200000; ++step) {
            const uint32_t r = rng() % kCapacity;
            if (rng() % 2 && !used.empty()) {
                auto it = used.lower_bound(r);
                if (it == used.end()) it = used.begin();
                m.release(*it);
                used.erase(it);
            } else if (rng() % 2) {
                CPPUNIT_ASSERT_EQUAL(!used.count(r), m.is_free(r));
                if (m.is_free(r)) {
                    m.take(r);
                    used.insert(r);
                }
            } else {
                uint32_t expected = kCapacity;
                for (uint32_t s = kCapacity; s-- > 0;)
                    if (!used.count(s)) {
                        expected = s;
                        break;
                    }
                const uint32_t slot = m.highest_free();
                CPPUNIT_ASSERT_EQUAL(expected, slot);
                if (slot < kCapacity) {
                    m.take(slot);
                    used.insert(slot);
                }
            }
        }
        std::vector<uint32_t> taken;
        m.for_each_taken([&](uint32_t s) { taken.push_back(s); });
        CPPUNIT_ASSERT(std::vector<uint32_t>(used.begin(), used.end()) == taken);
    }
};

CPPUNIT_TEST_SUITE_REGISTRATION(SlotMapTest);

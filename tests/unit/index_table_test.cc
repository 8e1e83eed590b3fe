// The exact-match index table behind SA lookup by SPI and session lookup by
// client IPv4 address for entries not in the slot their key names (dataplane/index_table.h), against std::unordered_map:
// random and sequential keys (network byte order addresses), tables filled
// to their capacity, erasures that must leave every bucket's pass-over count
// as it was.
#include "dataplane/index_table.h"

#include <cppunit/TestFixture.h>
#include <cppunit/extensions/HelperMacros.h>

#include <arpa/inet.h>

#include <memory>
#include <random>
#include <string>
#include <unordered_map>
#include <vector>

using conc::dp::IndexTable;

namespace {

struct Table {
    explicit Table(uint32_t capacity)
        : count(IndexTable::buckets_for(capacity)), storage(new IndexTable::Bucket[count]) {
        table.attach(storage.get(), count);
    }
    uint64_t passed_over_total() const {
        uint64_t n = 0;
        for (uint32_t b = 0; b < count; ++b) n += storage[b].passed_over.load();
        return n;
    }
    uint32_t count;
    std::unique_ptr<IndexTable::Bucket[]> storage;
    IndexTable table;
};

}  // namespace

class IndexTableTest : public CppUnit::TestFixture {
    CPPUNIT_TEST_SUITE(IndexTableTest);
    CPPUNIT_TEST(testSizing);
    CPPUNIT_TEST(testInsertFindErase);
    CPPUNIT_TEST(testSequentialAddressesAtCapacity);
    CPPUNIT_TEST(testRandomChurnAgainstModel);
    CPPUNIT_TEST(testCollidingKeysPassOverAndComeBack);
    CPPUNIT_TEST(testFullTableRefusesMore);
    CPPUNIT_TEST_SUITE_END();

public:
    void testSizing() {
        CPPUNIT_ASSERT_EQUAL(2u, IndexTable::buckets_for(0));
        CPPUNIT_ASSERT_EQUAL(4u, IndexTable::buckets_for(8));
        // At most half full: 200k SAs need 57143 buckets' worth of room.
        CPPUNIT_ASSERT_EQUAL(65536u, IndexTable::buckets_for(200000));
        for (uint32_t c : {1u, 7u, 100u, 4096u, 100000u}) {
            const uint32_t b = IndexTable::buckets_for(c);
            CPPUNIT_ASSERT(b * IndexTable::kEntriesPerBucket >= 2 * c);
            CPPUNIT_ASSERT_EQUAL(0u, b & (b - 1));
        }
    }

    void testInsertFindErase() {
        Table t(16);
        CPPUNIT_ASSERT_EQUAL(IndexTable::kNotFound, t.table.find(0x1234));
        CPPUNIT_ASSERT(t.table.insert(0x1234, 7));
        CPPUNIT_ASSERT(!t.table.insert(0x1234, 8));  // present already
        CPPUNIT_ASSERT(!t.table.insert(0, 9));       // reserved
        CPPUNIT_ASSERT_EQUAL(IndexTable::kNotFound, t.table.find(0));
        CPPUNIT_ASSERT_EQUAL(7u, t.table.find(0x1234));
        CPPUNIT_ASSERT(t.table.insert(0xFFFFFFFF, 0));  // index 0 and the top key are ordinary
        CPPUNIT_ASSERT_EQUAL(0u, t.table.find(0xFFFFFFFF));
        CPPUNIT_ASSERT_EQUAL(2u, t.table.size());
        CPPUNIT_ASSERT(t.table.erase(0x1234));
        CPPUNIT_ASSERT(!t.table.erase(0x1234));
        CPPUNIT_ASSERT(!t.table.erase(0));
        CPPUNIT_ASSERT_EQUAL(IndexTable::kNotFound, t.table.find(0x1234));
        CPPUNIT_ASSERT_EQUAL(1u, t.table.size());
    }

    void testSequentialAddressesAtCapacity() {
        // A client pool: 100.64.0.0 upwards in network byte order, as the
        // session table keys them; the table holds its capacity.
        constexpr uint32_t kClients = 100000;
        Table t(kClients);
        for (uint32_t i = 0; i < kClients; ++i) CPPUNIT_ASSERT(t.table.insert(htonl(0x64400000 + i), i));
        for (uint32_t i = 0; i < kClients; ++i) CPPUNIT_ASSERT_EQUAL(i, t.table.find(htonl(0x64400000 + i)));
        CPPUNIT_ASSERT_EQUAL(IndexTable::kNotFound, t.table.find(htonl(0x0A000001)));  // not a client
        CPPUNIT_ASSERT_EQUAL(IndexTable::kNotFound, t.table.find(htonl(0x64400000 + kClients)));
        // Spread evenly: few buckets overflow, so nearly every lookup reads
        // one line (a plain multiplicative hash left a quarter overflowing).
        uint32_t overflowing = 0;
        for (uint32_t b = 0; b < t.count; ++b) overflowing += t.storage[b].passed_over.load() > 0;
        CPPUNIT_ASSERT_MESSAGE(std::to_string(overflowing) + " of " + std::to_string(t.count) + " buckets overflow",
                               overflowing * 20 < t.count);
        for (uint32_t i = 0; i < kClients; ++i) CPPUNIT_ASSERT(t.table.erase(htonl(0x64400000 + i)));
        CPPUNIT_ASSERT_EQUAL(0u, t.table.size());
        CPPUNIT_ASSERT_EQUAL(uint64_t{0}, t.passed_over_total());
    }

    void testRandomChurnAgainstModel() {
        // Sessions and SAs come and go: inserts, erasures and lookups of
        // present and absent keys, with the table kept near its capacity.
        constexpr uint32_t kCapacity = 5000;
        Table t(kCapacity);
        std::unordered_map<uint32_t, uint32_t> model;
        std::vector<uint32_t> present;
        std::mt19937 rng(7);
        for (int step = 0; step < 300000; ++step) {
            const uint32_t r = rng() % 10;
            if (r < 4 && model.size() < kCapacity) {
                uint32_t key = rng() % 20000 + 1;  // a narrow range: many collisions, some repeats
                const bool fresh = !model.count(key);
                CPPUNIT_ASSERT_EQUAL(fresh, t.table.insert(key, step));
                if (fresh) {
                    model[key] = step;
                    present.push_back(key);
                }
            } else if (r < 7 && !present.empty()) {
                const size_t i = rng() % present.size();
                CPPUNIT_ASSERT(t.table.erase(present[i]));
                model.erase(present[i]);
                present[i] = present.back();
                present.pop_back();
            } else {
                const uint32_t key = rng() % 20000 + 1;
                const auto it = model.find(key);
                CPPUNIT_ASSERT_EQUAL(it == model.end() ? IndexTable::kNotFound : it->second, t.table.find(key));
            }
            CPPUNIT_ASSERT_EQUAL(static_cast<uint32_t>(model.size()), t.table.size());
        }
        for (const auto& [key, value] : model) CPPUNIT_ASSERT_EQUAL(value, t.table.find(key));
        for (uint32_t key : present) CPPUNIT_ASSERT(t.table.erase(key));
        CPPUNIT_ASSERT_EQUAL(uint64_t{0}, t.passed_over_total());
    }

    void testCollidingKeysPassOverAndComeBack() {
        // Keys that all start in one bucket: the eighth and later go past it
        // (and past the next when that fills), and are found there; erasing
        // the first ones does not hide them.
        Table t(64);
        std::vector<uint32_t> same_home;
        for (uint32_t key = 1; same_home.size() < 20; ++key) {
            Table probe(64);
            probe.table.insert(key, 0);
            if (probe.storage[0].entries[0].load() != 0) same_home.push_back(key);  // home bucket 0
        }
        for (uint32_t i = 0; i < same_home.size(); ++i) CPPUNIT_ASSERT(t.table.insert(same_home[i], i));
        CPPUNIT_ASSERT_EQUAL(uint64_t{13}, t.storage[0].passed_over.load());
        CPPUNIT_ASSERT_EQUAL(uint64_t{6}, t.storage[1].passed_over.load());
        for (uint32_t i = 0; i < 7; ++i) CPPUNIT_ASSERT(t.table.erase(same_home[i]));
        for (uint32_t i = 7; i < same_home.size(); ++i) CPPUNIT_ASSERT_EQUAL(i, t.table.find(same_home[i]));
        // Room in bucket 0 again: a new key lands there, the others stay put.
        CPPUNIT_ASSERT(t.table.insert(same_home[0], 100));
        CPPUNIT_ASSERT_EQUAL(100u, t.table.find(same_home[0]));
        for (uint32_t i = 7; i < same_home.size(); ++i) CPPUNIT_ASSERT(t.table.erase(same_home[i]));
        CPPUNIT_ASSERT(t.table.erase(same_home[0]));
        CPPUNIT_ASSERT_EQUAL(uint64_t{0}, t.passed_over_total());
    }

    void testFullTableRefusesMore() {
        Table t(1);  // 2 buckets, 14 entries
        uint32_t key = 1;
        for (; t.table.size() < 2 * IndexTable::kEntriesPerBucket; ++key) CPPUNIT_ASSERT(t.table.insert(key, key));
        CPPUNIT_ASSERT(!t.table.insert(key, key));
        for (uint32_t k = 1; k < key; ++k) CPPUNIT_ASSERT_EQUAL(k, t.table.find(k));
        CPPUNIT_ASSERT_EQUAL(IndexTable::kNotFound, t.table.find(key));  // probes every bucket and stops
    }
};

CPPUNIT_TEST_SUITE_REGISTRATION(IndexTableTest);

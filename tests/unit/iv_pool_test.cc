// CBC IVs from a worker's keystream (dataplane/ipsec/iv_pool.h): reserved
// per burst, never handed out twice, never past what was reserved, and as
// balanced as random bytes should be.
#include "dataplane/ipsec/iv_pool.h"

#include <cppunit/TestFixture.h>
#include <cppunit/extensions/HelperMacros.h>

#include <array>
#include <bitset>
#include <memory>
#include <set>

using conc::dp::IvPool;

class IvPoolTest : public CppUnit::TestFixture {
    CPPUNIT_TEST_SUITE(IvPoolTest);
    CPPUNIT_TEST(testTakesOnlyWhatWasReserved);
    CPPUNIT_TEST(testNoIvTwice);
    CPPUNIT_TEST(testBytesAreBalanced);
    CPPUNIT_TEST_SUITE_END();

public:
    void setUp() override {
        mgr_ = alloc_mb_mgr(0);
        CPPUNIT_ASSERT(mgr_);
        init_mb_mgr_auto(mgr_, nullptr);
        pool_ = std::make_unique<IvPool>();
        CPPUNIT_ASSERT(pool_->init(mgr_));
    }
    void tearDown() override {
        pool_.reset();
        free_mb_mgr(mgr_);
    }

    void testTakesOnlyWhatWasReserved() {
        CPPUNIT_ASSERT(pool_->take(16) == nullptr);  // nothing made before the first reserve
        CPPUNIT_ASSERT(!pool_->reserve(mgr_, 4097));
        CPPUNIT_ASSERT(pool_->reserve(mgr_, 4096));
        for (int i = 0; i < 256; ++i) CPPUNIT_ASSERT(pool_->take(16) != nullptr);
        CPPUNIT_ASSERT(pool_->take(16) == nullptr);
        CPPUNIT_ASSERT(pool_->take(8) == nullptr);
        CPPUNIT_ASSERT(pool_->reserve(mgr_, 512));  // refills
        for (int i = 0; i < 64; ++i) CPPUNIT_ASSERT(pool_->take(8) != nullptr);
    }

    void testNoIvTwice() {
        // 64 refills, as bursts reserve them: every 16-byte IV differs.
        std::set<std::array<uint8_t, 16>> seen;
        for (int burst = 0; burst < 64 * 8; ++burst) {
            CPPUNIT_ASSERT(pool_->reserve(mgr_, 32 * 16));
            for (int i = 0; i < 32; ++i) {
                const uint8_t* iv = pool_->take(16);
                CPPUNIT_ASSERT(iv != nullptr);
                std::array<uint8_t, 16> a;
                std::copy(iv, iv + 16, a.begin());
                CPPUNIT_ASSERT_MESSAGE("an IV came out twice", seen.insert(a).second);
            }
        }
        CPPUNIT_ASSERT_EQUAL(size_t{64 * 8 * 32}, seen.size());
    }

    void testBytesAreBalanced() {
        // 64 KB of keystream: half the bits set, within what chance allows
        // (0.5% is over 8 standard deviations for 512k bits).
        size_t ones = 0, bits = 0;
        for (int refill = 0; refill < 16; ++refill) {
            CPPUNIT_ASSERT(pool_->reserve(mgr_, 4096));
            const uint8_t* p = pool_->take(4096);
            CPPUNIT_ASSERT(p != nullptr);
            for (int i = 0; i < 4096; ++i) ones += std::bitset<8>(p[i]).count();
            bits += 4096 * 8;
        }
        const double share = static_cast<double>(ones) / static_cast<double>(bits);
        CPPUNIT_ASSERT(share > 0.495 && share < 0.505);
    }

private:
    IMB_MGR* mgr_ = nullptr;
    std::unique_ptr<IvPool> pool_;
};

CPPUNIT_TEST_SUITE_REGISTRATION(IvPoolTest);

// Bytes placed so that the byte after the last one is in a PROT_NONE page:
// a parser or builder that reads or writes one byte too far crashes the test
// instead of passing by luck.
#pragma once

#include <sys/mman.h>
#include <unistd.h>

#include <cppunit/extensions/HelperMacros.h>

#include <cstdint>
#include <cstring>
#include <vector>

namespace conc::test {

class GuardedBuffer {
public:
    GuardedBuffer() {
        page_ = static_cast<size_t>(sysconf(_SC_PAGESIZE));
        base_ =
            static_cast<uint8_t*>(mmap(nullptr, 2 * page_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
        CPPUNIT_ASSERT(base_ != MAP_FAILED);
        CPPUNIT_ASSERT_EQUAL(0, mprotect(base_ + page_, page_, PROT_NONE));
    }
    ~GuardedBuffer() { munmap(base_, 2 * page_); }
    GuardedBuffer(const GuardedBuffer&) = delete;
    GuardedBuffer& operator=(const GuardedBuffer&) = delete;

    // Copies bytes so that they end at the guard page; returns where they start.
    uint8_t* place(const uint8_t* data, size_t len) {
        CPPUNIT_ASSERT(len <= page_);
        uint8_t* p = base_ + page_ - len;
        if (len) std::memcpy(p, data, len);
        return p;
    }
    uint8_t* place(const std::vector<uint8_t>& v) { return place(v.data(), v.size()); }

private:
    size_t page_ = 0;
    uint8_t* base_ = nullptr;
};

}  // namespace conc::test

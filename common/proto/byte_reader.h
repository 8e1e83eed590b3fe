// Bounds-checked reading of wire formats. Every read checks the remaining
// length first; a failed read leaves the reader unchanged and returns false,
// so parsers never run past a buffer whatever a length field claims.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

namespace conc::proto {

class ByteReader {
public:
    ByteReader(const uint8_t* data, size_t size) : data_(data), size_(size) {}

    size_t remaining() const { return size_ - offset_; }
    size_t offset() const { return offset_; }
    const uint8_t* current() const { return data_ + offset_; }

    bool read_u8(uint8_t& out) {
        if (remaining() < 1) return false;
        out = data_[offset_++];
        return true;
    }
    bool read_u16(uint16_t& out) {  // network byte order
        if (remaining() < 2) return false;
        out = static_cast<uint16_t>(data_[offset_] << 8 | data_[offset_ + 1]);
        offset_ += 2;
        return true;
    }
    bool read_u32(uint32_t& out) {  // network byte order
        if (remaining() < 4) return false;
        out = static_cast<uint32_t>(data_[offset_]) << 24 | static_cast<uint32_t>(data_[offset_ + 1]) << 16 |
              static_cast<uint32_t>(data_[offset_ + 2]) << 8 | data_[offset_ + 3];
        offset_ += 4;
        return true;
    }
    bool read_bytes(void* out, size_t n) {
        if (remaining() < n) return false;
        std::memcpy(out, data_ + offset_, n);
        offset_ += n;
        return true;
    }
    bool skip(size_t n) {
        if (remaining() < n) return false;
        offset_ += n;
        return true;
    }

private:
    const uint8_t* data_;
    size_t size_;
    size_t offset_ = 0;
};

inline void write_u16(uint8_t* p, uint16_t v) {
    p[0] = static_cast<uint8_t>(v >> 8);
    p[1] = static_cast<uint8_t>(v);
}
inline void write_u32(uint8_t* p, uint32_t v) {
    p[0] = static_cast<uint8_t>(v >> 24);
    p[1] = static_cast<uint8_t>(v >> 16);
    p[2] = static_cast<uint8_t>(v >> 8);
    p[3] = static_cast<uint8_t>(v);
}
inline uint16_t load_u16(const uint8_t* p) { return static_cast<uint16_t>(p[0] << 8 | p[1]); }
inline uint32_t load_u32(const uint8_t* p) {
    return static_cast<uint32_t>(p[0]) << 24 | static_cast<uint32_t>(p[1]) << 16 |
           static_cast<uint32_t>(p[2]) << 8 | p[3];
}

}  // namespace conc::proto

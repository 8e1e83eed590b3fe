// Bounds-checked reading of wire formats. Every read checks the remaining
// length first; a failed read leaves the reader unchanged and returns false,
// so parsers never run past a buffer whatever a length field claims.
#pragma once

#include <bit>
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

// Network byte order through one load or store and a byte swap: byte by
// byte, GCC kept separate byte stores, and a wider load of what was just
// written (a checksum, GCM's AAD and nonce) then stalled store forwarding.
inline constexpr bool kSwapToNetwork = std::endian::native == std::endian::little;
inline void write_u16(uint8_t* p, uint16_t v) {
    if constexpr (kSwapToNetwork) v = __builtin_bswap16(v);
    std::memcpy(p, &v, 2);
}
inline void write_u32(uint8_t* p, uint32_t v) {
    if constexpr (kSwapToNetwork) v = __builtin_bswap32(v);
    std::memcpy(p, &v, 4);
}
inline void write_u64(uint8_t* p, uint64_t v) {
    if constexpr (kSwapToNetwork) v = __builtin_bswap64(v);
    std::memcpy(p, &v, 8);
}
inline uint16_t load_u16(const uint8_t* p) {
    uint16_t v;
    std::memcpy(&v, p, 2);
    return kSwapToNetwork ? __builtin_bswap16(v) : v;
}
inline uint32_t load_u32(const uint8_t* p) {
    uint32_t v;
    std::memcpy(&v, p, 4);
    return kSwapToNetwork ? __builtin_bswap32(v) : v;
}

}  // namespace conc::proto

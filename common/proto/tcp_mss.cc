#include "common/proto/tcp_mss.h"

#include "common/proto/byte_reader.h"

namespace conc::proto {

namespace {

constexpr size_t kTcpChecksumOffset = 16;

uint16_t byte_swap(uint16_t v) { return static_cast<uint16_t>(v << 8 | v >> 8); }

// Walks the options between byte 20 and the data offset. With clamp false it
// only checks that they are well formed; with clamp true it lowers every
// 4-byte MSS option above max_mss. Returns false on a malformed list.
bool walk_options(uint8_t* tcp, size_t options_end, uint16_t max_mss, bool clamp, bool& changed) {
    size_t i = kTcpMinHeaderSize;
    while (i < options_end) {
        const uint8_t kind = tcp[i];
        if (kind == kTcpOptionEnd) break;
        if (kind == kTcpOptionNop) {
            ++i;
            continue;
        }
        if (options_end - i < 2) return false;
        const uint8_t length = tcp[i + 1];
        if (length < 2 || length > options_end - i) return false;
        // RFC 9293 3.2: an MSS option of another length is malformed; leave it be.
        if (clamp && kind == kTcpOptionMss && length == 4) {
            const size_t at = i + 2;
            const uint16_t mss = load_u16(tcp + at);
            if (mss > max_mss) {
                write_u16(tcp + at, max_mss);
                const bool odd = at % 2 != 0;
                const uint16_t checksum = checksum_replace_u16(
                    load_u16(tcp + kTcpChecksumOffset), odd ? byte_swap(mss) : mss, odd ? byte_swap(max_mss) : max_mss);
                write_u16(tcp + kTcpChecksumOffset, checksum);
                changed = true;
            }
        }
        i += length;
    }
    return true;
}

}  // namespace

bool clamp_tcp_mss(uint8_t* tcp, size_t tcp_len, uint16_t max_mss) {
    if (tcp_len < kTcpMinHeaderSize) return false;
    if ((tcp[13] & kTcpFlagSyn) == 0) return false;
    const size_t data_offset = static_cast<size_t>(tcp[12] >> 4) * 4;
    if (data_offset < kTcpMinHeaderSize || data_offset > tcp_len) return false;
    bool changed = false;
    // Check the whole list before touching anything, so a malformed one stays as it came.
    if (!walk_options(tcp, data_offset, max_mss, false, changed)) return false;
    walk_options(tcp, data_offset, max_mss, true, changed);
    return changed;
}

}  // namespace conc::proto

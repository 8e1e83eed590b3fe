// TCP MSS clamping (RFC 879, RFC 6691) for sessions whose PPP MTU is below
// what the ends would otherwise announce: SYN segments crossing the
// concentrator get their Maximum Segment Size option lowered in place.
#pragma once

#include <cstddef>
#include <cstdint>

#include "common/proto/ipv4.h"  // checksum_replace_u16

namespace conc::proto {

inline constexpr size_t kTcpMinHeaderSize = 20;
inline constexpr uint8_t kTcpFlagSyn = 0x02;
inline constexpr uint8_t kTcpOptionEnd = 0;
inline constexpr uint8_t kTcpOptionNop = 1;
inline constexpr uint8_t kTcpOptionMss = 2;


// If the TCP segment at tcp (tcp_len bytes available, at least the header
// with its options) is a SYN carrying an MSS option above max_mss, lowers
// that option to max_mss and updates the TCP checksum incrementally (the
// pseudo-header is unchanged, so this serves IPv4 and IPv6 alike). Returns
// true if the segment changed. A malformed option list (length 0 or 1, or an
// option running past the header) leaves the segment untouched.
bool clamp_tcp_mss(uint8_t* tcp, size_t tcp_len, uint16_t max_mss);

}  // namespace conc::proto

// LCP Echo (RFC 1661 5.8): the keepalive every client's pppd and Windows'
// RAS send. Sans-I/O: takes the information field of a punted LCP frame and
// returns the reply's information field, if one is due.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

namespace conc::cp::ppp {

inline constexpr uint16_t kLcpProtocol = 0xC021;
inline constexpr uint8_t kLcpEchoRequest = 9;
inline constexpr uint8_t kLcpEchoReply = 10;

// An Echo-Reply for an Echo-Request (same identifier and data, our magic
// number; 0 while none is negotiated, RFC 1661 6.4); nullopt for anything
// else or a malformed packet.
std::optional<std::vector<uint8_t>> lcp_echo_reply(const uint8_t* lcp, size_t len, uint32_t our_magic);

}  // namespace conc::cp::ppp

#include "controlplane/ppp/lcp_echo.h"

#include "common/proto/byte_reader.h"

namespace conc::cp::ppp {

std::optional<std::vector<uint8_t>> lcp_echo_reply(const uint8_t* lcp, size_t len, uint32_t our_magic) {
    // Code, Identifier, Length, Magic-Number, then data (RFC 1661 5.8).
    if (len < 8 || lcp[0] != kLcpEchoRequest) return std::nullopt;
    const uint16_t length = proto::load_u16(lcp + 2);
    if (length < 8 || length > len) return std::nullopt;  // octets past Length are padding (RFC 1661 5)
    std::vector<uint8_t> reply(lcp, lcp + length);
    reply[0] = kLcpEchoReply;
    proto::write_u32(reply.data() + 4, our_magic);
    return reply;
}

}  // namespace conc::cp::ppp

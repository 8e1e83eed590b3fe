#include "common/proto/l2tp.h"

#include "common/proto/byte_reader.h"

namespace conc::proto {

void write_l2tp_data_header(uint8_t* p, uint16_t peer_tunnel_id, uint16_t peer_session_id, bool sequencing,
                            uint16_t ns) {
    write_u16(p, static_cast<uint16_t>(kL2tpVersion | (sequencing ? kL2tpFlagSequence : 0)));
    write_u16(p + 2, peer_tunnel_id);
    write_u16(p + 4, peer_session_id);
    if (sequencing) {
        write_u16(p + 6, ns);
        write_u16(p + 8, 0);  // Nr is unused in data messages (RFC 2661 3.1)
    }
}

void write_ppp_header(uint8_t* p, uint16_t protocol) {
    p[0] = kPppAddress;
    p[1] = kPppControl;
    write_u16(p + 2, protocol);
}

}  // namespace conc::proto

#include "dataplane/punt.h"

#include <cstring>

namespace conc::dp {

void punt_to_control_plane(WorkerContext& ctx, rte_mbuf* m, shm::PuntHeader header, const uint8_t* payload,
                           uint16_t payload_len) {
    const ControlLink& control = ctx.dp->control;
    if (control.state->controlplane_pid.load(std::memory_order_relaxed) == 0) {
        ++ctx.counters.punt_no_listener_drops;
        rte_pktmbuf_free(m);
        return;
    }
    // The mbuf keeps just the payload, with the header in front of it.
    narrow_frame(m, payload, payload_len);
    header.version = shm::kContractVersion;
    header.payload_length = payload_len;
    void* room = rte_pktmbuf_prepend(m, sizeof header);
    if (!room) {
        ++ctx.counters.punt_no_room_drops;
        rte_pktmbuf_free(m);
        return;
    }
    std::memcpy(room, &header, sizeof header);
    if (rte_ring_mp_enqueue(control.punts, m) != 0) {
        ++ctx.counters.punt_ring_full_drops;
        rte_pktmbuf_free(m);
    }
}

}  // namespace conc::dp

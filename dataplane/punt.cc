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

bool punt_event(WorkerContext& ctx, shm::PuntHeader header) {
    const ControlLink& control = ctx.dp->control;
    if (control.state->controlplane_pid.load(std::memory_order_relaxed) == 0) {
        ++ctx.counters.punt_no_listener_drops;
        return false;
    }
    rte_mbuf* m = rte_pktmbuf_alloc(ctx.dp->pool);
    if (!m) {
        ++ctx.counters.punt_no_mbuf_drops;
        return false;
    }
    header.version = shm::kContractVersion;
    header.payload_length = 0;
    std::memcpy(rte_pktmbuf_append(m, sizeof header), &header, sizeof header);
    if (rte_ring_mp_enqueue(control.punts, m) != 0) {
        ++ctx.counters.punt_ring_full_drops;
        rte_pktmbuf_free(m);
        return false;
    }
    return true;
}

}  // namespace conc::dp

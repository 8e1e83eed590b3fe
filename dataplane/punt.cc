#include "dataplane/punt.h"

#include <cstring>

namespace conc::dp {

namespace {

// Whether a control plane is attached to take punts; if not, the punt is counted as dropped.
bool listened(WorkerContext& ctx) {
    if (ctx.dp->control.state->controlplane_pid.load(std::memory_order_relaxed) > 0) return true;
    ++ctx.counters.punt_no_listener_drops;
    return false;
}

// Puts the header in front of m's data (the payload, perhaps none) and queues
// m; false if it could not (m released, the reason counted).
bool queue_punt(WorkerContext& ctx, rte_mbuf* m, shm::PuntHeader header) {
    header.version = shm::kContractVersion;
    header.payload_length = rte_pktmbuf_data_len(m);
    void* room = rte_pktmbuf_prepend(m, sizeof header);
    if (!room) {
        ++ctx.counters.punt_no_room_drops;
        rte_pktmbuf_free(m);
        return false;
    }
    std::memcpy(room, &header, sizeof header);
    if (rte_ring_mp_enqueue(ctx.dp->control.punts, m) != 0) {
        ++ctx.counters.punt_ring_full_drops;
        rte_pktmbuf_free(m);
        return false;
    }
    return true;
}

}  // namespace

void punt_to_control_plane(WorkerContext& ctx, rte_mbuf* m, shm::PuntHeader header, const uint8_t* payload,
                           uint16_t payload_len) {
    if (!listened(ctx)) {
        rte_pktmbuf_free(m);
        return;
    }
    // The mbuf keeps just the payload, with the header in front of it.
    narrow_frame(m, payload, payload_len);
    queue_punt(ctx, m, header);
}

bool punt_event(WorkerContext& ctx, shm::PuntHeader header) {
    if (!listened(ctx)) return false;
    rte_mbuf* m = rte_pktmbuf_alloc(ctx.dp->pool);
    if (!m) {
        ++ctx.counters.punt_no_mbuf_drops;
        return false;
    }
    return queue_punt(ctx, m, header);
}

}  // namespace conc::dp

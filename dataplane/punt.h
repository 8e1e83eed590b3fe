// Frames for the control plane (IKE now; L2TP and PPP control later). Until a
// control plane attaches through the punt ring (common/shm, next step of the
// design), a punted frame is counted and released: the data plane never
// waits for a listener.
#pragma once

#include <rte_mbuf.h>

#include "dataplane/worker.h"

namespace conc::dp {

inline void punt_to_control_plane(WorkerContext& ctx, rte_mbuf* m) {
    ++ctx.counters.punt_no_listener_drops;
    rte_pktmbuf_free(m);
}

}  // namespace conc::dp

// Frames for the control plane: IKE, L2TP control, PPP control. Each goes on
// the punt ring as its payload behind a PuntHeader (common/shm/contract.h).
// With no control plane attached, or the ring full, the frame is counted and
// released: the data plane never waits for a listener.
#pragma once

#include <rte_mbuf.h>

#include "common/shm/contract.h"
#include "dataplane/worker.h"

namespace conc::dp {

// payload points into m's data; header.version and payload_length are filled in.
void punt_to_control_plane(WorkerContext& ctx, rte_mbuf* m, shm::PuntHeader header, const uint8_t* payload,
                           uint16_t payload_len);
// An event with no frame behind it (PeerMoved): a header alone in a new
// mbuf. False if it could not be queued (counted as above, or
// punt_no_mbuf_drops), so that the caller can tell it again later.
bool punt_event(WorkerContext& ctx, shm::PuntHeader header);

}  // namespace conc::dp

// Bringing the data plane up and down from a validated configuration: mbuf
// pool, access and core ports, SA table with the static SAs, one worker
// context per lcore. concentrator-dp and the integration tests and benchmark
// use this same sequence.
#pragma once

#include <string>
#include <vector>

#include "common/config/config.h"
#include "dataplane/worker.h"

namespace conc::dp {

// The EAL must be initialised. Returns an empty string on success, else a
// message naming what failed (the config setting where there is one).
std::string dataplane_start(Dataplane& dp, const config::Config& cfg, std::vector<WorkerContext>& workers);

// The largest inner IP packet that still fits the access port's MTU once
// wrapped in PPP, L2TP, UDP and ESP (worst-case padding) through sa.
uint16_t largest_inner_packet(const SecurityAssociation& sa, bool sequencing, uint16_t access_mtu);

// Stops and closes the ports and releases the workers' crypto managers.
void dataplane_stop(Dataplane& dp, std::vector<WorkerContext>& workers);

}  // namespace conc::dp

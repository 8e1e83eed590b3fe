// Bringing up a DPDK port from its config: attach the device (PCI or vdev),
// one RX and one TX queue per worker, RSS across the RX queues.
#pragma once

#include <string>

#include <rte_mempool.h>

#include "common/config/config.h"
#include "dataplane/worker.h"

namespace conc::dp {

// Attaches and starts the port; fills state (port id, MAC, addresses).
// Returns an empty string on success, else what went wrong.
std::string start_port(const char* role, const config::PortConfig& config, uint16_t queues, rte_mempool* pool,
                       PortState& state);

void stop_port(const PortState& state);

}  // namespace conc::dp

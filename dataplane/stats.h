// Reading the data plane's counters: workers' counters summed, port
// statistics from the NICs, per-SA counters; as a human table or as JSON.
#pragma once

#include <string>

#include "dataplane/worker.h"

namespace conc::dp {

std::string stats_json(const Dataplane& dp, const WorkerContext* workers, unsigned worker_count);
std::string stats_text(const Dataplane& dp, const WorkerContext* workers, unsigned worker_count);

}  // namespace conc::dp

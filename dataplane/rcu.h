// Quiescent-state-based reclamation (DPDK RCU QSBR) for the fast-path tables:
// each worker reports a quiescent state once per poll, between bursts, when
// it holds no pointer into any table; the main lcore frees a removed entry
// only after every worker has reported since the removal.
#pragma once

#include <rte_hash.h>
#include <rte_rcu_qsbr.h>

namespace conc::dp {

// Lets hash deletions free their key slots only after a grace period.
// Returns h, or nullptr (and frees h) if RCU could not be attached.
inline rte_hash* attach_rcu(rte_hash* h, rte_rcu_qsbr* rcu) {
    if (!h || !rcu) return h;
    rte_hash_rcu_config config{};
    config.v = rcu;
    config.mode = RTE_HASH_QSBR_MODE_DQ;
    if (rte_hash_rcu_qsbr_add(h, &config) != 0) {
        rte_hash_free(h);
        return nullptr;
    }
    return h;
}

}  // namespace conc::dp

// The SA database: SAs in one array in hugepage memory; inbound ones found by
// SPI, outbound ones reached from their L2TP session. The main lcore is the
// only writer; workers read through lock-free IndexTable lookups. A removed
// SA's slot is reused only once every worker has passed a quiescent point
// (RCU QSBR), so a worker never sees an SA change under it.
#pragma once

#include <cstdint>
#include <utility>
#include <vector>

#include <rte_rcu_qsbr.h>

#include "common/shm/contract.h"
#include "dataplane/index_table.h"
#include "dataplane/ipsec/sa.h"

namespace conc::dp {

class SaTable {
public:
    SaTable() = default;
    SaTable(const SaTable&) = delete;
    SaTable& operator=(const SaTable&) = delete;
    ~SaTable();

    // Allocates room for capacity SAs on socket; name keeps several tables
    // (tests) apart. Returns false with a message on failure.
    bool create(const char* name, uint32_t capacity, int socket, rte_rcu_qsbr* rcu, const char** why);

    // Keys and installs an SA; replay_window in bits (inbound). Its table
    // index is written to index.
    shm::CommandStatus install(IMB_MGR* mgr, const config::StaticSa& spec, uint32_t default_local_address,
                               uint32_t replay_window, uint32_t& index, const char** why);

    // Unhooks an SA no session uses; its slot is freed by a later reclaim().
    shm::CommandStatus remove(uint32_t index, const char** why);
    // Frees the slots of removed SAs that no worker can still hold.
    void reclaim();

    // Sessions bound to an SA: it cannot be removed while any are.
    void add_user(uint32_t index) { ++users_[index]; }
    void drop_user(uint32_t index) { --users_[index]; }
    uint32_t users(uint32_t index) const { return users_[index]; }

    // Bulk lookup for a burst, SPIs in network byte order as read from the
    // packet; out[i] is nullptr where there is no SA.
    void lookup_inbound(const uint32_t* spis_net, unsigned n, SecurityAssociation** out) const;

    uint32_t capacity() const { return capacity_; }
    uint32_t size() const { return live_; }
    // Entries [0, high_water()) may be in use (check in_use).
    uint32_t high_water() const { return high_water_; }
    bool valid(uint32_t index) const { return index < high_water_ && sas_[index].in_use; }
    SecurityAssociation& at(uint32_t index) { return sas_[index]; }
    const SecurityAssociation& at(uint32_t index) const { return sas_[index]; }

    uint32_t index_of(const SecurityAssociation* sa) const { return static_cast<uint32_t>(sa - sas_); }

private:
    void destroy(uint32_t index);

    SecurityAssociation* sas_ = nullptr;
    IndexTable by_spi_;  // inbound SAs: SPI (network byte order) -> index
    rte_rcu_qsbr* rcu_ = nullptr;
    uint32_t capacity_ = 0;
    uint32_t high_water_ = 0;
    uint32_t live_ = 0;
    std::vector<uint32_t> free_;                           // reusable slots below the high water
    std::vector<std::pair<uint32_t, uint64_t>> removed_;   // slot, RCU token
    std::vector<uint32_t> users_;
};

}  // namespace conc::dp

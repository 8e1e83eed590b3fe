// The SA database: SAs in one array in hugepage memory; inbound ones found by
// SPI, outbound ones reached from their L2TP session. The main lcore is the
// only writer; workers read through lock-free rte_hash lookups.
#pragma once

#include <cstdint>

#include <rte_hash.h>

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
    bool create(const char* name, uint32_t capacity, int socket, const char** why);

    // Keys and installs a static SA; replay_window in bits (inbound). Its
    // table index is written to index.
    bool install(IMB_MGR* mgr, const config::StaticSa& spec, uint32_t default_local_address, uint32_t replay_window,
                 uint32_t& index, const char** why);

    // Bulk lookup for a burst, SPIs in network byte order as read from the
    // packet; out[i] is nullptr where there is no SA.
    void lookup_inbound(const uint32_t* spis_net, unsigned n, SecurityAssociation** out) const;

    uint32_t capacity() const { return capacity_; }
    uint32_t size() const { return used_; }
    SecurityAssociation& at(uint32_t index) { return sas_[index]; }
    const SecurityAssociation& at(uint32_t index) const { return sas_[index]; }

    uint32_t index_of(const SecurityAssociation* sa) const { return static_cast<uint32_t>(sa - sas_); }

private:
    SecurityAssociation* sas_ = nullptr;
    rte_hash* by_spi_ = nullptr;
    uint32_t capacity_ = 0;
    uint32_t used_ = 0;
};

}  // namespace conc::dp

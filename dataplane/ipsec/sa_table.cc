#include "dataplane/ipsec/sa_table.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <new>

#include <rte_errno.h>
#include <rte_malloc.h>

namespace conc::dp {

SaTable::~SaTable() {
    if (sas_) {
        for (uint32_t i = 0; i < high_water_; ++i) destroy(i);
        rte_free(sas_);
    }
    by_spi_.release();
}

void SaTable::destroy(uint32_t index) {
    SecurityAssociation& sa = sas_[index];
    if (sa.direction == config::SaDirection::Inbound && sa.replay_storage() != sa.replay_bitmap)
        rte_free(sa.replay_storage());
    sa.~SecurityAssociation();
    std::memset(static_cast<void*>(&sas_[index]), 0, sizeof(SecurityAssociation));
}

bool SaTable::create(const char* name, uint32_t capacity, int socket, rte_rcu_qsbr* rcu, const char** why) {
    sas_ = static_cast<SecurityAssociation*>(
        rte_zmalloc_socket(name, sizeof(SecurityAssociation) * capacity, alignof(SecurityAssociation), socket));
    char spi_name[64];
    std::snprintf(spi_name, sizeof spi_name, "%s_spi", name);
    if (!sas_ || !by_spi_.create(spi_name, capacity, socket)) {
        *why = "out of hugepage memory for the SA table (lower dataplane.max_sas or reserve more hugepages)";
        return false;
    }
    rcu_ = rcu;
    capacity_ = capacity;
    users_.assign(capacity, 0);
    return true;
}

shm::CommandStatus SaTable::install(IMB_MGR* mgr, const config::StaticSa& spec, uint32_t default_local_address,
                                    uint32_t replay_window, uint32_t& index, const char** why) {
    const uint32_t slot = free_.empty() ? high_water_ : free_.back();
    if (slot == capacity_) {
        *why = "SA table full (dataplane.max_sas)";
        return shm::CommandStatus::TableFull;
    }
    const uint32_t spi_net = htonl(spec.spi);
    const bool inbound = spec.direction == config::SaDirection::Inbound;
    if (inbound && by_spi_.find(spi_net) != IndexTable::kNotFound) {
        *why = "an inbound SA with this SPI is installed already";
        return shm::CommandStatus::Duplicate;
    }
    SecurityAssociation* sa = new (&sas_[slot]) SecurityAssociation();
    if (!key_security_association(mgr, spec, default_local_address, *sa, why)) {
        sa->~SecurityAssociation();
        return shm::CommandStatus::BadCommand;
    }
    // Only inbound SAs have a window (an outbound SA's union holds its sequence number).
    if (inbound) {
        const uint32_t words = ReplayWindow::words(replay_window);
        if (words > ReplayWindow::kInlineWords) {
            sa->external_replay_bitmap =
                static_cast<uint64_t*>(rte_zmalloc("replay_window", words * sizeof(uint64_t), 64));
            if (!sa->external_replay_bitmap) {
                sa->~SecurityAssociation();
                *why = "out of hugepage memory for the replay window";
                return shm::CommandStatus::TableFull;
            }
        }
        ReplayWindow::init(sa->inbound.replay, replay_window, std::max(words, ReplayWindow::kInlineWords));
    }
    sa->in_use = true;
    // Outbound SAs are reached through their session, not looked up. The
    // SPI table publishes the entry: everything above is written before.
    if (inbound && !by_spi_.insert(spi_net, slot)) {
        destroy(slot);
        *why = "SA table insert failed";
        return shm::CommandStatus::TableFull;
    }
    if (slot == high_water_) ++high_water_;
    else free_.pop_back();
    ++live_;
    index = slot;
    return shm::CommandStatus::Ok;
}

shm::CommandStatus SaTable::remove(uint32_t index, const char** why) {
    if (!valid(index)) {
        *why = "no SA at this index";
        return shm::CommandStatus::NoSuchEntry;
    }
    if (users_[index]) {
        *why = "SA still bound to a session (delete the session first)";
        return shm::CommandStatus::InUse;
    }
    SecurityAssociation& sa = sas_[index];
    if (sa.direction == config::SaDirection::Inbound) {
        const uint32_t spi_net = htonl(sa.spi);
        by_spi_.erase(spi_net);
    }
    sa.in_use = false;
    --live_;
    removed_.emplace_back(index, rte_rcu_qsbr_start(rcu_));
    return shm::CommandStatus::Ok;
}

void SaTable::reclaim() {
    std::erase_if(removed_, [this](const std::pair<uint32_t, uint64_t>& r) {
        if (rte_rcu_qsbr_check(rcu_, r.second, false) != 1) return false;
        destroy(r.first);
        free_.push_back(r.first);
        return true;
    });
}

void SaTable::lookup_inbound(const uint32_t* spis_net, unsigned n, SecurityAssociation** out) const {
    by_spi_.find_burst(spis_net, n, sas_, out);
}

}  // namespace conc::dp

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
        for (uint32_t i = 0; i < slots_.high_water(); ++i) destroy(i);
        rte_free(sas_);
    }
    rte_free(key_shapes_);
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
    char spi_name[64], shapes_name[64];
    std::snprintf(spi_name, sizeof spi_name, "%s_spi", name);
    std::snprintf(shapes_name, sizeof shapes_name, "%s_shapes", name);
    key_shapes_ = static_cast<uint8_t*>(rte_zmalloc_socket(shapes_name, capacity, 64, socket));
    if (!sas_ || !key_shapes_ || !by_spi_.create(spi_name, capacity, socket)) {
        *why = "out of hugepage memory for the SA table (lower dataplane.max_sas or reserve more hugepages)";
        return false;
    }
    rcu_ = rcu;
    capacity_ = capacity;
    slot_mask_ = shm::slot_mask(capacity);
    users_.assign(capacity, 0);
    slots_.reset(capacity);
    return true;
}

shm::CommandStatus SaTable::install(IMB_MGR* mgr, const config::StaticSa& spec, uint32_t default_local_address,
                                    uint32_t replay_window, uint32_t& index, const char** why) {
    const uint32_t spi_net = htonl(spec.spi);
    const bool inbound = spec.direction == config::SaDirection::Inbound;
    if (inbound && find_inbound(spec.spi) != IndexTable::kNotFound) {
        *why = "an inbound SA with this SPI is installed already";
        return shm::CommandStatus::Duplicate;
    }
    // An inbound SA goes to the slot its SPI names if it can, where workers
    // find it without the hash table; everything else fills from the top.
    const uint32_t spi_slot = shm::slot_of(spec.spi, slot_mask_);
    const bool own_slot = inbound && slots_.is_free(spi_slot);
    const uint32_t slot = own_slot ? spi_slot : slots_.highest_free();
    if (slot == capacity_) {
        *why = "SA table full (dataplane.max_sas)";
        return shm::CommandStatus::TableFull;
    }
    SecurityAssociation* sa = new (&sas_[slot]) SecurityAssociation();
    if (!key_security_association(mgr, spec, default_local_address, *sa, why)) {
        destroy(slot);
        return shm::CommandStatus::BadCommand;
    }
    // Only inbound SAs have a window (an outbound SA's union holds its sequence number).
    if (inbound) {
        const uint32_t words = ReplayWindow::words(replay_window);
        if (words > ReplayWindow::kInlineWords) {
            sa->external_replay_bitmap =
                static_cast<uint64_t*>(rte_zmalloc("replay_window", words * sizeof(uint64_t), 64));
            if (!sa->external_replay_bitmap) {
                destroy(slot);
                *why = "out of hugepage memory for the replay window";
                return shm::CommandStatus::TableFull;
            }
        }
        ReplayWindow::init(sa->inbound.replay, replay_window, std::max(words, ReplayWindow::kInlineWords));
    }
    std::atomic_ref<uint8_t>(key_shapes_[slot]).store(compute_key_shape(*sa).bits(), std::memory_order_relaxed);
    // Setting in_use publishes an SA in its own slot (workers check it
    // before anything else there); a hashed one is published by the insert.
    std::atomic_ref<bool>(sa->in_use).store(true, std::memory_order_release);
    if (inbound && !own_slot && !by_spi_.insert(spi_net, slot)) {
        destroy(slot);
        *why = "SA table insert failed";
        return shm::CommandStatus::TableFull;
    }
    slots_.take(slot);
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
    if (sa.direction == config::SaDirection::Inbound && !in_own_slot(index)) by_spi_.erase(htonl(sa.spi));
    std::atomic_ref<bool>(sa.in_use).store(false, std::memory_order_release);
    --live_;
    removed_.emplace_back(index, rte_rcu_qsbr_start(rcu_));
    return shm::CommandStatus::Ok;
}

void SaTable::reclaim() {
    std::erase_if(removed_, [this](const std::pair<uint32_t, uint64_t>& r) {
        if (rte_rcu_qsbr_check(rcu_, r.second, false) != 1) return false;
        destroy(r.first);
        slots_.release(r.first);
        return true;
    });
}

uint32_t SaTable::find_inbound(uint32_t spi) const {
    const SecurityAssociation* sa = resolve_inbound(inbound_candidate(htonl(spi)), htonl(spi));
    return sa ? index_of(sa) : IndexTable::kNotFound;
}

}  // namespace conc::dp

// The SA database: SAs in one array in hugepage memory; inbound ones found by
// SPI, outbound ones reached from their L2TP session. An inbound SA sits in
// the slot its SPI names when that slot was free (shm::slot_of), and
// is then found by reading that slot; the others are also kept in an SPI
// hash table. The main lcore is the only writer; workers read without locks.
// A removed SA's slot is reused only once every worker has passed a
// quiescent point (RCU QSBR), so a worker never sees an SA change under it.
#pragma once

#include <atomic>
#include <cstdint>
#include <utility>
#include <vector>

#include <rte_rcu_qsbr.h>

#include "common/shm/contract.h"
#include "dataplane/index_table.h"
#include "dataplane/ipsec/sa.h"
#include "dataplane/slot_map.h"

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

    // Finding an inbound SA from a packet's SPI (network byte order, as
    // read) takes two steps, so that a burst can prefetch between them:
    // the slot the SPI names (nullptr if it names none), which holds the SA
    // unless it is hashed; then, once that line has been fetched, the SA
    // itself (nullptr if there is none).
    SecurityAssociation* inbound_candidate(uint32_t spi_net) const {
        const uint32_t slot = shm::slot_of(__builtin_bswap32(spi_net), slot_mask_);
        return slot < capacity_ ? &sas_[slot] : nullptr;
    }
    SecurityAssociation* resolve_inbound(SecurityAssociation* candidate, uint32_t spi_net) const {
        if (candidate && holds_inbound(*candidate, __builtin_bswap32(spi_net))) return candidate;
        if (by_spi_.size() == 0) return nullptr;  // a flood of unknown SPIs costs one line a packet, not two
        const uint32_t index = by_spi_.find(spi_net);
        return index == IndexTable::kNotFound ? nullptr : &sas_[index];
    }
    // Prefetches what a packet of esp_len bytes on sa (a candidate or an
    // SA; nullptr does nothing) reads, as its slot's key shape says, without
    // waiting for any of the slot's own lines. A hashed SA's packets prefetch
    // by whatever holds their SPI's slot: only the precision suffers.
    // Returns how many lines it asked for.
    unsigned prefetch(const SecurityAssociation* sa, uint32_t esp_len, CacheLevel level,
                      const SecurityAssociation*& previous) const {
        return sa ? prefetch_security_association(sa, key_shape(sa), esp_len, level, previous) : 0;
    }
    // In a burst prefetched into L2, kSaFirstLineAhead packets before its
    // turn: what a packet of esp_len bytes on sa reads first goes on into L1,
    // all of a short packet's lines, a long one's first (nullptr does nothing).
    void promote_to_l1(const SecurityAssociation* sa, uint32_t esp_len, const SecurityAssociation*& promoted) const {
        if (!sa) return;
        if (esp_len <= kShortPacketBytes) prefetch(sa, esp_len, CacheLevel::L1, promoted);
        else prefetch_line(sa, CacheLevel::L1);
    }
    // The key lines of the SA last installed in sa's slot (none if there was none).
    SaKeyShape key_shape(const SecurityAssociation* sa) const {
        const uint8_t bits = std::atomic_ref<uint8_t>(key_shapes_[index_of(sa)]).load(std::memory_order_relaxed);
        return SaKeyShape::from_bits(bits);
    }
    // One SPI (host byte order): the inbound SA's index, or IndexTable::kNotFound.
    uint32_t find_inbound(uint32_t spi) const;
    // Inbound SAs kept in the hash table because their SPI's slot was not free.
    uint32_t hashed_inbound() const { return by_spi_.size(); }

    uint32_t capacity() const { return capacity_; }
    uint32_t size() const { return live_; }
    // Entries [0, high_water()) may be in use (check in_use).
    uint32_t high_water() const { return slots_.high_water(); }
    bool valid(uint32_t index) const { return index < slots_.high_water() && sas_[index].in_use; }
    SecurityAssociation& at(uint32_t index) { return sas_[index]; }
    const SecurityAssociation& at(uint32_t index) const { return sas_[index]; }

    // Calls f(index) for every SA in use (outbound SAs fill from the top, so
    // the high water is soon the capacity; the free slots are skipped).
    template <typename F>
    void for_each_in_use(F&& f) const {
        slots_.for_each_taken([&](uint32_t index) {
            if (sas_[index].in_use) f(index);
        });
    }

    uint32_t index_of(const SecurityAssociation* sa) const { return static_cast<uint32_t>(sa - sas_); }

private:
    void destroy(uint32_t index);
    // Whether sa is the inbound SA with this SPI (host byte order).
    static bool holds_inbound(SecurityAssociation& sa, uint32_t spi) {
        // in_use first: the rest of the slot was written before it was set.
        return std::atomic_ref<bool>(sa.in_use).load(std::memory_order_acquire) && sa.spi == spi &&
               sa.direction == config::SaDirection::Inbound;
    }
    // Whether an inbound SA at index sits in the slot its SPI names (else it is hashed).
    bool in_own_slot(uint32_t index) const { return shm::slot_of(sas_[index].spi, slot_mask_) == index; }

    SecurityAssociation* sas_ = nullptr;
    uint8_t* key_shapes_ = nullptr;  // per slot: SaKeyShape bits of the SA installed last there
    IndexTable by_spi_;  // inbound SAs not in their SPI's slot: SPI (network byte order) -> index
    rte_rcu_qsbr* rcu_ = nullptr;
    uint32_t capacity_ = 0;
    uint32_t slot_mask_ = 0;   // shm::slot_mask(capacity_)
    uint32_t live_ = 0;
    SlotMap slots_;
    std::vector<std::pair<uint32_t, uint64_t>> removed_;   // slot, RCU token
    std::vector<uint32_t> users_;
};

}  // namespace conc::dp

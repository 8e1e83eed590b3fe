#include "dataplane/ipsec/sa_table.h"

#include "dataplane/bulk_lookup.h"

#include <arpa/inet.h>

#include <cstdio>
#include <new>

#include <rte_errno.h>
#include <rte_hash_crc.h>
#include <rte_malloc.h>

namespace conc::dp {

namespace {

rte_hash* create_hash(const char* table, const char* what, uint32_t capacity, int socket) {
    char name[RTE_HASH_NAMESIZE];
    std::snprintf(name, sizeof name, "%s_%s", table, what);
    rte_hash_parameters params{};
    params.name = name;
    params.entries = capacity < 8 ? 8 : capacity;
    params.key_len = sizeof(uint32_t);
    params.hash_func = rte_hash_crc;
    params.socket_id = socket;
    // One writer (the main lcore), readers on every worker without locks.
    params.extra_flag = RTE_HASH_EXTRA_FLAGS_RW_CONCURRENCY_LF;
    return rte_hash_create(&params);
}

}  // namespace

SaTable::~SaTable() {
    if (sas_) {
        for (uint32_t i = 0; i < used_; ++i) {
            rte_free(sas_[i].replay.storage());
            sas_[i].~SecurityAssociation();
        }
        rte_free(sas_);
    }
    rte_hash_free(by_spi_);
}

bool SaTable::create(const char* name, uint32_t capacity, int socket, const char** why) {
    sas_ = static_cast<SecurityAssociation*>(
        rte_zmalloc_socket(name, sizeof(SecurityAssociation) * capacity, alignof(SecurityAssociation), socket));
    by_spi_ = create_hash(name, "spi", capacity, socket);
    if (!sas_ || !by_spi_) {
        *why = "out of hugepage memory for the SA table (lower dataplane.max_sas or reserve more hugepages)";
        return false;
    }
    capacity_ = capacity;
    return true;
}

bool SaTable::install(IMB_MGR* mgr, const config::StaticSa& spec, uint32_t default_local_address,
                      uint32_t replay_window, uint32_t& index, const char** why) {
    if (used_ == capacity_) {
        *why = "SA table full (dataplane.max_sas)";
        return false;
    }
    SecurityAssociation* sa = new (&sas_[used_]) SecurityAssociation();
    if (!key_security_association(mgr, spec, default_local_address, *sa, why)) return false;

    const uint32_t spi_net = htonl(spec.spi);
    if (spec.direction == config::SaDirection::Inbound) {
        uint64_t* bitmap = nullptr;
        if (replay_window) {
            bitmap = static_cast<uint64_t*>(
                rte_zmalloc("replay_window", ReplayWindow::words(replay_window) * sizeof(uint64_t), 64));
            if (!bitmap) {
                *why = "out of hugepage memory for the replay window";
                return false;
            }
        }
        sa->replay.init(bitmap, replay_window);
        if (rte_hash_add_key_data(by_spi_, &spi_net, reinterpret_cast<void*>(uintptr_t{used_})) < 0) {
            *why = "SA hash insert failed";
            return false;
        }
    }
    // Outbound SAs are reached through their session, not looked up.
    index = used_++;
    return true;
}

void SaTable::lookup_inbound(const uint32_t* spis_net, unsigned n, SecurityAssociation** out) const {
    bulk_lookup(by_spi_, sas_, spis_net, n, out);
}


}  // namespace conc::dp

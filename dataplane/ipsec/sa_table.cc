#include "dataplane/ipsec/sa_table.h"

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
    rte_hash_free(by_peer_);
}

bool SaTable::create(const char* name, uint32_t capacity, int socket, const char** why) {
    sas_ = static_cast<SecurityAssociation*>(
        rte_zmalloc_socket(name, sizeof(SecurityAssociation) * capacity, alignof(SecurityAssociation), socket));
    by_spi_ = create_hash(name, "spi", capacity, socket);
    by_peer_ = create_hash(name, "peer", capacity, socket);
    if (!sas_ || !by_spi_ || !by_peer_) {
        *why = "out of hugepage memory for the SA table (lower dataplane.max_sas or reserve more hugepages)";
        return false;
    }
    capacity_ = capacity;
    return true;
}

bool SaTable::install(IMB_MGR* mgr, const config::StaticSa& spec, uint32_t default_local_address,
                      uint32_t replay_window, const char** why) {
    if (used_ == capacity_) {
        *why = "SA table full (dataplane.max_sas)";
        return false;
    }
    SecurityAssociation* sa = new (&sas_[used_]) SecurityAssociation();
    if (!key_security_association(mgr, spec, default_local_address, *sa, why)) return false;

    const uint32_t spi_net = htonl(spec.spi);
    const uint32_t peer_net = sa->peer_address;
    int rc;
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
        rc = rte_hash_add_key_data(by_spi_, &spi_net, reinterpret_cast<void*>(uintptr_t{used_}));
    } else {
        rc = rte_hash_add_key_data(by_peer_, &peer_net, reinterpret_cast<void*>(uintptr_t{used_}));
    }
    if (rc < 0) {
        *why = "SA hash insert failed";
        return false;
    }
    ++used_;
    return true;
}

void SaTable::lookup(const rte_hash* hash, SecurityAssociation* sas, const uint32_t* keys, unsigned n,
                     SecurityAssociation** out) {
    const void* key_pointers[RTE_HASH_LOOKUP_BULK_MAX];
    void* data[RTE_HASH_LOOKUP_BULK_MAX];
    for (unsigned base = 0; base < n; base += RTE_HASH_LOOKUP_BULK_MAX) {
        const unsigned count = n - base < RTE_HASH_LOOKUP_BULK_MAX ? n - base : RTE_HASH_LOOKUP_BULK_MAX;
        for (unsigned i = 0; i < count; ++i) key_pointers[i] = &keys[base + i];
        uint64_t hits = 0;
        rte_hash_lookup_bulk_data(hash, key_pointers, count, &hits, data);
        for (unsigned i = 0; i < count; ++i)
            out[base + i] = (hits >> i & 1) ? &sas[reinterpret_cast<uintptr_t>(data[i])] : nullptr;
    }
}

void SaTable::lookup_inbound(const uint32_t* spis_net, unsigned n, SecurityAssociation** out) const {
    lookup(by_spi_, sas_, spis_net, n, out);
}

void SaTable::lookup_outbound(const uint32_t* peers_net, unsigned n, SecurityAssociation** out) const {
    lookup(by_peer_, sas_, peers_net, n, out);
}

}  // namespace conc::dp

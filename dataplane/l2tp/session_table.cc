#include "dataplane/l2tp/session_table.h"

#include "dataplane/bulk_lookup.h"

#include <arpa/inet.h>

#include <cstdio>
#include <cstring>
#include <new>

#include <rte_hash_crc.h>
#include <rte_malloc.h>

namespace conc::dp {

namespace {

// TCP MSS that fits a PPP MTU: the MTU less the IP and TCP headers.
uint16_t mss_for(uint16_t clamp, uint16_t mtu, uint16_t ip_header) {
    return clamp ? clamp : static_cast<uint16_t>(mtu - ip_header - 20);
}

}  // namespace

SessionTable::~SessionTable() {
    if (sessions_) {
        for (uint32_t i = 0; i < used_; ++i) sessions_[i].~Session();
        rte_free(sessions_);
    }
    rte_hash_free(by_key_);
    rte_hash_free(by_ipv4_);
    rte_hash_free(by_ipv6_64_);
    rte_lpm6_free(by_ipv6_other_);
}

namespace {

rte_hash* create_hash(const char* table, const char* what, uint32_t capacity, uint32_t key_len, int socket) {
    char name[RTE_HASH_NAMESIZE];
    std::snprintf(name, sizeof name, "%s_%s", table, what);
    rte_hash_parameters hash{};
    hash.name = name;
    hash.entries = capacity < 8 ? 8 : capacity;
    hash.key_len = key_len;
    hash.hash_func = rte_hash_crc;
    hash.socket_id = socket;
    hash.extra_flag = RTE_HASH_EXTRA_FLAGS_RW_CONCURRENCY_LF;  // one writer, lock-free readers
    return rte_hash_create(&hash);
}

}  // namespace

bool SessionTable::create(const char* name, uint32_t capacity, int socket, const char** why) {
    sessions_ = static_cast<Session*>(rte_zmalloc_socket(name, sizeof(Session) * capacity, alignof(Session), socket));
    by_key_ = create_hash(name, "key", capacity, sizeof(SessionKey), socket);
    by_ipv4_ = create_hash(name, "v4", capacity, sizeof(uint32_t), socket);
    by_ipv6_64_ = create_hash(name, "v6", capacity, 8, socket);
    if (!sessions_ || !by_key_ || !by_ipv4_ || !by_ipv6_64_) {
        *why = "out of hugepage memory for the session table (lower dataplane.max_sessions or reserve more hugepages)";
        return false;
    }
    std::snprintf(name_, sizeof name_, "%s", name);
    socket_ = socket;
    capacity_ = capacity;
    return true;
}

bool SessionTable::install(const config::StaticSession& spec, uint32_t sa_in, uint32_t sa_out, uint16_t max_inner,
                           const char** why) {
    if (used_ == capacity_) {
        *why = "session table full (dataplane.max_sessions)";
        return false;
    }
    const uint32_t index = used_;
    Session* s = new (&sessions_[index]) Session();
    s->sa_in = sa_in;
    s->sa_out = sa_out;
    s->tunnel_id = spec.tunnel_id;
    s->session_id = spec.session_id;
    s->peer_tunnel_id = spec.peer_tunnel_id;
    s->peer_session_id = spec.peer_session_id;
    s->mtu = spec.mtu < max_inner ? spec.mtu : max_inner;
    s->mss_ipv4 = mss_for(spec.mss_clamp, s->mtu, 20);
    s->mss_ipv6 = mss_for(spec.mss_clamp, s->mtu, 40);
    s->client_ipv4 = htonl(spec.client_ipv4);
    std::memcpy(s->ipv6_prefix, spec.client_ipv6_prefix.data(), 16);
    s->ipv6_prefix_length = spec.client_ipv6_prefix_length;
    s->sequencing = spec.sequencing;
    std::strncpy(s->name, spec.name.c_str(), sizeof s->name - 1);

    const SessionKey key{sa_in, spec.tunnel_id, spec.session_id};
    if (rte_hash_add_key_data(by_key_, &key, reinterpret_cast<void*>(uintptr_t{index})) < 0) {
        *why = "session hash insert failed";
        return false;
    }
    const void* data = reinterpret_cast<void*>(uintptr_t{index});
    if (s->client_ipv4 && rte_hash_add_key_data(by_ipv4_, &s->client_ipv4, const_cast<void*>(data)) < 0) {
        *why = "session hash insert failed (IPv4 address)";
        return false;
    }
    if (spec.client_ipv6_prefix_length == 64) {
        uint64_t prefix;  // an aligned copy: rte_hash_crc loads the key as one word
        std::memcpy(&prefix, spec.client_ipv6_prefix.data(), sizeof prefix);
        if (rte_hash_add_key_data(by_ipv6_64_, &prefix, const_cast<void*>(data)) < 0) {
            *why = "session hash insert failed (IPv6 prefix)";
            return false;
        }
    } else if (spec.client_ipv6_prefix_length) {
        if (!by_ipv6_other_) {
            char lpm_name[RTE_LPM6_NAMESIZE];
            std::snprintf(lpm_name, sizeof lpm_name, "%s_v6lpm", name_);
            rte_lpm6_config lpm6{};
            lpm6.max_rules = capacity_;
            lpm6.number_tbl8s = capacity_ / 16 + 4096;  // up to 5 per prefix below the /24 root
            by_ipv6_other_ = rte_lpm6_create(lpm_name, socket_, &lpm6);
        }
        if (!by_ipv6_other_ ||
            rte_lpm6_add(by_ipv6_other_, spec.client_ipv6_prefix.data(), spec.client_ipv6_prefix_length, index) < 0) {
            *why = "no room for the client's IPv6 prefix (LPM6)";
            return false;
        }
    }
    s->in_use = true;
    ++used_;
    return true;
}

void SessionTable::lookup_upstream(const SessionKey* keys, unsigned n, Session** out) const {
    bulk_lookup(by_key_, sessions_, keys, n, out);
}

void SessionTable::lookup_ipv4(const uint32_t* destinations_net, unsigned n, Session** out) const {
    bulk_lookup(by_ipv4_, sessions_, destinations_net, n, out);
}

Session* SessionTable::lookup_ipv6(const uint8_t destination[16]) const {
    void* data;
    uint64_t prefix;  // the address sits unaligned in the frame
    std::memcpy(&prefix, destination, sizeof prefix);
    if (rte_hash_lookup_data(by_ipv6_64_, &prefix, &data) >= 0)
        return &sessions_[reinterpret_cast<uintptr_t>(data)];
    uint32_t next_hop;
    if (by_ipv6_other_ && rte_lpm6_lookup(by_ipv6_other_, destination, &next_hop) == 0) return &sessions_[next_hop];
    return nullptr;
}

}  // namespace conc::dp

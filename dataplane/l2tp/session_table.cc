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
    rte_lpm_free(by_ipv4_);
    rte_lpm6_free(by_ipv6_);
}

bool SessionTable::create(const char* name, uint32_t capacity, int socket, const char** why) {
    char object[RTE_HASH_NAMESIZE];
    sessions_ = static_cast<Session*>(
        rte_zmalloc_socket(name, sizeof(Session) * capacity, alignof(Session), socket));

    std::snprintf(object, sizeof object, "%s_key", name);
    rte_hash_parameters hash{};
    hash.name = object;
    hash.entries = capacity < 8 ? 8 : capacity;
    hash.key_len = sizeof(SessionKey);
    hash.hash_func = rte_hash_crc;
    hash.socket_id = socket;
    hash.extra_flag = RTE_HASH_EXTRA_FLAGS_RW_CONCURRENCY_LF;  // one writer, lock-free readers
    by_key_ = rte_hash_create(&hash);

    std::snprintf(object, sizeof object, "%s_v4", name);
    rte_lpm_config lpm{};
    lpm.max_rules = capacity;
    // A /32 takes the 1 KB tbl8 group of its /24: client pools fill /24s.
    lpm.number_tbl8s = capacity / 128 + 256;
    by_ipv4_ = rte_lpm_create(object, socket, &lpm);

    std::snprintf(object, sizeof object, "%s_v6", name);
    rte_lpm6_config lpm6{};
    lpm6.max_rules = capacity;
    // A /64 ends in the 1 KB tbl8 of its first 7 bytes, shared by the 256
    // /64s that differ only in the 8th: /64s handed out from one pool share
    // almost everything. Prefixes scattered over unrelated /48s need up to 5
    // each; installing one that finds no room fails and says so.
    lpm6.number_tbl8s = capacity / 16 + 4096;
    lpm6.flags = 0;
    by_ipv6_ = rte_lpm6_create(object, socket, &lpm6);

    if (!sessions_ || !by_key_ || !by_ipv4_ || !by_ipv6_) {
        *why = "out of hugepage memory for the session table (lower dataplane.max_sessions or reserve more hugepages)";
        return false;
    }
    capacity_ = capacity;
    return true;
}

bool SessionTable::install(const config::StaticSession& spec, uint32_t sa_in, uint32_t sa_out, const char** why) {
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
    s->mtu = spec.mtu;
    s->mss_ipv4 = mss_for(spec.mss_clamp, spec.mtu, 20);
    s->mss_ipv6 = mss_for(spec.mss_clamp, spec.mtu, 40);
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
    if (spec.client_ipv4 && rte_lpm_add(by_ipv4_, spec.client_ipv4, 32, index) < 0) {
        *why = "no room for the client's IPv4 route (LPM)";
        return false;
    }
    if (spec.client_ipv6_prefix_length &&
        rte_lpm6_add(by_ipv6_, spec.client_ipv6_prefix.data(), spec.client_ipv6_prefix_length, index) < 0) {
        *why = "no room for the client's IPv6 prefix (LPM6)";
        return false;
    }
    s->in_use = true;
    ++used_;
    return true;
}

void SessionTable::lookup_upstream(const SessionKey* keys, unsigned n, Session** out) const {
    bulk_lookup(by_key_, sessions_, keys, n, out);
}

void SessionTable::lookup_ipv4(const uint32_t* destinations_net, unsigned n, Session** out) const {
    for (unsigned i = 0; i < n; ++i) {
        uint32_t next_hop;
        out[i] = rte_lpm_lookup(by_ipv4_, ntohl(destinations_net[i]), &next_hop) == 0 ? &sessions_[next_hop]
                                                                                       : nullptr;
    }
}

Session* SessionTable::lookup_ipv6(const uint8_t destination[16]) const {
    uint32_t next_hop;
    return rte_lpm6_lookup(by_ipv6_, destination, &next_hop) == 0 ? &sessions_[next_hop] : nullptr;
}

}  // namespace conc::dp

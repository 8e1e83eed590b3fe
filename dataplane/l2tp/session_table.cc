#include "dataplane/l2tp/session_table.h"

#include "common/proto/ipv6.h"
#include "dataplane/rcu.h"

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
        for (uint32_t i = 0; i < slots_.high_water(); ++i) sessions_[i].~Session();
        rte_free(sessions_);
    }
    rte_free(names_);
    rte_hash_free(by_key_);
    by_ipv4_.release();
    rte_hash_free(by_ipv6_64_);
    rte_lpm6_free(by_ipv6_other_);
}

namespace {

rte_hash* create_hash(const char* table, const char* what, uint32_t capacity, uint32_t key_len, int socket,
                      rte_rcu_qsbr* rcu) {
    char name[RTE_HASH_NAMESIZE];
    std::snprintf(name, sizeof name, "%s_%s", table, what);
    rte_hash_parameters hash{};
    hash.name = name;
    hash.entries = capacity < 8 ? 8 : capacity;
    hash.key_len = key_len;
    hash.hash_func = rte_hash_crc;
    hash.socket_id = socket;
    hash.extra_flag = RTE_HASH_EXTRA_FLAGS_RW_CONCURRENCY_LF;  // one writer, lock-free readers
    return attach_rcu(rte_hash_create(&hash), rcu);
}

}  // namespace

bool SessionTable::create(const char* name, uint32_t capacity, int socket, rte_rcu_qsbr* rcu, const char** why) {
    if (capacity > config::kMaxSessions) {
        *why = "more sessions than an IPv6 prefix's next hop can name (2097152 at most)";
        return false;
    }
    sessions_ = static_cast<Session*>(rte_zmalloc_socket(name, sizeof(Session) * capacity, alignof(Session), socket));
    char names_name[64];
    std::snprintf(names_name, sizeof names_name, "%s_names", name);
    names_ = static_cast<Name*>(rte_zmalloc_socket(names_name, sizeof(Name) * capacity, 64, socket));
    // Two keys a session while it is being rekeyed (its old inbound SA's and the new one's).
    by_key_ = create_hash(name, "key", 2 * capacity, sizeof(SessionKey), socket, rcu);
    by_ipv6_64_ = create_hash(name, "v6", capacity, 8, socket, rcu);
    char v4_name[64];
    std::snprintf(v4_name, sizeof v4_name, "%s_v4", name);
    rcu_ = rcu;
    if (!sessions_ || !names_ || !by_key_ || !by_ipv4_.create(v4_name, capacity, socket) || !by_ipv6_64_) {
        *why = "out of hugepage memory for the session table (lower dataplane.max_sessions or reserve more hugepages)";
        return false;
    }
    std::snprintf(name_, sizeof name_, "%s", name);
    socket_ = socket;
    capacity_ = capacity;
    slot_mask_ = shm::slot_mask(capacity);
    slots_.reset(capacity);
    return true;
}

namespace {

// The per-packet fields, from the spec: shared by install and update.
void set_forwarding(Session& s, const config::StaticSession& spec, uint16_t max_inner) {
    s.peer_tunnel_id = spec.peer_tunnel_id;
    s.peer_session_id = spec.peer_session_id;
    s.configured_mtu = spec.mtu;
    s.mss_clamp = spec.mss_clamp;
    s.mtu = spec.mtu < max_inner ? spec.mtu : max_inner;
    s.mss_ipv4 = mss_for(spec.mss_clamp, s.mtu, 20);
    s.mss_ipv6 = mss_for(spec.mss_clamp, s.mtu, 40);
    std::atomic_ref<bool>(s.sequencing).store(spec.sequencing, std::memory_order_relaxed);  // workers read it while sending
}

uint64_t prefix64(const uint8_t* address) {
    uint64_t prefix;  // an aligned copy: rte_hash_crc loads the key as one word
    std::memcpy(&prefix, address, sizeof prefix);
    return prefix;
}

}  // namespace

shm::CommandStatus SessionTable::install(const config::StaticSession& spec, uint32_t sa_in, uint32_t sa_out,
                                         uint16_t max_inner, uint32_t& index, const char** why) {
    // In the slot the client's address names if it can, where downstream
    // finds it without the IPv4 hash; otherwise filling from the top.
    const uint32_t address_slot = shm::slot_of(spec.client_ipv4, slot_mask_);
    const bool own_slot = spec.client_ipv4 && slots_.is_free(address_slot);
    const uint32_t slot = own_slot ? address_slot : slots_.highest_free();
    if (slot == capacity_) {
        *why = "session table full (dataplane.max_sessions)";
        return shm::CommandStatus::TableFull;
    }
    const SessionKey key{sa_in, spec.tunnel_id, spec.session_id};
    const uint32_t ipv4 = htonl(spec.client_ipv4);
    const uint64_t prefix = prefix64(spec.client_ipv6_prefix.data());
    const uint8_t v6_length = spec.client_ipv6_prefix_length;
    uint32_t ignored;
    if (rte_hash_lookup(by_key_, &key) >= 0) {
        *why = "a session with these tunnel and session ids on this SA is installed already";
        return shm::CommandStatus::Duplicate;
    }
    if ((ipv4 && resolve_ipv4(ipv4_candidate(ipv4), ipv4)) ||
        (v6_length == 64 && rte_hash_lookup(by_ipv6_64_, &prefix) >= 0) ||
        (v6_length && v6_length != 64 && by_ipv6_other_ &&
         rte_lpm6_is_rule_present(by_ipv6_other_, spec.client_ipv6_prefix.data(), v6_length, &ignored) == 1)) {
        *why = "the client's address or prefix belongs to another session";
        return shm::CommandStatus::Duplicate;
    }
    Session* s = new (&sessions_[slot]) Session();
    s->sa_in = sa_in;
    s->sa_out = sa_out;
    s->tunnel_id = spec.tunnel_id;
    s->session_id = spec.session_id;
    set_forwarding(*s, spec, max_inner);
    s->client_ipv4 = ipv4;
    std::memcpy(s->ipv6_prefix, spec.client_ipv6_prefix.data(), 16);
    s->ipv6_prefix_length = v6_length;
    std::memset(names_[slot].text, 0, sizeof names_[slot].text);
    spec.name.copy(names_[slot].text, sizeof names_[slot].text - 1);
    // Release: a worker that reaches the slot through its SA's hint or its
    // address sees it whole.
    std::atomic_ref<bool>(s->in_use).store(true, std::memory_order_release);

    // The hashes publish the entry to the other lookups: everything above is written before.
    void* data = reinterpret_cast<void*>(uintptr_t{slot});
    const char* failed = nullptr;
    if (rte_hash_add_key_data(by_key_, &key, data) < 0) failed = "session hash insert failed";
    else if (ipv4 && !own_slot && !by_ipv4_.insert(ipv4, slot))
        failed = "session hash insert failed (IPv4 address)";
    else if (v6_length == 64 && rte_hash_add_key_data(by_ipv6_64_, &prefix, data) < 0)
        failed = "session hash insert failed (IPv6 prefix)";
    else if (v6_length && v6_length != 64) {
        if (!by_ipv6_other_) {
            char lpm_name[RTE_LPM6_NAMESIZE];
            std::snprintf(lpm_name, sizeof lpm_name, "%s_v6lpm", name_);
            rte_lpm6_config lpm6{};
            lpm6.max_rules = capacity_;
            lpm6.number_tbl8s = capacity_ / 16 + 4096;  // up to 5 per prefix below the /24 root
            by_ipv6_other_ = rte_lpm6_create(lpm_name, socket_, &lpm6);
        }
        if (!by_ipv6_other_ || rte_lpm6_add(by_ipv6_other_, spec.client_ipv6_prefix.data(), v6_length, slot) < 0)
            failed = "no room for the client's IPv6 prefix (LPM6)";
    }
    slots_.take(slot);
    ++live_;
    if (failed) {
        // Undo what was hooked; the slot comes back after a grace period.
        remove(slot, why);
        *why = failed;
        return shm::CommandStatus::TableFull;
    }
    index = slot;
    return shm::CommandStatus::Ok;
}

shm::CommandStatus SessionTable::remove(uint32_t index, const char** why) {
    if (!valid(index)) {
        *why = "no session at this index";
        return shm::CommandStatus::NoSuchEntry;
    }
    Session& s = sessions_[index];
    const SessionKey key{s.sa_in, s.tunnel_id, s.session_id};
    void* data;
    // Each key is removed only where it points here (a failed install may
    // have stopped half way, and another session may own the address).
    auto unhook = [&](rte_hash* h, const void* k) {
        if (rte_hash_lookup_data(h, k, &data) >= 0 && reinterpret_cast<uintptr_t>(data) == index)
            rte_hash_del_key(h, k);
    };
    unhook(by_key_, &key);
    if (s.previous_sa_in != kNoPreviousSa) let_go_of_previous(index);
    if (s.client_ipv4 && by_ipv4_.find(s.client_ipv4) == index) by_ipv4_.erase(s.client_ipv4);
    if (s.ipv6_prefix_length == 64) {
        const uint64_t prefix = prefix64(s.ipv6_prefix);
        unhook(by_ipv6_64_, &prefix);
    } else if (s.ipv6_prefix_length && by_ipv6_other_) {
        uint32_t owner;
        if (rte_lpm6_is_rule_present(by_ipv6_other_, s.ipv6_prefix, s.ipv6_prefix_length, &owner) == 1 &&
            owner == index)
            rte_lpm6_delete(by_ipv6_other_, s.ipv6_prefix, s.ipv6_prefix_length);
    }
    std::atomic_ref<bool>(s.in_use).store(false, std::memory_order_release);
    --live_;
    removed_.emplace_back(index, rte_rcu_qsbr_start(rcu_));
    return shm::CommandStatus::Ok;
}

void SessionTable::unhook_previous(uint32_t index) {
    Session& s = sessions_[index];
    const SessionKey key{s.previous_sa_in, s.tunnel_id, s.session_id};
    void* data;
    if (rte_hash_lookup_data(by_key_, &key, &data) >= 0 && reinterpret_cast<uintptr_t>(data) == index)
        rte_hash_del_key(by_key_, &key);
    std::atomic_ref<uint32_t>(s.previous_sa_in).store(kNoPreviousSa, std::memory_order_relaxed);
}

void SessionTable::let_go_of_previous(uint32_t index) {
    const auto [first, last] = previous_users_.equal_range(sessions_[index].previous_sa_in);
    for (auto it = first; it != last; ++it)
        if (it->second == index) {
            previous_users_.erase(it);
            break;
        }
    unhook_previous(index);
}

shm::CommandStatus SessionTable::switch_sas(Session& s, uint32_t index, uint32_t new_in, uint32_t new_out,
                                            uint32_t& retired, const char** why) {
    if (new_in != s.sa_in) {
        const SessionKey key{new_in, s.tunnel_id, s.session_id};
        if (rte_hash_lookup(by_key_, &key) >= 0) {
            *why = "a session with these tunnel and session ids on the new inbound SA is installed already";
            return shm::CommandStatus::Duplicate;
        }
        if (rte_hash_add_key_data(by_key_, &key, reinterpret_cast<void*>(uintptr_t{index})) < 0) {
            *why = "session hash insert failed";
            return shm::CommandStatus::TableFull;
        }
        if (s.previous_sa_in != kNoPreviousSa) {  // rekeyed twice before the first old SA went
            retired = s.previous_sa_in;
            let_go_of_previous(index);
        }
        // The old SA becomes the previous one before the new one is the SA:
        // a worker that checks a packet on the old SA always finds it in one of them.
        const uint32_t old_in = s.sa_in;
        std::atomic_ref<uint32_t>(s.previous_sa_in).store(old_in, std::memory_order_relaxed);
        previous_users_.emplace(old_in, index);
        std::atomic_ref<uint32_t>(s.sa_in).store(new_in, std::memory_order_release);
    }
    std::atomic_ref<uint32_t>(s.sa_out).store(new_out, std::memory_order_relaxed);
    return shm::CommandStatus::Ok;
}

shm::CommandStatus SessionTable::update(uint32_t index, const config::StaticSession& spec, uint32_t sa_in,
                                        uint32_t sa_out, uint16_t max_inner, uint32_t& retired, const char** why) {
    retired = kNoPreviousSa;
    if (!valid(index)) {
        *why = "no session at this index";
        return shm::CommandStatus::NoSuchEntry;
    }
    Session& s = sessions_[index];
    if (spec.tunnel_id != s.tunnel_id || spec.session_id != s.session_id || htonl(spec.client_ipv4) != s.client_ipv4 ||
        spec.client_ipv6_prefix_length != s.ipv6_prefix_length ||
        std::memcmp(spec.client_ipv6_prefix.data(), s.ipv6_prefix, 16) != 0) {
        *why = "ids and addresses are lookup keys: delete the session and add it again";
        return shm::CommandStatus::BadCommand;
    }
    const shm::CommandStatus status = switch_sas(s, index, sa_in, sa_out, retired, why);
    if (status != shm::CommandStatus::Ok) return status;
    set_forwarding(s, spec, max_inner);
    return shm::CommandStatus::Ok;
}

void SessionTable::reclaim() {
    std::erase_if(removed_, [this](const std::pair<uint32_t, uint64_t>& r) {
        if (rte_rcu_qsbr_check(rcu_, r.second, false) != 1) return false;
        sessions_[r.first].~Session();
        std::memset(static_cast<void*>(&sessions_[r.first]), 0, sizeof(Session));
        slots_.release(r.first);
        return true;
    });
}

void SessionTable::lookup_upstream(const SessionKey* keys, unsigned n, Session** out) const {
    const void* key_pointers[RTE_HASH_LOOKUP_BULK_MAX];
    void* data[RTE_HASH_LOOKUP_BULK_MAX];
    for (unsigned base = 0; base < n; base += RTE_HASH_LOOKUP_BULK_MAX) {
        const unsigned count = n - base < RTE_HASH_LOOKUP_BULK_MAX ? n - base : RTE_HASH_LOOKUP_BULK_MAX;
        for (unsigned i = 0; i < count; ++i) key_pointers[i] = &keys[base + i];
        uint64_t hits = 0;
        rte_hash_lookup_bulk_data(by_key_, key_pointers, count, &hits, data);
        for (unsigned i = 0; i < count; ++i)
            out[base + i] = (hits >> i & 1) ? &sessions_[reinterpret_cast<uintptr_t>(data[i])] : nullptr;
    }
}

Session* SessionTable::lookup_ipv6(const uint8_t destination[16]) const {
    void* data;
    const uint64_t prefix = prefix64(destination);  // the address sits unaligned in the frame
    if (rte_hash_lookup_data(by_ipv6_64_, &prefix, &data) >= 0)
        return confirm_ipv6(static_cast<uint32_t>(reinterpret_cast<uintptr_t>(data)), destination);
    uint32_t next_hop;
    if (by_ipv6_other_ && rte_lpm6_lookup(by_ipv6_other_, destination, &next_hop) == 0)
        return confirm_ipv6(next_hop, destination);
    return nullptr;
}

// rte_lpm6 has no RCU: a deleted prefix's tbl8 groups go back to its pool at
// once and the next add may refill them while a worker walks them, so the
// next hop it reads may be another prefix's. It is only a candidate until
// the session it names is live and owns the destination.
Session* SessionTable::confirm_ipv6(uint32_t slot, const uint8_t destination[16]) const {
    if (slot >= capacity_) return nullptr;
    Session& s = sessions_[slot];
    // in_use first: the rest of the slot was written before it was set.
    if (!std::atomic_ref<bool>(s.in_use).load(std::memory_order_acquire)) return nullptr;
    return s.ipv6_prefix_length && proto::ipv6_address_in_prefix(destination, s.ipv6_prefix, s.ipv6_prefix_length)
               ? &s
               : nullptr;
}

}  // namespace conc::dp

// L2TP sessions as the fast path uses them: found upstream by (inbound SA,
// our tunnel id, our session id) and downstream by the client's IPv4 address
// or IPv6 prefix. A session sits in the slot its client address names when
// that slot was free (shm::slot_of), and is found there from the
// destination address alone; other client addresses are /32s in a hash,
// client prefixes nearly always /64s (IPv6CP + RA) in another, a few dozen
// bytes per session. A prefix of any other length goes to an LPM6 table
// made when the first one is installed (it costs 64 MB however few it holds).
// The main lcore is the only writer; workers read without locks, and a
// removed session's slot is reused only after an RCU grace period.
#pragma once

#include <atomic>
#include <cstdint>
#include <unordered_map>
#include <utility>
#include <vector>

#include <rte_hash.h>
#include <rte_lpm6.h>
#include <rte_rcu_qsbr.h>

#include "common/config/config.h"
#include "common/shm/contract.h"
#include "dataplane/index_table.h"
#include "dataplane/packet_counters.h"
#include "dataplane/prefetch.h"
#include "dataplane/slot_map.h"

namespace conc::dp {

struct SessionCounters {
    uint64_t rx_packets = 0;   // client -> core, forwarded (the inbound SA's owner only)
    uint64_t rx_bytes = 0;     // inner IP bytes
    PacketCounters tx{};       // core -> client, handed to ESP: the tx owner's (count_packet)
    uint64_t spoof_drops = 0;  // source address not the client's
};

inline constexpr uint32_t kNoPreviousSa = 0xFFFFFFFF;

struct alignas(64) Session {
    // SA table indices the client sends through and we send through. A
    // rekey (SessionTable::update) changes them while workers read them.
    uint32_t sa_in = 0;
    uint32_t sa_out = 0;
    uint16_t tunnel_id = 0;            // ours
    uint16_t session_id = 0;
    uint16_t peer_tunnel_id = 0;       // the client's
    uint16_t peer_session_id = 0;
    uint16_t peer_port = 1701;         // the client's L2TP UDP port (inside ESP, never NATed)
    uint16_t mtu = 1400;               // largest inner IP packet towards the client
    uint16_t configured_mtu = 1400;    // the PPP MTU asked for
    uint16_t mss_clamp = 0;            // as asked for, 0 = from the MTU
    uint16_t mss_ipv4 = 0;             // TCP MSS clamp for IPv4 / IPv6 SYNs, 0 = none
    uint16_t mss_ipv6 = 0;
    uint32_t client_ipv4 = 0;          // network byte order, 0 = none
    uint8_t ipv6_prefix[16]{};
    uint8_t ipv6_prefix_length = 0;    // 0 = no IPv6
    bool sequencing = false;
    bool in_use = false;
    std::atomic<uint16_t> next_ns{0};  // RFC 2661 5.4, when sequencing
    uint16_t tx_owner = kNoOwner;      // the worker that adds to counters.tx without a lock
    SessionCounters counters;
    PacketCounters shared_tx{};        // downstream counted by the other workers
    // After a rekey, the inbound SA before sa_in, still accepted upstream
    // until it is deleted (a client's packets in flight on it are not lost).
    uint32_t previous_sa_in = kNoPreviousSa;
    uint8_t unused[12]{};              // (the name is kept apart: SessionTable::name())

    // A packet sent to the client by worker (its queue).
    void count_tx(uint16_t worker, uint64_t bytes) { count_packet(tx_owner, worker, counters.tx, shared_tx, bytes); }
    PacketCounters tx_totals() const { return counter_total(counters.tx, shared_tx); }
};

// A looked-up session is read and its counters written for every packet:
// both of its lines, fetched before the first is used (for a whole burst
// at once, into L2: see dataplane/prefetch.h).
inline void prefetch_session(const Session* s, CacheLevel level) {
    static_assert(sizeof(Session) == 128);
    if (!s) return;
    prefetch_line(s, level);
    prefetch_line(reinterpret_cast<const char*>(s) + 64, level);
}

// The upstream key: sessions of different clients may share tunnel and
// session ids (each LNS picks its own per tunnel), never the inbound SA.
// Aligned for rte_hash_crc, which loads 8-byte keys as one word.
struct alignas(8) SessionKey {
    uint32_t sa_in;
    uint16_t tunnel_id;
    uint16_t session_id;
};

class SessionTable {
public:
    SessionTable() = default;
    SessionTable(const SessionTable&) = delete;
    SessionTable& operator=(const SessionTable&) = delete;
    ~SessionTable();

    bool create(const char* name, uint32_t capacity, int socket, rte_rcu_qsbr* rcu, const char** why);

    // Installs a session bound to SA table indices sa_in and sa_out. Its MTU
    // is the configured PPP MTU, or less if that much would not fit the
    // access port once wrapped (max_inner), so ICMP and fragmentation
    // decisions see the real limit.
    shm::CommandStatus install(const config::StaticSession& spec, uint32_t sa_in, uint32_t sa_out,
                               uint16_t max_inner, uint32_t& index, const char** why);
    // Unhooks a session; its slot is freed by a later reclaim().
    shm::CommandStatus remove(uint32_t index, const char** why);
    // How many sessions accept inbound SA sa as their previous one.
    uint32_t previous_users(uint32_t sa) const { return static_cast<uint32_t>(previous_users_.count(sa)); }
    // Before inbound SA sa is deleted: the sessions that still accept it as
    // their previous one stop doing so; f(session index) for each.
    template <typename F>
    void forget_previous_sa(uint32_t sa, F&& f) {
        const auto [first, last] = previous_users_.equal_range(sa);
        for (auto it = first; it != last; ++it) {
            unhook_previous(it->second);
            f(it->second);
        }
        previous_users_.erase(first, last);
    }
    // Changes what workers read per packet (peer ids, MTU, MSS, sequencing)
    // and the SA pair; the other lookup keys (ids, addresses) need remove +
    // install. A new SA pair is a rekey (RFC 2409 5.5: Quick Mode makes a
    // new pair for the same client): the session sends through sa_out from
    // now on and accepts upstream through sa_in and, until that SA is
    // deleted (forget_previous_sa), through the inbound SA it had. An older
    // previous SA is let go at once: retired says which (kNoPreviousSa if
    // none). Nothing changes if it fails.
    shm::CommandStatus update(uint32_t index, const config::StaticSession& spec, uint32_t sa_in, uint32_t sa_out,
                              uint16_t max_inner, uint32_t& retired,
                              const char** why);
    void reclaim();

    // Bulk lookup for a burst; out[i] is nullptr where there is none.
    void lookup_upstream(const SessionKey* keys, unsigned n, Session** out) const;
    // Downstream by IPv4 destination (network byte order), in two steps so
    // that a burst can prefetch between them: the slot the address names
    // (nullptr if none), which holds the session unless it is hashed; then,
    // once that slot has been fetched, the session itself (nullptr if none).
    Session* ipv4_candidate(uint32_t destination_net) const {
        const uint32_t slot = shm::slot_of(__builtin_bswap32(destination_net), slot_mask_);
        return destination_net && slot < capacity_ ? &sessions_[slot] : nullptr;
    }
    Session* resolve_ipv4(Session* candidate, uint32_t destination_net) const {
        // in_use first: the rest of the slot was written before it was set.
        if (candidate && std::atomic_ref<bool>(candidate->in_use).load(std::memory_order_acquire) &&
            candidate->client_ipv4 == destination_net)
            return candidate;
        if (by_ipv4_.size() == 0) return nullptr;
        const uint32_t index = by_ipv4_.find(destination_net);
        return index == IndexTable::kNotFound ? nullptr : &sessions_[index];
    }
    // Downstream by IPv6 destination: the live session whose prefix holds it.
    Session* lookup_ipv6(const uint8_t destination[16]) const;
    // Client IPv4 addresses kept in the hash because their slot was not free.
    uint32_t hashed_ipv4() const { return by_ipv4_.size(); }

    uint32_t size() const { return live_; }
    uint32_t high_water() const { return slots_.high_water(); }
    bool valid(uint32_t index) const { return index < slots_.high_water() && sessions_[index].in_use; }
    // Calls f(index) for every session in use (the free slots between them skipped).
    template <typename F>
    void for_each_in_use(F&& f) const {
        slots_.for_each_taken([&](uint32_t index) {
            if (sessions_[index].in_use) f(index);
        });
    }
    uint32_t index_of(const Session* s) const { return static_cast<uint32_t>(s - sessions_); }
    Session& at(uint32_t index) { return sessions_[index]; }
    const Session& at(uint32_t index) const { return sessions_[index]; }
    // The name it was installed with (kept out of the two lines a packet reads).
    const char* name(uint32_t index) const { return names_[index].text; }

private:
    // The session at slot if it is live and destination is inside its prefix.
    Session* confirm_ipv6(uint32_t slot, const uint8_t destination[16]) const;
    // Removes the upstream key of the session's previous inbound SA (not the
    // previous_users_ entry, which the caller owns).
    void unhook_previous(uint32_t index);
    // The session no longer accepts its previous inbound SA: key and
    // previous_users_ entry both go.
    void let_go_of_previous(uint32_t index);
    // The rekey part of update(): an error (why set) with nothing changed if
    // the new inbound SA's key cannot be added.
    shm::CommandStatus switch_sas(Session& s, uint32_t index, uint32_t sa_in, uint32_t sa_out, uint32_t& retired,
                                  const char** why);

    Session* sessions_ = nullptr;
    struct Name {
        char text[32];
    };
    Name* names_ = nullptr;  // per slot, in hugepage memory beside the sessions
    rte_hash* by_key_ = nullptr;
    IndexTable by_ipv4_;               // client addresses not in their slot (network byte order)
    rte_hash* by_ipv6_64_ = nullptr;   // the first 64 bits of a /64
    rte_lpm6* by_ipv6_other_ = nullptr;
    rte_rcu_qsbr* rcu_ = nullptr;
    char name_[24]{};
    int socket_ = 0;
    uint32_t capacity_ = 0;
    uint32_t slot_mask_ = 0;  // shm::slot_mask(capacity_)
    uint32_t live_ = 0;
    SlotMap slots_;
    std::vector<std::pair<uint32_t, uint64_t>> removed_;  // slot, RCU token
    std::unordered_multimap<uint32_t, uint32_t> previous_users_;  // previous inbound SA -> session (main lcore's)
};

}  // namespace conc::dp

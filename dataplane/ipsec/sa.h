// A security association as the fast path uses it: the transform with its
// expanded keys for Intel IPsec-MB, the outer addresses, the sequence state
// and the packet counters. Installed whole by the main lcore and then only
// read by workers, except the sequence state and the counters.
#pragma once

#include <atomic>
#include <cstdint>

#include <intel-ipsec-mb.h>

#include "common/config/config.h"
#include "common/proto/esp.h"
#include "dataplane/ipsec/replay_window.h"

namespace conc::dp {

struct SaCounters {
    uint64_t packets = 0;
    uint64_t bytes = 0;     // ESP payload bytes (inner packet) carried
};

// A counter several workers may add to at once (an outbound SA's, a
// session's downstream ones: RSS on the core port spreads a client's flows
// over workers). Uncontended, the locked add cost about 4 cycles each in the
// benchmark; inbound counters have one writer and need none.
inline void add_shared_counter(uint64_t& counter, uint64_t value) {
    std::atomic_ref<uint64_t>(counter).fetch_add(value, std::memory_order_relaxed);
}

inline constexpr uint16_t kNoOwner = 0xFFFF;

struct alignas(64) SecurityAssociation {
    // Transform: read-only after install.
    uint32_t spi = 0;
    config::SaDirection direction = config::SaDirection::Inbound;
    proto::EspCipher cipher{};
    proto::EspIntegrity integrity{};
    bool in_use = false;
    bool udp_encap = false;
    uint8_t iv_size = 0;
    uint8_t icv_size = 0;
    uint8_t block_size = 0;
    uint8_t imb_tag_size = 0;          // tag length IPsec-MB computes (>= icv_size)
    IMB_CIPHER_MODE cipher_mode{};
    IMB_HASH_ALG hash_alg{};
    uint32_t cipher_key_bytes = 0;     // AES/3DES key length without the GCM salt
    uint32_t local_address = 0;        // network byte order, as in the header
    uint32_t peer_address = 0;         // network byte order
    uint16_t local_port = 0;           // network byte order
    uint16_t peer_port = 0;            // network byte order
    uint8_t gcm_salt[4]{};

    // Expanded keys, 16-byte aligned as IPsec-MB wants.
    union {
        struct gcm_key_data gcm;
        struct {
            alignas(16) uint8_t encrypt[16 * 15];
            alignas(16) uint8_t decrypt[16 * 15];
        } aes;
        struct {
            alignas(16) uint64_t schedule[3][16];
            const void* schedule_pointers[3];
        } des3;
    } keys;
    alignas(16) uint8_t hmac_ipad[64];  // hash state after key ^ ipad
    alignas(16) uint8_t hmac_opad[64];  // hash state after key ^ opad

    // What packets change, together in one cache line: outbound, the next
    // sequence number (RFC 4303 3.3.3: never wraps), taken atomically by
    // whichever worker sends, and counters added atomically; inbound, the
    // anti-replay window and counters, written only by the owner: the first
    // worker to receive on the SA claims it and the others hand it the
    // SA's packets (RSS normally keeps them on the owner already).
    alignas(64) std::atomic<uint64_t> next_sequence{1};
    std::atomic<uint16_t> owner{kNoOwner};
    ReplayWindow replay;
    SaCounters counters;

    alignas(64) char name[32]{};
};

// With thousands of SAs most packets find theirs cold. Called for a whole
// burst before the first packet is worked on, so the misses overlap instead
// of stalling the cipher one by one; a run of packets on one SA pays once.
// Everything a packet touches: the transform, the expanded keys (the cipher
// reads most of GCM's 1 KB of hash powers even for short packets' setup) and
// the mutable line.
inline void prefetch_security_association(const SecurityAssociation* sa, const SecurityAssociation*& previous) {
    if (sa == previous || !sa) return;
    previous = sa;
    const char* p = reinterpret_cast<const char*>(sa);
    const char* end = reinterpret_cast<const char*>(&sa->next_sequence);
    for (; p < end; p += 64) __builtin_prefetch(p, 0, 3);
    __builtin_prefetch(end, 1, 3);
}

// Fills sa's transform and keys from a config SA; the IMB_MGR is used only
// for its key-expansion functions. Returns false (with why) if the transform
// cannot be keyed.
bool key_security_association(IMB_MGR* mgr, const config::StaticSa& spec, uint32_t default_local_address,
                               SecurityAssociation& sa, const char** why);

}  // namespace conc::dp

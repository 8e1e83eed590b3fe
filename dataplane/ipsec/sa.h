// A security association as the fast path uses it: the transform with its
// expanded keys for Intel IPsec-MB, the outer addresses, the sequence state
// and the packet counters. Installed whole by the main lcore and then only
// read by workers, except the sequence state and the counters.
#pragma once

#include <atomic>
#include <cstddef>
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
inline constexpr uint32_t kNoSessionHint = 0xFFFFFFFF;

// Key material in IPsec-MB's formats, laid out so that what a short packet
// needs sits at the two ends of 1 KB: round keys at the start; at the end
// GCM's low hash-key powers (IPsec-MB keeps H^48 .. H^1 in descending order,
// H^1 last) or the HMAC states. The middle (GCM's high powers) is read only
// for long packets. See prefetch_security_association.
union BlockCipherSchedule {
    // Only this SA's direction: CBC decrypts with the decryption schedule alone.
    alignas(16) uint8_t aes[240];
    struct {
        uint64_t schedule[3][16];
        const void* schedule_pointers[3];
    } des3;
};

struct alignas(64) SaKeys {
    static constexpr size_t kScheduleBytes = 256;  // AES-256's 15 round keys, whole lines
    static constexpr size_t kHmacOffset = 896;     // ipad and opad states: the last two lines
    union {
        struct gcm_key_data gcm;  // round keys at 0, H^1 ends at 1008
        struct {
            BlockCipherSchedule cipher;
            uint8_t unused[kHmacOffset - sizeof(BlockCipherSchedule)];
            alignas(64) uint8_t hmac_ipad[64];  // hash state after key ^ ipad
            uint8_t hmac_opad[64];              // hash state after key ^ opad
        } block;  // CBC cipher + HMAC
    };
};
static_assert(sizeof(SaKeys) == 1024 && sizeof(gcm_key_data) <= sizeof(SaKeys));
static_assert(offsetof(SaKeys, block.hmac_ipad) == SaKeys::kHmacOffset);

// Inbound SAs' per-packet state, written only by the owner worker: the first
// to receive on the SA claims it and the others hand it the SA's packets
// (RSS normally keeps them on the owner already).
struct InboundSaState {
    ReplayState replay;
    uint16_t owner;         // kNoOwner until claimed; atomic (owner())
    uint16_t unused;
    // A session bound to this SA (kNoSessionHint if none), so L2TP can find
    // it without a hash lookup; it is checked like a lookup result. Atomic (session_hint()).
    uint32_t session_hint;
};

// Outbound: the next sequence number (RFC 4303 3.3.3: never wraps), taken
// atomically by whichever worker sends (next_sequence()).
struct OutboundSaState {
    uint64_t next_sequence;
};

struct alignas(64) SecurityAssociation {
    // Line 0, all a packet reads and writes besides keys and replay bitmap:
    // the transform (read-only after install), the counters and its
    // direction's state, in one line instead of two (64 bytes less per SA).
    uint32_t spi = 0;
    uint32_t local_address = 0;        // network byte order, as in the header
    uint32_t peer_address = 0;         // network byte order
    uint16_t local_port = 0;           // network byte order
    uint16_t peer_port = 0;            // network byte order
    uint8_t gcm_salt[4]{};
    config::SaDirection direction = config::SaDirection::Inbound;
    proto::EspCipher cipher{};
    proto::EspIntegrity integrity{};
    bool in_use = false;
    bool udp_encap = false;
    uint8_t iv_size = 0;
    uint8_t icv_size = 0;
    uint8_t block_size = 0;
    uint8_t imb_tag_size = 0;          // tag length IPsec-MB computes (>= icv_size)
    uint8_t cipher_key_bytes = 0;      // AES/3DES key length without the GCM salt
    uint8_t cipher_mode = 0;           // IMB_CIPHER_MODE, kept in a byte (cipher_mode_for_job())
    uint8_t hash_alg = 0;              // IMB_HASH_ALG, likewise
    // Inbound counters have one writer (the owner); outbound ones any worker (add_shared_counter).
    SaCounters counters;
    union {
        InboundSaState inbound{{}, kNoOwner, 0, kNoSessionHint};
        OutboundSaState outbound;
    };

    // Lines 1-16: the keys, round keys first, right behind line 0.
    SaKeys keys;

    // Lines 17-20: the window's bitmap when it fits (windows up to 1984 bits),
    // so a packet's word is found from the SA's address and its sequence
    // number; a larger window's bitmap is allocated apart and pointed at from here.
    union alignas(64) {
        uint64_t replay_bitmap[ReplayWindow::kInlineWords]{};
        uint64_t* external_replay_bitmap;
    };
    char name[32]{};

    IMB_CIPHER_MODE cipher_mode_for_job() const { return static_cast<IMB_CIPHER_MODE>(cipher_mode); }
    IMB_HASH_ALG hash_alg_for_job() const { return static_cast<IMB_HASH_ALG>(hash_alg); }
    std::atomic_ref<uint64_t> next_sequence() { return std::atomic_ref<uint64_t>(outbound.next_sequence); }
    // For readers that only look (the published copy).
    uint64_t next_sequence_relaxed() const { return __atomic_load_n(&outbound.next_sequence, __ATOMIC_RELAXED); }
    std::atomic_ref<uint16_t> owner() { return std::atomic_ref<uint16_t>(inbound.owner); }
    std::atomic_ref<uint32_t> session_hint() { return std::atomic_ref<uint32_t>(inbound.session_hint); }
    uint64_t* replay_storage() {
        return ReplayWindow::bitmap_words(inbound.replay) <= ReplayWindow::kInlineWords ? replay_bitmap
                                                                                         : external_replay_bitmap;
    }
    ReplayWindow replay() { return ReplayWindow(inbound.replay, replay_storage()); }
};
static_assert(IMB_CIPHER_NUM <= 256 && IMB_AUTH_NUM <= 256);
static_assert(offsetof(SecurityAssociation, counters) + sizeof(SaCounters) + sizeof(InboundSaState) == 64);
static_assert(offsetof(SecurityAssociation, keys) == 64 && offsetof(SecurityAssociation, replay_bitmap) == 1088);

// With thousands of SAs most packets find theirs cold. The burst stages
// call this kSaPrefetchAhead packets ahead of the cipher: the misses overlap
// the work on the packets before, and the first packets' lines do not queue
// behind the whole burst's (measured: 4-6 ahead beat a whole burst at once
// by 10-25% with 100k clients). A run of packets on one SA pays once.
// Only the lines a packet of esp_len bytes reads: the first (transform,
// counters, sequence state), the round keys and, from the end of the keys,
// as many of GCM's hash powers as it has blocks to hash (or the HMAC
// states): 7 lines of 22 for a short packet. 3DES reads three schedule lines more, on demand, and so
// does GCM on CPUs without VAES, where IPsec-MB keeps 8 powers right after
// the round keys instead (the layout assumed here is the VAES one).
inline constexpr uint16_t kSaPrefetchAhead = 6;

inline void prefetch_security_association(const SecurityAssociation* sa, uint32_t esp_len,
                                          const SecurityAssociation*& previous) {
    if (sa == previous || !sa) return;
    previous = sa;
    const char* base = reinterpret_cast<const char*>(sa);
    __builtin_prefetch(base, 1, 3);
    const char* keys = base + offsetof(SecurityAssociation, keys);
    for (size_t line = 0; line < SaKeys::kScheduleBytes; line += 64) __builtin_prefetch(keys + line, 0, 3);
    // GHASH takes the ciphertext blocks with H^n .. H^1 (ESP adds at least 32 bytes around them).
    const uint32_t hash_blocks = esp_len > 32 ? (esp_len - 32 + 15) / 16 : 1;
    const size_t powers = hash_blocks < 48 ? hash_blocks : 48;
    size_t tail = offsetof(gcm_key_data, ghash_keys) + (48 - powers) * 16;
    if (tail > SaKeys::kHmacOffset) tail = SaKeys::kHmacOffset;
    for (size_t line = tail & ~size_t{63}; line < sizeof(SaKeys); line += 64) __builtin_prefetch(keys + line, 0, 3);
}

// Inbound: the bitmap word that sequence number seq will be checked against
// (when the bitmap is inline, which the default window's is).
inline void prefetch_replay_word(const SecurityAssociation* sa, uint32_t seq) {
    if (sa) __builtin_prefetch(&sa->replay_bitmap[seq / 64 % ReplayWindow::kInlineWords], 1, 3);
}

// Fills sa's transform and keys from a config SA; the IMB_MGR is used only
// for its key-expansion functions. Returns false (with why) if the transform
// cannot be keyed.
bool key_security_association(IMB_MGR* mgr, const config::StaticSa& spec, uint32_t default_local_address,
                               SecurityAssociation& sa, const char** why);

}  // namespace conc::dp

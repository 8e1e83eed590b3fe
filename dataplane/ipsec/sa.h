// A security association as the fast path uses it: the transform with its
// expanded keys for Intel IPsec-MB, the outer addresses, the sequence state
// and the packet counters. Installed whole by the main lcore and then only
// read by workers, except the sequence state and the counters.
#pragma once

#include <atomic>
#include <bit>
#include <cstddef>
#include <cstdint>

#include <intel-ipsec-mb.h>

#include "common/config/config.h"
#include "common/proto/esp.h"
#include "dataplane/ipsec/replay_window.h"
#include "dataplane/packet_counters.h"
#include "dataplane/prefetch.h"

namespace conc::dp {

// packets and bytes: ESP payload bytes (the inner packet) carried.
using SaCounters = PacketCounters;
inline constexpr uint32_t kNoSessionHint = 0xFFFFFFFF;

// Key material in IPsec-MB's formats, laid out so that what a short packet
// needs sits at the two ends of 1 KB: round keys at the start; at the end
// GCM's low hash-key powers (IPsec-MB keeps H^48 .. H^1 in descending order,
// H^1 last) or the HMAC states. The middle (GCM's high powers) is read only
// for long packets. See SaKeyShape and prefetch_security_association.
union BlockCipherSchedule {
    // Only this SA's direction: CBC decrypts with the decryption schedule alone.
    alignas(16) uint8_t aes[240];
    struct {
        uint64_t schedule[3][16];
        const void* schedule_pointers[3];
    } des3;
};

struct alignas(64) SaKeys {
    static constexpr size_t kHmacOffset = 896;  // ipad then opad state: the last line or two
    union {
        struct gcm_key_data gcm;  // round keys at 0, H^1 ends at 1008
        struct {
            BlockCipherSchedule cipher;
            uint8_t unused[kHmacOffset - sizeof(BlockCipherSchedule)];
            // The hash state after key ^ ipad, then after key ^ opad. SHA-1's
            // and SHA-256's states (20 and 32 bytes) share one line.
            alignas(64) uint8_t hmac[128];
        } block;  // CBC cipher + HMAC
    };
    // Where the opad state starts in block.hmac.
    static constexpr size_t hmac_opad_offset(IMB_HASH_ALG hash) {
        return hash == IMB_AUTH_HMAC_SHA_384 || hash == IMB_AUTH_HMAC_SHA_512 ? 64 : 32;
    }
};
static_assert(sizeof(SaKeys) == 1024 && sizeof(gcm_key_data) <= sizeof(SaKeys));
static_assert(offsetof(SaKeys, block.hmac) == SaKeys::kHmacOffset);

// Which lines of SaKeys a packet on an SA reads: the first schedule_lines
// (round keys, and without VAES GCM's 8 powers behind them), then GCM's
// VAES hash powers by the packet's length or the HMAC states' lines. The
// SA table keeps it in a byte per slot beside the SAs, so a burst can
// prefetch exactly those lines before any line of the SA has arrived (an
// AES-CBC-128 + HMAC-SHA1 SA's 1400-byte packet reads 4 key lines, not 16).
class SaKeyShape {
public:
    static constexpr unsigned kMaxScheduleLines = 15, kMaxHmacLines = 3;
    constexpr SaKeyShape() = default;
    constexpr SaKeyShape(uint8_t schedule_lines, uint8_t hmac_lines, bool gcm)
        : bits_(static_cast<uint8_t>(schedule_lines | hmac_lines << 4 | (gcm ? 1 << 6 : 0))) {}
    static constexpr SaKeyShape from_bits(uint8_t bits) { return SaKeyShape(bits); }

    uint8_t schedule_lines() const { return bits_ & 15; }
    uint8_t hmac_lines() const { return bits_ >> 4 & 3; }
    bool gcm() const { return bits_ >> 6 & 1; }
    uint8_t bits() const { return bits_; }

private:
    explicit constexpr SaKeyShape(uint8_t bits) : bits_(bits) {}
    uint8_t bits_ = 0;  // none: only the SA's first line is fetched
};

// Inbound SAs' per-packet state, written only by the owner worker: the first
// to receive on the SA claims it and the others hand it the SA's packets
// (RSS normally keeps them on the owner already). An owner whose SA's
// packets all come from another worker for a while gives the SA to that
// worker between bursts (Dataplane::owner_move_after), with release and
// acquire on owner, so that the state it wrote is what the next owner reads.
struct InboundSaState {
    ReplayState replay;
    uint16_t owner;         // kNoOwner until claimed; atomic (owner())
    uint16_t handed_in_a_row;  // the owner's: its packets that reached it by hand-off since one came directly
    // A session bound to this SA (kNoSessionHint if none), so L2TP can find
    // it without a hash lookup; it is checked like a lookup result. Atomic (session_hint()).
    uint32_t session_hint;
};

// Outbound: the next sequence number (RFC 4303 3.3.3: never wraps), taken
// atomically by whichever worker sends (next_sequence()), and which worker
// adds to the counters in line 0 without a lock (count_packet; the others
// add to shared_counters).
struct OutboundSaState {
    uint64_t next_sequence;
    uint16_t counter_owner;
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
    // Inbound counters have one writer (the owner); outbound ones any worker
    // (count_packet: the counter owner's here, the others' in shared_counters).
    SaCounters counters{};
    union {
        InboundSaState inbound{{}, kNoOwner, 0, kNoSessionHint};
        OutboundSaState outbound;
    };

    // Lines 1-16: the keys, round keys first, right behind line 0.
    SaKeys keys;

    // Lines 17-20: the window's bitmap when it fits (windows up to 1984 bits),
    // so a packet's word is found from the SA's address and its sequence
    // number; a larger window's bitmap is allocated apart and pointed at from here.
    // An outbound SA has no window: its workers other than the counter owner count here.
    union alignas(64) {
        uint64_t replay_bitmap[ReplayWindow::kInlineWords]{};
        uint64_t* external_replay_bitmap;
        SaCounters shared_counters;
    };
    char name[32]{};
    // Inbound, NAT-T: the last new peer address:port the control plane was
    // told of (peer_endpoint_key; 0 = none) and when it was told or last
    // tried to be (rte_get_tsc_cycles), so that it hears of each once, and
    // again only if the SA has not moved a while later (the report or the
    // move was lost). The owner worker's alone; read only when a packet
    // comes from elsewhere.
    uint64_t announced_peer = 0;
    uint64_t announced_tsc = 0;

    // The peer's address and UDP port (network byte order) as one 8-byte
    // load and store: the main lcore moves a NAT-T peer (UpdateSaPeer) while
    // workers send, and a packet must never take the new address with the
    // old port. local_port sits between them and is carried along unchanged.
    // Workers read local_port through peer() as well: the word is written whole.
    struct PeerEndpoint {
        uint32_t address;
        uint16_t port;
        uint16_t local_port;
    };
    PeerEndpoint peer() const {
        const uint64_t word = __atomic_load_n(peer_word(), __ATOMIC_RELAXED);
        return {static_cast<uint32_t>(word), static_cast<uint16_t>(word >> 48), static_cast<uint16_t>(word >> 32)};
    }
    void set_peer(uint32_t address_net, uint16_t port_net) {
        const uint64_t word = uint64_t{address_net} | uint64_t{local_port} << 32 | uint64_t{port_net} << 48;
        __atomic_store_n(peer_word(), word, __ATOMIC_RELAXED);
    }

    IMB_CIPHER_MODE cipher_mode_for_job() const { return static_cast<IMB_CIPHER_MODE>(cipher_mode); }
    IMB_HASH_ALG hash_alg_for_job() const { return static_cast<IMB_HASH_ALG>(hash_alg); }
    // GCM (RFC 4106): no separate integrity, and run without a job (gcm_decrypt, gcm_encrypt).
    bool gcm() const { return cipher_mode_for_job() == IMB_CIPHER_GCM; }
    std::atomic_ref<uint64_t> next_sequence() { return std::atomic_ref<uint64_t>(outbound.next_sequence); }
    // For readers that only look (the published copy).
    uint64_t next_sequence_relaxed() const { return __atomic_load_n(&outbound.next_sequence, __ATOMIC_RELAXED); }
    // A packet sent through an outbound SA by worker (its queue).
    void count_outbound(uint16_t worker, uint64_t bytes) {
        count_packet(outbound.counter_owner, worker, counters, shared_counters, bytes);
    }
    // The counters as a reader on another lcore sees them, both directions.
    SaCounters counter_totals() const {
        static constexpr SaCounters kNone{};
        return counter_total(counters, direction == config::SaDirection::Outbound ? shared_counters : kNone);
    }
    std::atomic_ref<uint16_t> owner() { return std::atomic_ref<uint16_t>(inbound.owner); }
    std::atomic_ref<uint32_t> session_hint() { return std::atomic_ref<uint32_t>(inbound.session_hint); }
    uint64_t* replay_storage() {
        return ReplayWindow::bitmap_words(inbound.replay) <= ReplayWindow::kInlineWords ? replay_bitmap
                                                                                         : external_replay_bitmap;
    }
    ReplayWindow replay() { return ReplayWindow(inbound.replay, replay_storage()); }
    const uint8_t* hmac_ipad() const { return keys.block.hmac; }
    // A peer address:port (network byte order) as announced_peer keeps it.
    static uint64_t peer_endpoint_key(uint32_t address_net, uint16_t port_net) {
        return uint64_t{address_net} << 16 | port_net;
    }
    const uint8_t* hmac_opad() const { return keys.block.hmac + SaKeys::hmac_opad_offset(hash_alg_for_job()); }

private:
    // GCC's may_alias: the three fields read and written as the one word they fill.
    using AliasingWord = uint64_t __attribute__((may_alias));
    AliasingWord* peer_word() { return reinterpret_cast<AliasingWord*>(&peer_address); }
    const AliasingWord* peer_word() const { return reinterpret_cast<const AliasingWord*>(&peer_address); }
};
static_assert(IMB_CIPHER_NUM <= 256 && IMB_AUTH_NUM <= 256);
static_assert(std::endian::native == std::endian::little);
static_assert(offsetof(SecurityAssociation, peer_address) % 8 == 0 &&
              offsetof(SecurityAssociation, local_port) == offsetof(SecurityAssociation, peer_address) + 4 &&
              offsetof(SecurityAssociation, peer_port) == offsetof(SecurityAssociation, peer_address) + 6);
static_assert(sizeof(SecurityAssociation) == 1408);
static_assert(sizeof(OutboundSaState) <= sizeof(InboundSaState));
static_assert(offsetof(SecurityAssociation, counters) + sizeof(SaCounters) + sizeof(InboundSaState) == 64);
static_assert(offsetof(SecurityAssociation, keys) == 64 && offsetof(SecurityAssociation, replay_bitmap) == 1088);

// With thousands of SAs most packets find theirs cold. The burst stages
// prefetch a few packets ahead of the cipher (SaPrefetchWindow): the misses
// overlap the work on the packets before, and the first packets' lines do
// not queue behind the whole burst's (measured: 4-6 ahead beat a whole burst
// at once by 10-25% with 100k clients). A run of packets on one SA pays once.
// Only the lines a packet of esp_len bytes reads, as shape says: the first
// (transform, counters, sequence state), the round keys and, from the end
// of the keys, as many of GCM's hash powers as it has blocks to hash, or
// the HMAC states: 6 lines of 22 for a short GCM-128 packet. Into L1 for a
// burst of short packets, L2 otherwise (dataplane/prefetch.h).
inline constexpr uint16_t kSaPrefetchAhead = 6;

// Calls f(offset) with the start of each line of SaKeys a packet on an SA of
// this shape reads, esp_len being its ESP length (header to ICV) or, for one
// still to be built, at least that (gcm_esp_length_bound).
template <typename F>
inline void for_each_key_line(SaKeyShape shape, uint32_t esp_len, F&& f) {
    constexpr unsigned kLines = sizeof(SaKeys) / 64;
    const unsigned schedule_end = shape.schedule_lines();
    unsigned tail_begin = kLines, tail_end = kLines;
    if (shape.gcm()) {
        // RFC 4106: header 8 + IV 8 + ICV 16 around the ciphertext, which
        // GHASH takes block by block with H^n .. H^1 (the AAD and the
        // length block with H^1).
        const uint32_t hash_blocks = esp_len > 32 ? (esp_len - 32 + 15) / 16 : 1;
        const unsigned powers = hash_blocks < 48 ? hash_blocks : 48;
        tail_begin = static_cast<unsigned>(offsetof(gcm_key_data, ghash_keys) + (48 - powers) * 16) / 64;
    } else if (shape.hmac_lines()) {
        tail_begin = SaKeys::kHmacOffset / 64;
        tail_end = tail_begin + shape.hmac_lines();
    }
    // A fixed count the compiler unrolls: a compare per line, no loop exit to predict.
#pragma GCC unroll 16
    for (unsigned line = 0; line < kLines; ++line)
        if (line < schedule_end || (line >= tail_begin && line < tail_end)) f(size_t{64} * line);
}

// The ESP length of a GCM packet that will carry payload_len bytes, at most
// (3 bytes of padding counted), for prefetching before the SA's line is read.
inline constexpr uint32_t gcm_esp_length_bound(uint32_t payload_len) {
    return static_cast<uint32_t>(8 + 8 + payload_len + 3 + proto::kEspTrailerSize + 16);
}

// Into the cache level given (burst_prefetch_level). Returns how many lines
// it asked for (none for the SA it was last called with).
inline unsigned prefetch_security_association(const SecurityAssociation* sa, SaKeyShape shape, uint32_t esp_len,
                                              CacheLevel level, const SecurityAssociation*& previous) {
    if (sa == previous || !sa) return 0;
    previous = sa;
    const char* base = reinterpret_cast<const char*>(sa);
    prefetch_line(base, level);
    const char* keys = base + offsetof(SecurityAssociation, keys);
    unsigned lines = 1;
    for_each_key_line(shape, esp_len, [keys, level, &lines](size_t offset) {
        prefetch_line(keys + offset, level);
        ++lines;
    });
    return lines;
}

// Keeps the SA lines of a burst's next packets on their way, in packet
// order, as far as kSaPrefetchAhead packets or about kSaPrefetchLines lines
// ahead of the one being worked on, whichever comes first: a long GCM
// packet needs 18 lines, a short one 7, and more requests than the core
// can keep in flight only queue. Measured on the ESP stage with 10k SAs,
// 1400-byte GCM decryption: 6 packets ahead +20% over one SA, this window
// +12-15%; short packets and CBC the same either way.
inline constexpr unsigned kSaPrefetchLines = 48;

template <typename Prefetch>  // unsigned(uint16_t i): prefetches packet i, returns its lines
class SaPrefetchWindow {
public:
    SaPrefetchWindow(uint16_t count, Prefetch prefetch) : count_(count), prefetch_(prefetch) {}
    // Before working on packet i (0, 1, 2, ... in turn): its lines and those ahead of it are asked for.
    void advance_to(uint16_t i) {
        if (i > 0) in_flight_ -= lines_[(i - 1) % kRing];
        while (next_ < count_ && (next_ <= i || (next_ - i <= kSaPrefetchAhead && in_flight_ < kSaPrefetchLines))) {
            const unsigned lines = prefetch_(next_);
            lines_[next_ % kRing] = static_cast<uint8_t>(lines);
            in_flight_ += lines;
            ++next_;
        }
    }

private:
    static constexpr unsigned kRing = kSaPrefetchAhead + 1;  // lines of packets [i, i + kSaPrefetchAhead]
    uint16_t count_;
    uint16_t next_ = 0;       // the first packet not asked for yet
    unsigned in_flight_ = 0;  // lines asked for packets [i, next_)
    uint8_t lines_[kRing]{};
    Prefetch prefetch_;
};

// In a burst prefetched into L2, the SA's first line (and inbound the bitmap
// word) is what a stage reads first on a packet's turn, before the cipher
// starts: it is brought on into L1 this many packets ahead, and so are all
// the lines of a short packet (as few as a burst of short ones takes into
// L1). Measured, 100k clients, GCM IMIX, whole upstream: +16.5-18.2% over
// one client -> +13.7-15.9% with the first line, -> +13-15% with the short
// packets' lines too.
inline constexpr uint16_t kSaFirstLineAhead = 2;

// Inbound: the bitmap word that sequence number seq will be checked against
// (when the bitmap is inline, which the default window's is).
inline void prefetch_replay_word(const SecurityAssociation* sa, uint32_t seq, CacheLevel level) {
    if (sa) prefetch_line(&sa->replay_bitmap[seq / 64 % ReplayWindow::kInlineWords], level);
}

// The key lines a keyed SA's packets read, through whichever of IPsec-MB's
// implementations keyed it (the SA table keeps the answer per slot).
SaKeyShape compute_key_shape(const SecurityAssociation& sa);

// Fills sa's transform and keys from a config SA; the IMB_MGR is used only
// for its key-expansion functions. Returns false (with why) if the transform
// cannot be keyed.
bool key_security_association(IMB_MGR* mgr, const config::StaticSa& spec, uint32_t default_local_address,
                               SecurityAssociation& sa, const char** why);

}  // namespace conc::dp

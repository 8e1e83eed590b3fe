#include "dataplane/ipsec/sa.h"

#include <arpa/inet.h>
#include <openssl/crypto.h>

#include <cstddef>
#include <cstring>

namespace conc::dp {

namespace {

using proto::EspCipher;
using proto::EspIntegrity;

// HMAC (RFC 2104) with the inner and outer hash states precomputed once per SA:
// IPsec-MB continues from them for every packet.
// The states go where SecurityAssociation::hmac_ipad() and hmac_opad() point.
void precompute_hmac(IMB_MGR* mgr, EspIntegrity integrity, const std::vector<uint8_t>& key, SecurityAssociation& sa) {
    const auto info = proto::integrity_info(integrity);
    uint8_t ipad[128], opad[128];
    std::memset(ipad, 0x36, sizeof ipad);
    std::memset(opad, 0x5c, sizeof opad);
    for (size_t i = 0; i < key.size() && i < info.block_size; ++i) {
        ipad[i] ^= key[i];
        opad[i] ^= key[i];
    }
    uint8_t* ipad_state = sa.keys.block.hmac;
    uint8_t* opad_state = ipad_state + SaKeys::hmac_opad_offset(sa.hash_alg_for_job());
    switch (integrity) {
        case EspIntegrity::HmacSha1_96:
            IMB_SHA1_ONE_BLOCK(mgr, ipad, ipad_state);
            IMB_SHA1_ONE_BLOCK(mgr, opad, opad_state);
            break;
        case EspIntegrity::HmacSha256_128:
        case EspIntegrity::HmacSha256_96:
            IMB_SHA256_ONE_BLOCK(mgr, ipad, ipad_state);
            IMB_SHA256_ONE_BLOCK(mgr, opad, opad_state);
            break;
        case EspIntegrity::HmacSha384_192:
            IMB_SHA384_ONE_BLOCK(mgr, ipad, ipad_state);
            IMB_SHA384_ONE_BLOCK(mgr, opad, opad_state);
            break;
        case EspIntegrity::HmacSha512_256:
            IMB_SHA512_ONE_BLOCK(mgr, ipad, ipad_state);
            IMB_SHA512_ONE_BLOCK(mgr, opad, opad_state);
            break;
        case EspIntegrity::None:
            break;
    }
}

IMB_HASH_ALG hash_algorithm(EspIntegrity integrity) {
    switch (integrity) {
        case EspIntegrity::HmacSha1_96: return IMB_AUTH_HMAC_SHA_1;
        case EspIntegrity::HmacSha256_128:
        case EspIntegrity::HmacSha256_96: return IMB_AUTH_HMAC_SHA_256;
        case EspIntegrity::HmacSha384_192: return IMB_AUTH_HMAC_SHA_384;
        case EspIntegrity::HmacSha512_256: return IMB_AUTH_HMAC_SHA_512;
        case EspIntegrity::None: break;
    }
    return IMB_AUTH_NULL;
}

// The tag length IPsec-MB produces for each hash; ESP truncations shorter than
// what the library accepts (HMAC-SHA256-96) are cut from it.
uint8_t library_tag_size(EspIntegrity integrity) {
    switch (integrity) {
        case EspIntegrity::HmacSha1_96: return 12;
        case EspIntegrity::HmacSha256_128:
        case EspIntegrity::HmacSha256_96: return 16;
        case EspIntegrity::HmacSha384_192: return 24;
        case EspIntegrity::HmacSha512_256: return 32;
        case EspIntegrity::None: break;
    }
    return 0;
}

constexpr uint8_t lines_for(size_t bytes) { return static_cast<uint8_t>((bytes + 63) / 64); }

// GCM without VAES: round keys and 8 powers (with their Karatsuba halves).
constexpr uint8_t kGcmEightPowerLines =
    lines_for(offsetof(gcm_key_data, ghash_keys) + sizeof(gcm_key_data::ghash_keys.sse_avx));
// The most a shape can say (SaKeyShape's fields): 3DES's schedule, GCM's
// eight powers, SHA-384/512's two HMAC lines.
static_assert(lines_for(sizeof(BlockCipherSchedule::des3)) <= SaKeyShape::kMaxScheduleLines &&
              kGcmEightPowerLines <= SaKeyShape::kMaxScheduleLines && lines_for(2 * 64) <= SaKeyShape::kMaxHmacLines);

}  // namespace

SaKeyShape compute_key_shape(const SecurityAssociation& sa) {
    const IMB_CIPHER_MODE mode = sa.cipher_mode_for_job();
    // AES: key bytes / 4 + 7 round keys of 16 bytes (FIPS 197 5.1: Nr + 1).
    const size_t schedule =
        mode == IMB_CIPHER_DES3 ? sizeof(BlockCipherSchedule::des3) : (sa.cipher_key_bytes / 4u + 7) * 16;
    if (mode == IMB_CIPHER_GCM) {
        // IPsec-MB's VAES code writes 48 hash-key powers, H^1 in the last 16
        // bytes of them; its SSE, AVX and AVX2 code writes 8 (SSE and AVX
        // also their Karatsuba halves) right behind the round keys and leaves
        // those bytes zero (keying starts from zeroed keys). H^1 is never zero.
        static constexpr uint8_t kZero[16] = {};
        const uint8_t* h1 = sa.keys.gcm.ghash_keys.vaes_avx512.shifted_hkey + 47 * 16;
        if (std::memcmp(h1, kZero, 16) != 0) return {lines_for(schedule), 0, true};
        return {kGcmEightPowerLines, 0, false};
    }
    const size_t hmac = sa.integrity == EspIntegrity::None ? 0 : 2 * SaKeys::hmac_opad_offset(sa.hash_alg_for_job());
    return {lines_for(schedule), lines_for(hmac), false};
}

bool key_security_association(IMB_MGR* mgr, const config::StaticSa& spec, uint32_t default_local_address,
                              SecurityAssociation& sa, const char** why) {
    const auto cipher = proto::cipher_info(spec.cipher);
    const auto integrity = proto::integrity_info(spec.integrity);
    if (spec.cipher_key.size() != cipher.key_size || spec.integrity_key.size() != integrity.key_size) {
        *why = "key length does not match the transform";
        return false;
    }
    // ESP without integrity (RFC 4303 3.2) is keyable here for the RFC 3602
    // vectors; the config loader refuses it for real SAs.
    if (cipher.aead && spec.integrity != EspIntegrity::None) {
        *why = "AEAD ciphers take no integrity algorithm";
        return false;
    }

    sa.spi = spec.spi;
    sa.direction = spec.direction;
    sa.cipher = spec.cipher;
    sa.integrity = spec.integrity;
    sa.udp_encap = spec.udp_encap;
    sa.iv_size = cipher.iv_size;
    sa.block_size = cipher.block_size;
    sa.icv_size = cipher.aead ? cipher.icv_size : integrity.icv_size;
    sa.imb_tag_size = cipher.aead ? cipher.icv_size : library_tag_size(spec.integrity);
    sa.local_address = htonl(spec.local_address ? spec.local_address : default_local_address);
    sa.peer_address = htonl(spec.peer_address);
    sa.local_port = htons(spec.local_port);
    sa.peer_port = htons(spec.peer_port);
    std::strncpy(sa.name, spec.name.c_str(), sizeof sa.name - 1);

    const uint8_t* key = spec.cipher_key.data();
    const bool inbound = spec.direction == config::SaDirection::Inbound;
    // compute_key_shape tells IPsec-MB's GCM layouts apart by what keying writes.
    std::memset(&sa.keys, 0, sizeof sa.keys);
    alignas(16) uint8_t unused_schedule[240];
    switch (spec.cipher) {
        case EspCipher::AesGcm128:
            sa.cipher_mode = IMB_CIPHER_GCM;
            sa.cipher_key_bytes = 16;
            IMB_AES128_GCM_PRE(mgr, key, &sa.keys.gcm);
            break;
        case EspCipher::AesGcm256:
            sa.cipher_mode = IMB_CIPHER_GCM;
            sa.cipher_key_bytes = 32;
            IMB_AES256_GCM_PRE(mgr, key, &sa.keys.gcm);
            break;
        case EspCipher::AesCbc128:
            sa.cipher_mode = IMB_CIPHER_CBC;
            sa.cipher_key_bytes = 16;
            IMB_AES_KEYEXP_128(mgr, key, inbound ? unused_schedule : sa.keys.block.cipher.aes,
                              inbound ? sa.keys.block.cipher.aes : unused_schedule);
            break;
        case EspCipher::AesCbc192:
            sa.cipher_mode = IMB_CIPHER_CBC;
            sa.cipher_key_bytes = 24;
            IMB_AES_KEYEXP_192(mgr, key, inbound ? unused_schedule : sa.keys.block.cipher.aes,
                              inbound ? sa.keys.block.cipher.aes : unused_schedule);
            break;
        case EspCipher::AesCbc256:
            sa.cipher_mode = IMB_CIPHER_CBC;
            sa.cipher_key_bytes = 32;
            IMB_AES_KEYEXP_256(mgr, key, inbound ? unused_schedule : sa.keys.block.cipher.aes,
                              inbound ? sa.keys.block.cipher.aes : unused_schedule);
            break;
        case EspCipher::TripleDesCbc:
            sa.cipher_mode = IMB_CIPHER_DES3;
            sa.cipher_key_bytes = 24;
            for (int i = 0; i < 3; ++i) {
                des_key_schedule(sa.keys.block.cipher.des3.schedule[i], key + 8 * i);
                sa.keys.block.cipher.des3.schedule_pointers[i] = sa.keys.block.cipher.des3.schedule[i];
            }
            break;
    }
    OPENSSL_cleanse(unused_schedule, sizeof unused_schedule);
    if (cipher.aead) {
        std::memcpy(sa.gcm_salt, key + sa.cipher_key_bytes, proto::kGcmSaltSize);
        sa.hash_alg = IMB_AUTH_AES_GMAC;
    } else {
        sa.hash_alg = hash_algorithm(spec.integrity);
        precompute_hmac(mgr, spec.integrity, spec.integrity_key, sa);
    }
    if (spec.direction == config::SaDirection::Outbound) {
        sa.outbound = OutboundSaState{spec.first_sequence, kNoOwner};
        sa.shared_counters = SaCounters{};
    }
    return true;
}

}  // namespace conc::dp

// ESP (RFC 4303) wire constants and the transforms we support, with the sizes
// each transform puts on the wire. One table, used by the config loader, the
// data plane and the tests.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace conc::proto {

inline constexpr uint8_t kIpProtoEsp = 50;
inline constexpr uint8_t kIpProtoUdp = 17;
inline constexpr uint8_t kIpProtoTcp = 6;
inline constexpr uint16_t kIkePort = 500;
inline constexpr uint16_t kNatTPort = 4500;        // RFC 3948
inline constexpr uint8_t kNatKeepalive = 0xFF;      // RFC 3948 2.3
inline constexpr size_t kEspHeaderSize = 8;         // SPI + sequence number
inline constexpr size_t kEspTrailerSize = 2;        // pad length + next header
inline constexpr size_t kNonEspMarkerSize = 4;      // RFC 3948 2.2: four zero bytes
inline constexpr uint32_t kGcmSaltSize = 4;         // RFC 4106 4: salt from the key material

enum class EspCipher : uint8_t { AesGcm128, AesGcm256, AesCbc128, AesCbc192, AesCbc256, TripleDesCbc };
enum class EspIntegrity : uint8_t {
    None,              // only with an AEAD cipher
    HmacSha1_96,       // RFC 2404
    HmacSha256_128,    // RFC 4868
    HmacSha256_96,     // the pre-RFC 4868 truncation some Android/Linux clients negotiate
    HmacSha384_192,
    HmacSha512_256,
};

struct EspCipherInfo {
    std::string_view name;  // as written in the config
    uint8_t key_size;       // bytes of key material, salt included for GCM
    uint8_t iv_size;        // bytes of IV on the wire
    uint8_t block_size;     // payload+trailer is padded to a multiple of this
    uint8_t icv_size;       // AEAD tag size, 0 for non-AEAD ciphers
    bool aead;
};

struct EspIntegrityInfo {
    std::string_view name;
    uint8_t key_size;
    uint8_t icv_size;
    uint8_t block_size;  // hash block size, for HMAC ipad/opad
};

constexpr EspCipherInfo cipher_info(EspCipher c) {
    switch (c) {
        case EspCipher::AesGcm128: return {"aes128gcm16", 16 + kGcmSaltSize, 8, 4, 16, true};
        case EspCipher::AesGcm256: return {"aes256gcm16", 32 + kGcmSaltSize, 8, 4, 16, true};
        case EspCipher::AesCbc128: return {"aes128", 16, 16, 16, 0, false};
        case EspCipher::AesCbc192: return {"aes192", 24, 16, 16, 0, false};
        case EspCipher::AesCbc256: return {"aes256", 32, 16, 16, 0, false};
        case EspCipher::TripleDesCbc: return {"3des", 24, 8, 8, 0, false};
    }
    return {};
}

constexpr EspIntegrityInfo integrity_info(EspIntegrity i) {
    switch (i) {
        case EspIntegrity::None: return {"none", 0, 0, 0};
        case EspIntegrity::HmacSha1_96: return {"sha1", 20, 12, 64};
        case EspIntegrity::HmacSha256_128: return {"sha256", 32, 16, 64};
        case EspIntegrity::HmacSha256_96: return {"sha256_96", 32, 12, 64};
        case EspIntegrity::HmacSha384_192: return {"sha384", 48, 24, 128};
        case EspIntegrity::HmacSha512_256: return {"sha512", 64, 32, 128};
    }
    return {};
}

inline constexpr EspCipher kAllCiphers[] = {EspCipher::AesGcm128, EspCipher::AesGcm256, EspCipher::AesCbc128,
                                            EspCipher::AesCbc192, EspCipher::AesCbc256, EspCipher::TripleDesCbc};

// The packet path pads and checks lengths with masks, not divisions.
constexpr bool all_block_sizes_powers_of_two() {
    for (EspCipher c : kAllCiphers)
        if (const unsigned b = cipher_info(c).block_size; b == 0 || (b & (b - 1)) != 0) return false;
    return true;
}
static_assert(all_block_sizes_powers_of_two());

inline constexpr EspIntegrity kAllIntegrities[] = {EspIntegrity::None,           EspIntegrity::HmacSha1_96,
                                                   EspIntegrity::HmacSha256_128, EspIntegrity::HmacSha256_96,
                                                   EspIntegrity::HmacSha384_192, EspIntegrity::HmacSha512_256};

inline std::optional<EspCipher> cipher_from_name(std::string_view name) {
    for (auto c : kAllCiphers)
        if (cipher_info(c).name == name) return c;
    return std::nullopt;
}
inline std::optional<EspIntegrity> integrity_from_name(std::string_view name) {
    for (auto i : kAllIntegrities)
        if (integrity_info(i).name == name) return i;
    return std::nullopt;
}

}  // namespace conc::proto

// Unpredictable IVs for CBC (RFC 3602 2.4). A worker's IVs are an AES-128
// counter-mode keystream under a key drawn from OpenSSL's DRBG: as
// unpredictable as the DRBG's own output (which is the same construction),
// made a 4 KB block at a time by IPsec-MB's vector AES at a few cycles per IV
// instead of the DRBG's ~26. Counter blocks never repeat under one key, so no
// IV is given out twice; the key is renewed every 2^20 blocks of 4 KB.
#pragma once

#include <cstdint>

#include <intel-ipsec-mb.h>

namespace conc::dp {

class IvPool {
public:
    // Keys the keystream from the DRBG; false if it has no randomness.
    bool init(IMB_MGR* mgr);
    // Makes sure n bytes (at most 4096) can be taken before the next reserve.
    // Refills through mgr: call only while mgr has no job in flight (between
    // burst stages). False if the keystream could not be made; then take()
    // gives nothing until a later refill works (never a stale or zero IV).
    bool reserve(IMB_MGR* mgr, unsigned n);
    // n bytes reserved before, or nullptr if none are left.
    const uint8_t* take(unsigned n) {
        if (used_ + n > sizeof bytes_) return nullptr;
        const uint8_t* p = bytes_ + used_;
        used_ += n;
        return p;
    }

private:
    bool rekey(IMB_MGR* mgr);
    bool refill(IMB_MGR* mgr);

    static constexpr uint64_t kBlocksPerKey = uint64_t{1} << 20;
    alignas(64) uint8_t bytes_[4096];
    unsigned used_ = sizeof bytes_;
    alignas(16) uint8_t counter_[16];             // the refill job's IV: lives as long as the pool
    alignas(16) uint8_t encrypt_keys_[16 * 11];
    alignas(16) uint8_t decrypt_keys_[16 * 11];  // unused: IPsec-MB expands both
    uint64_t blocks_ = kBlocksPerKey;             // made under the current key
};

}  // namespace conc::dp

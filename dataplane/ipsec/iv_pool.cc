#include "dataplane/ipsec/iv_pool.h"

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include <cstring>

#include "common/proto/byte_reader.h"
#include "dataplane/ipsec/esp_transform.h"

namespace conc::dp {

bool IvPool::init(IMB_MGR* mgr) {
    used_ = sizeof bytes_;
    return rekey(mgr);
}

bool IvPool::rekey(IMB_MGR* mgr) {
    uint8_t key[16];
    if (RAND_bytes(key, sizeof key) != 1) return false;
    IMB_AES_KEYEXP_128(mgr, key, encrypt_keys_, decrypt_keys_);
    OPENSSL_cleanse(key, sizeof key);
    blocks_ = 0;
    return true;
}

bool IvPool::refill(IMB_MGR* mgr) {
    // A fresh key now and then; if the DRBG fails the old one stays good:
    // its counter blocks still never repeat.
    if (blocks_ >= kBlocksPerKey) rekey(mgr);
    // Counter block: the block number under this key, then a 64-bit counter
    // that starts at 0 and runs to 255 over this 4 KB.
    std::memset(counter_, 0, sizeof counter_);
    proto::write_u32(counter_, static_cast<uint32_t>(blocks_ >> 32));
    proto::write_u32(counter_ + 4, static_cast<uint32_t>(blocks_));
    ++blocks_;
    used_ = sizeof bytes_;  // nothing to take unless the keystream is made
    std::memset(bytes_, 0, sizeof bytes_);
    IMB_JOB* job = IMB_GET_NEXT_JOB(mgr);
    job->cipher_mode = IMB_CIPHER_CNTR;
    job->cipher_direction = IMB_DIR_ENCRYPT;
    job->chain_order = IMB_ORDER_CIPHER_HASH;
    job->hash_alg = IMB_AUTH_NULL;
    job->enc_keys = encrypt_keys_;
    job->dec_keys = encrypt_keys_;
    job->key_len_in_bytes = 16;
    job->iv = counter_;
    job->iv_len_in_bytes = 16;
    job->src = bytes_;
    job->dst = bytes_;
    job->cipher_start_src_offset_in_bytes = 0;
    job->msg_len_to_cipher_in_bytes = sizeof bytes_;
    // With no other job in flight (the caller's promise) the one that
    // completes is this one.
    const IMB_JOB* done = run_job_now(mgr);
    if (done != job || done->status != IMB_STATUS_COMPLETED) return false;
    used_ = 0;
    return true;
}

bool IvPool::reserve(IMB_MGR* mgr, unsigned n) {
    if (n > sizeof bytes_) return false;
    return used_ + n <= sizeof bytes_ || refill(mgr);
}

}  // namespace conc::dp

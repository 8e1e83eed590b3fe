#include "dataplane/ipsec/esp_transform.h"

#include <cstring>

#include <emmintrin.h>

#include <rte_malloc.h>

#include "common/proto/byte_reader.h"

namespace conc::dp {

void set_job_keys(IMB_JOB* job, const SecurityAssociation& sa) {
    switch (sa.cipher_mode_for_job()) {
        case IMB_CIPHER_GCM:
            job->enc_keys = job->dec_keys = &sa.keys.gcm;
            return;  // no HMAC: job->u holds GCM's AAD
        case IMB_CIPHER_DES3:
            job->enc_keys = job->dec_keys = sa.keys.block.cipher.des3.schedule_pointers;
            break;
        default:  // AES-CBC
            job->enc_keys = job->dec_keys = sa.keys.block.cipher.aes;  // the SA's own direction
            break;
    }
    job->u.HMAC._hashed_auth_key_xor_ipad = sa.hmac_ipad();
    job->u.HMAC._hashed_auth_key_xor_opad = sa.hmac_opad();
}

namespace {

// RFC 4106 4: nonce = salt || IV. Made in a register and stored at once:
// GCM loads the 12 bytes in one go, which two stores would stall.
void write_gcm_nonce(const SecurityAssociation& sa, const uint8_t* esp, EspJobScratch& scratch) {
    uint32_t salt;
    uint64_t iv;
    std::memcpy(&salt, sa.gcm_salt, 4);
    std::memcpy(&iv, esp + 8, 8);
    const __m128i nonce = _mm_set_epi64x(static_cast<int64_t>(iv >> 32), static_cast<int64_t>(salt | iv << 32));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(scratch.nonce), nonce);
}

// One GCM operation in place through IPsec-MB's AEAD functions (AAD: the
// 8-byte SPI || sequence at esp); false if the library refused it.
bool run_gcm(IMB_MGR* imb, const gcm_key_data* key, bool wide, bool decrypt, uint8_t* out, const uint8_t* in,
             uint64_t len, const uint8_t* nonce, const uint8_t* aad, uint64_t aad_len, uint8_t* tag,
             uint64_t tag_len) {
    gcm_context_data context;
    if (decrypt) {
        if (wide) IMB_AES256_GCM_DEC(imb, key, &context, out, in, len, nonce, aad, aad_len, tag, tag_len);
        else IMB_AES128_GCM_DEC(imb, key, &context, out, in, len, nonce, aad, aad_len, tag, tag_len);
    } else {
        if (wide) IMB_AES256_GCM_ENC(imb, key, &context, out, in, len, nonce, aad, aad_len, tag, tag_len);
        else IMB_AES128_GCM_ENC(imb, key, &context, out, in, len, nonce, aad, aad_len, tag, tag_len);
    }
    return imb_get_errno(imb) == 0;
}

// sa's GCM in place on the ciphertext_len bytes behind esp's header and IV,
// the nonce made from the IV on the wire; false if the library refused it.
bool run_sa_gcm(IMB_MGR* imb, const SecurityAssociation& sa, bool decrypt, uint8_t* esp, uint32_t ciphertext_len,
                EspJobScratch& scratch, uint8_t* tag, uint64_t tag_len) {
    write_gcm_nonce(sa, esp, scratch);
    uint8_t* ciphertext = esp + esp_header_room(sa);
    return run_gcm(imb, &sa.keys.gcm, sa.cipher_key_bytes == IMB_KEY_256_BYTES, decrypt, ciphertext, ciphertext,
                   ciphertext_len, scratch.nonce, esp, 8, tag, tag_len);
}

// Inbound: the ciphertext's length, once the ESP length holds header, IV,
// one block and ICV and the rest is whole blocks.
EspStatus inbound_ciphertext_length(const SecurityAssociation& sa, uint32_t esp_len, uint32_t& ciphertext_len) {
    const uint32_t overhead = 8 + sa.iv_size + sa.icv_size;
    if (esp_len < overhead + sa.block_size) return EspStatus::Truncated;
    ciphertext_len = esp_len - overhead;
    if ((ciphertext_len & (sa.block_size - 1u)) != 0) return EspStatus::BadLength;  // block sizes are powers of 2
    return EspStatus::Ok;
}

// RFC 4106 3.1: the IV must be unique per key; the sequence number (zero-extended) is.
void write_gcm_iv(uint8_t* esp, uint32_t seq) { proto::write_u64(esp + 8, seq); }

// Outbound: writes SPI, sequence, padding and trailer around the payload at
// esp + esp_header_room(sa) (the IV is the caller's); returns the ciphertext's length.
uint32_t write_esp_framing(const SecurityAssociation& sa, uint8_t* esp, uint32_t payload_len, uint8_t next_header,
                           uint32_t seq) {
    const uint32_t trailer = esp_trailer_room(sa, payload_len);
    const uint32_t ciphertext_len = payload_len + trailer - sa.icv_size;
    const uint32_t pad_length = ciphertext_len - payload_len - proto::kEspTrailerSize;

    // Single stores for what GCM reads back at once (AAD, nonce): pieces would stall store forwarding.
    proto::write_u64(esp, uint64_t{sa.spi} << 32 | seq);
    uint8_t* trailer_start = esp + 8 + sa.iv_size + payload_len;
    for (uint32_t i = 0; i < pad_length; ++i) trailer_start[i] = static_cast<uint8_t>(i + 1);
    trailer_start[pad_length] = static_cast<uint8_t>(pad_length);
    trailer_start[pad_length + 1] = next_header;
    return ciphertext_len;
}

// Fields shared by both directions: where the cipher and the hash start.
void fill_common(IMB_JOB* job, const SecurityAssociation& sa, uint8_t* esp, uint32_t ciphertext_len,
                 EspJobScratch& scratch) {
    job->src = esp;
    job->dst = esp + 8 + sa.iv_size;
    job->cipher_start_src_offset_in_bytes = 8 + sa.iv_size;
    job->msg_len_to_cipher_in_bytes = ciphertext_len;
    job->key_len_in_bytes = sa.cipher_key_bytes;
    job->cipher_mode = sa.cipher_mode_for_job();
    job->hash_alg = sa.hash_alg_for_job();
    job->auth_tag_output = scratch.tag;
    job->auth_tag_output_len_in_bytes = sa.imb_tag_size;
    set_job_keys(job, sa);
    if (sa.gcm()) {
        // RFC 4106 4: AAD = SPI || sequence (no ESN).
        write_gcm_nonce(sa, esp, scratch);
        job->iv = scratch.nonce;
        job->iv_len_in_bytes = 12;
        job->u.GCM.aad = esp;
        job->u.GCM.aad_len_in_bytes = 8;
        job->hash_start_src_offset_in_bytes = 8 + sa.iv_size;
        job->msg_len_to_hash_in_bytes = ciphertext_len;
    } else {
        job->iv = esp + 8;
        job->iv_len_in_bytes = sa.iv_size;
        // RFC 4303 2: the ICV covers ESP header, IV and ciphertext.
        job->hash_start_src_offset_in_bytes = 0;
        job->msg_len_to_hash_in_bytes = 8 + sa.iv_size + ciphertext_len;
    }
}

// ICVs are 12 to 32 bytes, a multiple of 4: compare word by word, without an
// early exit, so the time does not tell how much of a forged ICV was right.
bool equal_constant_time(const uint8_t* a, const uint8_t* b, size_t n) {
    uint32_t diff = 0;
    for (size_t i = 0; i < n; i += 4) {
        uint32_t x, y;
        std::memcpy(&x, a + i, 4);
        std::memcpy(&y, b + i, 4);
        diff |= x ^ y;
    }
    return diff == 0;
}

}  // namespace

EspStatus prepare_decrypt_job(IMB_JOB* job, const SecurityAssociation& sa, uint8_t* esp, uint32_t esp_len,
                              EspJobScratch& scratch) {
    uint32_t ciphertext_len;
    if (const EspStatus status = inbound_ciphertext_length(sa, esp_len, ciphertext_len); status != EspStatus::Ok)
        return status;
    fill_common(job, sa, esp, ciphertext_len, scratch);
    job->cipher_direction = IMB_DIR_DECRYPT;
    job->chain_order = IMB_ORDER_HASH_CIPHER;
    return EspStatus::Ok;
}

EspStatus finish_decrypt(const IMB_JOB* job, const SecurityAssociation& sa, const uint8_t* esp, uint32_t esp_len,
                         const EspJobScratch& scratch, EspPlaintext& out) {
    if (job->status != IMB_STATUS_COMPLETED) return EspStatus::CryptoError;
    return check_plaintext(sa, esp, esp_len, scratch, out);
}

EspStatus check_plaintext(const SecurityAssociation& sa, const uint8_t* esp, uint32_t esp_len,
                          const EspJobScratch& scratch, EspPlaintext& out) {
    const uint8_t* received_icv = esp + esp_len - sa.icv_size;
    if (!equal_constant_time(received_icv, scratch.tag, sa.icv_size)) return EspStatus::AuthFailed;

    const uint32_t ciphertext_len = esp_len - 8 - sa.iv_size - sa.icv_size;
    const uint8_t* plaintext = esp + 8 + sa.iv_size;
    const uint8_t pad_length = plaintext[ciphertext_len - 2];
    if (pad_length + proto::kEspTrailerSize > ciphertext_len) return EspStatus::BadPadding;
    const uint32_t payload_len = ciphertext_len - proto::kEspTrailerSize - pad_length;
    // RFC 4303 2.4: default padding is 1, 2, 3, ...; a mismatch means a broken
    // or forged packet (after a verified ICV: a broken sender).
    for (uint32_t i = 0; i < pad_length; ++i)
        if (plaintext[payload_len + i] != static_cast<uint8_t>(i + 1)) return EspStatus::BadPadding;
    out.payload_offset = 8 + sa.iv_size;
    out.payload_len = payload_len;
    out.next_header = plaintext[ciphertext_len - 1];
    return EspStatus::Ok;
}

uint32_t esp_trailer_room(const SecurityAssociation& sa, uint32_t payload_len) {
    const uint32_t unpadded = payload_len + proto::kEspTrailerSize;
    const uint32_t padded = (unpadded + sa.block_size - 1u) & ~(sa.block_size - 1u);  // block sizes are powers of 2
    return padded - payload_len + sa.icv_size;
}

uint32_t prepare_encrypt_job(IMB_JOB* job, const SecurityAssociation& sa, uint8_t* esp, uint32_t payload_len,
                             uint8_t next_header, uint32_t seq, const uint8_t* iv_random, EspJobScratch& scratch) {
    const uint32_t ciphertext_len = write_esp_framing(sa, esp, payload_len, next_header, seq);
    if (sa.gcm()) write_gcm_iv(esp, seq);
    else std::memcpy(esp + 8, iv_random, sa.iv_size);
    fill_common(job, sa, esp, ciphertext_len, scratch);
    job->cipher_direction = IMB_DIR_ENCRYPT;
    job->chain_order = IMB_ORDER_CIPHER_HASH;
    return 8 + sa.iv_size + ciphertext_len + sa.icv_size;
}

EspStatus finish_encrypt(const IMB_JOB* job, const SecurityAssociation& sa, uint8_t* esp, uint32_t esp_len,
                         const EspJobScratch& scratch) {
    if (job->status != IMB_STATUS_COMPLETED) return EspStatus::CryptoError;
    std::memcpy(esp + esp_len - sa.icv_size, scratch.tag, sa.icv_size);
    return EspStatus::Ok;
}

bool run_now_if_gcm(IMB_MGR* imb, IMB_JOB* job) {
    if (job->cipher_mode != IMB_CIPHER_GCM) return false;
    const bool done = run_gcm(imb, static_cast<const gcm_key_data*>(job->enc_keys),
                              job->key_len_in_bytes == IMB_KEY_256_BYTES, job->cipher_direction == IMB_DIR_DECRYPT,
                              job->dst, job->src + job->cipher_start_src_offset_in_bytes,
                              job->msg_len_to_cipher_in_bytes, job->iv, static_cast<const uint8_t*>(job->u.GCM.aad),
                              job->u.GCM.aad_len_in_bytes, job->auth_tag_output, job->auth_tag_output_len_in_bytes);
    job->status = done ? IMB_STATUS_COMPLETED : IMB_STATUS_INVALID_ARGS;
    return true;
}

EspStatus gcm_decrypt(IMB_MGR* imb, const SecurityAssociation& sa, uint8_t* esp, uint32_t esp_len,
                      EspJobScratch& scratch, EspPlaintext& out) {
    uint32_t ciphertext_len;
    if (const EspStatus status = inbound_ciphertext_length(sa, esp_len, ciphertext_len); status != EspStatus::Ok)
        return status;
    if (!run_sa_gcm(imb, sa, true, esp, ciphertext_len, scratch, scratch.tag, sa.imb_tag_size))
        return EspStatus::CryptoError;
    return check_plaintext(sa, esp, esp_len, scratch, out);
}

EspStatus gcm_encrypt(IMB_MGR* imb, const SecurityAssociation& sa, uint8_t* esp, uint32_t payload_len,
                      uint8_t next_header, uint32_t seq, EspJobScratch& scratch, uint32_t& esp_len) {
    const uint32_t ciphertext_len = write_esp_framing(sa, esp, payload_len, next_header, seq);
    write_gcm_iv(esp, seq);
    // Our GCM transforms are the 16-byte-ICV ones (aes*gcm16): IPsec-MB
    // writes the whole tag, the ICV, straight behind the ciphertext.
    uint8_t* icv = esp + esp_header_room(sa) + ciphertext_len;
    esp_len = static_cast<uint32_t>(icv + sa.icv_size - esp);
    if (!run_sa_gcm(imb, sa, false, esp, ciphertext_len, scratch, icv, sa.icv_size)) return EspStatus::CryptoError;
    return EspStatus::Ok;
}

IMB_MGR* alloc_imb_manager(int socket) {
    void* memory = rte_zmalloc_socket("imb_mgr", imb_get_mb_mgr_size(), RTE_CACHE_LINE_SIZE, socket);
    if (!memory) return nullptr;
    IMB_MGR* mgr = imb_set_pointers_mb_mgr(memory, 0, 1);
    if (mgr) init_mb_mgr_auto(mgr, nullptr);
    if (!mgr || imb_get_errno(mgr) != 0) {
        rte_free(memory);
        return nullptr;
    }
    return mgr;
}

void free_imb_manager(IMB_MGR* mgr) { rte_free(mgr); }

const IMB_JOB* run_job_now(IMB_MGR* mgr) {
    if (IMB_JOB* next = IMB_GET_NEXT_JOB(mgr); run_now_if_gcm(mgr, next)) return next;  // as submit_job does
    const IMB_JOB* job = IMB_SUBMIT_JOB(mgr);
    if (!job) job = IMB_FLUSH_JOB(mgr);
    return job;
}

}  // namespace conc::dp

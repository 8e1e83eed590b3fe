// ESP transport-mode transforms on a flat buffer (RFC 4303 2, RFC 4106, RFC
// 3602): turning one packet's ESP into an IPsec-MB job and checking the job's
// result, or for GCM running it at once without a job (gcm_decrypt,
// gcm_encrypt). The burst stages (esp_decap, esp_encap) and the known-answer
// tests call the same functions (the tests both GCM paths, which must agree),
// so what the tests verify is what forwards.
#pragma once

#include <cstdint>

#include <intel-ipsec-mb.h>

#include "dataplane/ipsec/sa.h"

namespace conc::dp {

// Per-job scratch that must live until the job completes.
struct alignas(16) EspJobScratch {
    uint8_t nonce[16];     // GCM: salt || IV
    uint8_t tag[64];       // computed ICV
};

enum class EspStatus : uint8_t {
    Ok,
    Truncated,        // shorter than header + IV + one block + ICV
    BadLength,        // ciphertext not a whole number of cipher blocks
    AuthFailed,       // ICV mismatch
    CryptoError,      // the library rejected the job
    BadPadding,       // RFC 4303 2.4: pad bytes are 1, 2, 3, ...
};

// Points job at sa's keys (cipher schedule, and the HMAC states for CBC).
void set_job_keys(IMB_JOB* job, const SecurityAssociation& sa);

// Inbound. esp points at the ESP header, esp_len runs to the end of the ICV.
// Checks the lengths and fills job to authenticate and decrypt in place.
EspStatus prepare_decrypt_job(IMB_JOB* job, const SecurityAssociation& sa, uint8_t* esp, uint32_t esp_len,
                              EspJobScratch& scratch);

struct EspPlaintext {
    uint32_t payload_offset;  // from the ESP header to the first payload byte
    uint32_t payload_len;
    uint8_t next_header;
};

// After the job completed: verifies the ICV (constant time), the padding and
// finds the payload.
EspStatus finish_decrypt(const IMB_JOB* job, const SecurityAssociation& sa, const uint8_t* esp, uint32_t esp_len,
                         const EspJobScratch& scratch, EspPlaintext& out);

// The ICV and padding checks of finish_decrypt, for a packet whose computed
// ICV is in scratch.tag.
EspStatus check_plaintext(const SecurityAssociation& sa, const uint8_t* esp, uint32_t esp_len,
                          const EspJobScratch& scratch, EspPlaintext& out);

// Outbound. Bytes of ESP header + IV that precede the payload.
inline uint32_t esp_header_room(const SecurityAssociation& sa) { return 8 + sa.iv_size; }
// Bytes after a payload of payload_len: padding, pad length, next header, ICV.
uint32_t esp_trailer_room(const SecurityAssociation& sa, uint32_t payload_len);

// The payload is already at esp + esp_header_room(sa), with esp_trailer_room()
// bytes writable behind it. Writes SPI, sequence, IV, padding and trailer and
// fills job to encrypt and authenticate in place; returns the ESP length.
// iv_random supplies iv_size unpredictable bytes for CBC (RFC 3602 2.4);
// GCM uses the sequence number as its IV (RFC 4106 3.1).
uint32_t prepare_encrypt_job(IMB_JOB* job, const SecurityAssociation& sa, uint8_t* esp, uint32_t payload_len,
                             uint8_t next_header, uint32_t seq, const uint8_t* iv_random, EspJobScratch& scratch);

// After the job completed: puts the (possibly truncated) ICV in place.
EspStatus finish_encrypt(const IMB_JOB* job, const SecurityAssociation& sa, uint8_t* esp, uint32_t esp_len,
                         const EspJobScratch& scratch);

// Runs a prepared GCM job at once through IPsec-MB's AEAD functions instead
// of the job manager, and says whether it did (false: not GCM, nothing
// done). GCM has no lanes to fill (one buffer is already worked on in
// parallel), and the manager's submit and completion cost about 60 cycles a
// packet more (64-byte packets: 156 against 96). The job is left
// unsubmitted: the manager hands out the same slot again.
bool run_now_if_gcm(IMB_MGR* imb, IMB_JOB* job);

// The burst stages' GCM (RFC 4106): one packet decrypted or encrypted at
// once, through the same AEAD calls as run_now_if_gcm but without a job in
// between (filling one and reading it back cost 17 cycles a 64-byte packet
// upstream, 28 downstream).
// gcm_decrypt checks what prepare_decrypt_job and finish_decrypt check;
// gcm_encrypt writes what prepare_encrypt_job writes, the ICV included, and
// the ESP length in esp_len.
EspStatus gcm_decrypt(IMB_MGR* imb, const SecurityAssociation& sa, uint8_t* esp, uint32_t esp_len,
                      EspJobScratch& scratch, EspPlaintext& out);
EspStatus gcm_encrypt(IMB_MGR* imb, const SecurityAssociation& sa, uint8_t* esp, uint32_t payload_len,
                      uint8_t next_header, uint32_t seq, EspJobScratch& scratch, uint32_t& esp_len);

// Submits the prepared job (the manager's next) and hands every job the
// library completes to complete(); GCM jobs complete at once
// (run_now_if_gcm). Lengths and keys are validated by prepare_*_job, so
// release builds skip IPsec-MB's own argument checks; debug and sanitizer
// builds keep them, so the tests would catch a malformed job.
template <typename Complete>
inline void submit_job(IMB_MGR* imb, IMB_JOB* job, Complete&& complete) {
    if (run_now_if_gcm(imb, job)) {
        complete(job);
        return;
    }
#ifdef NDEBUG
    const IMB_JOB* done = IMB_SUBMIT_JOB_NOCHECK(imb);
#else
    const IMB_JOB* done = IMB_SUBMIT_JOB(imb);
#endif
    for (; done; done = IMB_GET_COMPLETED_JOB(imb)) complete(done);
}

// Completes every job still in flight (end of a burst).
template <typename Complete>
inline void flush_jobs(IMB_MGR* imb, Complete&& complete) {
    for (const IMB_JOB* done = IMB_FLUSH_JOB(imb); done; done = IMB_FLUSH_JOB(imb)) complete(done);
}

// Submits one prepared job and waits for it: for tests and slow paths only.
const IMB_JOB* run_job_now(IMB_MGR* mgr);

// A multi-buffer manager for one lcore, in DPDK's hugepage memory on the
// lcore's socket, initialised for the best instruction set the CPU has
// (nullptr if the memory or the library fails). Every packet touches its job
// ring and lane state: alloc_mb_mgr's heap memory would sit on whichever
// node the main thread that starts the workers runs on, in 4 KB pages.
// (Measured on the one-socket VM: no change.) Free with free_imb_manager.
IMB_MGR* alloc_imb_manager(int socket);
void free_imb_manager(IMB_MGR* mgr);

}  // namespace conc::dp

// libFuzzer target: any plaintext, trailer bytes included, encrypted under a
// real SA so its ICV verifies, is then decrypted and parsed (pad length, pad
// bytes, next header) without reading outside the packet. Reaches what a
// forged packet cannot: a sender's broken padding. GCM packets are also
// decrypted through gcm_decrypt, which must agree with the job path.
#include <cstdint>
#include <cstring>
#include <vector>

#include "dataplane/ipsec/esp_transform.h"
#include "tests/fuzz/fuzz_sas.h"

using namespace conc;

namespace {

struct Fixture {
    IMB_MGR* mgr;
    dp::SecurityAssociation* sas[3];
    Fixture() {
        mgr = alloc_mb_mgr(0);
        init_mb_mgr_auto(mgr, nullptr);
        const auto cfg = fuzz::fuzz_config();
        const char* why;
        for (int i = 0; i < 3; ++i) {
            sas[i] = new dp::SecurityAssociation();
            if (!dp::key_security_association(mgr, cfg.ipsec.static_sas[i], 1, *sas[i], &why)) __builtin_trap();
        }
    }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    static Fixture f;
    if (size < 1 || size > 1500) return 0;
    const dp::SecurityAssociation& sa = *f.sas[data[0] % 3];
    // The fuzzer's bytes are the whole plaintext: payload, padding, pad
    // length and next header. Round it to the cipher block with zeros.
    size_t plain = size - 1;
    plain = (plain + sa.block_size - 1) / sa.block_size * sa.block_size;
    if (plain == 0) plain = sa.block_size;
    const uint32_t esp_len = 8 + sa.iv_size + static_cast<uint32_t>(plain) + sa.icv_size;
    std::vector<uint8_t> packet(esp_len);
    uint8_t* esp = packet.data();
    // Let prepare_encrypt_job write headers and a trailer for an empty
    // payload, then put the fuzzer's plaintext over it before encrypting.
    dp::EspJobScratch scratch{};
    const uint8_t iv[16] = {7};
    IMB_JOB* job = IMB_GET_NEXT_JOB(f.mgr);
    const uint32_t payload_len = static_cast<uint32_t>(plain) - 2;  // whole blocks: pad 0
    dp::prepare_encrypt_job(job, sa, esp, payload_len, 17, 1, iv, scratch);
    std::memset(esp + 8 + sa.iv_size, 0, plain);
    std::memcpy(esp + 8 + sa.iv_size, data + 1, size - 1);
    const IMB_JOB* done = dp::run_job_now(f.mgr);
    if (!done || dp::finish_encrypt(done, sa, esp, esp_len, scratch) != dp::EspStatus::Ok) __builtin_trap();

    // The burst stages' GCM path (gcm_decrypt) on a copy must reach the same verdict.
    std::vector<uint8_t> copy;
    if (sa.gcm()) copy = packet;
    job = IMB_GET_NEXT_JOB(f.mgr);
    if (dp::prepare_decrypt_job(job, sa, esp, esp_len, scratch) != dp::EspStatus::Ok) __builtin_trap();
    done = dp::run_job_now(f.mgr);
    dp::EspPlaintext pt{};
    const dp::EspStatus status = dp::finish_decrypt(done, sa, esp, esp_len, scratch, pt);
    if (status == dp::EspStatus::AuthFailed || status == dp::EspStatus::CryptoError) __builtin_trap();
    if (status == dp::EspStatus::Ok && pt.payload_offset + pt.payload_len + 2 > esp_len - sa.icv_size)
        __builtin_trap();
    if (sa.gcm()) {
        dp::EspJobScratch direct_scratch{};
        dp::EspPlaintext direct{};
        if (dp::gcm_decrypt(f.mgr, sa, copy.data(), esp_len, direct_scratch, direct) != status) __builtin_trap();
        if (status == dp::EspStatus::Ok &&
            (direct.payload_offset != pt.payload_offset || direct.payload_len != pt.payload_len ||
             direct.next_header != pt.next_header || std::memcmp(copy.data(), esp, esp_len) != 0))
            __builtin_trap();
    }
    return 0;
}

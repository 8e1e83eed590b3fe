// Upstream ESP (DESIGN.md, upstream step 2), a burst at a time: SPI lookup,
// anti-replay check, authenticate and decrypt through IPsec-MB, window update
// after the ICV verified, padding check, then the transport-mode packet goes
// out of the core port.
#include <cstring>

#include <rte_mbuf.h>

#include "common/proto/byte_reader.h"
#include "common/proto/esp.h"
#include "common/proto/ipv4.h"
#include "dataplane/worker.h"

namespace conc::dp {

namespace {

bool count_replay_verdict(WorkerCounters& c, ReplayVerdict v) {
    switch (v) {
        case ReplayVerdict::Ok: return true;
        case ReplayVerdict::Replayed: ++c.rx_esp_replay_drops; break;
        case ReplayVerdict::LeftOfWindow: ++c.rx_esp_window_drops; break;
        case ReplayVerdict::ZeroSequence: ++c.rx_esp_zero_seq_drops; break;
    }
    return false;
}

// Transport mode (RFC 4303 3.1.1): the IP header stays, the ESP header, IV
// and trailer go, and the protocol becomes ESP's next header.
void forward_transport(WorkerContext& ctx, EspInflight& f, const EspPlaintext& pt) {
    rte_mbuf* m = f.mbuf;
    uint8_t* frame = rte_pktmbuf_mtod(m, uint8_t*);
    const uint8_t* outer = frame + proto::kEthernetHeaderSize;
    uint32_t source, destination;  // network byte order
    std::memcpy(&source, outer + 12, 4);
    std::memcpy(&destination, outer + 16, 4);
    const uint8_t ttl = outer[8];
    const uint16_t identification = proto::load_u16(outer + 4);

    uint8_t* payload = f.esp + pt.payload_offset;
    if (pt.next_header == proto::kIpProtoUdp) {
        if (pt.payload_len < proto::kUdpHeaderSize) {
            ++ctx.counters.rx_udp_header_drops;
            rte_pktmbuf_free(m);
            return;
        }
        // RFC 3948 3.1.2: behind NAT the sender's UDP checksum covers its
        // private address; checksum 0 is legal for IPv4 UDP.
        if (f.sa->udp_encap) proto::write_u16(payload + 6, 0);
    }
    const uint16_t headers = proto::kEthernetHeaderSize + proto::kIpv4MinHeaderSize;
    rte_pktmbuf_adj(m, static_cast<uint16_t>(payload - frame - headers));
    rte_pktmbuf_trim(m, static_cast<uint16_t>(rte_pktmbuf_data_len(m) - headers - pt.payload_len));
    uint8_t* out = rte_pktmbuf_mtod(m, uint8_t*);
    proto::write_ethernet_header(out, ctx.dp->core.gateway_mac, ctx.dp->core.mac, proto::kEtherTypeIpv4);
    proto::write_ipv4_header(out + proto::kEthernetHeaderSize, source, destination, pt.next_header,
                             static_cast<uint16_t>(proto::kIpv4MinHeaderSize + pt.payload_len), ttl, identification,
                             0);
    ++ctx.counters.rx_esp_decrypted;
    ++f.sa->counters.packets;
    f.sa->counters.bytes += pt.payload_len;
    ctx.core_tx.add(m);
}

void complete_decrypt(WorkerContext& ctx, const IMB_JOB* job) {
    EspInflight& f = *static_cast<EspInflight*>(job->user_data);
    WorkerCounters& c = ctx.counters;
    EspPlaintext pt{};
    const EspStatus status = finish_decrypt(job, *f.sa, f.esp, f.esp_len, f.scratch, pt);
    bool forward = false;
    if (status == EspStatus::AuthFailed) ++c.rx_esp_auth_drops;
    else if (status == EspStatus::CryptoError) ++c.rx_esp_crypto_error_drops;
    // RFC 4303 3.4.3: the window moves only for authenticated packets.
    else if (count_replay_verdict(c, f.sa->replay.update(f.seq))) {
        if (status == EspStatus::BadPadding) ++c.rx_esp_padding_drops;
        // L2TP/IPsec transport SAs carry UDP (RFC 3193 4); anything else,
        // including next header 59 dummy packets, stops here.
        else if (pt.next_header != proto::kIpProtoUdp) ++c.rx_esp_next_header_drops;
        else forward = true;
    }
    if (forward) forward_transport(ctx, f, pt);
    else rte_pktmbuf_free(f.mbuf);
}

}  // namespace

void esp_decap(WorkerContext& ctx, EspBatch& batch) {
    WorkerCounters& c = ctx.counters;
    uint32_t spis[kMaxBurst] = {};  // zeroed: GCC cannot see that only [0, n) is read
    SecurityAssociation* sas[kMaxBurst];
    uint16_t n = 0;
    c.rx_esp_packets += batch.count;
    for (uint16_t i = 0; i < batch.count; ++i) {
        rte_mbuf* m = batch.mbuf[i];
        if (batch.udp_encap[i]) ++c.rx_esp_udp_packets;
        if (rte_pktmbuf_data_len(m) < batch.esp_offset[i] + proto::kEspHeaderSize) {
            ++c.rx_esp_truncated_drops;
            rte_pktmbuf_free(m);
            continue;
        }
        const uint8_t* esp = rte_pktmbuf_mtod_offset(m, const uint8_t*, batch.esp_offset[i]);
        std::memcpy(&spis[n], esp, 4);
        batch.mbuf[n] = m;
        batch.esp_offset[n] = batch.esp_offset[i];
        batch.udp_encap[n] = batch.udp_encap[i];
        ++n;
    }
    ctx.dp->sas.lookup_inbound(spis, n, sas);
    const SecurityAssociation* previous = nullptr;
    for (uint16_t i = 0; i < n; ++i)
        prefetch_security_association(sas[i], rte_pktmbuf_data_len(batch.mbuf[i]), previous);

    IMB_MGR* imb = ctx.imb;
    unsigned inflight = 0;
    for (uint16_t i = 0; i < n; ++i) {
        rte_mbuf* m = batch.mbuf[i];
        SecurityAssociation* sa = sas[i];
        if (!sa) {
            ++c.rx_esp_unknown_spi_drops;
            rte_pktmbuf_free(m);
            continue;
        }
        if (sa->udp_encap != batch.udp_encap[i]) {
            ++c.rx_esp_encap_mismatch_drops;
            rte_pktmbuf_free(m);
            continue;
        }
        EspInflight& f = ctx.inflight[inflight];
        f.mbuf = m;
        f.sa = sa;
        f.esp = rte_pktmbuf_mtod_offset(m, uint8_t*, batch.esp_offset[i]);
        f.esp_len = rte_pktmbuf_data_len(m) - batch.esp_offset[i];
        f.seq = proto::load_u32(f.esp + 4);
        if (!count_replay_verdict(c, sa->replay.check(f.seq))) {
            rte_pktmbuf_free(m);
            continue;
        }
        IMB_JOB* job = IMB_GET_NEXT_JOB(imb);
        const EspStatus status = prepare_decrypt_job(job, *sa, f.esp, f.esp_len, f.scratch);
        if (status != EspStatus::Ok) {
            ++(status == EspStatus::Truncated ? c.rx_esp_truncated_drops : c.rx_esp_length_drops);
            rte_pktmbuf_free(m);
            continue;
        }
        job->user_data = &f;
        ++inflight;
        submit_job(imb, [&](const IMB_JOB* done) { complete_decrypt(ctx, done); });
    }
    flush_jobs(imb, [&](const IMB_JOB* done) { complete_decrypt(ctx, done); });
}

}  // namespace conc::dp

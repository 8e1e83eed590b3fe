// Downstream ESP (DESIGN.md, downstream), a burst at a time: the UDP datagram
// carrying L2TP gets its SA's next sequence number, is encrypted in transport
// mode through IPsec-MB and leaves the access port under the outer IPv4
// header to the client's (NAT) address, + UDP 4500 for NAT-T SAs.
#include <cstring>

#include <rte_mbuf.h>

#include "common/proto/byte_reader.h"
#include "common/proto/esp.h"
#include "common/proto/ipv4.h"
#include "dataplane/worker.h"

namespace conc::dp {

namespace {

inline constexpr uint8_t kOuterTtl = 64;

void complete_encrypt(WorkerContext& ctx, rte_mbuf* m, EspStatus status) {
    if (status != EspStatus::Ok) {
        ++ctx.counters.tx_esp_crypto_error_drops;
        rte_pktmbuf_free(m);
        return;
    }
    ++ctx.counters.tx_esp_packets;
    ctx.access_tx.add(m);
}

void complete_encrypt_job(WorkerContext& ctx, const IMB_JOB* job) {
    EspInflight& f = *static_cast<EspInflight*>(job->user_data);
    complete_encrypt(ctx, f.mbuf, finish_encrypt(job, *f.sa, f.esp, f.esp_len, f.scratch));
}

}  // namespace

void esp_encap(WorkerContext& ctx, EspEncapBatch& batch) {
    WorkerCounters& c = ctx.counters;
    IMB_MGR* imb = ctx.imb;
    const PortState& access = ctx.dp->access;
    uint8_t gateway_mac[6];
    const bool gateway_known = access.gateway.get(gateway_mac);
    // CBC IVs for the whole batch, made while no job is in flight.
    ctx.ivs.reserve(imb, batch.count * 16u);
    uint32_t bytes = 0;
    for (uint16_t i = 0; i < batch.count; ++i) bytes += rte_pktmbuf_data_len(batch.mbuf[i]);
    const CacheLevel level = burst_prefetch_level(bytes, batch.count);
    auto esp_len_bound = [&](uint16_t i) { return gcm_esp_length_bound(rte_pktmbuf_data_len(batch.mbuf[i])); };
    const SecurityAssociation* previous = nullptr;
    SaPrefetchWindow window(batch.count, [&](uint16_t i) {
        return ctx.dp->sas.prefetch(batch.sa[i], esp_len_bound(i), level, previous);
    });

    unsigned inflight = 0;
    const SecurityAssociation* promoted = nullptr;  // the last SA whose lines went on into L1
    for (uint16_t i = 0; i < batch.count; ++i) {
        window.advance_to(i);
        if (const uint16_t j = i + kSaFirstLineAhead; level == CacheLevel::L2 && j < batch.count)
            ctx.dp->sas.promote_to_l1(batch.sa[j], esp_len_bound(j), promoted);
        rte_mbuf* m = batch.mbuf[i];
        SecurityAssociation* sa = batch.sa[i];
        if (!gateway_known) {  // before a sequence number is spent
            ++c.tx_no_neighbor_drops;
            rte_pktmbuf_free(m);
            continue;
        }
        // RFC 4303 3.3.3: the sequence number never cycles; an exhausted SA
        // stops sending until it is rekeyed.
        const uint64_t seq = sa->next_sequence().fetch_add(1, std::memory_order_relaxed);
        if (seq > UINT32_MAX) {
            ++c.tx_esp_seq_overflow_drops;
            rte_pktmbuf_free(m);
            continue;
        }
        const uint16_t payload_len = rte_pktmbuf_data_len(m);
        const uint16_t udp_size = sa->udp_encap ? proto::kUdpHeaderSize : 0;
        const uint16_t headers = static_cast<uint16_t>(proto::kEthernetHeaderSize + proto::kIpv4MinHeaderSize +
                                                       udp_size + esp_header_room(*sa));
        const uint32_t trailer = esp_trailer_room(*sa, payload_len);
        const uint32_t outer_len = headers - proto::kEthernetHeaderSize + payload_len + trailer;
        const bool gcm = sa->gcm();
        const uint8_t* iv = gcm ? nullptr : ctx.ivs.take(sa->iv_size);
        if (!gcm && !iv) {
            ++c.tx_esp_crypto_error_drops;
            rte_pktmbuf_free(m);
            continue;
        }
        if (outer_len > ctx.dp->config->dataplane.access.mtu || !rte_pktmbuf_prepend(m, headers) ||
            !rte_pktmbuf_append(m, static_cast<uint16_t>(trailer))) {
            ++c.tx_esp_too_big_drops;
            rte_pktmbuf_free(m);
            continue;
        }

        uint8_t* frame = rte_pktmbuf_mtod(m, uint8_t*);
        uint8_t* ip = frame + proto::kEthernetHeaderSize;
        EspInflight& f = ctx.inflight[inflight];
        f.mbuf = m;
        f.sa = sa;
        f.esp = ip + proto::kIpv4MinHeaderSize + udp_size;
        f.seq = static_cast<uint32_t>(seq);
        IMB_JOB* job = nullptr;
        EspStatus status = EspStatus::Ok;
        if (gcm) {
            status = gcm_encrypt(imb, *sa, f.esp, payload_len, proto::kIpProtoUdp, f.seq, f.scratch, f.esp_len);
        } else {
            job = IMB_GET_NEXT_JOB(imb);
            f.esp_len = prepare_encrypt_job(job, *sa, f.esp, payload_len, proto::kIpProtoUdp, f.seq, iv, f.scratch);
            job->user_data = &f;
        }

        proto::write_ethernet_header(frame, gateway_mac, access.mac, proto::kEtherTypeIpv4);
        const SecurityAssociation::PeerEndpoint peer = sa->peer();  // one load: it may be moving (NAT-T)
        proto::write_ipv4_header(ip, sa->local_address, peer.address,
                                 sa->udp_encap ? proto::kIpProtoUdp : proto::kIpProtoEsp,
                                 static_cast<uint16_t>(outer_len), kOuterTtl, ctx.ip_identification++, 0);
        if (sa->udp_encap)
            proto::write_udp_header(ip + proto::kIpv4MinHeaderSize, rte_be_to_cpu_16(peer.local_port),
                                    rte_be_to_cpu_16(peer.port),
                                    static_cast<uint16_t>(proto::kUdpHeaderSize + f.esp_len));
        sa->count_outbound(ctx.queue, payload_len);
        if (!job) {  // GCM: done already
            complete_encrypt(ctx, m, status);
            continue;
        }
        ++inflight;
        submit_job(imb, job, [&](const IMB_JOB* done) { complete_encrypt_job(ctx, done); });
    }
    flush_jobs(imb, [&](const IMB_JOB* done) { complete_encrypt_job(ctx, done); });
    batch.count = 0;
}

}  // namespace conc::dp

// Downstream ESP (DESIGN.md, downstream), a burst at a time: a core-port
// packet is looked up by destination among outbound SAs, gets the next
// sequence number, is encrypted in transport mode through IPsec-MB and leaves
// the access port under a new outer header (+ UDP 4500 for NAT-T SAs).
#include <cstring>

#include <rte_mbuf.h>

#include "common/proto/byte_reader.h"
#include "common/proto/esp.h"
#include "common/proto/ipv4.h"
#include "dataplane/worker.h"

namespace conc::dp {

namespace {

inline constexpr uint8_t kOuterTtl = 64;

struct CorePacket {
    uint16_t l4_offset;
    uint16_t l4_len;
    uint8_t protocol;
    uint32_t source;  // network byte order
};

// Transport mode sends the L4 payload under our address instead of the core
// host's: its checksum covers the pseudo-header, so it follows (RFC 1624).
void fix_l4_checksum(uint8_t* l4, uint16_t l4_len, uint8_t protocol, uint32_t old_source, uint32_t new_source) {
    size_t offset;
    if (protocol == proto::kIpProtoUdp && l4_len >= proto::kUdpHeaderSize) offset = 6;
    else if (protocol == proto::kIpProtoTcp && l4_len >= 20) offset = 16;
    else return;
    const uint16_t old_checksum = proto::load_u16(l4 + offset);
    if (protocol == proto::kIpProtoUdp && old_checksum == 0) return;  // none computed: stays none
    uint16_t updated = proto::checksum_replace_address(old_checksum, old_source, new_source);
    if (protocol == proto::kIpProtoUdp && updated == 0) updated = 0xFFFF;  // RFC 768: 0 means none
    proto::write_u16(l4 + offset, updated);
}

// Validates the frame and trims Ethernet padding; false = counted and freed.
bool parse_core_frame(WorkerContext& ctx, rte_mbuf* m, CorePacket& out, uint32_t& destination) {
    WorkerCounters& c = ctx.counters;
    if (m->nb_segs > 1 && rte_pktmbuf_linearize(m) != 0) {
        ++c.tx_esp_too_big_drops;
        return false;
    }
    const uint8_t* frame = rte_pktmbuf_mtod(m, const uint8_t*);
    const size_t len = rte_pktmbuf_data_len(m);
    if (len < proto::kEthernetHeaderSize || proto::load_u16(frame + 12) != proto::kEtherTypeIpv4) {
        ++c.rx_non_ip_drops;
        return false;
    }
    proto::Ipv4Header ip;
    if (proto::parse_ipv4(frame + proto::kEthernetHeaderSize, len - proto::kEthernetHeaderSize, ip) !=
        proto::Ipv4Error::Ok) {
        ++c.rx_ip_header_drops;
        return false;
    }
    // Transport mode carries one L4 payload; a fragment has none whole.
    if (ip.is_fragment()) {
        ++c.rx_ip_fragment_drops;
        return false;
    }
    rte_pktmbuf_trim(m, static_cast<uint16_t>(len - proto::kEthernetHeaderSize - ip.total_length));
    out.l4_offset = static_cast<uint16_t>(proto::kEthernetHeaderSize + ip.header_length);
    out.l4_len = static_cast<uint16_t>(ip.total_length - ip.header_length);
    out.protocol = ip.protocol;
    out.source = ip.source;
    destination = ip.destination;
    return true;
}

void complete_encrypt(WorkerContext& ctx, const IMB_JOB* job) {
    EspInflight& f = *static_cast<EspInflight*>(job->user_data);
    if (finish_encrypt(job, *f.sa, f.esp, f.esp_len, f.scratch) != EspStatus::Ok) {
        ++ctx.counters.tx_esp_crypto_error_drops;
        rte_pktmbuf_free(f.mbuf);
        return;
    }
    ++ctx.counters.tx_esp_packets;
    ctx.access_tx.add(f.mbuf);
}

}  // namespace

void core_receive(WorkerContext& ctx, rte_mbuf** packets, uint16_t n) {
    WorkerCounters& c = ctx.counters;
    CorePacket parsed[kMaxBurst];
    uint32_t destinations[kMaxBurst] = {};  // zeroed: GCC cannot see that only [0, count) is read
    SecurityAssociation* sas[kMaxBurst];
    uint16_t count = 0;
    c.rx_core_packets += n;
    for (uint16_t i = 0; i < n; ++i) {
        if (parse_core_frame(ctx, packets[i], parsed[count], destinations[count])) packets[count++] = packets[i];
        else rte_pktmbuf_free(packets[i]);
    }
    ctx.dp->sas.lookup_outbound(destinations, count, sas);
    const SecurityAssociation* previous = nullptr;
    for (uint16_t i = 0; i < count; ++i) prefetch_security_association(sas[i], parsed[i].l4_len, previous);

    IMB_MGR* imb = ctx.imb;
    const PortState& access = ctx.dp->access;
    unsigned inflight = 0;
    for (uint16_t i = 0; i < count; ++i) {
        rte_mbuf* m = packets[i];
        SecurityAssociation* sa = sas[i];
        if (!sa) {
            ++c.tx_esp_no_sa_drops;
            rte_pktmbuf_free(m);
            continue;
        }
        // RFC 4303 3.3.3: the sequence number never cycles; an exhausted SA
        // stops sending until it is rekeyed.
        const uint64_t seq = sa->next_sequence.fetch_add(1, std::memory_order_relaxed);
        if (seq > UINT32_MAX) {
            ++c.tx_esp_seq_overflow_drops;
            rte_pktmbuf_free(m);
            continue;
        }
        const CorePacket& p = parsed[i];
        if (p.source != sa->local_address)
            fix_l4_checksum(rte_pktmbuf_mtod_offset(m, uint8_t*, p.l4_offset), p.l4_len, p.protocol, p.source,
                            sa->local_address);
        const uint16_t udp_size = sa->udp_encap ? proto::kUdpHeaderSize : 0;
        const uint16_t headers = static_cast<uint16_t>(proto::kEthernetHeaderSize + proto::kIpv4MinHeaderSize +
                                                       udp_size + esp_header_room(*sa));
        const uint32_t trailer = esp_trailer_room(*sa, p.l4_len);
        const uint32_t outer_len = headers - proto::kEthernetHeaderSize + p.l4_len + trailer;
        bool room = outer_len <= ctx.dp->config->dataplane.access.mtu;
        if (room && headers > p.l4_offset) room = rte_pktmbuf_prepend(m, headers - p.l4_offset) != nullptr;
        else if (room) rte_pktmbuf_adj(m, static_cast<uint16_t>(p.l4_offset - headers));
        if (room) room = rte_pktmbuf_append(m, static_cast<uint16_t>(trailer)) != nullptr;
        if (!room) {
            ++c.tx_esp_too_big_drops;
            rte_pktmbuf_free(m);
            continue;
        }

        const uint8_t* iv = sa->cipher_mode == IMB_CIPHER_GCM ? nullptr : ctx.ivs.take(sa->iv_size);
        if (sa->cipher_mode != IMB_CIPHER_GCM && !iv) {
            ++c.tx_esp_crypto_error_drops;
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
        IMB_JOB* job = IMB_GET_NEXT_JOB(imb);
        f.esp_len = prepare_encrypt_job(job, *sa, f.esp, p.l4_len, p.protocol, f.seq, iv, f.scratch);
        job->user_data = &f;

        proto::write_ethernet_header(frame, access.gateway_mac, access.mac, proto::kEtherTypeIpv4);
        proto::write_ipv4_header(ip, sa->local_address, sa->peer_address,
                                 sa->udp_encap ? proto::kIpProtoUdp : proto::kIpProtoEsp,
                                 static_cast<uint16_t>(outer_len), kOuterTtl, ctx.ip_identification++, 0);
        if (sa->udp_encap)
            proto::write_udp_header(ip + proto::kIpv4MinHeaderSize, rte_be_to_cpu_16(sa->local_port),
                                    rte_be_to_cpu_16(sa->peer_port),
                                    static_cast<uint16_t>(proto::kUdpHeaderSize + f.esp_len));
        ++sa->counters.packets;
        sa->counters.bytes += p.l4_len;
        ++inflight;
        submit_job(imb, [&](const IMB_JOB* done) { complete_encrypt(ctx, done); });
    }
    flush_jobs(imb, [&](const IMB_JOB* done) { complete_encrypt(ctx, done); });
}

}  // namespace conc::dp

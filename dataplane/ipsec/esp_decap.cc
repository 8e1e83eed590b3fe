// Upstream ESP (DESIGN.md, upstream step 2), a burst at a time: SPI lookup,
// anti-replay check, authenticate and decrypt through IPsec-MB, window update
// after the ICV verified, padding check, then the transport-mode payload goes
// to L2TP. An SA's inbound state has one writer, its owner worker: packets
// that arrive elsewhere are handed to the owner through its ring, and an SA
// whose packets have all come that way for a while moves to their worker.
#include <cstring>

#include <rte_cycles.h>
#include <rte_mbuf.h>

#include "common/proto/byte_reader.h"
#include "common/proto/esp.h"
#include "common/proto/ipv4.h"
#include "dataplane/punt.h"
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

// Transport mode (RFC 4303 3.1.1): what ESP protected is the UDP datagram
// that followed the outer IP header. The frame shrinks to exactly that and
// goes to L2TP with its SA, which the session must belong to.
void hand_to_l2tp(WorkerContext& ctx, EspInflight& f, const EspPlaintext& pt) {
    rte_mbuf* m = f.mbuf;
    narrow_frame(m, f.esp + pt.payload_offset, static_cast<uint16_t>(pt.payload_len));
    ++ctx.counters.rx_esp_decrypted;
    ++f.sa->counters.packets;
    f.sa->counters.bytes += pt.payload_len;
    L2tpBatch& out = ctx.to_l2tp;
    out.mbuf[out.count] = m;
    out.sa[out.count] = f.sa;
    ++out.count;
}

// The owner's note of how a new, authenticated packet of its SA arrived:
// directly, or handed over by another worker, which after owner_move_after
// in a row gets the SA. Only packets that verified and were not replays
// count: anyone can send packets with an SA's SPI from a port that RSS
// puts on another queue.
void note_arrival(WorkerContext& ctx, const EspInflight& f) {
    uint16_t& in_a_row = f.sa->inbound.handed_in_a_row;
    if (f.handed_from == kNotHanded) {
        in_a_row = 0;
        return;
    }
    const uint16_t after = ctx.dp->owner_move_after;
    if (after == 0 || ++in_a_row < after) return;
    in_a_row = 0;
    SaOwnerMoves& moves = ctx.owner_moves;
    moves.sa[moves.count] = f.sa;
    moves.to[moves.count++] = f.handed_from;  // at most one per packet of the burst
}


// RFC 3947/3948: a NAT may give a client a new public address or port at
// any time (a mapping that expired, a CGNAT rebinding), and the SA's peer
// must follow or downstream traffic goes to the old one. An authenticated
// packet newer than every one before it says where the client is now;
// the control plane hears of each new address:port once and moves the SA
// pair (UpdateSaPeer). Replayed or reordered packets from the old mapping
// change nothing: they are not the newest; and without anti-replay, where
// a captured packet replayed from anywhere would look newest, nothing is
// followed. A client that flaps between two mappings is reported at most
// every peer_report_interval_ms; one the SA did not follow (a report, a
// command or the control plane lost) is reported again after peer_report_retry_ms.
void notice_peer_move(WorkerContext& ctx, const EspInflight& f) {
    SecurityAssociation& sa = *f.sa;
    // classify_frame: IPv4 without options, then UDP, right in front of ESP.
    const uint8_t* udp = f.esp - proto::kUdpHeaderSize;
    const uint8_t* ip = udp - proto::kIpv4MinHeaderSize;
    uint32_t address;
    uint16_t port;
    std::memcpy(&address, ip + 12, sizeof address);
    std::memcpy(&port, udp, sizeof port);
    const SecurityAssociation::PeerEndpoint current = sa.peer();
    if (address == current.address && port == current.port) return;
    const uint64_t key = SecurityAssociation::peer_endpoint_key(address, port);
    const uint64_t now = rte_get_tsc_cycles();
    const uint64_t since = now - sa.announced_tsc, ms = rte_get_tsc_hz() / 1000;
    if (since < ms * ctx.dp->peer_report_interval_ms) return;          // told (or tried) lately
    if (key == sa.announced_peer && since < ms * ctx.dp->peer_report_retry_ms) return;  // told, not moved yet
    sa.announced_tsc = now;  // a failed report waits the interval too: no mbuf a packet while the ring is full
    shm::PuntHeader h{};
    h.kind = shm::PuntKind::PeerMoved;
    h.port = 0;
    h.outer_source = address;
    h.outer_destination = sa.local_address;
    h.outer_source_port = port;
    h.outer_destination_port = current.local_port;
    h.sa_index = ctx.dp->sas.index_of(&sa);
    // The SA's SPI, so that the control plane can tell if the slot was reused since.
    h.tunnel_id = static_cast<uint16_t>(sa.spi >> 16);
    h.session_id = static_cast<uint16_t>(sa.spi);
    const uint32_t hint = sa.session_hint().load(std::memory_order_relaxed);
    h.session_index = hint == kNoSessionHint ? shm::kNoIndex : hint;
    if (!punt_event(ctx, h)) return;  // a packet from there after the interval tries again
    sa.announced_peer = key;
    ++ctx.counters.rx_esp_peer_moves;
}

// A decrypted packet's verdict (status from finish_decrypt or gcm_decrypt).
void complete_decrypt(WorkerContext& ctx, EspInflight& f, EspStatus status, const EspPlaintext& pt) {
    WorkerCounters& c = ctx.counters;
    bool forward = false;
    const uint32_t highest_before = f.sa->inbound.replay.highest;
    if (status == EspStatus::AuthFailed) ++c.rx_esp_auth_drops;
    else if (status == EspStatus::CryptoError) ++c.rx_esp_crypto_error_drops;
    // RFC 4303 3.4.3: the window moves only for authenticated packets.
    else if (count_replay_verdict(c, f.sa->replay().update(f.seq))) {
        if (status == EspStatus::BadPadding) ++c.rx_esp_padding_drops;
        // L2TP/IPsec transport SAs carry UDP (RFC 3193 4); anything else,
        // including next header 59 dummy packets, stops here.
        else if (pt.next_header != proto::kIpProtoUdp) ++c.rx_esp_next_header_drops;
        else forward = true;
    }
    if (forward) {
        note_arrival(ctx, f);
        if (f.sa->udp_encap && f.seq > highest_before && f.sa->replay().enabled()) notice_peer_move(ctx, f);
        hand_to_l2tp(ctx, f, pt);
    }
    else rte_pktmbuf_free(f.mbuf);
}

void complete_decrypt_job(WorkerContext& ctx, const IMB_JOB* job) {
    EspInflight& f = *static_cast<EspInflight*>(job->user_data);
    EspPlaintext pt{};
    const EspStatus status = finish_decrypt(job, *f.sa, f.esp, f.esp_len, f.scratch, pt);
    complete_decrypt(ctx, f, status, pt);
}

// True if this worker may work on sa's inbound state: it owns the SA, or
// has just claimed it as the first to receive on it. Otherwise owner says whose it is.
// Acquire: an SA given to this worker by its previous owner comes with the
// window that owner left (it stored owner with release).
bool owned_here(const WorkerContext& ctx, SecurityAssociation& sa, uint16_t& owner) {
    owner = sa.owner().load(std::memory_order_acquire);
    if (owner == ctx.queue) return true;
    // A failed claim leaves the winner in owner.
    return owner == kNoOwner && sa.owner().compare_exchange_strong(owner, ctx.queue, std::memory_order_acquire);
}

// The owner finds the SA again by SPI: the mbuf carries only where ESP
// starts and whether it came in UDP, in the field DPDK leaves to applications.
void hand_off(WorkerContext& ctx, rte_mbuf* m, uint16_t esp_offset, bool udp_encap, uint16_t owner) {
    static_assert(shm::kMaxWorkers <= 256);
    m->hash.usr = esp_offset | (udp_encap ? 1u << 16 : 0) | uint32_t{ctx.queue} << 24;
    if (rte_ring_mp_enqueue(ctx.dp->handoff[owner], m) != 0) {
        ++ctx.counters.rx_esp_handoff_drops;
        rte_pktmbuf_free(m);
        return;
    }
    ++ctx.counters.rx_esp_handoffs;
}

}  // namespace

unsigned handoff_receive(WorkerContext& ctx) {
    if (ctx.dp->handoff.empty()) return 0;
    EspBatch batch;
    batch.count = static_cast<uint16_t>(rte_ring_sc_dequeue_burst(
        ctx.dp->handoff[ctx.queue], reinterpret_cast<void**>(batch.mbuf), ctx.dp->burst_size, nullptr));
    batch.handed = true;
    for (uint16_t i = 0; i < batch.count; ++i) {
        const uint32_t usr = batch.mbuf[i]->hash.usr;
        batch.esp_offset[i] = static_cast<uint16_t>(usr);
        batch.udp_encap[i] = usr >> 16 & 1;
        batch.handed_from[i] = static_cast<uint8_t>(usr >> 24);
    }
    if (batch.count) receive_esp(ctx, batch);
    return batch.count;
}

void esp_decap(WorkerContext& ctx, EspBatch& batch) {
    WorkerCounters& c = ctx.counters;
    uint32_t spis[kMaxBurst];
    SecurityAssociation* sas[kMaxBurst];
    uint16_t n = 0;
    uint32_t esp_bytes = 0;
    for (uint16_t i = 0; i < batch.count; ++i) {
        rte_mbuf* m = batch.mbuf[i];
        if (rte_pktmbuf_data_len(m) < batch.esp_offset[i] + proto::kEspHeaderSize) {
            ++c.rx_esp_truncated_drops;
            rte_pktmbuf_free(m);
            continue;
        }
        const uint8_t* esp = rte_pktmbuf_mtod_offset(m, const uint8_t*, batch.esp_offset[i]);
        std::memcpy(&spis[n], esp, 4);
        esp_bytes += rte_pktmbuf_data_len(m) - batch.esp_offset[i];
        batch.mbuf[n] = m;
        batch.esp_offset[n] = batch.esp_offset[i];
        batch.udp_encap[n] = batch.udp_encap[i];
        batch.handed_from[n] = batch.handed_from[i];
        ++n;
    }
    // Each SA is confirmed only when its packet's turn comes, a few packets
    // after its first line was fetched.
    for (uint16_t i = 0; i < n; ++i) sas[i] = ctx.dp->sas.inbound_candidate(spis[i]);
    auto esp_len_of = [&](uint16_t i) -> uint32_t { return rte_pktmbuf_data_len(batch.mbuf[i]) - batch.esp_offset[i]; };
    auto sequence_of = [&](uint16_t i) {
        return proto::load_u32(rte_pktmbuf_mtod_offset(batch.mbuf[i], const uint8_t*, batch.esp_offset[i]) + 4);
    };
    const SecurityAssociation* previous = nullptr;
    const CacheLevel level = burst_prefetch_level(esp_bytes, n);
    SaPrefetchWindow window(n, [&](uint16_t i) {
        const unsigned lines = ctx.dp->sas.prefetch(sas[i], esp_len_of(i), level, previous);
        prefetch_replay_word(sas[i], sequence_of(i), level);
        return sas[i] ? lines + 1 : 0;
    });

    IMB_MGR* imb = ctx.imb;
    unsigned inflight = 0;
    const SecurityAssociation* promoted = nullptr;  // the last SA whose lines went on into L1
    for (uint16_t i = 0; i < n; ++i) {
        window.advance_to(i);
        if (const uint16_t j = i + kSaFirstLineAhead; level == CacheLevel::L2 && j < n) {
            ctx.dp->sas.promote_to_l1(sas[j], esp_len_of(j), promoted);
            prefetch_replay_word(sas[j], sequence_of(j), CacheLevel::L1);
        }
        rte_mbuf* m = batch.mbuf[i];
        SecurityAssociation* sa = ctx.dp->sas.resolve_inbound(sas[i], spis[i]);
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
        if (uint16_t owner; !owned_here(ctx, *sa, owner)) {
            hand_off(ctx, m, batch.esp_offset[i], batch.udp_encap[i], owner);
            continue;
        }
        EspInflight& f = ctx.inflight[inflight];
        f.mbuf = m;
        f.sa = sa;
        f.esp = rte_pktmbuf_mtod_offset(m, uint8_t*, batch.esp_offset[i]);
        f.esp_len = rte_pktmbuf_data_len(m) - batch.esp_offset[i];
        f.seq = proto::load_u32(f.esp + 4);
        f.handed_from = batch.handed ? batch.handed_from[i] : kNotHanded;
        if (!count_replay_verdict(c, sa->replay().check(f.seq))) {
            rte_pktmbuf_free(m);
            continue;
        }
        // L2TP will look at the SA's session once the burst is decrypted.
        if (const uint32_t hint = sa->session_hint().load(std::memory_order_acquire); hint != kNoSessionHint)
            prefetch_session(&ctx.dp->sessions.at(hint), level);
        EspStatus status;
        EspPlaintext pt{};
        IMB_JOB* job = nullptr;
        if (sa->gcm()) {
            status = gcm_decrypt(imb, *sa, f.esp, f.esp_len, f.scratch, pt);
        } else {
            job = IMB_GET_NEXT_JOB(imb);
            status = prepare_decrypt_job(job, *sa, f.esp, f.esp_len, f.scratch);
        }
        if (status == EspStatus::Truncated || status == EspStatus::BadLength) {
            ++(status == EspStatus::Truncated ? c.rx_esp_truncated_drops : c.rx_esp_length_drops);
            rte_pktmbuf_free(m);
            continue;
        }
        if (!job) {  // GCM: done already
            complete_decrypt(ctx, f, status, pt);
            continue;
        }
        job->user_data = &f;
        ++inflight;
        submit_job(imb, job, [&](const IMB_JOB* done) { complete_decrypt_job(ctx, done); });
    }
    flush_jobs(imb, [&](const IMB_JOB* done) { complete_decrypt_job(ctx, done); });
}

void give_away_moved_sas(WorkerContext& ctx) {
    SaOwnerMoves& moves = ctx.owner_moves;
    for (uint16_t k = 0; k < moves.count; ++k) {
        uint16_t mine = ctx.queue;
        if (moves.to[k] != ctx.queue && moves.sa[k]->owner().compare_exchange_strong(mine, moves.to[k],
                                                                                    std::memory_order_release))
            ++ctx.counters.rx_esp_owner_moves;
    }
    moves.count = 0;
}

}  // namespace conc::dp

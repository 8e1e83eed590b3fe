// What a worker lcore owns and what it shares: the Dataplane (ports, SA
// table, read-only once workers run) and one WorkerContext per worker (its
// queues, its IPsec-MB manager, its counters, its TX buffers).
#pragma once

#include <atomic>
#include <cstdint>
#include <cstring>
#include <vector>

#include <intel-ipsec-mb.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <rte_ring.h>

#include "common/config/config.h"
#include "common/shm/counters.h"
#include "dataplane/control.h"
#include "dataplane/ipsec/esp_transform.h"
#include "dataplane/ipsec/iv_pool.h"
#include "dataplane/ipsec/sa_table.h"
#include "dataplane/l2tp/session_table.h"
#include "dataplane/neighbor.h"

namespace conc::dp {

using shm::WorkerCounters;

inline constexpr unsigned kMaxBurst = 256;

struct PortState {
    uint16_t port_id = 0;
    uint8_t mac[6]{};
    uint32_t address = 0;  // network byte order
    uint8_t ipv6_address[16]{};  // all zero: none (no ND answered, no ICMPv6 errors sent)
    NextHop gateway;   // where IPv4 leaves this port
    NextHop gateway6;  // where IPv6 leaves it
    bool started = false;

    bool has_ipv6_address() const {
        static constexpr uint8_t kNone[16] = {};
        return std::memcmp(ipv6_address, kNone, 16) != 0;
    }
};

struct Dataplane {
    const config::Config* config = nullptr;
    PortState access;
    PortState core;
    ControlLink control;  // before the tables: destroyed after them
    SaTable sas;
    SessionTable sessions;
    rte_mempool* pool = nullptr;
    std::vector<rte_ring*> handoff;  // per worker, with more than one: ESP for the SAs it owns
    uint16_t burst_size = 32;
    // An inbound SA whose owner receives this many of its packets in a row
    // through the hand-off ring (none directly) is handed to the worker they
    // come from: RSS now sends its flow there (a NAT gave the client a new
    // port). 0: never (the benchmark's hand-off points measure the hand-off).
    uint16_t owner_move_after = 64;
    // A NAT-T SA's peer seen elsewhere is reported at most once per this
    // many milliseconds (a client flapping between two mappings cannot keep
    // the control plane moving it); 0: every time (tests).
    uint16_t peer_report_interval_ms = 100;
    // The same new address:port is reported again after this long if the
    // SA still has not moved there (a punt, a command or a move was lost).
    uint16_t peer_report_retry_ms = 1000;
    bool install_static = true;  // false: concentrator-cp installs the config's static entries
    std::atomic<bool> stop{false};
};

// Frames waiting for one TX queue; flushed once per loop iteration.
class TxBuffer {
public:
    void add(rte_mbuf* m) {
        if (count_ < kCapacity) packets_[count_++] = m;
        else rte_pktmbuf_free(m), ++overflow_;
    }
    // Sends what is buffered; returns how many were sent, frees and counts the rest.
    uint16_t flush(uint16_t port, uint16_t queue, uint64_t& full_drops);
    uint16_t count() const { return count_; }
    rte_mbuf* const* packets() const { return packets_; }

private:
    static constexpr unsigned kCapacity = 2 * kMaxBurst;
    rte_mbuf* packets_[kCapacity];
    uint16_t count_ = 0;
    uint64_t overflow_ = 0;
};

// Makes m hold exactly the len-byte frame build(out, len) writes, from the
// start of its buffer (replies built into the request's mbuf, requests into a new one).
template <typename Build>
bool write_frame(rte_mbuf* m, size_t len, Build&& build) {
    rte_pktmbuf_reset(m);
    uint8_t* out = reinterpret_cast<uint8_t*>(rte_pktmbuf_append(m, static_cast<uint16_t>(len)));
    return out && build(out, len) == len;
}

// Narrows a received frame to the len bytes at start, which lie inside it.
// Received frames are one segment (access_receive and core_receive
// linearise the others), so the fields are set directly: rte_pktmbuf_adj
// and _trim check and walk the chain, three times a packet upstream.
inline void narrow_frame(rte_mbuf* m, const uint8_t* start, uint16_t len) {
    m->data_off = static_cast<uint16_t>(m->data_off + (start - rte_pktmbuf_mtod(m, const uint8_t*)));
    m->data_len = len;
    m->pkt_len = len;
}

// Per-packet state while its crypto job is in flight.
struct EspInflight {
    rte_mbuf* mbuf;
    SecurityAssociation* sa;
    uint8_t* esp;
    uint32_t esp_len;
    uint32_t seq;
    uint8_t handed_from;  // the worker that handed it over, kNotHanded if it came from an RX queue
    EspJobScratch scratch;
};

inline constexpr uint8_t kNotHanded = 0xFF;  // EspInflight::handed_from: from an RX queue (kMaxWorkers < 255)

// Inbound SAs a worker gives away at the end of an ESP burst (esp_decap), and to whom.
struct SaOwnerMoves {
    SecurityAssociation* sa[kMaxBurst];
    uint8_t to[kMaxBurst];
    uint16_t count = 0;
};

// Authenticated, decrypted transport payloads handed from ESP decap to L2TP:
// each mbuf's data is the inner UDP datagram, nothing before or after.
struct L2tpBatch {
    rte_mbuf* mbuf[kMaxBurst];
    SecurityAssociation* sa[kMaxBurst];
    uint16_t count = 0;
};

// Packets ready for ESP: each mbuf's data is exactly what goes inside ESP
// (transport mode: the UDP datagram carrying L2TP), sent through sa.
struct EspEncapBatch {
    rte_mbuf* mbuf[kMaxBurst];
    SecurityAssociation* sa[kMaxBurst];
    uint16_t count = 0;
};

struct WorkerContext {
    Dataplane* dp = nullptr;
    unsigned lcore = 0;
    uint16_t queue = 0;
    IMB_MGR* imb = nullptr;
    uint16_t ip_identification = 0;
    uint64_t next_solicit_tsc = 0;  // worker 0: when to look at the next hops again
    WorkerCounters counters;
    TxBuffer access_tx;
    TxBuffer core_tx;
    IvPool ivs;
    EspInflight inflight[kMaxBurst];
    SaOwnerMoves owner_moves;  // esp_decap's, for the burst at hand
    L2tpBatch to_l2tp;   // filled by ESP decap's completions, drained by l2tp_decap
};

// Stages, each on a whole burst.
void access_receive(WorkerContext& ctx, rte_mbuf** packets, uint16_t n);  // classify.cc
void core_receive(WorkerContext& ctx, rte_mbuf** packets, uint16_t n);    // l2tp/l2tp_encap.cc
void l2tp_decap(WorkerContext& ctx, L2tpBatch& batch);                    // l2tp/l2tp_decap.cc
void esp_encap(WorkerContext& ctx, EspEncapBatch& batch);                 // ipsec/esp_encap.cc
// Queues a packet for esp_encap on sa, encrypting and sending the batch
// first if it is full: fragmentation makes more packets than a burst had.
inline void add_to_esp_batch(WorkerContext& ctx, EspEncapBatch& batch, rte_mbuf* m, SecurityAssociation* sa) {
    if (batch.count == kMaxBurst) esp_encap(ctx, batch);
    batch.mbuf[batch.count] = m;
    batch.sa[batch.count] = sa;
    ++batch.count;
}
unsigned inject_receive(WorkerContext& ctx);                              // inject.cc
unsigned handoff_receive(WorkerContext& ctx);                             // ipsec/esp_decap.cc

// Puts PPP (ppp_protocol) + L2TP data + UDP 1701 in front of the mbuf's data
// (payload_len bytes) and queues it for ESP through the session's SA.
void l2tp_encapsulate(WorkerContext& ctx, rte_mbuf* m, Session& s, uint16_t payload_len, uint16_t ppp_protocol,
                      EspEncapBatch& out);                                // l2tp/l2tp_encap.cc

// ESP candidates found by classification, handed to decap as one batch.
struct EspBatch {
    rte_mbuf* mbuf[kMaxBurst];
    uint16_t esp_offset[kMaxBurst];  // from the start of the frame
    bool udp_encap[kMaxBurst];
    uint8_t handed_from[kMaxBurst];  // with handed: the worker (queue) that handed the packet over
    bool handed = false;             // from this worker's hand-off ring, not its RX queues
    uint16_t count = 0;
};
// Decrypts and checks the batch; what passes waits in ctx.to_l2tp.
void esp_decap(WorkerContext& ctx, EspBatch& batch);  // ipsec/esp_decap.cc

// Gives the SAs whose packets esp_decap saw arriving from another worker
// (SaOwnerMoves) to that worker. Only after the whole burst, L2TP included:
// every write to the SAs' inbound state and their sessions' receive
// counters is done before the new owner can see owner.
void give_away_moved_sas(WorkerContext& ctx);  // ipsec/esp_decap.cc

// Upstream after classification: ESP, then L2TP and PPP for what decrypted.
inline void receive_esp(WorkerContext& ctx, EspBatch& batch) {
    esp_decap(ctx, batch);
    if (ctx.to_l2tp.count) l2tp_decap(ctx, ctx.to_l2tp);
    if (ctx.owner_moves.count) give_away_moved_sas(ctx);
}

// The worker loop: poll both ports' queue ctx.queue until dp->stop.
int worker_main(void* ctx);

// One pass of the loop body (also driven directly by the integration tests).
void worker_poll_once(WorkerContext& ctx);

// Allocates the worker's IPsec-MB manager; false if the CPU has no usable
// implementation.
bool worker_init(WorkerContext& ctx, Dataplane* dp, unsigned lcore, uint16_t queue);
void worker_release(WorkerContext& ctx);

}  // namespace conc::dp

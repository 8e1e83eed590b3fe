// Data plane benchmark. Our own generator speaks the whole L2TP/IPsec
// framing upstream (IP in PPP in L2TP in UDP 1701, live-encrypted into ESP in
// UDP 4500 with increasing sequence numbers, so anti-replay stays on) and
// plain IP downstream, for N clients (one SA pair and session each, round
// robin, so with many clients every packet meets a different one). It feeds
// the real worker loop through ring ethdev ports. Generator and workers take
// turns: the generator fills each worker's RX ring untimed, then the workers
// drain them timed, so the cycles are the data plane's alone, on full
// bursts. Beside each figure, interleaved with the timed turns: IPsec-MB
// alone doing the same cipher and hash over the same lengths, with one key
// and with the clients' keys; and for many clients, the same point on the
// one-client data plane, taking turns with it. Points marked "e" time the
// ESP stage alone (issue 2's target), "h" the hand-off between workers.
#include <arpa/inet.h>

#include <algorithm>
#include <atomic>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <rte_cycles.h>
#include <rte_launch.h>
#include <rte_lcore.h>
#include <rte_malloc.h>

#include "common/proto/byte_reader.h"
#include "common/proto/ipv4.h"
#include "common/proto/l2tp.h"
#include "dataplane/ipsec/esp_transform.h"
#include "dataplane/l2tp/session_table.h"
#include "tests/support/ring_dataplane.h"

using namespace conc;
using proto::EspCipher;
using proto::EspIntegrity;

namespace {

constexpr unsigned kBatch = 256;              // packets per worker per turn: 8 bursts
constexpr uint32_t kPublicBase = 0xC6120000;  // 198.18.0.0/15 (RFC 2544 benchmarking): clients' NAT addresses
constexpr uint32_t kClientBase = 0x64400000;  // 100.64.0.0/10: clients' inner addresses
constexpr uint32_t kCoreHost = 0x0A000005;
constexpr uint16_t kTunnelOverhead = proto::kUdpHeaderSize + 6 + proto::kPppHeaderSize;  // UDP + L2TP + PPP
const uint8_t kMac[6] = {0x02, 0, 0, 0, 9, 9};

struct Profile {
    const char* name;
    std::vector<uint16_t> sizes;  // inner IPv4 packet sizes, cycled
};

double avg_size(const Profile& p) {
    double s = 0;
    for (auto v : p.sizes) s += v;
    return s / p.sizes.size();
}

double median(std::vector<double>& v) {
    std::nth_element(v.begin(), v.begin() + v.size() / 2, v.end());
    return v[v.size() / 2];
}

config::StaticSa sa_spec(unsigned i, bool inbound, EspCipher c, EspIntegrity a) {
    auto sa = test::make_sa((inbound ? "in" : "out") + std::to_string(i),
                            inbound ? config::SaDirection::Inbound : config::SaDirection::Outbound,
                            (inbound ? 0x100000 : 0x400000) + i, c, a, kPublicBase + i, true, i);
    return sa;
}

config::StaticSession session_spec(unsigned i) {
    config::StaticSession s;
    s.name = "c" + std::to_string(i);
    s.sa_in = "in" + std::to_string(i);
    s.sa_out = "out" + std::to_string(i);
    s.tunnel_id = static_cast<uint16_t>(i % 65535 + 1);  // ids repeat past 65535: the SA tells sessions apart
    s.session_id = 1;
    s.peer_tunnel_id = 7;
    s.peer_session_id = 9;
    s.client_ipv4 = kClientBase + i;
    s.mtu = 1400;
    return s;
}

// IPsec-MB alone: the same cipher and hash over the same ESP payload lengths,
// jobs filled from templates, bursts of 32, rotating through as many 2 KB
// buffers as the data plane's mbuf pool has (the same cache footprint).
// Given the data plane's SAs, each job takes the next one's keys, whose lines
// (and the SA's first, which says where they are) are prefetched as the ESP
// stage prefetches them (SaPrefetchWindow): what many SAs cost the crypto
// library itself, the floor under the data plane's own figure.
class CryptoOnly {
public:
    CryptoOnly(IMB_MGR* mgr, const dp::SecurityAssociation& sa, const Profile& profile, bool decrypt,
               const dp::SaTable* table = nullptr, std::vector<const dp::SecurityAssociation*> keys = {})
        : mgr_(mgr), table_(table), keys_(std::move(keys)) {
        for (unsigned i = 0; i < kBuffers; ++i) {
            const uint32_t payload = profile.sizes[i % profile.sizes.size()] + kTunnelOverhead;
            IMB_JOB* job = IMB_GET_NEXT_JOB(mgr);
            esp_len_[i] =
                dp::prepare_encrypt_job(job, sa, buffers_[i], payload, 17, i + 1, buffers_[i] + 1600, scratch_[i]);
            if (decrypt) dp::prepare_decrypt_job(job, sa, buffers_[i], esp_len_[i], scratch_[i]);
            templates_[i] = *job;
        }
    }
    double round(unsigned packets) {  // cycles per packet
        const uint64_t start = rte_rdtsc_precise();
        for (unsigned done = 0; done < packets; done += kBurst) {
            const dp::SecurityAssociation* previous = nullptr;
            uint32_t bytes = 0;
            for (unsigned i = 0; i < kBurst; ++i) bytes += esp_len_[(next_ + i) % kBuffers];
            const dp::CacheLevel level = dp::burst_prefetch_level(bytes, kBurst);
            dp::SaPrefetchWindow window(kBurst, [&](uint16_t i) { return prefetch_keys(i, level, previous); });
            for (unsigned i = 0; i < kBurst; ++i) {
                IMB_JOB* job = &templates_[(next_ + i) % kBuffers];
                if (!keys_.empty()) {
                    window.advance_to(static_cast<uint16_t>(i));
                    dp::set_job_keys(job, *keys_[(next_key_ + i) % keys_.size()]);
                }
                // GCM runs straight from the template, as cheaply as IPsec-MB can; the others go through the manager.
                if (dp::run_now_if_gcm(mgr_, job)) continue;
                IMB_JOB* slot = IMB_GET_NEXT_JOB(mgr_);
                *slot = *job;
                dp::submit_job(mgr_, slot, [](const IMB_JOB*) {});
            }
            dp::flush_jobs(mgr_, [](const IMB_JOB*) {});
            next_ = (next_ + kBurst) % kBuffers;
            if (!keys_.empty()) next_key_ = (next_key_ + kBurst) % keys_.size();
        }
        return static_cast<double>(rte_rdtsc_precise() - start) / packets;
    }

private:
    static constexpr unsigned kBurst = 32;
    static constexpr unsigned kBuffers = 3 * kBatch;
    // What the ESP stage prefetches for the burst's packet i: the SA's first
    // line (set_job_keys reads its transform) and the key lines.
    unsigned prefetch_keys(uint16_t i, dp::CacheLevel level, const dp::SecurityAssociation*& previous) const {
        return table_->prefetch(keys_[(next_key_ + i) % keys_.size()], esp_len_[(next_ + i) % kBuffers], level,
                                previous);
    }
    IMB_MGR* mgr_;
    const dp::SaTable* table_;
    std::vector<const dp::SecurityAssociation*> keys_;
    unsigned next_ = 0;
    size_t next_key_ = 0;
    alignas(64) uint8_t buffers_[kBuffers][2048];
    uint32_t esp_len_[kBuffers];
    dp::EspJobScratch scratch_[kBuffers];
    IMB_JOB templates_[kBuffers];
};

// Appends len bytes to a fresh mbuf; the profiles' sizes all fit one.
uint8_t* grow(rte_mbuf* m, uint16_t len) {
    char* p = rte_pktmbuf_append(m, len);
    if (!p) {
        std::fprintf(stderr, "generator: %u bytes do not fit an mbuf\n", len);
        std::exit(1);
    }
    return reinterpret_cast<uint8_t*>(p);
}

// The clients: for each, the twin of the data plane's inbound SA (same keys,
// outbound) to encrypt with.
class Generator {
public:
    Generator(test::RingDataplane& r, const config::Config& cfg, unsigned clients) : r_(r), clients_(clients) {
        mgr_ = dp::alloc_imb_manager(SOCKET_ID_ANY);
        twins_ = static_cast<dp::SecurityAssociation*>(
            rte_zmalloc("twins", sizeof(dp::SecurityAssociation) * clients, alignof(dp::SecurityAssociation)));
        if (!mgr_ || !twins_) {
            std::fprintf(stderr, "generator: out of hugepage memory for %u clients\n", clients);
            std::exit(1);
        }
        const char* why;
        for (unsigned i = 0; i < clients; ++i) {
            new (&twins_[i]) dp::SecurityAssociation();
            config::StaticSa spec = cfg.ipsec.static_sas[2 * i];
            spec.direction = config::SaDirection::Outbound;
            dp::key_security_association(mgr_, spec, 0, twins_[i], &why);
        }
    }
    ~Generator() {
        rte_free(twins_);
        dp::free_imb_manager(mgr_);
    }
    const dp::SecurityAssociation& sa(unsigned i) const { return twins_[i]; }
    unsigned clients() const { return clients_; }
    IMB_MGR* mgr() { return mgr_; }

    // Client -> concentrator: IP in PPP in L2TP in UDP 1701 in ESP in UDP 4500.
    bool make_upstream(rte_mbuf** out, unsigned n, const Profile& profile, unsigned queue, unsigned queues) {
        if (rte_pktmbuf_alloc_bulk(r_.pool(), out, n) != 0) return false;
        const uint32_t dp_address = htonl(r_.config().dataplane.access.address);
        for (unsigned base = 0; base < n; base += 32) {
            const unsigned count = std::min(32u, n - base);
            for (unsigned k = 0; k < count; ++k) {
                const unsigned client = next_client(queue, queues);
                dp::SecurityAssociation& sa = twins_[client];
                const uint16_t inner = profile.sizes[counter_++ % profile.sizes.size()];
                const uint16_t payload_len = static_cast<uint16_t>(inner + kTunnelOverhead);
                const uint32_t head = 14 + 20 + 8 + dp::esp_header_room(sa);
                uint8_t* frame =
                    grow(out[base + k], static_cast<uint16_t>(head + payload_len + dp::esp_trailer_room(sa, payload_len)));
                uint8_t* esp = frame + 42;
                uint8_t* udp = esp + dp::esp_header_room(sa);
                proto::write_udp_header(udp, proto::kL2tpPort, proto::kL2tpPort, payload_len);
                proto::write_l2tp_data_header(udp + 8, static_cast<uint16_t>(client % 65535 + 1), 1, false, 0);
                proto::write_ppp_header(udp + 14, proto::kPppIpv4);
                uint8_t* ip = udp + kTunnelOverhead;
                proto::write_ipv4_header(ip, htonl(kClientBase + client), htonl(kCoreHost), proto::kIpProtoUdp,
                                         inner, 64, 0, 0);
                proto::write_udp_header(ip + 20, 5000, 5001, static_cast<uint16_t>(inner - 20));
                std::memset(ip + 28, 0x5A, inner - 28u);
                const uint32_t seq = static_cast<uint32_t>(sa.next_sequence().fetch_add(1));
                IMB_JOB* job = IMB_GET_NEXT_JOB(mgr_);
                const uint32_t esp_len =
                    dp::prepare_encrypt_job(job, sa, esp, payload_len, proto::kIpProtoUdp, seq, iv_, scratch_[k]);
                pending_[k] = {&sa, esp, esp_len};
                job->user_data = &pending_[k];
                proto::write_ethernet_header(frame, kMac, kMac, proto::kEtherTypeIpv4);
                proto::write_ipv4_header(frame + 14, htonl(kPublicBase + client), dp_address, proto::kIpProtoUdp,
                                         static_cast<uint16_t>(28 + esp_len), 64, 0, 0);
                proto::write_udp_header(frame + 34, 4500, 4500, static_cast<uint16_t>(8 + esp_len));
                dp::submit_job(mgr_, job, [&](const IMB_JOB* done) { finish(done); });
            }
            dp::flush_jobs(mgr_, [&](const IMB_JOB* done) { finish(done); });
        }
        return true;
    }

    // Core host -> client: plain IPv4 UDP to the client's address.
    bool make_downstream(rte_mbuf** out, unsigned n, const Profile& profile, unsigned queue, unsigned queues) {
        if (rte_pktmbuf_alloc_bulk(r_.pool(), out, n) != 0) return false;
        for (unsigned i = 0; i < n; ++i) {
            const uint16_t inner = profile.sizes[counter_++ % profile.sizes.size()];
            uint8_t* frame = grow(out[i], static_cast<uint16_t>(14 + inner));
            proto::write_ethernet_header(frame, kMac, kMac, proto::kEtherTypeIpv4);
            proto::write_ipv4_header(frame + 14, htonl(kCoreHost), htonl(kClientBase + next_client(queue, queues)),
                                     proto::kIpProtoUdp, inner, 64, 0, 0);
            proto::write_udp_header(frame + 34, 5001, 5000, static_cast<uint16_t>(inner - 20));
            std::memset(frame + 42, 0xA5, inner - 28u);
        }
        return true;
    }

    // What the L2TP stage hands ESP downstream: UDP 1701 + L2TP + PPP + IPv4
    // to the client, with the headroom encapsulation prepends into.
    bool make_l2tp_payloads(rte_mbuf** out, unsigned n, const Profile& profile, unsigned* clients) {
        if (rte_pktmbuf_alloc_bulk(r_.pool(), out, n) != 0) return false;
        for (unsigned i = 0; i < n; ++i) {
            const unsigned client = clients[i] = next_client(0, 1);
            const uint16_t inner = profile.sizes[counter_++ % profile.sizes.size()];
            const uint16_t udp_len = static_cast<uint16_t>(inner + kTunnelOverhead);
            uint8_t* udp = grow(out[i], udp_len);
            proto::write_udp_header(udp, proto::kL2tpPort, proto::kL2tpPort, udp_len);
            proto::write_l2tp_data_header(udp + 8, 7, 9, false, 0);
            proto::write_ppp_header(udp + 14, proto::kPppIpv4);
            uint8_t* ip = udp + kTunnelOverhead;
            proto::write_ipv4_header(ip, htonl(kCoreHost), htonl(kClientBase + client), proto::kIpProtoUdp, inner, 63,
                                     0, 0);
            proto::write_udp_header(ip + 20, 5001, 5000, static_cast<uint16_t>(inner - 20));
            std::memset(ip + 28, 0xA5, inner - 28u);
        }
        return true;
    }

private:
    struct Pending {
        dp::SecurityAssociation* sa;
        uint8_t* esp;
        uint32_t esp_len;
    };
    // Round robin over the clients whose packets go to this queue (i % queues).
    unsigned next_client(unsigned queue, unsigned queues) {
        unsigned& next = next_[queue];
        const unsigned c = next * queues + queue;
        next = (c + queues < clients_) ? next + 1 : 0;
        return c;
    }
    void finish(const IMB_JOB* job) {
        const Pending& p = *static_cast<const Pending*>(job->user_data);
        dp::finish_encrypt(job, *p.sa, p.esp, p.esp_len, scratch_[&p - pending_]);
    }

    test::RingDataplane& r_;
    unsigned clients_;
    unsigned next_[2] = {0, 0};
    uint64_t counter_ = 0;
    IMB_MGR* mgr_;
    dp::SecurityAssociation* twins_;
    Pending pending_[32];
    dp::EspJobScratch scratch_[32];
    uint8_t iv_[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
};

void drain(test::RingDataplane& r) {
    rte_mbuf* m[256];
    for (unsigned n; (n = r.drain_core(m, 256)) > 0;) rte_pktmbuf_free_bulk(m, n);
    for (unsigned n; (n = r.drain_access(m, 256)) > 0;) rte_pktmbuf_free_bulk(m, n);
}

// The second worker spins on its own lcore for a whole measurement and
// drains its rings each time the main lcore starts a turn: no thread wake-up
// inside the timed part.
struct SecondWorker {
    test::RingDataplane* ring;
    std::atomic<uint64_t> started{0}, finished{0};
    std::atomic<bool> quit{false};
};

int second_worker_loop(void* arg) {
    auto* w = static_cast<SecondWorker*>(arg);
    uint64_t seen = 0;
    while (!w->quit.load(std::memory_order_acquire)) {
        if (w->started.load(std::memory_order_acquire) == seen) continue;
        ++seen;
        w->ring->poll_until_idle(1);
        w->finished.store(seen, std::memory_order_release);
    }
    return 0;
}

struct Point {
    double cycles_per_packet;  // per worker core
    double crypto_cycles_per_packet;
    double crypto_all_keys_cycles_per_packet;  // 0 with one client
};

// The data plane's SAs for the clients in turn: inbound (upstream) or outbound.
std::vector<const dp::SecurityAssociation*> client_sas(test::RingDataplane& r, unsigned clients, bool upstream) {
    dp::Dataplane& dp = r.dataplane();
    std::vector<const dp::SecurityAssociation*> out(clients);
    if (upstream) {
        for (unsigned i = 0; i < clients; ++i)
            out[i] = &dp.sas.at(dp.sas.find_inbound(r.config().ipsec.static_sas[2 * i].spi));
        return out;
    }
    // Sessions sit where their client address names: find client i by its address.
    for (uint32_t s = 0; s < dp.sessions.high_water(); ++s) {
        if (!dp.sessions.valid(s)) continue;
        const uint32_t client = ntohl(dp.sessions.at(s).client_ipv4) - kClientBase;
        if (client < clients) out[client] = &dp.sas.at(dp.sessions.at(s).sa_out);
    }
    return out;
}

// The timed turns of one point: each turn's cycles per packet (kBatch
// packets per worker), and IPsec-MB alone right after it, with one key and
// (with several clients) with the clients' keys in turn; medians at the end.
class Turns {
public:
    // Without crypto_figures, only the data plane's cycles (a reference point's turns).
    Turns(test::RingDataplane& r, Generator& gen, const Profile& profile, bool upstream, bool crypto_figures) {
        if (crypto_figures) one_key_ = std::make_unique<CryptoOnly>(gen.mgr(), gen.sa(0), profile, upstream);
        if (crypto_figures && gen.clients() > 1)
            all_keys_ = std::make_unique<CryptoOnly>(gen.mgr(), gen.sa(0), profile, upstream, &r.dataplane().sas,
                                                     client_sas(r, gen.clients(), upstream));
    }
    void record(uint64_t spent) {
        cycles_.push_back(static_cast<double>(spent) / kBatch);
        if (one_key_) crypto_cycles_.push_back(one_key_->round(kBatch));
        if (all_keys_) crypto_all_keys_cycles_.push_back(all_keys_->round(kBatch));
    }
    Point result() {
        return {median(cycles_), one_key_ ? median(crypto_cycles_) : 0,
                all_keys_ ? median(crypto_all_keys_cycles_) : 0};
    }

private:
    std::unique_ptr<CryptoOnly> one_key_, all_keys_;
    std::vector<double> cycles_, crypto_cycles_, crypto_all_keys_cycles_;
};

// One point (direction, profile, mode) on a running data plane, a turn at a
// time, so that two data planes' points can take turns (see run_point).
// Modes: '1' and '2' workers through the whole worker loop; 'h' upstream,
// two worker contexts polled by one core, worker 1 owning every SA (the
// warm-up turns go to it) and every packet arriving at worker 0 and handed
// over, the cost of a packet that RSS sent to the wrong worker; 'e' the ESP
// stage alone (issue 2's measure): esp_decap / esp_encap on bursts of 32, the
// way the worker calls them, without classification, L2TP, PPP, routing or
// the ports (decrypted packets are freed and encrypted frames sent untimed).
class PointRun {
public:
    PointRun(test::RingDataplane& r, Generator& gen, char mode, const Profile& profile, bool upstream,
             bool crypto_figures = true)
        : r_(r), gen_(gen), mode_(mode), profile_(profile), upstream_(upstream),
          turns_(r, gen, profile, upstream, crypto_figures), batch_(kBatch), clients_(kBatch),
          before_(r.counters()) {
        second_.ring = &r;
        if (mode == '2' && rte_eal_remote_launch(second_worker_loop, &second_, rte_get_next_lcore(-1, 1, 0)) != 0) {
            std::fprintf(stderr, "cannot start the second worker\n");
            second_.quit.store(true);
        }
    }
    ~PointRun() { stop_second_worker(); }

    // Untimed: one turn, or with 'h' enough for every client to reach worker 1 first.
    bool warm_up() {
        if (mode_ == '2' && second_.quit.load()) return false;
        const unsigned turns = mode_ == 'h' ? (gen_.clients() + kBatch - 1) / kBatch : 1;
        for (unsigned t = 0; t < turns; ++t) {
            uint64_t spent;
            if (!turn_once(true, spent)) return false;
            warm_up_packets_ += kBatch * workers();
        }
        return true;
    }
    bool timed_turn() {
        uint64_t spent;
        if (!turn_once(false, spent)) return false;
        turns_.record(spent);
        done_ += kBatch * workers();
        return true;
    }
    uint64_t done() const { return done_; }
    // After the turns: false (and why) unless every packet went through.
    bool finish(Point& out) {
        stop_second_worker();
        const auto after = r_.counters();
        const uint64_t through = mode_ == 'e' ? (upstream_ ? after.rx_esp_decrypted - before_.rx_esp_decrypted
                                                           : after.tx_esp_packets - before_.tx_esp_packets)
                                 : upstream_ ? after.tx_core_packets - before_.tx_core_packets
                                             : after.tx_esp_packets - before_.tx_esp_packets;
        if (mode_ == 'h' && after.rx_esp_handoffs - before_.rx_esp_handoffs != done_) {
            std::fprintf(stderr, "%" PRIu64 " of %" PRIu64 " packets were handed off\n",
                         after.rx_esp_handoffs - before_.rx_esp_handoffs, done_);
            return false;
        }
        if (through != done_ + warm_up_packets_) {
            std::fprintf(stderr, "only %" PRIu64 " of %" PRIu64 " packets went through\n", through,
                         done_ + warm_up_packets_);
            return false;
        }
        out = turns_.result();
        return true;
    }

private:
    unsigned workers() const { return mode_ == '2' ? 2 : 1; }  // whose packets a turn counts
    void stop_second_worker() {
        if (mode_ != '2' || second_.quit.load()) return;
        second_.quit.store(true, std::memory_order_release);
        rte_eal_wait_lcore(rte_get_next_lcore(-1, 1, 0));
    }
    bool generated(bool ok) {
        if (!ok) std::fprintf(stderr, "generator ran out of mbufs\n");
        return ok;
    }

    bool turn_once(bool warm_up, uint64_t& spent) {
        spent = 0;
        if (mode_ == 'e') return esp_stage_turn(spent);
        if (mode_ == 'h') {
            const unsigned queue = warm_up ? 1 : 0;
            if (!generated(gen_.make_upstream(batch_.data(), kBatch, profile_, 0, 1))) return false;
            r_.inject_access(batch_.data(), kBatch, queue);
            const uint64_t start = rte_rdtsc_precise();
            r_.poll_until_idle(queue);
            r_.poll_until_idle(1);
            spent = rte_rdtsc_precise() - start;
            drain(r_);
            return true;
        }
        for (unsigned w = 0; w < workers(); ++w) {
            // As RSS would: each client's packets reach one worker only.
            if (!generated(upstream_ ? gen_.make_upstream(batch_.data(), kBatch, profile_, w, workers())
                                     : gen_.make_downstream(batch_.data(), kBatch, profile_, w, workers())))
                return false;
            if (upstream_) r_.inject_access(batch_.data(), kBatch, w);
            else r_.inject_core(batch_.data(), kBatch, w);
        }
        const uint64_t start = rte_rdtsc_precise();
        const uint64_t ticket = second_.started.load() + 1;
        if (mode_ == '2') second_.started.store(ticket, std::memory_order_release);
        r_.poll_until_idle(0);
        if (mode_ == '2')
            while (second_.finished.load(std::memory_order_acquire) != ticket) {}
        // Both workers ran side by side: a core's share is the elapsed time over its own packets.
        spent = rte_rdtsc_precise() - start;
        drain(r_);
        return true;
    }

    bool esp_stage_turn(uint64_t& spent) {
        dp::WorkerContext& worker = r_.workers()[0];
        dp::Dataplane& dp = r_.dataplane();
        if (upstream_) {
            if (!generated(gen_.make_upstream(batch_.data(), kBatch, profile_, 0, 1))) return false;
            for (unsigned base = 0; base < kBatch; base += 32) {
                dp::EspBatch esp;
                for (unsigned i = 0; i < 32; ++i) {
                    esp.mbuf[i] = batch_[base + i];
                    esp.esp_offset[i] = 14 + 20 + 8;
                    esp.udp_encap[i] = true;
                }
                esp.count = 32;
                const uint64_t start = rte_rdtsc_precise();
                dp::esp_decap(worker, esp);
                spent += rte_rdtsc_precise() - start;
                rte_pktmbuf_free_bulk(worker.to_l2tp.mbuf, worker.to_l2tp.count);
                worker.to_l2tp.count = 0;
            }
        } else {
            if (!generated(gen_.make_l2tp_payloads(batch_.data(), kBatch, profile_, clients_.data()))) return false;
            for (unsigned base = 0; base < kBatch; base += 32) {
                dp::EspEncapBatch esp;
                for (unsigned i = 0; i < 32; ++i) {
                    esp.mbuf[i] = batch_[base + i];
                    esp.sa[i] = &dp.sas.at(dp.sessions.at(clients_[base + i]).sa_out);
                }
                esp.count = 32;
                const uint64_t start = rte_rdtsc_precise();
                dp::esp_encap(worker, esp);
                spent += rte_rdtsc_precise() - start;
                worker.counters.tx_access_packets +=
                    worker.access_tx.flush(dp.access.port_id, 0, worker.counters.tx_full_drops);
            }
        }
        drain(r_);
        return true;
    }

    test::RingDataplane& r_;
    Generator& gen_;
    const char mode_;
    const Profile& profile_;
    const bool upstream_;
    Turns turns_;
    std::vector<rte_mbuf*> batch_;
    std::vector<unsigned> clients_;
    const dp::WorkerCounters before_;
    SecondWorker second_;
    uint64_t done_ = 0, warm_up_packets_ = 0;
};

// Runs a point for `packets` packets. With a reference (the same point on
// the one-client data plane), the two take turns, so that the ratio between
// them is measured under the same conditions: on shared vCPUs the same point
// measured a minute apart can differ by 30%.
bool run_point(PointRun& run, PointRun* reference, uint64_t packets, Point& out, Point& reference_out) {
    if (!run.warm_up() || (reference && !reference->warm_up())) return false;
    for (unsigned turn = 0; run.done() < packets; ++turn) {
        // Which goes first alternates, so neither always follows the other's crypto-only rounds.
        PointRun* first = reference && turn % 2 ? reference : &run;
        PointRun* second = first == &run ? reference : &run;
        if (!first->timed_turn() || (second && !second->timed_turn())) return false;
    }
    return run.finish(out) && (!reference || reference->finish(reference_out));
}

// A running data plane for one benchmark configuration and its generator.
struct Lab {
    test::RingDataplane r;
    std::unique_ptr<Generator> gen;  // destroyed before r
    size_t table_bytes = 0;          // hugepage memory the data plane took
};
size_t heap_in_use();

// Clients each with an SA pair and a session; worker lcores as the mode needs ('2' and 'h': two).
std::unique_ptr<Lab> start_lab(EspCipher cipher, EspIntegrity integrity, unsigned clients, char mode) {
    const unsigned workers = mode == '2' || mode == 'h' ? 2 : 1;
    config::Config cfg = test::base_config();
    cfg.dataplane.worker_lcores = workers == 2 ? std::vector<unsigned>{0, 1} : std::vector<unsigned>{0};
    cfg.dataplane.max_sas = 2 * clients + 16;
    cfg.dataplane.max_sessions = clients + 16;
    cfg.dataplane.mbufs = 8 * kBatch * workers;
    for (unsigned i = 0; i < clients; ++i) {
        cfg.ipsec.static_sas.push_back(sa_spec(i, true, cipher, integrity));
        cfg.ipsec.static_sas.push_back(sa_spec(i, false, cipher, integrity));
        cfg.l2tp.static_sessions.push_back(session_spec(i));
    }
    auto lab = std::make_unique<Lab>();
    const size_t heap_before = heap_in_use();
    const std::string err = lab->r.start(cfg, 2 * kBatch);
    if (!err.empty()) {
        std::fprintf(stderr, "start failed: %s\n", err.c_str());
        return nullptr;
    }
    // The hand-off points measure packets that reach the wrong worker; the
    // SAs must not follow them there.
    if (mode == 'h') lab->r.dataplane().owner_move_after = 0;
    lab->table_bytes = heap_in_use() - heap_before;
    lab->gen = std::make_unique<Generator>(lab->r, lab->r.config(), clients);
    return lab;
}

size_t heap_in_use() {
    rte_malloc_socket_stats stats{};
    rte_malloc_get_socket_stats(static_cast<int>(rte_socket_id()), &stats);
    return stats.heap_allocsz_bytes;
}

// One row of the table: a point's figures, and against one client with a reference.
struct Row {
    std::string name;  // "direction algorithm clients size mode", the --only key
    bool upstream;
    const char* algorithm;
    unsigned clients;
    const Profile* profile;
    char mode;
    unsigned workers;
    bool reference;
    Point f, one;
};

void print_row(const Row& row, double hz, const std::vector<double>& runs);

// Measures every point `only` selects, appending rows in table order (and
// printing each as it is measured if print_rows); prints the memory line if
// print_memory. False if a point could not be measured.
bool measure_table(uint64_t packets, const std::string& only, bool print_rows, bool print_memory,
                   std::vector<Row>& rows) {
    static const Profile profiles[] = {{"64", {64}}, {"IMIX", {64, 64, 64, 64, 64, 64, 64, 576, 576, 576, 576, 1400}},
                                       {"1400", {1400}}};
    struct Algo {
        EspCipher c;
        EspIntegrity a;
        const char* name;
    };
    static const Algo algos[] = {{EspCipher::AesGcm128, EspIntegrity::None, "aes128gcm16"},
                                 {EspCipher::AesCbc128, EspIntegrity::HmacSha1_96, "aes128-sha1"}};
    bool ok = true;
    for (const auto& algo : algos) {
        // The one-client data plane of each mode, kept for the many-client points to take turns with.
        std::map<char, std::unique_ptr<Lab>> one_client;
        auto one_client_lab = [&](char mode) {
            std::unique_ptr<Lab>& lab = one_client[mode];
            if (!lab) lab = start_lab(algo.c, algo.a, 1, mode);
            return lab.get();
        };
        for (unsigned clients : {1u, 10000u, 100000u}) {
            for (char mode : {'1', '2', 'h', 'e'}) {
                const unsigned workers = mode == '2' ? 2 : 1;  // cores
                if (mode == '2' && clients == 1) continue;  // one client's flow reaches one worker
                // Not in the table (it would take a third longer), but measured when --only names it.
                const bool named = only.find(" 100000 ") != std::string::npos;
                if (clients == 100000 && (mode == 'h' || (mode == 'e' && !named))) continue;
                auto point_name = [&](bool up, const Profile& p) {
                    return std::string(up ? "upstream " : "downstream ") + algo.name + " " + std::to_string(clients) +
                           " " + p.name + " " + mode + "w";
                };
                bool wanted = only.empty();
                for (bool up : {true, false})
                    for (const auto& p : profiles) wanted |= point_name(up, p).find(only) != std::string::npos;
                if (!wanted) continue;
                std::unique_ptr<Lab> many;
                if (clients > 1) many = start_lab(algo.c, algo.a, clients, mode);
                Lab* lab = clients > 1 ? many.get() : one_client_lab(mode);
                Lab* reference = clients > 1 && mode != '2' ? one_client_lab(mode) : nullptr;
                if (!lab || (clients > 1 && mode != '2' && !reference)) {
                    ok = false;
                    continue;
                }
                for (bool up : {true, false}) {
                    if (mode == 'h' && !up) continue;
                    for (const auto& profile : profiles) {
                        if (!only.empty() && point_name(up, profile).find(only) == std::string::npos) continue;
                        Row row{point_name(up, profile), up, algo.name, clients, &profile, mode, workers,
                                reference != nullptr, {}, {}};
                        bool measured;
                        {
                            PointRun run(lab->r, *lab->gen, mode, profile, up);
                            std::unique_ptr<PointRun> against;
                            if (reference)
                                against = std::make_unique<PointRun>(reference->r, *reference->gen, mode, profile,
                                                                     up, false);
                            measured = run_point(run, against.get(), packets, row.f, row.one);
                        }
                        if (!measured) {
                            ok = false;
                            continue;
                        }
                        rows.push_back(row);
                        if (print_rows) print_row(row, static_cast<double>(rte_get_tsc_hz()), {});
                    }
                }
                if (print_memory && clients == 100000 && mode == '1') {
                    // The session table alone: entries, (SA, ids) hash, IPv4 and IPv6 LPM.
                    const size_t before_sessions = heap_in_use();
                    {
                        dp::SessionTable sessions;
                        const char* why;
                        if (sessions.create("bench_sessions", clients, static_cast<int>(rte_socket_id()), nullptr, &why))
                            std::printf("memory per client: %.0f bytes in all (session + SA pair + tables, mbuf pool "
                                        "and rings included); the session table alone %.0f bytes per session "
                                        "(Session %zu, SA %zu of which IPsec-MB's struct gcm_key_data %zu: its "
                                        "size on every architecture)\n",
                                        static_cast<double>(lab->table_bytes) / clients,
                                        static_cast<double>(heap_in_use() - before_sessions) / clients,
                                        sizeof(dp::Session), sizeof(dp::SecurityAssociation), sizeof(gcm_key_data));
                    }
                }
            }
        }
    }
    return ok;
}

// With several runs, `runs` holds each run's cycles per packet for the point
// (in run order) and row is the run with the median of them.
void print_row(const Row& row, double hz, const std::vector<double>& runs) {
    const Point& f = row.f;
    const double mpps = hz / f.cycles_per_packet * row.workers / 1e6;
    char all_keys[16] = "-", vs_one[16] = "-", ours[16] = "-";
    if (f.crypto_all_keys_cycles_per_packet > 0)
        std::snprintf(all_keys, sizeof all_keys, "%.0f", f.crypto_all_keys_cycles_per_packet);
    if (row.reference) {
        const double one = row.one.cycles_per_packet;
        std::snprintf(vs_one, sizeof vs_one, "%+.1f%%", (f.cycles_per_packet / one - 1) * 100);
        // vs-1 less what the clients' keys cost IPsec-MB itself (all-keys over
        // crypto-only, both from this run), against the same one-client cost:
        // how much of the growth is not the crypto library's.
        const double library = f.crypto_all_keys_cycles_per_packet - f.crypto_cycles_per_packet;
        std::snprintf(ours, sizeof ours, "%+.1f%%", (f.cycles_per_packet - one - library) / one * 100);
    }
    std::printf("%-10s %-12s %7u %5s %3c %8.2f %8.2f %11.0f %12.0f %9s %9.0f %9s %8s",
                row.upstream ? "upstream" : "downstream", row.algorithm, row.clients, row.profile->name, row.mode, mpps,
                mpps * avg_size(*row.profile) * 8 / 1e3, f.cycles_per_packet, f.crypto_cycles_per_packet, all_keys,
                f.cycles_per_packet - f.crypto_cycles_per_packet, vs_one, ours);
    for (size_t i = 0; i < runs.size(); ++i) std::printf("%c%.0f", i ? '/' : ' ', runs[i]);
    std::printf("\n");
    std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
    uint64_t packets = 200000;
    unsigned runs = 1;
    std::string only;  // substring filter on "direction algorithm clients size workers"
    for (int i = 1; i < argc; ++i) {
        const std::string arg = argv[i];
        if (arg == "--quick") packets = 20000;
        else if (arg == "--packets" && i + 1 < argc) packets = std::stoull(argv[++i]);
        else if (arg == "--runs" && i + 1 < argc) runs = static_cast<unsigned>(std::stoul(argv[++i]));
        else if (arg == "--only" && i + 1 < argc) only = argv[++i];
        else runs = 0;
        if (runs == 0 || runs > 99) {
            std::fprintf(stderr, "usage: dataplane_bench [--quick] [--packets N] [--runs N (1-99)] [--only 'upstream "
                                 "aes128gcm16 1 64 1w']\n");
            return 2;
        }
    }
    if (!test::init_eal({"-l", "0-1"}, true)) {
        std::fprintf(stderr, "EAL init failed (hugepages reserved? run scripts/setup.sh)\n");
        return 1;
    }
    const double hz = static_cast<double>(rte_get_tsc_hz());
    std::printf("Data plane benchmark: TSC %.2f GHz, %" PRIu64 " packets per point; upstream = IPv4 in PPP in L2TP in "
                "ESP in UDP 4500, downstream = plain IPv4\n", hz / 1e9, packets);
    std::printf("Mpps and Gbps: the workers' capacity (TSC Hz / cycles per packet per core x cores); Gbps counts inner "
                "IPv4 bytes; crypto-only: IPsec-MB alone, one core, one key; all-keys: the same with the clients' "
                "keys in turn, prefetched as the ESP stage does; overhead: cycles/pkt - crypto-only; vs-1: cycles/pkt "
                "against the one-client data plane's, the two taking turns; ours: vs-1 less all-keys - crypto-only "
                "(the growth that is not IPsec-MB's own with cold keys)\n");
    if (runs > 1)
        std::printf("%u runs of the whole table, one after the other; each row is the run with the median cycles/pkt "
                    "of the point, and runs lists every run's, in order\n", runs);
    std::printf("%-10s %-12s %7s %5s %3s %8s %8s %11s %12s %9s %9s %9s %8s%s\n", "direction", "algorithm", "clients",
                "size", "wk", "Mpps", "Gbps", "cycles/pkt", "crypto-only", "all-keys", "overhead", "vs-1", "ours",
                runs > 1 ? " runs" : "");
    std::fflush(stdout);
    std::vector<std::vector<Row>> tables(runs);
    if (runs == 1) return measure_table(packets, only, true, true, tables[0]) ? 0 : 1;
    bool ok = true;
    for (unsigned r = 0; r < runs; ++r) {
        std::fprintf(stderr, "run %u of %u\n", r + 1, runs);
        ok &= measure_table(packets, only, false, r == 0, tables[r]);
    }
    // The first run's points, each from the runs that measured it (a point may fail in one).
    for (const Row& first : tables[0]) {
        std::vector<const Row*> same;
        std::vector<double> cycles;  // in run order
        for (const auto& t : tables)
            for (const Row& row : t)
                if (row.name == first.name) {
                    same.push_back(&row);
                    cycles.push_back(row.f.cycles_per_packet);
                }
        std::sort(same.begin(), same.end(),
                  [](const Row* a, const Row* b) { return a->f.cycles_per_packet < b->f.cycles_per_packet; });
        print_row(*same[same.size() / 2], hz, cycles);
    }
    return ok ? 0 : 1;
}

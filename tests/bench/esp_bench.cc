// ESP benchmark: a traffic generator of our own that live-encrypts ESP for N
// SAs with increasing sequence numbers (anti-replay on) and feeds the real
// data plane (ring ethdev ports, the worker loop body, the real stages). The
// generator and the data plane take turns on one core: the generator fills
// the port's RX ring untimed, then the worker drains it timed, so the cycles
// per packet are the data plane's alone and bursts are full, as at line rate.
// Beside each figure: IPsec-MB alone doing the same cipher and hash over the
// same lengths, in the same run.
#include <arpa/inet.h>

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include <rte_cycles.h>
#include <rte_malloc.h>

#include "common/proto/byte_reader.h"
#include "common/proto/ipv4.h"
#include "dataplane/ipsec/esp_transform.h"
#include "tests/support/ring_dataplane.h"

using namespace conc;
using proto::EspCipher;
using proto::EspIntegrity;

namespace {

constexpr unsigned kBatch = 256;          // packets per turn: 8 bursts, about what a NIC RX ring holds warm
constexpr uint32_t kPeerBase = 0x64400000; // 100.64.0.0/10: one peer per SA
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

struct Figures {
    double cycles_per_packet;
    double crypto_cycles_per_packet;
};

uint32_t peer_address(unsigned i) { return kPeerBase + i; }

config::StaticSa sa_spec(unsigned i, bool inbound, EspCipher c, EspIntegrity a) {
    auto sa = test::make_sa((inbound ? "in" : "out") + std::to_string(i),
                            inbound ? config::SaDirection::Inbound : config::SaDirection::Outbound, 0x10000 + i, c, a,
                            peer_address(i), true, i);
    return sa;
}

// IPsec-MB alone: the same cipher and hash over the same lengths, jobs
// filled from templates, bursts of 32, rotating through as many 2 KB buffers
// as the data plane's mbuf pool has, so both pay the same cache footprint. Measured in rounds interleaved with the data plane's turns
// so both see the same machine (a VM's clock and neighbours vary).
class CryptoOnly {
public:
    CryptoOnly(IMB_MGR* mgr, const dp::SecurityAssociation& sa, const Profile& profile, bool decrypt) : mgr_(mgr) {
        for (unsigned i = 0; i < kBuffers; ++i) {
            const uint32_t l4 = profile.sizes[i % profile.sizes.size()] - 20u;
            IMB_JOB* job = IMB_GET_NEXT_JOB(mgr);
            const uint32_t len =
                dp::prepare_encrypt_job(job, sa, buffers_[i], l4, 17, i + 1, buffers_[i] + 1024, scratch_[i]);
            if (decrypt) dp::prepare_decrypt_job(job, sa, buffers_[i], len, scratch_[i]);
            templates_[i] = *job;
        }
    }
    // Cycles per packet of one round of `packets` jobs.
    double round(unsigned packets) {
        const uint64_t start = rte_rdtsc_precise();
        for (unsigned done = 0; done < packets; done += kBurst) {
            for (unsigned i = 0; i < kBurst; ++i) {
                IMB_JOB* job = IMB_GET_NEXT_JOB(mgr_);
                *job = templates_[next_];
                next_ = (next_ + 1) % kBuffers;
                dp::submit_job(mgr_, [](const IMB_JOB*) {});
            }
            dp::flush_jobs(mgr_, [](const IMB_JOB*) {});
        }
        return static_cast<double>(rte_rdtsc_precise() - start) / packets;
    }

private:
    static constexpr unsigned kBurst = 32;
    static constexpr unsigned kBuffers = 3 * kBatch;  // the data plane's mbuf pool: the same cache footprint
    IMB_MGR* mgr_;
    unsigned next_ = 0;
    alignas(64) uint8_t buffers_[kBuffers][2048];
    dp::EspJobScratch scratch_[kBuffers];
    IMB_JOB templates_[kBuffers];
};

double median(std::vector<double>& v) {
    std::nth_element(v.begin(), v.begin() + v.size() / 2, v.end());
    return v[v.size() / 2];
}

class Generator {
public:
    Generator(test::RingDataplane& r, EspCipher c, EspIntegrity a, unsigned sas) : r_(r), sa_count_(sas) {
        mgr_ = alloc_mb_mgr(0);
        init_mb_mgr_auto(mgr_, nullptr);
        twins_ = static_cast<dp::SecurityAssociation*>(
            rte_zmalloc("twins", sizeof(dp::SecurityAssociation) * sas, alignof(dp::SecurityAssociation)));
        const char* why;
        for (unsigned i = 0; i < sas; ++i) {
            new (&twins_[i]) dp::SecurityAssociation();
            // The DP's inbound SA i, seen from the client: outbound, same keys.
            dp::key_security_association(mgr_, sa_spec(i, false, c, a), peer_address(i), twins_[i], &why);
            twins_[i].local_address = htonl(peer_address(i));
        }
    }
    ~Generator() {
        rte_free(twins_);
        free_mb_mgr(mgr_);
    }
    const dp::SecurityAssociation& sa(unsigned i) const { return twins_[i]; }
    IMB_MGR* mgr() { return mgr_; }

    // Client -> concentrator: ESP-in-UDP, freshly encrypted.
    unsigned make_esp(rte_mbuf** out, unsigned n, const Profile& profile) {
        if (rte_pktmbuf_alloc_bulk(r_.pool(), out, n) != 0) return 0;
        const uint32_t dp_address = htonl(r_.config().dataplane.access.address);
        for (unsigned base = 0; base < n; base += 32) {
            const unsigned count = n - base < 32 ? n - base : 32;
            for (unsigned k = 0; k < count; ++k) {
                const unsigned i = base + k;
                dp::SecurityAssociation& sa = twins_[next_sa_];
                next_sa_ = (next_sa_ + 1) % sa_count_;
                const uint16_t inner = profile.sizes[(counter_++) % profile.sizes.size()];
                const uint16_t l4 = static_cast<uint16_t>(inner - 20);
                rte_mbuf* m = out[i];
                const uint32_t head = 14 + 20 + 8 + dp::esp_header_room(sa);
                uint8_t* frame = reinterpret_cast<uint8_t*>(
                    rte_pktmbuf_append(m, static_cast<uint16_t>(head + l4 + dp::esp_trailer_room(sa, l4))));
                uint8_t* esp = frame + 42;
                uint8_t* payload = esp + dp::esp_header_room(sa);
                proto::write_udp_header(payload, 1701, 1701, l4);
                std::memset(payload + 8, 0x5A, l4 - 8u);
                const uint32_t seq = static_cast<uint32_t>(sa.next_sequence.fetch_add(1));
                IMB_JOB* job = IMB_GET_NEXT_JOB(mgr_);
                const uint32_t esp_len = dp::prepare_encrypt_job(job, sa, esp, l4, proto::kIpProtoUdp, seq,
                                                                 iv_, scratch_[k]);
                jobs_[k] = {m, &sa, esp, esp_len};
                job->user_data = &jobs_[k];
                proto::write_ethernet_header(frame, kMac, kMac, proto::kEtherTypeIpv4);
                proto::write_ipv4_header(frame + 14, sa.local_address, dp_address, proto::kIpProtoUdp,
                                         static_cast<uint16_t>(20 + 8 + esp_len), 64, 0, 0);
                proto::write_udp_header(frame + 34, 4500, 4500, static_cast<uint16_t>(8 + esp_len));
                dp::submit_job(mgr_, [&](const IMB_JOB* done) { finish(done); });
            }
            dp::flush_jobs(mgr_, [&](const IMB_JOB* done) { finish(done); });
        }
        return n;
    }

    // Core host -> client: plain UDP to the clients' addresses.
    unsigned make_plain(rte_mbuf** out, unsigned n, const Profile& profile) {
        for (unsigned i = 0; i < n; ++i) {
            const uint16_t inner = profile.sizes[(counter_++) % profile.sizes.size()];
            static uint8_t payload[2048];
            out[i] = test::build_udp_frame(r_.pool(), kMac, kMac, 0x0A000005, peer_address(next_sa_), 1701, 1701,
                                           payload, static_cast<uint16_t>(inner - 28));
            next_sa_ = (next_sa_ + 1) % sa_count_;
            if (!out[i]) return i;
        }
        return n;
    }

private:
    struct Pending {
        rte_mbuf* m;
        dp::SecurityAssociation* sa;
        uint8_t* esp;
        uint32_t esp_len;
    };
    void finish(const IMB_JOB* job) {
        const Pending& p = *static_cast<const Pending*>(job->user_data);
        const unsigned k = static_cast<unsigned>(&p - jobs_);
        dp::finish_encrypt(job, *p.sa, p.esp, p.esp_len, scratch_[k]);
    }

    test::RingDataplane& r_;
    unsigned sa_count_;
    unsigned next_sa_ = 0;
    uint64_t counter_ = 0;
    IMB_MGR* mgr_;
    dp::SecurityAssociation* twins_;
    Pending jobs_[32];
    dp::EspJobScratch scratch_[32];
    uint8_t iv_[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
};

// Drains whatever the data plane sent out of both ports.
void drain(test::RingDataplane& r) {
    rte_mbuf* m[256];
    for (unsigned n; (n = r.drain_core(m, 256)) > 0;) rte_pktmbuf_free_bulk(m, n);
    for (unsigned n; (n = r.drain_access(m, 256)) > 0;) rte_pktmbuf_free_bulk(m, n);
}

bool run(EspCipher c, EspIntegrity a, unsigned sas, const Profile& profile, bool decrypt, uint64_t packets,
         Figures& fig) {
    config::Config cfg = test::base_config();
    cfg.dataplane.max_sas = 2 * sas + 16;
    cfg.dataplane.mbufs = 3 * kBatch;
    cfg.dataplane.burst_size = 32;
    for (unsigned i = 0; i < sas; ++i) {
        cfg.ipsec.static_sas.push_back(sa_spec(i, true, c, a));   // client -> us
        auto out = sa_spec(i, false, c, a);                         // us -> client
        out.spi = 0x20000 + i;
        cfg.ipsec.static_sas.push_back(out);
    }
    test::RingDataplane r;
    const std::string err = r.start(cfg, 2 * kBatch);
    if (!err.empty()) {
        std::fprintf(stderr, "start failed: %s\n", err.c_str());
        return false;
    }
    Generator gen(r, c, a, sas);
    std::vector<rte_mbuf*> batch(kBatch);
    std::vector<double> per_turn, crypto_per_turn;  // cycles per packet of each timed turn
    auto crypto = std::make_unique<CryptoOnly>(gen.mgr(), gen.sa(0), profile, decrypt);
    uint64_t done = 0;
    // One untimed warm-up turn, then timed turns.
    for (int turn = -1; done < packets; ++turn) {
        const unsigned n = decrypt ? gen.make_esp(batch.data(), kBatch, profile)
                                   : gen.make_plain(batch.data(), kBatch, profile);
        if (n != kBatch) return std::fprintf(stderr, "generator ran out of mbufs\n"), false;
        if (decrypt) r.inject_access(batch.data(), n);
        else r.inject_core(batch.data(), n);
        const uint64_t start = rte_rdtsc_precise();
        r.poll_until_idle();
        const uint64_t spent = rte_rdtsc_precise() - start;
        drain(r);
        if (turn >= 0) {
            per_turn.push_back(static_cast<double>(spent) / n);
            crypto_per_turn.push_back(crypto->round(n));
            done += n;
        }
    }
    const auto counters = r.counters();
    const uint64_t forwarded = decrypt ? counters.rx_esp_decrypted : counters.tx_esp_packets;
    if (forwarded != done + kBatch) {
        std::fprintf(stderr, "only %" PRIu64 " of %" PRIu64 " packets went through\n", forwarded, done + kBatch);
        return false;
    }
    // The median turn: a VM's steal time or an interrupt spoils single turns.
    fig.cycles_per_packet = median(per_turn);
    fig.crypto_cycles_per_packet = median(crypto_per_turn);
    return true;
}

}  // namespace

int main(int argc, char** argv) {
    uint64_t packets = 400000;
    std::string only;  // substring filter on "dir algorithm SAs size"
    for (int i = 1; i < argc; ++i) {
        const std::string arg = argv[i];
        if (arg == "--quick") packets = 20000;
        else if (arg == "--packets" && i + 1 < argc) packets = std::stoull(argv[++i]);
        else if (arg == "--only" && i + 1 < argc) only = argv[++i];
        else {
            std::fprintf(stderr, "usage: esp_bench [--quick] [--packets N] [--only 'decrypt aes128gcm16 1 64']\n");
            return 2;
        }
    }
    if (!test::init_eal({}, true)) {
        std::fprintf(stderr, "EAL init failed (hugepages reserved? run scripts/setup.sh)\n");
        return 1;
    }
    const double hz = static_cast<double>(rte_get_tsc_hz());
    const Profile profiles[] = {{"64", {64}}, {"IMIX", {64, 64, 64, 64, 64, 64, 64, 576, 576, 576, 576, 1400}},
                                {"1400", {1400}}};
    struct Algo {
        EspCipher c;
        EspIntegrity a;
        const char* name;
    };
    const Algo algos[] = {{EspCipher::AesGcm128, EspIntegrity::None, "aes128gcm16"},
                          {EspCipher::AesCbc128, EspIntegrity::HmacSha1_96, "aes128-sha1"}};
    std::printf("ESP benchmark: one worker core, TSC %.2f GHz, %" PRIu64 " packets per point, NAT-T (UDP 4500)\n",
                hz / 1e9, packets);
    std::printf("Mpps and Gbps are one core's capacity (TSC Hz / cycles per packet); Gbps counts inner IPv4 bytes.\n");
    std::printf("%-8s %-12s %6s %5s %8s %8s %11s %12s %9s\n", "dir", "algorithm", "SAs", "size", "Mpps", "Gbps",
                "cycles/pkt", "crypto-only", "overhead");
    bool ok = true;
    for (bool decrypt : {true, false})
        for (const auto& algo : algos)
            for (unsigned sas : {1u, 10000u})
                for (const auto& profile : profiles) {
                    const std::string point = std::string(decrypt ? "decrypt " : "encrypt ") + algo.name + " " +
                                              std::to_string(sas) + " " + profile.name;
                    if (!only.empty() && point.find(only) == std::string::npos) continue;
                    Figures f{};
                    if (!run(algo.c, algo.a, sas, profile, decrypt, packets, f)) {
                        ok = false;
                        continue;
                    }
                    const double mpps = hz / f.cycles_per_packet / 1e6;
                    std::printf("%-8s %-12s %6u %5s %8.2f %8.2f %11.0f %12.0f %9.0f\n", decrypt ? "decrypt" : "encrypt",
                                algo.name, sas, profile.name, mpps, mpps * avg_size(profile) * 8 / 1e3,
                                f.cycles_per_packet, f.crypto_cycles_per_packet,
                                f.cycles_per_packet - f.crypto_cycles_per_packet);
                    std::fflush(stdout);
                }
    return ok ? 0 : 1;
}

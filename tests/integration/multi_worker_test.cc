// Two workers sharing SAs and sessions, as RSS makes them on a NIC: a
// client's upstream ESP reaching the worker that does not own its SA is
// handed to the owner (the replay window has one writer), and downstream
// packets of one session sent from both workers at once take unique
// sequence numbers and lose no counts. The concurrent case runs the two
// worker loops on two threads.
#include <cppunit/extensions/HelperMacros.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "common/proto/ipv4.h"
#include "common/proto/l2tp.h"
#include "tests/support/client_lab.h"

using namespace conc;
using namespace conc::test;

namespace {

struct Drained {
    std::vector<std::vector<uint8_t>> core, access;
};

// Adds what left the ports since the last call.
void drain(RingDataplane& r, Drained& out) {
    for (auto& f : r.take_core()) out.core.push_back(std::move(f));
    for (auto& f : r.take_access()) out.access.push_back(std::move(f));
}

void start_two_workers(ClientLab& lab, uint32_t replay_window) {
    lab.add_client({});
    lab.config().dataplane.worker_lcores = {0, 0};  // polled by the test, not launched on lcores
    lab.config().ipsec.replay_window = replay_window;
    CPPUNIT_ASSERT_EQUAL(std::string(), lab.start());
}

}  // namespace

class MultiWorkerTest : public CppUnit::TestFixture {
    CPPUNIT_TEST_SUITE(MultiWorkerTest);
    CPPUNIT_TEST(first_receiver_owns_the_sa_and_the_other_hands_off);
    CPPUNIT_TEST(a_duplicate_on_two_workers_passes_once);
    CPPUNIT_TEST(two_workers_at_once_lose_nothing);
    CPPUNIT_TEST(an_sa_follows_its_flow_to_another_worker);
    CPPUNIT_TEST_SUITE_END();

public:
    void first_receiver_owns_the_sa_and_the_other_hands_off() {
        ClientLab lab;
        start_two_workers(lab, 1024);
        RingDataplane& r = lab.ring();
        const auto inner = ipv4_udp(kClientAddress, kCoreHost, 1, 2, {1, 2, 3});
        rte_mbuf* first = lab.client(0).upstream(r.pool(), inner, proto::kPppIpv4);
        CPPUNIT_ASSERT_EQUAL(1u, r.inject_access(&first, 1, 1));
        r.poll_until_idle(1);
        dp::SecurityAssociation& sa = r.dataplane().sas.at(lab.session(0).sa_in);
        CPPUNIT_ASSERT_EQUAL(uint16_t{1}, sa.owner().load());
        rte_mbuf* more[3];
        for (auto& m : more) m = lab.client(0).upstream(r.pool(), inner, proto::kPppIpv4);
        CPPUNIT_ASSERT_EQUAL(3u, r.inject_access(more, 3, 0));
        r.poll_until_idle(0);
        CPPUNIT_ASSERT_EQUAL(uint64_t{3}, r.workers()[0].counters.rx_esp_handoffs);
        CPPUNIT_ASSERT_EQUAL(uint64_t{0}, r.workers()[0].counters.rx_esp_decrypted);
        r.poll_until_idle(1);  // drains its hand-off ring
        CPPUNIT_ASSERT_EQUAL(uint64_t{4}, r.workers()[1].counters.rx_esp_decrypted);
        CPPUNIT_ASSERT_EQUAL(uint64_t{4}, sa.counters.packets);
        CPPUNIT_ASSERT_EQUAL(uint64_t{4}, lab.session(0).counters.rx_packets);
        CPPUNIT_ASSERT_EQUAL(uint64_t{4}, lab.counters().rx_esp_packets);  // handed-off packets counted once
        Drained out;
        drain(r, out);
        CPPUNIT_ASSERT_EQUAL(size_t{4}, out.core.size());
    }

    // RSS sends a client's flow to another queue (a NAT gave it a new port):
    // after owner_move_after of its packets in a row have come by hand-off,
    // the SA moves to that worker, and the window goes with it.
    void an_sa_follows_its_flow_to_another_worker() {
        for (const uint16_t after : {uint16_t{64}, uint16_t{0}}) {
            ClientLab lab;
            start_two_workers(lab, 1024);
            RingDataplane& r = lab.ring();
            r.dataplane().owner_move_after = after;
            const auto inner = ipv4_udp(kClientAddress, kCoreHost, 1, 2, {1, 2, 3});
            std::vector<std::vector<uint8_t>> sent;
            // n packets to queue q, then both workers until nothing is left.
            auto send = [&](unsigned n, unsigned q) {
                std::vector<rte_mbuf*> m;
                for (unsigned i = 0; i < n; ++i) {
                    sent.push_back(lab.client(0).upstream_bytes(inner, proto::kPppIpv4));
                    m.push_back(mbuf_from(r.pool(), sent.back()));
                }
                CPPUNIT_ASSERT_EQUAL(n, r.inject_access(m.data(), n, q));
                for (int pass = 0; pass < 3; ++pass) {
                    r.poll_until_idle(0);
                    r.poll_until_idle(1);
                }
            };
            dp::SecurityAssociation& sa = r.dataplane().sas.at(lab.session(0).sa_in);
            send(1, 1);
            CPPUNIT_ASSERT_EQUAL(uint16_t{1}, sa.owner().load());
            for (int chunk = 0; chunk < 6; ++chunk) send(16, 0);
            const dp::WorkerCounters& w0 = r.workers()[0].counters;
            const dp::WorkerCounters& w1 = r.workers()[1].counters;
            if (after == 0) {  // never moves: every packet of queue 0 handed over
                CPPUNIT_ASSERT_EQUAL(uint16_t{1}, sa.owner().load());
                CPPUNIT_ASSERT_EQUAL(uint64_t{96}, w0.rx_esp_handoffs);
                CPPUNIT_ASSERT_EQUAL(uint64_t{0}, w1.rx_esp_owner_moves);
                CPPUNIT_ASSERT_EQUAL(uint64_t{97}, w1.rx_esp_decrypted);
                continue;
            }
            CPPUNIT_ASSERT_EQUAL(uint16_t{0}, sa.owner().load());
            CPPUNIT_ASSERT_EQUAL(uint64_t{1}, w1.rx_esp_owner_moves);
            CPPUNIT_ASSERT_EQUAL(uint64_t{64}, w0.rx_esp_handoffs);  // then worker 0's own
            CPPUNIT_ASSERT_EQUAL(uint64_t{65}, w1.rx_esp_decrypted);
            CPPUNIT_ASSERT_EQUAL(uint64_t{32}, w0.rx_esp_decrypted);
            // The window came along: a packet worker 1 took before the move is a replay now.
            rte_mbuf* again = mbuf_from(r.pool(), sent[10]);
            CPPUNIT_ASSERT_EQUAL(1u, r.inject_access(&again, 1, 0));
            r.poll_until_idle(0);
            CPPUNIT_ASSERT_EQUAL(uint64_t{1}, w0.rx_esp_replay_drops);
            // A flow spread over both queues does not make it move back and forth.
            for (int i = 0; i < 80; ++i) send(1, i % 2);
            CPPUNIT_ASSERT_EQUAL(uint16_t{0}, sa.owner().load());
            CPPUNIT_ASSERT_EQUAL(uint64_t{0}, w0.rx_esp_owner_moves);
            const auto k = lab.counters();
            CPPUNIT_ASSERT_EQUAL(uint64_t{177}, k.rx_esp_decrypted);
            CPPUNIT_ASSERT_EQUAL(uint64_t{177}, sa.counters.packets);
            Drained out;
            drain(r, out);
            CPPUNIT_ASSERT_EQUAL(size_t{177}, out.core.size());
        }
    }

    void a_duplicate_on_two_workers_passes_once() {
        ClientLab lab;
        start_two_workers(lab, 1024);
        RingDataplane& r = lab.ring();
        const auto frame = lab.client(0).upstream_bytes(ipv4_udp(kClientAddress, kCoreHost, 1, 2, {}), proto::kPppIpv4);
        rte_mbuf* a = mbuf_from(r.pool(), frame);
        rte_mbuf* b = mbuf_from(r.pool(), frame);
        r.inject_access(&a, 1, 0);
        r.inject_access(&b, 1, 1);
        r.poll_until_idle(0);
        r.poll_until_idle(1);
        r.poll_until_idle(0);
        const auto k = lab.counters();
        CPPUNIT_ASSERT_EQUAL(uint64_t{1}, k.rx_esp_decrypted);
        CPPUNIT_ASSERT_EQUAL(uint64_t{1}, k.rx_esp_replay_drops);
        CPPUNIT_ASSERT_EQUAL(uint64_t{1}, k.rx_esp_handoffs);
        Drained out;
        drain(r, out);
        CPPUNIT_ASSERT_EQUAL(size_t{1}, out.core.size());
    }

    // Both workers on their own threads; the test feeds both queues of both
    // ports (a client's packets alternate between them) and collects. Once
    // with the SA staying with its first owner, once with it moving between
    // the two after every few packets handed over (each move a release and
    // an acquire between the threads), after which every packet sent again
    // must be a replay: a bit lost to two workers writing the window at
    // once would let its packet through.
    void two_workers_at_once_lose_nothing() {
        two_workers_at_once(0);
        two_workers_at_once(4);
    }

    void two_workers_at_once(uint16_t owner_move_after) {
        constexpr unsigned kPackets = 4000, kChunk = 32;
        ClientLab lab;
        start_two_workers(lab, 4096);  // reordering between queues stays well inside
        RingDataplane& r = lab.ring();
        r.dataplane().owner_move_after = owner_move_after;
        std::vector<std::vector<uint8_t>> up, down;
        for (unsigned i = 0; i < kPackets; ++i) {
            std::vector<uint8_t> payload(8 + i % 200, static_cast<uint8_t>(i));
            up.push_back(lab.client(0).upstream_bytes(ipv4_udp(kClientAddress, kCoreHost, 1, 2, payload),
                                                      proto::kPppIpv4));
            down.push_back(frame_from_core_host(ipv4_udp(kCoreHost, kClientAddress, static_cast<uint16_t>(1000 + i), 1, payload)));
        }
        std::atomic<bool> stop{false};
        std::vector<std::thread> threads;
        for (unsigned w = 0; w < 2; ++w)
            threads.emplace_back([&, w] {
                while (!stop.load()) dp::worker_poll_once(r.workers()[w]);
            });
        Drained out;
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
        unsigned fed = 0;
        while ((out.core.size() < kPackets || out.access.size() < kPackets) &&
               std::chrono::steady_clock::now() < deadline) {
            if (fed < kPackets) {
                for (unsigned i = fed; i < fed + kChunk; ++i) {
                    rte_mbuf* u = mbuf_from(r.pool(), up[i]);
                    rte_mbuf* d = mbuf_from(r.pool(), down[i]);
                    while (r.inject_access(&u, 1, i % 2) != 1) std::this_thread::yield();
                    while (r.inject_core(&d, 1, (i / 2) % 2) != 1) std::this_thread::yield();
                }
                fed += kChunk;
            }
            drain(r, out);
            std::this_thread::yield();
        }
        stop = true;
        for (auto& t : threads) t.join();
        drain(r, out);

        CPPUNIT_ASSERT_EQUAL(size_t{kPackets}, out.core.size());
        CPPUNIT_ASSERT_EQUAL(size_t{kPackets}, out.access.size());
        std::set<uint32_t> sequence_numbers;
        for (const auto& f : out.access) {
            Downstream d;
            std::string why;
            CPPUNIT_ASSERT_MESSAGE(why, lab.client(0).downstream(f.data(), f.size(), d, why));
            sequence_numbers.insert(d.seq);
        }
        CPPUNIT_ASSERT_EQUAL(size_t{kPackets}, sequence_numbers.size());  // none taken twice
        CPPUNIT_ASSERT_EQUAL(uint32_t{1}, *sequence_numbers.begin());
        CPPUNIT_ASSERT_EQUAL(uint32_t{kPackets}, *sequence_numbers.rbegin());
        const auto k = lab.counters();
        CPPUNIT_ASSERT_EQUAL(uint64_t{kPackets}, k.rx_esp_decrypted);
        if (owner_move_after == 0) {
            CPPUNIT_ASSERT_EQUAL(uint64_t{kPackets / 2}, k.rx_esp_handoffs);  // every packet of the other queue
            CPPUNIT_ASSERT_EQUAL(uint64_t{0}, k.rx_esp_owner_moves);
        } else {
            CPPUNIT_ASSERT(k.rx_esp_owner_moves > 0);
        }
        CPPUNIT_ASSERT_EQUAL(uint64_t{0}, k.rx_esp_handoff_drops);
        CPPUNIT_ASSERT_EQUAL(uint64_t{0}, k.rx_esp_replay_drops);
        if (owner_move_after) {
            // Every bit the two owners set in turn is in the window: each packet again is a replay.
            for (unsigned i = 0; i < kPackets; i += kChunk) {
                for (unsigned j = i; j < i + kChunk; ++j) {
                    rte_mbuf* again = mbuf_from(r.pool(), up[j]);
                    CPPUNIT_ASSERT_EQUAL(1u, r.inject_access(&again, 1, (j + 1) % 2));
                }
                r.poll_until_idle(0);
                r.poll_until_idle(1);
                r.poll_until_idle(0);
            }
            const auto after = lab.counters();
            CPPUNIT_ASSERT_EQUAL(uint64_t{kPackets}, after.rx_esp_decrypted);
            CPPUNIT_ASSERT_EQUAL(uint64_t{kPackets}, after.rx_esp_replay_drops);
            drain(r, out);
            CPPUNIT_ASSERT_EQUAL(size_t{kPackets}, out.core.size());
        }
        const dp::Dataplane& dp = r.dataplane();
        const dp::Session& session = lab.session(0);
        CPPUNIT_ASSERT_EQUAL(uint64_t{kPackets}, dp.sas.at(session.sa_in).counters.packets);
        // Both core queues sent through the SA and the session: one worker
        // counted in the owned counters, the other in the shared ones, and
        // readers see the sum.
        const dp::SecurityAssociation& out_sa = dp.sas.at(session.sa_out);
        CPPUNIT_ASSERT_EQUAL(uint64_t{kPackets}, out_sa.counter_totals().packets);
        CPPUNIT_ASSERT(out_sa.counters.packets > 0 && out_sa.shared_counters.packets > 0);
        CPPUNIT_ASSERT_EQUAL(uint64_t{kPackets}, session.counters.rx_packets);
        CPPUNIT_ASSERT_EQUAL(uint64_t{kPackets}, session.tx_totals().packets);
        CPPUNIT_ASSERT(session.counters.tx.packets > 0 && session.shared_tx.packets > 0);
    }
};

CPPUNIT_TEST_SUITE_REGISTRATION(MultiWorkerTest);

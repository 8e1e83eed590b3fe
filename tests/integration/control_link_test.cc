// The data plane's end of the command and ack rings, driven as
// concentrator-cp drives them: a client's session and SAs taken away and put
// back by commands while its traffic stops and starts again, each command
// answered by one ack with its sequence and the reason for a refusal; and no
// ack is ever lost when the control plane stops reading them. Then the
// control plane's end (cp::DataplaneLink) against it: a control plane takes
// only its own acks, never one a predecessor left, and learns what became
// of a command it stopped waiting for.
#include <arpa/inet.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cppunit/extensions/HelperMacros.h>

#include <chrono>
#include <cstring>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "common/proto/l2tp.h"
#include "common/shm/messages.h"
#include "controlplane/dp_link.h"
#include "dataplane/control.h"
#include "tests/support/client_lab.h"

using namespace conc;
using namespace conc::test;

namespace {

void send(RingDataplane& r, shm::Command c, uint32_t sequence) {
    c.version = shm::kContractVersion;
    c.sequence = sequence;
    CPPUNIT_ASSERT_EQUAL(0, rte_ring_enqueue_elem(r.dataplane().control.commands, &c, sizeof c));
}

std::vector<shm::CommandAck> take_acks(RingDataplane& r) {
    std::vector<shm::CommandAck> acks;
    shm::CommandAck ack;
    while (rte_ring_dequeue_elem(r.dataplane().control.acks, &ack, sizeof ack) == 0) acks.push_back(ack);
    return acks;
}

// Sends one command, runs a pass, returns its ack.
shm::CommandAck execute(RingDataplane& r, const shm::Command& c) {
    static uint32_t sequence = 1000;
    send(r, c, ++sequence);
    r.control_pass();
    const auto acks = take_acks(r);
    CPPUNIT_ASSERT_EQUAL(size_t{1}, acks.size());
    CPPUNIT_ASSERT_EQUAL(sequence, acks[0].sequence);
    return acks[0];
}

shm::Command add_sa(const config::StaticSa& sa) {
    shm::Command c{};
    c.type = shm::CommandType::AddSa;
    c.sa = shm::to_sa_spec(sa);
    return c;
}

std::string reason(const shm::CommandAck& a) { return std::string(a.reason); }

// The data plane's main lcore, as concentrator-dp runs it: a control pass
// every 100 us on its own thread, held off while the test holds `hold`.
class MainLcore {
public:
    explicit MainLcore(RingDataplane& r)
        : thread_([this, &r] {
              while (!stop_.load()) {
                  {
                      std::lock_guard<std::mutex> lock(hold);
                      r.control_pass();
                  }
                  std::this_thread::sleep_for(std::chrono::microseconds(100));
              }
          }) {}
    ~MainLcore() {
        stop_.store(true);
        thread_.join();
    }
    std::mutex hold;

private:
    std::atomic<bool> stop_{false};
    std::thread thread_;
};

cp::CommandResult::Outcome outcome(const cp::CommandResult& r) { return r.outcome; }

// The headers of the frames punted since the last call (a control plane attached).
std::vector<shm::PuntHeader> take_punts(RingDataplane& r) {
    std::vector<shm::PuntHeader> out;
    rte_mbuf* m;
    while (rte_ring_dequeue(r.dataplane().control.punts, reinterpret_cast<void**>(&m)) == 0) {
        shm::PuntHeader h;
        CPPUNIT_ASSERT(rte_pktmbuf_data_len(m) >= sizeof h);
        std::memcpy(&h, rte_pktmbuf_mtod(m, const void*), sizeof h);
        out.push_back(h);
        rte_pktmbuf_free(m);
    }
    return out;
}

shm::Command move_peer(uint32_t sa, uint32_t address, uint16_t port) {
    shm::Command c{};
    c.type = shm::CommandType::UpdateSaPeer;
    c.index = sa;
    c.peer = {address, port, 0};
    return c;
}

}  // namespace

class ControlLinkTest : public CppUnit::TestFixture {
    CPPUNIT_TEST_SUITE(ControlLinkTest);
    CPPUNIT_TEST(sessions_and_sas_come_and_go_by_command);
    CPPUNIT_TEST(commands_wait_while_the_ack_ring_is_full);
    CPPUNIT_TEST(a_control_plane_takes_only_its_own_acks);
    CPPUNIT_TEST(a_command_given_up_on_is_answered_later);
    CPPUNIT_TEST(a_rekeyed_session_moves_to_its_new_sa_pair);
    CPPUNIT_TEST(the_punt_ring_has_one_consumer_at_a_time);
    CPPUNIT_TEST(a_nat_t_client_that_moves_is_followed);
    CPPUNIT_TEST(no_peer_is_followed_without_anti_replay);
    CPPUNIT_TEST(a_plain_esp_sa_has_no_peer_to_move);
    CPPUNIT_TEST_SUITE_END();

public:
    void sessions_and_sas_come_and_go_by_command() {
        ClientLab lab;
        lab.add_client({});
        CPPUNIT_ASSERT_EQUAL(std::string(), lab.start());
        RingDataplane& r = lab.ring();
        L2tpClient& client = lab.client(0);
        auto up = [&] {
            return lab.upstream({client.upstream_bytes(ipv4_udp(kClientAddress, kCoreHost, 5000, 53, {1, 2, 3}),
                                                       proto::kPppIpv4)})
                .size();
        };
        auto down = [&] { return lab.downstream({ipv4_udp(kCoreHost, kClientAddress, 53, 5000, {4, 5, 6})}).size(); };
        CPPUNIT_ASSERT_EQUAL(size_t{1}, up());

        const uint32_t session = lab.session_index(0);
        const uint32_t sa_in = r.dataplane().sessions.at(session).sa_in;
        const uint32_t sa_out = r.dataplane().sessions.at(session).sa_out;
        // An SA stays while a session uses it.
        shm::CommandAck a = execute(r, command_by_index(shm::CommandType::DeleteSa, sa_in));
        CPPUNIT_ASSERT_EQUAL(shm::CommandStatus::InUse, a.status);
        CPPUNIT_ASSERT_EQUAL(shm::kNoIndex, a.index);
        CPPUNIT_ASSERT(!reason(a).empty());

        a = execute(r, command_by_index(shm::CommandType::DeleteSession, session));
        CPPUNIT_ASSERT_EQUAL_MESSAGE(reason(a), shm::CommandStatus::Ok, a.status);
        CPPUNIT_ASSERT_EQUAL(session, a.index);
        CPPUNIT_ASSERT_EQUAL(shm::CommandStatus::NoSuchEntry,
                             execute(r, command_by_index(shm::CommandType::DeleteSession, session)).status);
        const auto before = lab.counters();
        CPPUNIT_ASSERT_EQUAL(size_t{0}, up());
        CPPUNIT_ASSERT_EQUAL(size_t{0}, down());
        CPPUNIT_ASSERT_EQUAL(before.rx_l2tp_unknown_session_drops + 1, lab.counters().rx_l2tp_unknown_session_drops);
        CPPUNIT_ASSERT_EQUAL(before.tx_no_session_drops + 1, lab.counters().tx_no_session_drops);

        for (uint32_t sa : {sa_in, sa_out}) {
            a = execute(r, command_by_index(shm::CommandType::DeleteSa, sa));
            CPPUNIT_ASSERT_EQUAL_MESSAGE(reason(a), shm::CommandStatus::Ok, a.status);
        }
        CPPUNIT_ASSERT_EQUAL(size_t{0}, up());
        CPPUNIT_ASSERT_EQUAL(before.rx_esp_unknown_spi_drops + 1, lab.counters().rx_esp_unknown_spi_drops);

        // Back again, as a control plane that negotiated them would install them.
        r.poll();  // a quiescent point: the old slots can be reused
        r.control_pass();
        shm::Command bad = add_sa(lab.sa_in(0));
        bad.sa.cipher_key_length = 3;
        a = execute(r, bad);
        CPPUNIT_ASSERT_EQUAL(shm::CommandStatus::BadCommand, a.status);
        CPPUNIT_ASSERT(!reason(a).empty());
        const shm::CommandAck in = execute(r, add_sa(lab.sa_in(0)));
        const shm::CommandAck out = execute(r, add_sa(lab.sa_out(0)));
        CPPUNIT_ASSERT_EQUAL_MESSAGE(reason(in), shm::CommandStatus::Ok, in.status);
        CPPUNIT_ASSERT_EQUAL_MESSAGE(reason(out), shm::CommandStatus::Ok, out.status);
        CPPUNIT_ASSERT_EQUAL(shm::CommandStatus::Duplicate, execute(r, add_sa(lab.sa_in(0))).status);
        shm::Command add_session{};
        add_session.type = shm::CommandType::AddSession;
        add_session.session = shm::to_session_spec(lab.config().l2tp.static_sessions[0], in.index, out.index);
        a = execute(r, add_session);
        CPPUNIT_ASSERT_EQUAL_MESSAGE(reason(a), shm::CommandStatus::Ok, a.status);
        CPPUNIT_ASSERT_EQUAL(shm::CommandStatus::Duplicate, execute(r, add_session).status);
        CPPUNIT_ASSERT_EQUAL(size_t{1}, up());
        CPPUNIT_ASSERT_EQUAL(size_t{1}, down());
        Downstream d;
        std::string why;
        CPPUNIT_ASSERT_MESSAGE(why, client.downstream(lab.access_out()[0].data(), lab.access_out()[0].size(), d, why));
        CPPUNIT_ASSERT_EQUAL(uint32_t{1}, d.seq);  // a new outbound SA starts again at 1

        shm::Command old_version = command_by_index(shm::CommandType::DeleteSession, a.index);
        old_version.version = shm::kContractVersion - 1;
        old_version.sequence = 7;
        CPPUNIT_ASSERT_EQUAL(0, rte_ring_enqueue_elem(r.dataplane().control.commands, &old_version,
                                                      sizeof old_version));
        r.control_pass();
        const auto acks = take_acks(r);
        CPPUNIT_ASSERT_EQUAL(size_t{1}, acks.size());
        CPPUNIT_ASSERT_EQUAL(shm::CommandStatus::BadVersion, acks[0].status);
        CPPUNIT_ASSERT_EQUAL(size_t{1}, up());  // not applied

        // An update keeps an IPv6 session at 1280 bytes or more, as an install does.
        config::StaticSession changed = lab.config().l2tp.static_sessions[0];
        CPPUNIT_ASSERT(changed.client_ipv6_prefix_length);
        shm::Command update{};
        update.type = shm::CommandType::UpdateSession;
        update.index = a.index;
        changed.mtu = 1000;
        update.session = shm::to_session_spec(changed, in.index, out.index);
        const shm::CommandAck small = execute(r, update);
        CPPUNIT_ASSERT_EQUAL(shm::CommandStatus::BadCommand, small.status);
        CPPUNIT_ASSERT_MESSAGE(reason(small), reason(small).find("only 1000-byte packets fit") == 0);
        CPPUNIT_ASSERT_EQUAL(uint16_t{1400}, r.dataplane().sessions.at(a.index).configured_mtu);
        changed.mtu = 1300;
        update.session = shm::to_session_spec(changed, in.index, out.index);
        CPPUNIT_ASSERT_EQUAL(shm::CommandStatus::Ok, execute(r, update).status);
        CPPUNIT_ASSERT_EQUAL(uint16_t{1300}, r.dataplane().sessions.at(a.index).configured_mtu);
    }

    void commands_wait_while_the_ack_ring_is_full() {
        ClientLab lab;
        lab.add_client({});
        CPPUNIT_ASSERT_EQUAL(std::string(), lab.start());
        RingDataplane& r = lab.ring();
        rte_ring* acks = r.dataplane().control.acks;
        // Stale acks an earlier control plane never read, all but 5 places.
        shm::CommandAck stale{};
        stale.sequence = UINT32_MAX;
        while (rte_ring_free_count(acks) > 5) CPPUNIT_ASSERT_EQUAL(0, rte_ring_enqueue_elem(acks, &stale, sizeof stale));
        const uint64_t applied = r.dataplane().control.state->commands_applied.load();

        for (uint32_t i = 0; i < 20; ++i) send(r, command_by_index(shm::CommandType::DeleteSession, 999999), i);
        for (int pass = 0; pass < 3; ++pass) r.control_pass();
        CPPUNIT_ASSERT_EQUAL(applied + 5, r.dataplane().control.state->commands_applied.load());
        CPPUNIT_ASSERT_EQUAL(15u, rte_ring_count(r.dataplane().control.commands));

        auto check = [](const std::vector<shm::CommandAck>& got, uint32_t first, uint32_t count) {
            CPPUNIT_ASSERT_EQUAL(size_t{count}, got.size());
            for (uint32_t i = 0; i < count; ++i) {
                CPPUNIT_ASSERT_EQUAL(first + i, got[i].sequence);
                CPPUNIT_ASSERT_EQUAL(shm::CommandStatus::NoSuchEntry, got[i].status);
            }
        };
        std::vector<shm::CommandAck> got = take_acks(r);
        std::erase_if(got, [](const shm::CommandAck& a) { return a.sequence == UINT32_MAX; });
        check(got, 0, 5);
        r.control_pass();
        check(take_acks(r), 5, 15);
        CPPUNIT_ASSERT_EQUAL(0u, rte_ring_count(r.dataplane().control.commands));
    }

    void a_control_plane_takes_only_its_own_acks() {
        ClientLab lab;
        lab.add_client({});
        CPPUNIT_ASSERT_EQUAL(std::string(), lab.start());
        RingDataplane& r = lab.ring();
        const uint32_t session = lab.session_index(0);
        shm::SharedState& state = *r.dataplane().control.state;
        r.control_pass();  // ready (the state's magic set)

        // A control plane that was killed left two acks unread, numbered as a
        // restarted one numbering from 1 again would number its first commands.
        const uint32_t first = state.next_command_sequence.load();
        CPPUNIT_ASSERT(first >= 1);
        shm::CommandAck left{};
        left.status = shm::CommandStatus::Duplicate;
        left.index = 4242;
        for (uint32_t sequence : {first, first + 1}) {
            left.sequence = sequence;
            CPPUNIT_ASSERT_EQUAL(0, rte_ring_enqueue_elem(r.dataplane().control.acks, &left, sizeof left));
        }
        MainLcore main_lcore(r);
        uint32_t previous = 0;
        for (int incarnation = 0; incarnation < 2; ++incarnation) {
            cp::DataplaneLink link;
            CPPUNIT_ASSERT_EQUAL(std::string(), link.attach(r.dataplane().control.names));
            CPPUNIT_ASSERT(link.alive());
            int32_t holder = 0;
            CPPUNIT_ASSERT(link.claim(holder));
            CPPUNIT_ASSERT_EQUAL(uint64_t{incarnation == 0 ? 2u : 0u}, link.stale_acks());
            // And a command of the predecessor's still in the command ring is
            // applied after this one attached: its ack is not taken for ours.
            {
                std::lock_guard<std::mutex> lock(main_lcore.hold);
                send(r, command_by_index(shm::CommandType::DeleteSession, 999999), first + 1);
            }
            const cp::CommandResult got = link.execute(command_by_index(shm::CommandType::DeleteSa, 999999));
            CPPUNIT_ASSERT_EQUAL(cp::CommandResult::Outcome::Acked, outcome(got));
            CPPUNIT_ASSERT(got.sequence > previous && got.sequence >= first);
            CPPUNIT_ASSERT_EQUAL(got.sequence, got.ack.sequence);
            CPPUNIT_ASSERT_EQUAL(shm::CommandStatus::NoSuchEntry, got.ack.status);
            CPPUNIT_ASSERT_EQUAL(uint64_t{incarnation == 0 ? 3u : 1u}, link.stale_acks());
            previous = got.sequence;
            const cp::CommandResult again = link.execute(command_by_index(shm::CommandType::DeleteSession, session));
            CPPUNIT_ASSERT_EQUAL(cp::CommandResult::Outcome::Acked, outcome(again));
            CPPUNIT_ASSERT_EQUAL(again.sequence, got.sequence + 1);
            CPPUNIT_ASSERT_EQUAL(incarnation == 0 ? shm::CommandStatus::Ok : shm::CommandStatus::NoSuchEntry,
                                 again.ack.status);
            CPPUNIT_ASSERT(link.take_late_acks().empty());
            previous = again.sequence;
            link.release();
        }
        CPPUNIT_ASSERT_EQUAL(previous + 1, state.next_command_sequence.load());
    }

    void a_command_given_up_on_is_answered_later() {
        ClientLab lab;
        lab.add_client({});
        CPPUNIT_ASSERT_EQUAL(std::string(), lab.start());
        RingDataplane& r = lab.ring();
        const uint32_t session = lab.session_index(0);
        r.control_pass();
        MainLcore main_lcore(r);
        cp::DataplaneLink link;
        CPPUNIT_ASSERT_EQUAL(std::string(), link.attach(r.dataplane().control.names));
        int32_t holder = 0;
        CPPUNIT_ASSERT(link.claim(holder));

        cp::CommandResult late, gone;
        {
            // The main lcore busy: the command waits in the ring past the timeout.
            std::lock_guard<std::mutex> lock(main_lcore.hold);
            late = link.execute(command_by_index(shm::CommandType::DeleteSession, session), "the late one", 20);
            CPPUNIT_ASSERT_EQUAL(cp::CommandResult::Outcome::Unanswered, outcome(late));
            CPPUNIT_ASSERT(late.sequence != 0);
            CPPUNIT_ASSERT(link.take_late_acks().empty());

            // A data plane that goes away ends the wait at once, not at the timeout.
            shm::SharedState& state = *r.dataplane().control.state;
            state.magic = 0;
            const auto start = std::chrono::steady_clock::now();
            gone = link.execute(command_by_index(shm::CommandType::DeleteSession, 999999), "the one gone", 5000);
            CPPUNIT_ASSERT_EQUAL(cp::CommandResult::Outcome::DataplaneGone, outcome(gone));
            CPPUNIT_ASSERT(std::chrono::steady_clock::now() - start < std::chrono::seconds(2));
            state.magic = shm::kStateMagic;

            // A full command ring: nothing is sent, and nothing numbered.
            rte_ring* commands = r.dataplane().control.commands;
            shm::Command filler = command_by_index(shm::CommandType::DeleteSession, 999999);
            filler.sequence = 0;
            while (rte_ring_enqueue_elem(commands, &filler, sizeof filler) == 0) {}
            const cp::CommandResult refused =
                link.execute(command_by_index(shm::CommandType::DeleteSession, 1), "the refused one", 10);
            CPPUNIT_ASSERT_EQUAL(cp::CommandResult::Outcome::NotQueued, outcome(refused));
            CPPUNIT_ASSERT_EQUAL(0u, refused.sequence);
            // Only the two commands sent stay, in their order: the fillers go.
            shm::Command sent[2];
            for (shm::Command& c : sent) CPPUNIT_ASSERT_EQUAL(0, rte_ring_dequeue_elem(commands, &c, sizeof c));
            for (shm::Command c; rte_ring_dequeue_elem(commands, &c, sizeof c) == 0;) CPPUNIT_ASSERT_EQUAL(0u, c.sequence);
            for (shm::Command& c : sent) CPPUNIT_ASSERT_EQUAL(0, rte_ring_enqueue_elem(commands, &c, sizeof c));
            CPPUNIT_ASSERT_EQUAL(late.sequence, sent[0].sequence);
            CPPUNIT_ASSERT_EQUAL(gone.sequence, sent[1].sequence);
        }
        // The next command's wait also collects the late answer.
        const cp::CommandResult next = link.execute(command_by_index(shm::CommandType::DeleteSession, session));
        CPPUNIT_ASSERT_EQUAL(cp::CommandResult::Outcome::Acked, outcome(next));
        CPPUNIT_ASSERT_EQUAL(shm::CommandStatus::NoSuchEntry, next.ack.status);  // deleted by the late one
        // Both commands it stopped waiting for were answered after all, in order.
        // Each named as its caller named it.
        const std::vector<cp::LateAck> answers = link.take_late_acks();
        CPPUNIT_ASSERT_EQUAL(size_t{2}, answers.size());
        CPPUNIT_ASSERT_EQUAL(late.sequence, answers[0].ack.sequence);
        CPPUNIT_ASSERT_EQUAL(std::string("the late one"), answers[0].what);
        CPPUNIT_ASSERT_EQUAL(shm::CommandStatus::Ok, answers[0].ack.status);
        CPPUNIT_ASSERT_EQUAL(session, answers[0].ack.index);
        CPPUNIT_ASSERT_EQUAL(gone.sequence, answers[1].ack.sequence);
        CPPUNIT_ASSERT_EQUAL(std::string("the one gone"), answers[1].what);
        CPPUNIT_ASSERT_EQUAL(shm::CommandStatus::NoSuchEntry, answers[1].ack.status);
        CPPUNIT_ASSERT_EQUAL(uint64_t{0}, link.stale_acks());
        CPPUNIT_ASSERT(link.take_late_acks().empty());
        link.release();
    }

    // Quick Mode rekeys: a session takes a new SA pair by UpdateSession.
    // Downstream goes out on the new outbound SA at once; upstream is taken
    // on the new inbound SA and, until it is deleted, on the old one (the
    // client's packets in flight); a second rekey lets the oldest go.
    void a_rekeyed_session_moves_to_its_new_sa_pair() {
        ClientLab lab;
        lab.add_client({});
        CPPUNIT_ASSERT_EQUAL(std::string(), lab.start());
        RingDataplane& r = lab.ring();
        const uint32_t session = lab.session_index(0);
        const config::StaticSession session_config = lab.config().l2tp.static_sessions[0];
        const uint32_t access = lab.config().dataplane.access.address;
        // The client's SA pairs: the first from the lab, then one per rekey.
        std::vector<std::unique_ptr<L2tpClient>> pairs;
        std::vector<std::pair<uint32_t, uint32_t>> indices;  // the data plane's (in, out)
        indices.emplace_back(r.dataplane().sessions.at(session).sa_in, r.dataplane().sessions.at(session).sa_out);
        auto new_pair = [&](unsigned n) {
            auto in = make_sa("in-rekey" + std::to_string(n), config::SaDirection::Inbound, 0x1100 + n,
                              proto::EspCipher::AesGcm128, proto::EspIntegrity::None, kClientPublic, true, 40 + n);
            auto out = make_sa("out-rekey" + std::to_string(n), config::SaDirection::Outbound, 0x2100 + n,
                               proto::EspCipher::AesGcm128, proto::EspIntegrity::None, kClientPublic, true, 60 + n);
            in.peer_port = out.peer_port = 4500;
            const shm::CommandAck a = execute(r, add_sa(in)), b = execute(r, add_sa(out));
            CPPUNIT_ASSERT_EQUAL_MESSAGE(reason(a), shm::CommandStatus::Ok, a.status);
            CPPUNIT_ASSERT_EQUAL_MESSAGE(reason(b), shm::CommandStatus::Ok, b.status);
            pairs.push_back(std::make_unique<L2tpClient>(in, out, session_config, access));
            indices.emplace_back(a.index, b.index);
        };
        auto rekey_to = [&](unsigned n) {
            shm::Command update{};
            update.type = shm::CommandType::UpdateSession;
            update.index = session;
            update.session = shm::to_session_spec(session_config, indices[n].first, indices[n].second);
            return execute(r, update);
        };
        auto client = [&](unsigned n) -> L2tpClient& { return n == 0 ? lab.client(0) : *pairs[n - 1]; };
        auto up = [&](unsigned n) {
            return lab.upstream({client(n).upstream_bytes(ipv4_udp(kClientAddress, kCoreHost, 5000, 53, {1, 2}),
                                                          proto::kPppIpv4)})
                .size();
        };
        // Which pair a downstream packet was encrypted for (its SPI), 0 if none arrived.
        auto down_spi = [&]() -> uint32_t {
            const auto out = lab.downstream({ipv4_udp(kCoreHost, kClientAddress, 53, 5000, {3})});
            if (out.size() != 1) return 0;
            for (unsigned n = 0; n < indices.size(); ++n) {
                Downstream d;
                std::string why;
                if (client(n).downstream(out[0].data(), out[0].size(), d, why)) return d.spi;
            }
            return 0;
        };
        auto users = [&](uint32_t sa) { return r.dataplane().sas.users(sa); };
        CPPUNIT_ASSERT_EQUAL(size_t{1}, up(0));
        CPPUNIT_ASSERT_EQUAL(uint32_t{0x2000}, down_spi());

        new_pair(1);
        // A rekey to SAs of the wrong direction is refused and changes nothing.
        shm::Command wrong{};
        wrong.type = shm::CommandType::UpdateSession;
        wrong.index = session;
        wrong.session = shm::to_session_spec(session_config, indices[1].second, indices[1].first);
        CPPUNIT_ASSERT_EQUAL(shm::CommandStatus::NoSuchEntry, execute(r, wrong).status);
        CPPUNIT_ASSERT_EQUAL(uint32_t{0x2000}, down_spi());

        CPPUNIT_ASSERT_EQUAL(shm::CommandStatus::Ok, rekey_to(1).status);
        CPPUNIT_ASSERT_EQUAL(uint32_t{0x2101}, down_spi());
        CPPUNIT_ASSERT_EQUAL(size_t{1}, up(1));
        CPPUNIT_ASSERT_EQUAL(size_t{1}, up(0));  // in flight on the old SA: still taken
        CPPUNIT_ASSERT_EQUAL(uint64_t{3}, r.dataplane().sessions.at(session).counters.rx_packets);  // one session throughout
        CPPUNIT_ASSERT_EQUAL(0u, users(indices[0].second));
        CPPUNIT_ASSERT_EQUAL(1u, users(indices[0].first));
        // The new inbound SA went to the old one's worker.
        CPPUNIT_ASSERT_EQUAL(r.dataplane().sas.at(indices[0].first).inbound.owner,
                             r.dataplane().sas.at(indices[1].first).inbound.owner);
        // A second session (another call in the tunnel) still on the old pair:
        // deleting the old inbound SA is refused, and the first session keeps it too.
        config::StaticSession second = session_config;
        second.name = "second";
        second.session_id = 201;
        second.client_ipv4 = kClientAddress + 1;
        second.client_ipv6_prefix_length = 0;
        shm::Command add_second{};
        add_second.type = shm::CommandType::AddSession;
        add_second.session = shm::to_session_spec(second, indices[0].first, indices[1].second);
        const shm::CommandAck second_ack = execute(r, add_second);
        CPPUNIT_ASSERT_EQUAL_MESSAGE(reason(second_ack), shm::CommandStatus::Ok, second_ack.status);
        CPPUNIT_ASSERT_EQUAL(shm::CommandStatus::InUse,
                             execute(r, command_by_index(shm::CommandType::DeleteSa, indices[0].first)).status);
        CPPUNIT_ASSERT_EQUAL(size_t{1}, up(0));
        CPPUNIT_ASSERT_EQUAL(indices[0].first, r.dataplane().sessions.at(session).previous_sa_in);
        CPPUNIT_ASSERT_EQUAL(shm::CommandStatus::Ok,
                             execute(r, command_by_index(shm::CommandType::DeleteSession, second_ack.index)).status);
        // The old outbound SA goes at once; the old inbound one when the control plane deletes it.
        CPPUNIT_ASSERT_EQUAL(shm::CommandStatus::Ok,
                             execute(r, command_by_index(shm::CommandType::DeleteSa, indices[0].second)).status);
        CPPUNIT_ASSERT_EQUAL(shm::CommandStatus::Ok,
                             execute(r, command_by_index(shm::CommandType::DeleteSa, indices[0].first)).status);
        CPPUNIT_ASSERT_EQUAL(size_t{0}, up(0));
        CPPUNIT_ASSERT_EQUAL(size_t{1}, up(1));
        CPPUNIT_ASSERT_EQUAL(dp::kNoPreviousSa, r.dataplane().sessions.at(session).previous_sa_in);

        // Twice before the old inbound SA is deleted: the oldest is let go.
        new_pair(2);
        new_pair(3);
        CPPUNIT_ASSERT_EQUAL(shm::CommandStatus::Ok, rekey_to(2).status);
        CPPUNIT_ASSERT_EQUAL(shm::CommandStatus::Ok, rekey_to(3).status);
        CPPUNIT_ASSERT_EQUAL(uint32_t{0x2103}, down_spi());
        const uint64_t unknown_before = lab.counters().rx_l2tp_unknown_session_drops;
        CPPUNIT_ASSERT_EQUAL(size_t{0}, up(1));
        CPPUNIT_ASSERT_EQUAL(unknown_before + 1, lab.counters().rx_l2tp_unknown_session_drops);
        CPPUNIT_ASSERT_EQUAL(size_t{1}, up(2));
        CPPUNIT_ASSERT_EQUAL(size_t{1}, up(3));
        CPPUNIT_ASSERT_EQUAL(0u, users(indices[1].first));
        CPPUNIT_ASSERT_EQUAL(1u, users(indices[2].first));
        // Deleting the session lets go of its previous SA too.
        CPPUNIT_ASSERT_EQUAL(shm::CommandStatus::Ok,
                             execute(r, command_by_index(shm::CommandType::DeleteSession, session)).status);
        for (uint32_t sa : {indices[1].first, indices[2].first, indices[3].first}) CPPUNIT_ASSERT_EQUAL(0u, users(sa));
    }

    // The punt ring has a single consumer. The data plane frees what a dead
    // control plane left only while it holds the ring itself, a new control
    // plane's claim waits for that, and a ring a new one took over first is
    // left to it.
    void the_punt_ring_has_one_consumer_at_a_time() {
        ClientLab lab;
        lab.add_client({});
        CPPUNIT_ASSERT_EQUAL(std::string(), lab.start());
        RingDataplane& r = lab.ring();
        r.control_pass();
        std::atomic<int32_t>& holder = r.dataplane().control.state->controlplane_pid;
        rte_ring* punts = r.dataplane().control.punts;
        const pid_t child = fork();
        if (child == 0) _exit(0);
        CPPUNIT_ASSERT(child > 0);
        CPPUNIT_ASSERT_EQUAL(child, waitpid(child, nullptr, 0));
        const int32_t dead = child;
        auto leave_punt = [&] {
            rte_mbuf* m = rte_pktmbuf_alloc(r.pool());
            CPPUNIT_ASSERT(m);
            CPPUNIT_ASSERT_EQUAL(0, rte_ring_enqueue(punts, m));
        };
        auto checked_pass = [&] {  // the main lcore's look at the control plane, due now
            r.dataplane().control.next_publish = 0;
            r.control_pass();
        };

        // A dead holder's punts are freed, and the ring is free again.
        holder.store(dead);
        leave_punt();
        checked_pass();
        CPPUNIT_ASSERT_EQUAL(0u, rte_ring_count(punts));
        CPPUNIT_ASSERT_EQUAL(int32_t{0}, holder.load());

        // A new control plane that replaced the dead one first keeps the
        // ring and what is in it.
        cp::DataplaneLink link;
        CPPUNIT_ASSERT_EQUAL(std::string(), link.attach(r.dataplane().control.names));
        holder.store(dead);
        leave_punt();
        int32_t other = 0;
        CPPUNIT_ASSERT(link.claim(other));
        checked_pass();
        CPPUNIT_ASSERT_EQUAL(int32_t(getpid()), holder.load());
        rte_mbuf* got[4];
        CPPUNIT_ASSERT_EQUAL(1u, link.receive_punts(got, 4));
        cp::DataplaneLink::free_frame(got[0]);
        // Its release frees what is left and ends with the ring free.
        leave_punt();
        link.release();
        CPPUNIT_ASSERT_EQUAL(0u, rte_ring_count(punts));
        CPPUNIT_ASSERT_EQUAL(int32_t{0}, holder.load());

        // While a live process drains the ring a claim waits, then succeeds.
        const int32_t draining = shm::draining_pid(getppid());
        holder.store(draining);
        std::thread drained([&] {
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
            holder.store(0);
        });
        const auto start = std::chrono::steady_clock::now();
        const bool claimed = link.claim(other);
        const auto waited = std::chrono::steady_clock::now() - start;
        drained.join();
        CPPUNIT_ASSERT(claimed);
        CPPUNIT_ASSERT(waited >= std::chrono::milliseconds(40));
        CPPUNIT_ASSERT_EQUAL(int32_t(getpid()), holder.load());
        link.release();
        // A ring that stays held that way is not taken.
        holder.store(draining);
        CPPUNIT_ASSERT(!link.claim(other));
        CPPUNIT_ASSERT_EQUAL(draining, other);
        // One whose drainer died at it is not held by anyone: the data plane
        // empties it, and a claim takes it at once.
        holder.store(shm::draining_pid(dead));
        leave_punt();
        checked_pass();
        CPPUNIT_ASSERT_EQUAL(0u, rte_ring_count(punts));
        CPPUNIT_ASSERT_EQUAL(int32_t{0}, holder.load());
        holder.store(shm::draining_pid(dead));
        const auto before = std::chrono::steady_clock::now();
        CPPUNIT_ASSERT(link.claim(other));
        CPPUNIT_ASSERT(std::chrono::steady_clock::now() - before < std::chrono::milliseconds(500));
        CPPUNIT_ASSERT_EQUAL(int32_t(getpid()), holder.load());
        link.release();
    }

    void a_nat_t_client_that_moves_is_followed() {
        // Two clients behind one NAT address; the first gets a new mapping.
        ClientLab lab;
        ClientSpec second;
        second.nat_port = 4501;
        second.address = kClientAddress + 1;
        second.ipv6_index = 2;
        second.tunnel_id = 101;
        lab.add_client({});
        lab.add_client(second);
        CPPUNIT_ASSERT_EQUAL(std::string(), lab.start());
        RingDataplane& r = lab.ring();
        r.dataplane().control.state->controlplane_pid.store(getpid());  // as if concentrator-cp were attached
        r.dataplane().peer_report_interval_ms = 0;  // every move at once (the limit: below)
        L2tpClient& client = lab.client(0);
        const uint32_t session = lab.session_index(0);
        const uint32_t sa_in = r.dataplane().sessions.at(session).sa_in;
        const uint32_t sa_out = r.dataplane().sessions.at(session).sa_out;
        const auto inner = ipv4_udp(kClientAddress, kCoreHost, 5000, 53, {1, 2, 3});
        auto up = [&](uint32_t seq = 0) {
            return lab.upstream({client.upstream_bytes(inner, proto::kPppIpv4, {}, seq)}).size();
        };
        // Where the data plane sends client c's downstream: its outer address and UDP port.
        auto down_to = [&](unsigned c) {
            const auto out = lab.downstream({ipv4_udp(kCoreHost, c ? kClientAddress + 1 : kClientAddress, 53, 5000, {4})});
            CPPUNIT_ASSERT_EQUAL(size_t{1}, out.size());
            Downstream d;
            std::string why;
            CPPUNIT_ASSERT_MESSAGE(why, lab.client(c).downstream(out[0].data(), out[0].size(), d, why));
            return std::make_pair(d.outer_destination, d.udp_destination);
        };
        CPPUNIT_ASSERT_EQUAL(size_t{1}, up());
        CPPUNIT_ASSERT(take_punts(r).empty());

        // The NAT's new port for the first client: its traffic still flows, and the control plane hears once.
        client.set_peer_port(6000);
        CPPUNIT_ASSERT_EQUAL(size_t{1}, up(10));
        CPPUNIT_ASSERT_EQUAL(size_t{1}, up(11));
        std::vector<shm::PuntHeader> punts = take_punts(r);
        CPPUNIT_ASSERT_EQUAL(size_t{1}, punts.size());
        CPPUNIT_ASSERT_EQUAL(shm::PuntKind::PeerMoved, punts[0].kind);
        CPPUNIT_ASSERT_EQUAL(htonl(kClientPublic), punts[0].outer_source);
        CPPUNIT_ASSERT_EQUAL(htons(6000), punts[0].outer_source_port);
        CPPUNIT_ASSERT_EQUAL(htons(4500), punts[0].outer_destination_port);
        CPPUNIT_ASSERT_EQUAL(sa_in, punts[0].sa_index);
        CPPUNIT_ASSERT_EQUAL(session, punts[0].session_index);
        CPPUNIT_ASSERT_EQUAL(uint16_t{0}, punts[0].payload_length);
        const uint32_t spi = r.dataplane().sas.at(sa_in).spi;
        CPPUNIT_ASSERT_EQUAL(spi, uint32_t{punts[0].tunnel_id} << 16 | punts[0].session_id);
        CPPUNIT_ASSERT_EQUAL(uint64_t{1}, lab.counters().rx_esp_peer_moves);

        // Not the newest (an older packet, delayed) or not authentic: nothing moves.
        client.set_peer_port(7000);
        CPPUNIT_ASSERT_EQUAL(size_t{1}, up(5));
        std::vector<uint8_t> forged = client.upstream_bytes(inner, proto::kPppIpv4, {}, 12);
        forged.back() ^= 1;
        CPPUNIT_ASSERT_EQUAL(size_t{0}, lab.upstream({forged}).size());
        CPPUNIT_ASSERT(take_punts(r).empty());
        CPPUNIT_ASSERT_EQUAL(uint64_t{1}, lab.counters().rx_esp_peer_moves);
        CPPUNIT_ASSERT_EQUAL(uint64_t{1}, lab.counters().rx_esp_auth_drops);

        // Until the control plane moves the pair, downstream goes where it went.
        CPPUNIT_ASSERT(down_to(0) == std::make_pair(kClientPublic, uint16_t{4500}));
        for (uint32_t sa : {sa_in, sa_out}) {
            const shm::CommandAck a = execute(r, move_peer(sa, kClientPublic, 6000));
            CPPUNIT_ASSERT_EQUAL_MESSAGE(reason(a), shm::CommandStatus::Ok, a.status);
        }
        CPPUNIT_ASSERT(down_to(0) == std::make_pair(kClientPublic, uint16_t{6000}));
        CPPUNIT_ASSERT(down_to(1) == std::make_pair(kClientPublic, uint16_t{4501}));  // the other one stays
        CPPUNIT_ASSERT_EQUAL(6000u, unsigned{r.dataplane().control.published_sas[sa_out].peer_port});
        client.set_peer_port(6000);
        CPPUNIT_ASSERT_EQUAL(size_t{1}, up(13));
        CPPUNIT_ASSERT(take_punts(r).empty());  // it is where the SA says

        // A new public address as well (a CGNAT pool), and the way back to an old mapping.
        client.set_public_address(kClientPublic + 1);
        CPPUNIT_ASSERT_EQUAL(size_t{1}, up(14));
        client.set_public_address(kClientPublic);
        client.set_peer_port(4500);
        CPPUNIT_ASSERT_EQUAL(size_t{1}, up(15));
        punts = take_punts(r);
        CPPUNIT_ASSERT_EQUAL(size_t{2}, punts.size());
        CPPUNIT_ASSERT_EQUAL(htonl(kClientPublic + 1), punts[0].outer_source);
        CPPUNIT_ASSERT_EQUAL(htons(6000), punts[0].outer_source_port);
        CPPUNIT_ASSERT_EQUAL(htonl(kClientPublic), punts[1].outer_source);
        CPPUNIT_ASSERT_EQUAL(htons(4500), punts[1].outer_source_port);
        CPPUNIT_ASSERT_EQUAL(uint64_t{3}, lab.counters().rx_esp_peer_moves);

        // A client flapping between two mappings is reported at most every 100 ms.
        r.dataplane().peer_report_interval_ms = 100;
        std::this_thread::sleep_for(std::chrono::milliseconds(120));  // since the last report
        client.set_peer_port(6001);
        CPPUNIT_ASSERT_EQUAL(size_t{1}, up(16));
        client.set_peer_port(6002);
        CPPUNIT_ASSERT_EQUAL(size_t{1}, up(17));  // held back: 6001 was reported just now
        punts = take_punts(r);
        CPPUNIT_ASSERT_EQUAL(size_t{1}, punts.size());
        CPPUNIT_ASSERT_EQUAL(htons(6001), punts[0].outer_source_port);
        std::this_thread::sleep_for(std::chrono::milliseconds(120));
        CPPUNIT_ASSERT_EQUAL(size_t{1}, up(18));
        punts = take_punts(r);
        CPPUNIT_ASSERT_EQUAL(size_t{1}, punts.size());
        CPPUNIT_ASSERT_EQUAL(htons(6002), punts[0].outer_source_port);
        CPPUNIT_ASSERT_EQUAL(uint64_t{5}, lab.counters().rx_esp_peer_moves);
        // That report went nowhere (the SA did not move): it is made again later.
        r.dataplane().peer_report_retry_ms = 110;
        CPPUNIT_ASSERT_EQUAL(size_t{1}, up(19));
        CPPUNIT_ASSERT(take_punts(r).empty());
        std::this_thread::sleep_for(std::chrono::milliseconds(120));
        CPPUNIT_ASSERT_EQUAL(size_t{1}, up(20));
        punts = take_punts(r);
        CPPUNIT_ASSERT_EQUAL(size_t{1}, punts.size());
        CPPUNIT_ASSERT_EQUAL(htons(6002), punts[0].outer_source_port);

        // What the command refuses.
        CPPUNIT_ASSERT_EQUAL(shm::CommandStatus::NoSuchEntry, execute(r, move_peer(999999, kClientPublic, 1)).status);
        CPPUNIT_ASSERT_EQUAL(shm::CommandStatus::BadCommand, execute(r, move_peer(sa_out, kClientPublic, 0)).status);
        CPPUNIT_ASSERT_EQUAL(shm::CommandStatus::BadCommand, execute(r, move_peer(sa_out, 0, 6000)).status);
        // Not one host, or ourselves: the outer header that named it is not authenticated.
        for (uint32_t not_a_peer : {0xFFFFFFFFu, 0xE0000001u, 0x7F000001u, 0xF0000001u, 0xC6336401u /* ours */}) {
            const shm::CommandAck a = execute(r, move_peer(sa_out, not_a_peer, 6000));
            CPPUNIT_ASSERT_EQUAL_MESSAGE(reason(a), shm::CommandStatus::BadCommand, a.status);
        }
        r.dataplane().control.state->controlplane_pid.store(0);
    }

    // Without anti-replay a captured packet replayed from anywhere would look
    // like the newest: nothing is followed then.
    void no_peer_is_followed_without_anti_replay() {
        ClientLab lab;
        lab.add_client({});
        lab.config().ipsec.replay_window = 0;
        CPPUNIT_ASSERT_EQUAL(std::string(), lab.start());
        RingDataplane& r = lab.ring();
        r.dataplane().control.state->controlplane_pid.store(getpid());
        r.dataplane().peer_report_interval_ms = 0;
        lab.client(0).set_peer_port(6000);
        const auto inner = ipv4_udp(kClientAddress, kCoreHost, 5000, 53, {1});
        CPPUNIT_ASSERT_EQUAL(size_t{2}, lab.upstream({lab.client(0).upstream_bytes(inner, proto::kPppIpv4),
                                                      lab.client(0).upstream_bytes(inner, proto::kPppIpv4)}).size());
        CPPUNIT_ASSERT(take_punts(r).empty());
        CPPUNIT_ASSERT_EQUAL(uint64_t{0}, lab.counters().rx_esp_peer_moves);
        r.dataplane().control.state->controlplane_pid.store(0);
    }

    void a_plain_esp_sa_has_no_peer_to_move() {
        ClientLab lab;
        ClientSpec plain;
        plain.udp_encap = false;
        lab.add_client(plain);
        CPPUNIT_ASSERT_EQUAL(std::string(), lab.start());
        RingDataplane& r = lab.ring();
        const uint32_t sa_out = r.dataplane().sessions.at(lab.session_index(0)).sa_out;
        const shm::CommandAck a = execute(r, move_peer(sa_out, kClientPublic, 6000));
        CPPUNIT_ASSERT_EQUAL(shm::CommandStatus::BadCommand, a.status);
        CPPUNIT_ASSERT(!reason(a).empty());
    }
};

CPPUNIT_TEST_SUITE_REGISTRATION(ControlLinkTest);

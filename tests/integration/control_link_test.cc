// The data plane's end of the command and ack rings, driven as
// concentrator-cp drives them: a client's session and SAs taken away and put
// back by commands while its traffic stops and starts again, each command
// answered by one ack with its sequence and the reason for a refusal; and no
// ack is ever lost when the control plane stops reading them.
#include <cppunit/extensions/HelperMacros.h>

#include <cstring>
#include <string>
#include <vector>

#include "common/proto/l2tp.h"
#include "common/shm/messages.h"
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

}  // namespace

class ControlLinkTest : public CppUnit::TestFixture {
    CPPUNIT_TEST_SUITE(ControlLinkTest);
    CPPUNIT_TEST(sessions_and_sas_come_and_go_by_command);
    CPPUNIT_TEST(commands_wait_while_the_ack_ring_is_full);
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
};

CPPUNIT_TEST_SUITE_REGISTRATION(ControlLinkTest);

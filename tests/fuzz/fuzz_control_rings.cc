// libFuzzer target: whatever a control plane puts on the command and inject
// rings (common/shm/contract.h) is applied and acknowledged, refused with a
// reason, or dropped and counted: never a crash, a leak of mbufs, a lost ack
// or a table that cannot be emptied again.
//
// The input is records: an op byte, a little-endian u16 length, that many
// bytes. Op bit 0: 0 a command (the bytes fill shm::Command from its type
// on), 1 an intent (the bytes are an shm::InjectHeader and its payload).
// Bit 1 makes the version a wrong one (otherwise kContractVersion), bit 2
// keeps an intent's payload_length (otherwise the real one), bit 3 points the
// indices a record names at entries that exist (a new session's SAs, an
// intent's SA and session: static or this input's; what a delete or update
// names: this input's).
// What an input adds it deletes again at its end, and the static entries are
// never deleted or updated, so every input meets the same tables.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <vector>

#include <rte_mbuf.h>

#include "common/shm/contract.h"
#include "dataplane/control.h"
#include "dataplane/dataplane.h"
#include "tests/fuzz/fuzz_sas.h"
#include "tests/support/ring_dataplane.h"

using namespace conc;

namespace {

test::RingDataplane* g_dataplane = nullptr;
std::vector<uint32_t> g_static_sas, g_static_sessions;
uint32_t g_sequence = 0;
bool g_verbose = false;  // FUZZ_VERBOSE=1: every command's ack and every intent's fate on stderr

constexpr size_t kCommandBody = sizeof(shm::Command) - offsetof(shm::Command, type);
static_assert(offsetof(shm::Command, type) == 8, "tests/fuzz/make_corpus.py writes commands with this layout");
static_assert(sizeof(shm::Command) == 180 && sizeof(shm::InjectHeader) == 28,
              "tests/fuzz/make_corpus.py writes commands and intents with this layout");

struct Tables {
    std::vector<uint32_t> sas, sessions;  // added by this input and not deleted yet
};

bool contains(const std::vector<uint32_t>& v, uint32_t x) { return std::find(v.begin(), v.end(), x) != v.end(); }

// An index that exists (static or this input's) picked by raw, if any does.
uint32_t existing(const std::vector<uint32_t>& fixed, const std::vector<uint32_t>& own, uint32_t raw) {
    const size_t n = fixed.size() + own.size();
    if (n == 0) return raw;
    const size_t i = raw % n;
    return i < fixed.size() ? fixed[i] : own[i - fixed.size()];
}

// Static entries stay: a delete or update that names one names one of this
// input's instead, or nothing.
uint32_t own_only(const std::vector<uint32_t>& fixed, const std::vector<uint32_t>& own, uint32_t index) {
    if (!contains(fixed, index)) return index;
    return own.empty() ? shm::kNoIndex : own[index % own.size()];
}

// kContractVersion, or with op bit 1 one of the others.
uint32_t version_for(uint8_t op) { return (op & 2) ? shm::kContractVersion + 1u + (op >> 4) : shm::kContractVersion; }

void drain_all() {
    fuzz::drain_ports(*g_dataplane);
    rte_mbuf* m[64];
    rte_ring* punts = g_dataplane->dataplane().control.punts;
    for (unsigned n; (n = rte_ring_dequeue_burst(punts, reinterpret_cast<void**>(m), 64, nullptr)) > 0;)
        rte_pktmbuf_free_bulk(m, n);
}

// Every command gets exactly one ack, in order; an Ok one's index is noted.
void apply(shm::Command c, Tables& t) {
    c.sequence = ++g_sequence;
    if (rte_ring_enqueue_elem(g_dataplane->dataplane().control.commands, &c, sizeof c) != 0) std::abort();
    g_dataplane->control_pass();
    shm::CommandAck ack;
    if (rte_ring_dequeue_elem(g_dataplane->dataplane().control.acks, &ack, sizeof ack) != 0 ||
        ack.sequence != c.sequence || rte_ring_count(g_dataplane->dataplane().control.acks) != 0) {
        std::fprintf(stderr, "command %u: no ack, or not its own\n", c.sequence);
        std::abort();
    }
    if (g_verbose)
        std::fprintf(stderr, "command type %u index %u: %s %u %s\n", static_cast<unsigned>(c.type), c.index,
                     shm::command_status_name(ack.status), ack.index, ack.reason);
    if (ack.status != shm::CommandStatus::Ok || c.version != shm::kContractVersion) return;
    switch (c.type) {
        case shm::CommandType::AddSa: t.sas.push_back(ack.index); break;
        case shm::CommandType::AddSession: t.sessions.push_back(ack.index); break;
        case shm::CommandType::DeleteSa: std::erase(t.sas, c.index); break;
        case shm::CommandType::DeleteSession: std::erase(t.sessions, c.index); break;
        case shm::CommandType::UpdateSession:
        case shm::CommandType::UpdateSaPeer: break;
    }
}

void command_record(uint8_t op, const uint8_t* p, size_t len, Tables& t) {
    shm::Command c{};
    std::memcpy(reinterpret_cast<uint8_t*>(&c) + offsetof(shm::Command, type), p, std::min(len, kCommandBody));
    c.version = version_for(op);
    const bool session_spec = c.type == shm::CommandType::AddSession || c.type == shm::CommandType::UpdateSession;
    if ((op & 8) && session_spec) {
        c.session.sa_in = existing(g_static_sas, t.sas, c.session.sa_in);
        c.session.sa_out = existing(g_static_sas, t.sas, c.session.sa_out);
    }
    const bool sa = c.type == shm::CommandType::DeleteSa || c.type == shm::CommandType::UpdateSaPeer;
    if (sa || c.type == shm::CommandType::DeleteSession || c.type == shm::CommandType::UpdateSession) {
        const std::vector<uint32_t>& fixed = sa ? g_static_sas : g_static_sessions;
        const std::vector<uint32_t>& own = sa ? t.sas : t.sessions;
        if ((op & 8) && !own.empty()) c.index = own[c.index % own.size()];
        c.index = own_only(fixed, own, c.index);
    }
    apply(c, t);
}

void inject_record(uint8_t op, const uint8_t* p, size_t len, const Tables& t) {
    rte_mbuf* m = rte_pktmbuf_alloc(g_dataplane->pool());
    if (!m) std::abort();  // a leak of mbufs shows here
    len = std::min<size_t>(len, rte_pktmbuf_tailroom(m));
    uint8_t* data = reinterpret_cast<uint8_t*>(rte_pktmbuf_append(m, static_cast<uint16_t>(len)));
    std::memcpy(data, p, len);
    if (len >= sizeof(shm::InjectHeader)) {
        shm::InjectHeader h;
        std::memcpy(&h, data, sizeof h);
        h.version = static_cast<uint16_t>(version_for(op));
        if (!(op & 4)) h.payload_length = static_cast<uint16_t>(len - sizeof h);
        if (op & 8) {
            h.sa_out = existing(g_static_sas, t.sas, h.sa_out);
            h.session_index = existing(g_static_sessions, t.sessions, h.session_index);
        }
        std::memcpy(data, &h, sizeof h);
    }
    const uint64_t sent = g_verbose ? g_dataplane->counters().inject_packets : 0;
    if (rte_ring_enqueue(g_dataplane->dataplane().control.injects, m) != 0) std::abort();
    g_dataplane->poll();
    if (g_verbose)
        std::fprintf(stderr, "intent of %zu bytes: %s\n", len,
                     g_dataplane->counters().inject_packets > sent ? "sent" : "dropped");
}

// The input's own entries go, sessions first; each delete must succeed.
void remove_own(Tables& t) {
    while (!t.sessions.empty()) {
        const uint32_t index = t.sessions.back();
        apply(test::command_by_index(shm::CommandType::DeleteSession, index), t);
        if (contains(t.sessions, index)) std::fprintf(stderr, "session %u: cannot be deleted\n", index), std::abort();
    }
    while (!t.sas.empty()) {
        const uint32_t index = t.sas.back();
        apply(test::command_by_index(shm::CommandType::DeleteSa, index), t);
        if (contains(t.sas, index)) std::fprintf(stderr, "SA %u: cannot be deleted\n", index), std::abort();
    }
    // Removed entries' slots come back after the workers pass a quiescent point.
    for (int i = 0; i < 3; ++i) {
        g_dataplane->poll();
        g_dataplane->control_pass();
    }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
    g_dataplane = fuzz::start_dataplane();
    g_verbose = std::getenv("FUZZ_VERBOSE") != nullptr;
    const dp::Dataplane& d = g_dataplane->dataplane();
    for (uint32_t i = 0; i < d.sas.high_water(); ++i)
        if (d.sas.valid(i)) g_static_sas.push_back(i);
    for (uint32_t i = 0; i < d.sessions.high_water(); ++i)
        if (d.sessions.valid(i)) g_static_sessions.push_back(i);
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size > 4096) return 0;
    Tables t;
    for (size_t at = 0; at + 3 <= size;) {
        const uint8_t op = data[at];
        const size_t len = std::min<size_t>(data[at + 1] | data[at + 2] << 8, size - at - 3);
        const uint8_t* p = data + at + 3;
        if (op & 1) inject_record(op, p, len, t);
        else command_record(op, p, len, t);
        drain_all();
        at += 3 + len;
    }
    remove_own(t);
    drain_all();
    const dp::Dataplane& d = g_dataplane->dataplane();
    if (d.sas.size() != g_static_sas.size() || d.sessions.size() != g_static_sessions.size()) {
        std::fprintf(stderr, "tables not back to the static entries: %u SAs, %u sessions\n", d.sas.size(),
                     d.sessions.size());
        std::abort();
    }
    return 0;
}

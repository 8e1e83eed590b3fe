#include "dataplane/control.h"

#include <arpa/inet.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <ctime>

#include <rte_cycles.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_malloc.h>

#include "common/proto/ipv4.h"
#include "common/shm/messages.h"
#include "dataplane/dataplane.h"
#include "dataplane/worker.h"

namespace conc::dp {

namespace {

const rte_memzone* reserve_zone(const std::string& name, size_t size) {
    return rte_memzone_reserve_aligned(name.c_str(), size, rte_socket_id(), RTE_MEMZONE_SIZE_HINT_ONLY, 64);
}

// What changes per packet: copied at every publish, and with the identity.
void publish_sa_counters(const SecurityAssociation& sa, shm::PublishedSa& p) {
    const SaCounters totals = sa.counter_totals();
    p.packets = totals.packets;
    p.bytes = totals.bytes;
    p.next_sequence = sa.direction == config::SaDirection::Outbound ? sa.next_sequence_relaxed() : 0;
}

void publish_session_counters(const Session& s, shm::PublishedSession& p) {
    p.rx_packets = s.counters.rx_packets;
    p.rx_bytes = s.counters.rx_bytes;
    const PacketCounters tx = s.tx_totals();
    p.tx_packets = tx.packets;
    p.tx_bytes = tx.bytes;
    p.spoof_drops = s.counters.spoof_drops;
}

// Frees every mbuf left in a ring no one else reads any more.
void free_ring_contents(rte_ring* ring) {
    if (!ring) return;
    rte_mbuf* left[64];
    for (unsigned n; (n = rte_ring_dequeue_burst(ring, reinterpret_cast<void**>(left), 64, nullptr));)
        rte_pktmbuf_free_bulk(left, n);
}

void publish_sa(Dataplane& dp, uint32_t index) {
    shm::PublishedSa& p = dp.control.published_sas[index];
    const SecurityAssociation& sa = dp.sas.at(index);
    p.spi = sa.spi;
    p.direction = static_cast<uint8_t>(sa.direction);
    p.cipher = static_cast<uint8_t>(sa.cipher);
    p.integrity = static_cast<uint8_t>(sa.integrity);
    p.udp_encap = sa.udp_encap;
    p.local_address = ntohl(sa.local_address);
    const SecurityAssociation::PeerEndpoint peer = sa.peer();
    p.peer_address = ntohl(peer.address);
    p.local_port = ntohs(sa.local_port);
    p.peer_port = ntohs(peer.port);
    p.sessions = dp.sas.users(index);
    std::memcpy(p.name, sa.name, sizeof p.name);
    p.name[sizeof p.name - 1] = 0;
    publish_sa_counters(sa, p);
    std::atomic_ref<uint32_t>(p.in_use).store(sa.in_use, std::memory_order_release);
}

void publish_session(Dataplane& dp, uint32_t index) {
    shm::PublishedSession& p = dp.control.published_sessions[index];
    const Session& s = dp.sessions.at(index);
    p.sa_in = s.sa_in;
    p.sa_out = s.sa_out;
    p.tunnel_id = s.tunnel_id;
    p.session_id = s.session_id;
    p.peer_tunnel_id = s.peer_tunnel_id;
    p.peer_session_id = s.peer_session_id;
    p.client_ipv4 = ntohl(s.client_ipv4);
    std::memcpy(p.client_ipv6_prefix, s.ipv6_prefix, 16);
    p.client_ipv6_prefix_length = s.ipv6_prefix_length;
    p.sequencing = s.sequencing;
    p.mtu = s.mtu;
    p.configured_mtu = s.configured_mtu;
    p.mss_clamp = s.mss_clamp;
    std::memcpy(p.name, dp.sessions.name(index), sizeof p.name);
    p.name[sizeof p.name - 1] = 0;
    publish_session_counters(s, p);
    std::atomic_ref<uint32_t>(p.in_use).store(s.in_use, std::memory_order_release);
}

void publish_port(const PortState& port, shm::PortCounters& out) {
    rte_eth_stats s{};
    if (!port.started || rte_eth_stats_get(port.port_id, &s) != 0) return;
    out = {s.ipackets, s.opackets, s.ibytes, s.obytes, s.imissed, s.ierrors, s.oerrors, s.rx_nombuf};
}

// Frees what is left in the punt ring if no live process reads it (no
// control plane attached, or one that died without saying so, or died
// while emptying it). The ring has a single consumer: while the data plane
// dequeues it holds the ring as draining_pid(its pid), so a new control
// plane's claim waits instead of dequeuing beside it, and one that took the
// ring over first is left to it.
void drain_orphaned_punts(Dataplane& dp) {
    std::atomic<int32_t>& holder = dp.control.state->controlplane_pid;
    int32_t pid = holder.load(std::memory_order_acquire);
    if (pid != 0 && !shm::holder_gone(pid)) return;
    if (!holder.compare_exchange_strong(pid, shm::draining_pid(getpid()))) return;
    free_ring_contents(dp.control.punts);
    holder.store(0, std::memory_order_release);
}

// A control plane that died without saying so (SIGKILL) stops receiving
// punts; what it left in the punt ring is released.
void check_control_plane(Dataplane& dp) {
    if (dp.control.state->controlplane_pid.load(std::memory_order_acquire) != 0) drain_orphaned_punts(dp);
}

}  // namespace

std::string control_create(Dataplane& dp, const std::string& suffix, unsigned workers) {
    ControlLink& c = dp.control;
    c.names = shm::names_for(suffix);
    if (workers > shm::kMaxWorkers) return "more than " + std::to_string(shm::kMaxWorkers) + " workers";
    const size_t rcu_size = rte_rcu_qsbr_get_memsize(workers);
    c.rcu = static_cast<rte_rcu_qsbr*>(rte_zmalloc("conc_rcu", rcu_size, RTE_CACHE_LINE_SIZE));
    if (!c.rcu || rte_rcu_qsbr_init(c.rcu, workers) != 0) return "cannot create the RCU state";
    c.imb = alloc_imb_manager(static_cast<int>(rte_socket_id()));
    if (!c.imb) return "cannot allocate an IPsec-MB manager for the main lcore";

    const auto& cfg = dp.config->dataplane;
    c.zones[0] = reserve_zone(c.names.state, sizeof(shm::SharedState));
    c.zones[1] = reserve_zone(c.names.sa_zone, sizeof(shm::PublishedSa) * cfg.max_sas);
    c.zones[2] = reserve_zone(c.names.session_zone, sizeof(shm::PublishedSession) * cfg.max_sessions);
    for (const rte_memzone* z : c.zones)
        if (!z)
            return std::string("cannot reserve the shared state (") + rte_strerror(rte_errno) +
                   "): another concentrator-dp with this --file-prefix, or too few hugepages";
    std::memset(c.zones[0]->addr, 0, c.zones[0]->len);
    std::memset(c.zones[1]->addr, 0, c.zones[1]->len);
    std::memset(c.zones[2]->addr, 0, c.zones[2]->len);
    c.state = new (c.zones[0]->addr) shm::SharedState();
    c.published_sas = static_cast<shm::PublishedSa*>(c.zones[1]->addr);
    c.published_sessions = static_cast<shm::PublishedSession*>(c.zones[2]->addr);

    // Commands and acks have one producer and one consumer each; punts come
    // from every worker, injects go to worker 0.
    c.commands = rte_ring_create_elem(c.names.command_ring.c_str(), sizeof(shm::Command), shm::kCommandRingSize,
                                      rte_socket_id(), RING_F_SP_ENQ | RING_F_SC_DEQ);
    c.acks = rte_ring_create_elem(c.names.ack_ring.c_str(), sizeof(shm::CommandAck), shm::kAckRingSize,
                                  rte_socket_id(), RING_F_SP_ENQ | RING_F_SC_DEQ);
    c.punts = rte_ring_create(c.names.punt_ring.c_str(), shm::kPuntRingSize, rte_socket_id(), RING_F_SC_DEQ);
    c.injects = rte_ring_create(c.names.inject_ring.c_str(), shm::kInjectRingSize, rte_socket_id(),
                                RING_F_SP_ENQ | RING_F_SC_DEQ);
    if (!c.commands || !c.acks || !c.punts || !c.injects)
        return std::string("cannot create the control rings: ") + rte_strerror(rte_errno);

    shm::SharedState& s = *c.state;
    s.version = shm::kContractVersion;
    s.dataplane_pid = getpid();
    s.started_unix = static_cast<uint64_t>(time(nullptr));
    s.max_sas = cfg.max_sas;
    s.max_sessions = cfg.max_sessions;
    s.worker_count = workers;
    s.next_command_sequence.store(1);
    for (unsigned i = 0; i < workers; ++i) s.worker_lcore[i] = cfg.worker_lcores[i];
    return {};
}

void control_release(Dataplane& dp) {
    ControlLink& c = dp.control;
    if (c.state) {
        c.state->magic = 0;  // an attached control plane sees the data plane go
        if (c.punts) drain_orphaned_punts(dp);
    }
    free_ring_contents(c.injects);
    for (rte_ring* r : {c.commands, c.acks, c.punts, c.injects}) rte_ring_free(r);
    c.commands = c.acks = c.punts = c.injects = nullptr;
    for (const rte_memzone*& z : c.zones) {
        if (z) rte_memzone_free(z);
        z = nullptr;
    }
    c.state = nullptr;
    c.published_sas = nullptr;
    c.published_sessions = nullptr;
}

ControlLink::~ControlLink() {
    if (imb) free_imb_manager(imb);
    rte_free(rcu);
}

shm::CommandStatus install_sa(Dataplane& dp, const config::StaticSa& spec, uint32_t& index, const char** why) {
    const auto& cfg = *dp.config;
    const uint32_t window = spec.replay_window ? spec.replay_window : cfg.ipsec.replay_window;
    const shm::CommandStatus status =
        dp.sas.install(dp.control.imb, spec, cfg.dataplane.access.address, window, index, why);
    if (status == shm::CommandStatus::Ok) {
        publish_sa(dp, index);
        dp.control.state->sa_high_water.store(dp.sas.high_water(), std::memory_order_release);
    }
    return status;
}

// RFC 8200 5: an IPv6 link carries 1280 bytes; no smaller MTU may be
// signalled. Whether a session with an IPv6 prefix does, through its SA
// (max_inner) and its own MTU, at install and at every update.
bool carries_ipv6(const Dataplane& dp, const config::StaticSession& spec, uint16_t max_inner, const char** why) {
    if (!spec.client_ipv6_prefix_length || (max_inner >= 1280 && spec.mtu >= 1280)) return true;
    static char message[256];  // main lcore only
    std::snprintf(message, sizeof message,
                  "only %u-byte packets fit through this session (its MTU and its SA, with "
                  "dataplane.access.mtu %u), below IPv6's 1280 (RFC 8200 5); raise the MTU or drop the IPv6 prefix",
                  std::min<unsigned>(max_inner, spec.mtu), static_cast<unsigned>(dp.config->dataplane.access.mtu));
    *why = message;
    return false;
}

// Whether sa_in and sa_out are installed SAs of those directions, for a session.
bool is_sa_pair(const Dataplane& dp, uint32_t sa_in, uint32_t sa_out, const char** why) {
    if (!dp.sas.valid(sa_in) || dp.sas.at(sa_in).direction != config::SaDirection::Inbound)
        return *why = "sa_in is not an installed inbound SA", false;
    if (!dp.sas.valid(sa_out) || dp.sas.at(sa_out).direction != config::SaDirection::Outbound)
        return *why = "sa_out is not an installed outbound SA", false;
    return true;
}

shm::CommandStatus install_session(Dataplane& dp, const config::StaticSession& spec, uint32_t sa_in,
                                   uint32_t sa_out, uint32_t& index, const char** why) {
    if (!is_sa_pair(dp, sa_in, sa_out, why)) return shm::CommandStatus::NoSuchEntry;
    const uint16_t max_inner =
        largest_inner_packet(dp.sas.at(sa_out), spec.sequencing, dp.config->dataplane.access.mtu);
    if (!carries_ipv6(dp, spec, max_inner, why)) return shm::CommandStatus::BadCommand;
    const shm::CommandStatus status = dp.sessions.install(spec, sa_in, sa_out, max_inner, index, why);
    if (status != shm::CommandStatus::Ok) return status;
    dp.sas.add_user(sa_in);
    dp.sas.add_user(sa_out);
    // Upstream finds the session through its SA first; a second session on
    // the same SA (rare: one tunnel, two calls) is found by lookup.
    dp.sas.at(sa_in).session_hint().store(index, std::memory_order_release);
    publish_sa(dp, sa_in);
    publish_sa(dp, sa_out);
    publish_session(dp, index);
    dp.control.state->session_high_water.store(dp.sessions.high_water(), std::memory_order_release);
    return status;
}

shm::CommandStatus update_sa_peer(Dataplane& dp, uint32_t index, const shm::SaPeer& peer, const char** why) {
    if (!dp.sas.valid(index)) {
        *why = "no SA at this index";
        return shm::CommandStatus::NoSuchEntry;
    }
    SecurityAssociation& sa = dp.sas.at(index);
    if (!sa.udp_encap) {
        *why = "only a UDP-encapsulated (NAT-T) SA's peer moves";
        return shm::CommandStatus::BadCommand;
    }
    // The new endpoint comes from an outer header ESP does not protect: it
    // must be one host, and not us.
    if (!proto::ipv4_names_one_host(htonl(peer.address)) || htonl(peer.address) == sa.local_address ||
        peer.port == 0) {
        *why = "the new peer must be one host's address (not ours) and a port other than 0";
        return shm::CommandStatus::BadCommand;
    }
    sa.set_peer(htonl(peer.address), htons(peer.port));
    publish_sa(dp, index);
    return shm::CommandStatus::Ok;
}

// An inbound SA that session no longer accepts as its previous one: the
// session's hold on it goes, and so does its hint if it named the session.
void release_previous_sa(Dataplane& dp, uint32_t sa, uint32_t session) {
    uint32_t hinted = session;
    dp.sas.at(sa).session_hint().compare_exchange_strong(hinted, kNoSessionHint, std::memory_order_release);
    dp.sas.drop_user(sa);
    publish_sa(dp, sa);
}

shm::CommandStatus remove_sa(Dataplane& dp, uint32_t index, const char** why) {
    // A rekeyed session's old inbound SA goes when the control plane deletes
    // it (the client's Delete notification, or its lifetime): the sessions
    // that still accepted it stop first.
    // Only if nothing else holds it: a refused delete changes nothing.
    if (dp.sas.valid(index) && dp.sas.at(index).direction == config::SaDirection::Inbound &&
        dp.sas.users(index) == dp.sessions.previous_users(index))
        dp.sessions.forget_previous_sa(index, [&](uint32_t session) {
            release_previous_sa(dp, index, session);
            publish_session(dp, session);
        });
    const shm::CommandStatus status = dp.sas.remove(index, why);
    if (status == shm::CommandStatus::Ok) publish_sa(dp, index);
    return status;
}

shm::CommandStatus remove_session(Dataplane& dp, uint32_t index, const char** why) {
    if (!dp.sessions.valid(index)) {
        *why = "no session at this index";
        return shm::CommandStatus::NoSuchEntry;
    }
    const Session& s = dp.sessions.at(index);
    const uint32_t sa_in = s.sa_in, sa_out = s.sa_out, previous = s.previous_sa_in;
    // Unhooked before the removal starts its grace period, so no worker can
    // still follow the hint once the slot is reused.
    if (dp.sas.at(sa_in).session_hint().load(std::memory_order_relaxed) == index)
        dp.sas.at(sa_in).session_hint().store(kNoSessionHint, std::memory_order_release);
    const shm::CommandStatus status = dp.sessions.remove(index, why);
    if (status != shm::CommandStatus::Ok) return status;
    if (previous != kNoPreviousSa) release_previous_sa(dp, previous, index);
    dp.sas.drop_user(sa_in);
    dp.sas.drop_user(sa_out);
    publish_sa(dp, sa_in);
    publish_sa(dp, sa_out);
    publish_session(dp, index);
    return status;
}

// Forwarding settings, and a new SA pair when the client has rekeyed.
shm::CommandStatus update_session(Dataplane& dp, uint32_t index, const config::StaticSession& spec, uint32_t sa_in,
                                  uint32_t sa_out, const char** why) {
    if (!dp.sessions.valid(index)) {
        *why = "no session at this index";
        return shm::CommandStatus::NoSuchEntry;
    }
    const Session& s = dp.sessions.at(index);
    const uint32_t old_in = s.sa_in, old_out = s.sa_out;
    if (!is_sa_pair(dp, sa_in, sa_out, why)) return shm::CommandStatus::NoSuchEntry;
    const uint16_t max_inner =
        largest_inner_packet(dp.sas.at(sa_out), spec.sequencing, dp.config->dataplane.access.mtu);
    if (!carries_ipv6(dp, spec, max_inner, why)) return shm::CommandStatus::BadCommand;
    uint32_t retired;
    const shm::CommandStatus status = dp.sessions.update(index, spec, sa_in, sa_out, max_inner, retired, why);
    if (status != shm::CommandStatus::Ok) return status;
    if (sa_in != old_in) {
        // The old inbound SA keeps its user: it is the session's previous one now.
        dp.sas.add_user(sa_in);
        // Its worker takes the new one too (unless a packet claimed it
        // already): the session's receive counters have one writer.
        uint16_t none = kNoOwner;
        dp.sas.at(sa_in).owner().compare_exchange_strong(none, dp.sas.at(old_in).owner().load(std::memory_order_relaxed),
                                                         std::memory_order_relaxed);
        dp.sas.at(sa_in).session_hint().store(index, std::memory_order_release);
        publish_sa(dp, sa_in);
    }
    if (retired != kNoPreviousSa) release_previous_sa(dp, retired, index);
    if (sa_out != old_out) {
        dp.sas.add_user(sa_out);
        dp.sas.drop_user(old_out);
        publish_sa(dp, sa_out);
        publish_sa(dp, old_out);
    }
    publish_session(dp, index);
    return status;
}

shm::CommandAck apply_command(Dataplane& dp, const shm::Command& command) {
    shm::CommandAck ack{};
    ack.sequence = command.sequence;
    ack.index = shm::kNoIndex;
    const char* why = "";
    uint32_t index = command.index;
    shm::CommandStatus status;
    if (command.version != shm::kContractVersion) {
        status = shm::CommandStatus::BadVersion;
        why = "the control plane speaks another contract version";
    } else {
        switch (command.type) {
            case shm::CommandType::AddSa: {
                config::StaticSa spec;
                status = shm::from_sa_spec(command.sa, spec, &why) ? install_sa(dp, spec, index, &why)
                                                                   : shm::CommandStatus::BadCommand;
                break;
            }
            case shm::CommandType::DeleteSa: status = remove_sa(dp, index, &why); break;
            case shm::CommandType::AddSession: {
                config::StaticSession spec;
                status = shm::from_session_spec(command.session, spec, &why)
                             ? install_session(dp, spec, command.session.sa_in, command.session.sa_out, index, &why)
                             : shm::CommandStatus::BadCommand;
                break;
            }
            case shm::CommandType::DeleteSession: status = remove_session(dp, index, &why); break;
            case shm::CommandType::UpdateSaPeer: status = update_sa_peer(dp, index, command.peer, &why); break;
            case shm::CommandType::UpdateSession: {
                config::StaticSession spec;
                status = shm::from_session_spec(command.session, spec, &why)
                             ? update_session(dp, index, spec, command.session.sa_in, command.session.sa_out, &why)
                             : shm::CommandStatus::BadCommand;
                break;
            }
            default:
                status = shm::CommandStatus::BadCommand;
                why = "unknown command type";
        }
    }
    ack.status = status;
    if (status == shm::CommandStatus::Ok) ack.index = index;
    std::strncpy(ack.reason, why, sizeof ack.reason - 1);
    dp.control.state->commands_applied.fetch_add(1, std::memory_order_relaxed);
    return ack;
}

void control_publish(Dataplane& dp, const WorkerContext* workers, unsigned worker_count) {
    shm::SharedState& s = *dp.control.state;
    for (unsigned i = 0; i < worker_count && i < shm::kMaxWorkers; ++i) s.workers[i] = workers[i].counters;
    publish_port(dp.access, s.access_port);
    publish_port(dp.core, s.core_port);
    dp.sas.for_each_in_use([&](uint32_t i) { publish_sa_counters(dp.sas.at(i), dp.control.published_sas[i]); });
    dp.sessions.for_each_in_use(
        [&](uint32_t i) { publish_session_counters(dp.sessions.at(i), dp.control.published_sessions[i]); });
    s.publish_generation.fetch_add(1, std::memory_order_release);
    if (s.magic != shm::kStateMagic) std::atomic_ref<uint64_t>(s.magic).store(shm::kStateMagic);
}

void control_poll(Dataplane& dp, const WorkerContext* workers, unsigned worker_count) {
    ControlLink& c = dp.control;
    shm::Command command;
    shm::CommandAck ack;
    // A command is taken only when its ack has room: one applied with its
    // ack lost would leave the control plane unsure whether it took. A
    // control plane that stopped reading leaves the rest waiting in the
    // command ring; its successor drains the stale acks and they go on.
    // The main lcore is the acks' only producer: the room cannot shrink.
    for (unsigned i = 0; i < shm::kCommandsPerPoll && rte_ring_free_count(c.acks) > 0; ++i) {
        if (rte_ring_dequeue_elem(c.commands, &command, sizeof command) != 0) break;
        ack = apply_command(dp, command);
        rte_ring_enqueue_elem(c.acks, &ack, sizeof ack);
    }
    dp.sas.reclaim();
    dp.sessions.reclaim();
    const uint64_t now = rte_get_timer_cycles();
    if (now >= c.next_publish) {
        c.next_publish = now + rte_get_timer_hz() * shm::kPublishIntervalMs / 1000;
        check_control_plane(dp);
        control_publish(dp, workers, worker_count);
    }
}

}  // namespace conc::dp

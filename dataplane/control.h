// The data plane's end of the shared-memory contract (common/shm/contract.h):
// creates the rings and zones, applies the control plane's commands on the
// main lcore (the only writer of the tables), acknowledges each, reclaims
// removed entries after an RCU grace period, watches whether a control plane
// is attached and publishes counters for it.
#pragma once

#include <string>

#include <intel-ipsec-mb.h>
#include <rte_memzone.h>
#include <rte_rcu_qsbr.h>
#include <rte_ring.h>

#include "common/config/config.h"
#include "common/shm/contract.h"

namespace conc::dp {

struct Dataplane;
struct WorkerContext;

struct ControlLink {
    ControlLink() = default;
    ControlLink(const ControlLink&) = delete;
    ControlLink& operator=(const ControlLink&) = delete;
    ~ControlLink();  // frees the RCU state last: the tables' hashes use it until they go

    shm::Names names;
    shm::SharedState* state = nullptr;
    shm::PublishedSa* published_sas = nullptr;
    shm::PublishedSession* published_sessions = nullptr;
    rte_ring* commands = nullptr;
    rte_ring* acks = nullptr;
    rte_ring* punts = nullptr;
    rte_ring* injects = nullptr;
    rte_rcu_qsbr* rcu = nullptr;
    IMB_MGR* imb = nullptr;  // the main lcore's, for key expansion
    const rte_memzone* zones[3] = {};
    uint64_t next_publish = 0;  // TSC
};

// Creates everything the contract names, with suffix after each name.
std::string control_create(Dataplane& dp, const std::string& suffix, unsigned workers);
void control_release(Dataplane& dp);

// One pass of the main lcore: commands, reclamation, liveness, publishing.
void control_poll(Dataplane& dp, const WorkerContext* workers, unsigned worker_count);
// Publishes now (also at start and before exit).
void control_publish(Dataplane& dp, const WorkerContext* workers, unsigned worker_count);

// The one way entries enter and leave the tables: static ones at start and
// the control plane's commands.
shm::CommandStatus install_sa(Dataplane& dp, const config::StaticSa& spec, uint32_t& index, const char** why);
shm::CommandStatus install_session(Dataplane& dp, const config::StaticSession& spec, uint32_t sa_in,
                                   uint32_t sa_out, uint32_t& index, const char** why);
// UpdateSaPeer: a NAT-T SA's peer address and port, from the control plane after a PeerMoved punt.
shm::CommandStatus update_sa_peer(Dataplane& dp, uint32_t index, const shm::SaPeer& peer, const char** why);
shm::CommandStatus remove_sa(Dataplane& dp, uint32_t index, const char** why);
shm::CommandStatus remove_session(Dataplane& dp, uint32_t index, const char** why);
shm::CommandStatus update_session(Dataplane& dp, uint32_t index, const config::StaticSession& spec,
                                  const char** why);

// Applies one command and returns its acknowledgement.
shm::CommandAck apply_command(Dataplane& dp, const shm::Command& command);

}  // namespace conc::dp

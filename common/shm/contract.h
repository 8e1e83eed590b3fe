// The shared-memory contract between concentrator-dp (DPDK primary) and
// concentrator-cp (DPDK secondary): every name, size and layout both processes
// map, in one place. Messages are fixed-size, versioned and hold no pointers;
// frames travel as mbufs of the data plane's pool whose data starts with a
// PuntHeader or an InjectHeader.
//
//   command ring  cp -> dp  Command by value     add/delete SA, add/delete/update session,
//                                                move a NAT-T SA's peer
//   ack ring      dp -> cp  CommandAck by value  one per command, same sequence; a
//                                                command waits until its ack has room;
//                                                sequences are unique for the data
//                                                plane's life (SharedState)
//   punt ring     dp -> cp  mbuf                 PuntHeader + IKE / L2TP control / PPP control,
//                                                or PuntHeader alone: a NAT-T peer moved
//   inject ring   cp -> dp  mbuf                 InjectHeader + what to send (an intent)
//   state zone    dp -> cp  SharedState          liveness, published counters
//   SA / session zones      PublishedSa[], PublishedSession[] by table index
//
// The data plane is the only writer of its tables: it applies commands on its
// main lcore between polls (workers read without locks; deleted entries are
// reclaimed after every worker has passed a quiescent point) and republishes
// the counters every kPublishIntervalMs.
#pragma once

#include <signal.h>

#include <atomic>
#include <bit>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <string>

#include "common/shm/counters.h"

namespace conc::shm {

inline constexpr uint32_t kContractVersion = 7;
inline constexpr uint64_t kStateMagic = 0x434f4e435f535431ull;  // "CONC_ST1"

// SharedState::controlplane_pid while process pid empties the punt ring.
inline int32_t draining_pid(int32_t pid) { return -pid; }
// Whether the process with this pid (> 0) is gone.
inline bool process_gone(int32_t pid) { return kill(pid, 0) != 0 && errno == ESRCH; }
// Whether the process a non-zero controlplane_pid names (a holder, or a
// drainer by draining_pid) is gone.
inline bool holder_gone(int32_t holder) { return process_gone(holder < 0 ? -holder : holder); }

// Object names. One data plane per EAL --file-prefix; tests that run several
// in one process add a suffix (names_for).
struct Names {
    std::string state, command_ring, ack_ring, punt_ring, inject_ring, sa_zone, session_zone, pool;
};
inline Names names_for(const std::string& suffix) {
    return {"conc_state" + suffix,  "conc_cmd" + suffix,    "conc_ack" + suffix,   "conc_punt" + suffix,
            "conc_inject" + suffix, "conc_pub_sa" + suffix, "conc_pub_sess" + suffix, "conc_mbufs" + suffix};
}

inline constexpr unsigned kCommandRingSize = 4096;  // elements; powers of two
inline constexpr unsigned kAckRingSize = 4096;
inline constexpr unsigned kPuntRingSize = 4096;
inline constexpr unsigned kInjectRingSize = 1024;
inline constexpr unsigned kCommandsPerPoll = 256;   // bounded work per main-lcore pass
inline constexpr unsigned kInjectPerPoll = 32;      // intents a worker sends per poll
inline constexpr unsigned kPublishIntervalMs = 100;
inline constexpr unsigned kMaxWorkers = 64;
inline constexpr unsigned kNameSize = 32;
inline constexpr uint32_t kNoIndex = UINT32_MAX;

// ---- commands (control -> data) -------------------------------------------

enum class CommandType : uint16_t {
    AddSa = 1,
    DeleteSa = 2,
    AddSession = 3,
    DeleteSession = 4,
    // Forwarding settings, and the SA pair: a new pair is a Quick Mode rekey.
    // Downstream takes the new outbound SA at once; upstream is accepted on
    // the new inbound SA and on the one before it until DeleteSa removes that
    // one (DeleteSa of the old outbound SA is accepted at once).
    UpdateSession = 5,
    UpdateSaPeer = 6,  // a NAT-T SA's peer address and port (after a PeerMoved punt)
};

// UpdateSaPeer: where a UDP-encapsulated SA's peer is now (host byte order).
struct SaPeer {
    uint32_t address;
    uint16_t port;
    uint16_t reserved;
};

// Values as in the config: host byte order; cipher/integrity are proto::EspCipher/EspIntegrity.
struct SaSpec {
    char name[kNameSize];
    uint32_t spi;
    uint8_t direction;          // 0 inbound, 1 outbound (config::SaDirection)
    uint8_t cipher;
    uint8_t integrity;
    uint8_t udp_encap;
    uint8_t cipher_key_length;  // GCM: key + 4-byte salt
    uint8_t integrity_key_length;
    uint16_t local_port;
    uint16_t peer_port;
    uint16_t reserved;
    uint32_t local_address;     // 0: the access port's address
    uint32_t peer_address;
    uint32_t replay_window;     // bits; inbound only
    uint32_t first_sequence;    // outbound only
    uint8_t cipher_key[36];
    uint8_t integrity_key[64];
};

// Where entries live. The data plane puts an inbound SA in the SA table
// slot its SPI names, and a session in the session table slot its client
// IPv4 address names (the key's low bits under slot_mask(capacity)), when
// that slot is free; workers then find them from the packet alone, with no
// hash lookup. Any other key works too, through a hash table, one cache
// miss dearer per packet. We pick our own inbound SPIs (RFC 2409 5.5: each
// side's SPI in Quick Mode is its own) and the clients' addresses (IPCP),
// so the control plane picks them to name free slots below the capacity:
// SPIs counting up from a slot, addresses from pools no larger than the
// table. Entries keyed otherwise (outbound SAs, IPv6-only sessions) fill
// the tables from the top down.
inline uint32_t slot_mask(uint32_t capacity) { return std::bit_ceil(capacity) - 1; }
inline uint32_t slot_of(uint32_t key, uint32_t mask) { return key & mask; }  // key in host byte order

struct SessionSpec {
    char name[kNameSize];
    uint32_t sa_in;             // SA table indices, from the AddSa acks
    uint32_t sa_out;
    uint16_t tunnel_id;         // ours
    uint16_t session_id;
    uint16_t peer_tunnel_id;    // the client's
    uint16_t peer_session_id;
    uint32_t client_ipv4;       // host byte order, 0 = none
    uint8_t client_ipv6_prefix[16];
    uint8_t client_ipv6_prefix_length;  // 0 = none
    uint8_t sequencing;
    uint16_t mtu;               // PPP MTU towards the client
    uint16_t mss_clamp;         // 0 = from the MTU
    uint16_t reserved;
};

struct Command {
    uint32_t version;           // kContractVersion
    uint32_t sequence;          // echoed in the ack
    CommandType type;
    uint16_t reserved;
    uint32_t index;             // DeleteSa / DeleteSession / UpdateSession: table index
    union {
        SaSpec sa;
        SessionSpec session;
        SaPeer peer;
    };
};

enum class CommandStatus : uint16_t {
    Ok = 0,
    BadVersion,
    BadCommand,     // unknown type or a spec that fails validation (reason says which)
    TableFull,
    Duplicate,      // SPI or (SA, tunnel, session) or client address already installed
    NoSuchEntry,
    InUse,          // an SA still bound to a session
};
const char* command_status_name(CommandStatus s);

struct CommandAck {
    uint32_t sequence;
    CommandStatus status;
    uint16_t reserved;
    uint32_t index;             // the entry added / deleted / updated, kNoIndex on failure
    char reason[52];
};

// rte_ring element sizes must be multiples of 4 bytes.
static_assert(sizeof(Command) % 4 == 0 && sizeof(CommandAck) % 4 == 0);

// ---- frames (punt: data -> control, inject: control -> data) ---------------

enum class PuntKind : uint8_t {
    Ike = 1,          // UDP 500, payload = ISAKMP message
    IkeNatT = 2,      // UDP 4500 with the non-ESP marker, payload = ISAKMP (marker removed)
    L2tpControl = 3,  // decrypted, payload = L2TP message from its header
    PppControl = 4,   // decrypted, payload = PPP information field; ppp_protocol says which
    // No payload. An authenticated packet on UDP-encapsulated SA sa_index,
    // newer than any before it, came from outer_source:outer_source_port,
    // not the SA's peer (a NAT gave the client a new mapping, RFC 3947/3948):
    // the control plane moves the SA pair there (UpdateSaPeer). Once per
    // new address:port (again a while later if the SA did not move);
    // session_index is the SA's session if it has one; tunnel_id and
    // session_id carry the SA's SPI (high and low 16 bits, host order), so
    // that a slot reused since the report is not moved.
    PeerMoved = 5,
};

struct PuntHeader {
    uint16_t version;           // kContractVersion
    PuntKind kind;
    uint8_t port;               // 0 access, 1 core
    uint32_t outer_source;      // network byte order, as on the wire
    uint32_t outer_destination;
    uint16_t outer_source_port;       // network byte order
    uint16_t outer_destination_port;
    uint32_t sa_index;          // the inbound SA it came through, kNoIndex for IKE
    uint32_t session_index;     // PppControl: the session; else kNoIndex
    uint16_t tunnel_id;         // L2TP header ids (host order), 0 for IKE
    uint16_t session_id;
    uint16_t ppp_protocol;      // PppControl
    uint16_t payload_length;
    uint16_t l2tp_peer_port;    // the client's L2TP UDP source port (inside ESP)
    uint16_t reserved;
};

enum class InjectKind : uint8_t {
    IkeDatagram = 1,  // payload = ISAKMP; UDP from local_port (500, or 4500 with the marker added) to peer
    L2tpControl = 2,  // payload = L2TP control message; UDP 1701 -> l2tp_peer_port through SA sa_out
    PppFrame = 3,     // payload = PPP information field; on session session_index with ppp_protocol
};

struct InjectHeader {
    uint16_t version;
    InjectKind kind;
    uint8_t reserved;
    uint32_t peer_address;      // IkeDatagram: network byte order
    uint16_t peer_port;         // IkeDatagram: network byte order
    uint16_t local_port;        // IkeDatagram: 500 or 4500 (host order)
    uint32_t sa_out;            // L2tpControl
    uint32_t session_index;     // PppFrame
    uint16_t ppp_protocol;      // PppFrame
    uint16_t l2tp_peer_port;    // L2tpControl (host order)
    uint16_t payload_length;
    uint16_t reserved2;
};

// ---- published state (data -> control) ------------------------------------

struct PortCounters {
    uint64_t ipackets, opackets, ibytes, obytes, imissed, ierrors, oerrors, rx_nombuf;
};

struct alignas(64) SharedState {
    uint64_t magic;             // kStateMagic once the data plane is ready
    uint32_t version;
    int32_t dataplane_pid;
    uint64_t started_unix;      // seconds; tells a restarted data plane apart
    uint32_t max_sas, max_sessions;
    uint32_t worker_count;
    // Control planes number their commands from here (fetch_add), so that a
    // restarted one never reuses a sequence whose ack a predecessor left behind.
    std::atomic<uint32_t> next_command_sequence;
    std::atomic<uint32_t> sa_high_water;       // entries [0, high water) may be in use
    std::atomic<uint32_t> session_high_water;
    // Who has the punt ring (a single consumer): > 0 the pid of the control
    // plane that consumes it; 0 none, punts are counted and dropped; < 0
    // minus the pid of the process emptying it of what a control plane that
    // is gone left (draining_pid), which a claim waits for, or takes over if
    // that process died at it.
    std::atomic<int32_t> controlplane_pid;
    std::atomic<uint64_t> publish_generation;  // bumped after each publish
    std::atomic<uint64_t> commands_applied;
    PortCounters access_port, core_port;
    uint32_t worker_lcore[kMaxWorkers];
    WorkerCounters workers[kMaxWorkers];
};

struct PublishedSa {
    uint32_t in_use;
    uint32_t spi;
    uint8_t direction, cipher, integrity, udp_encap;
    uint32_t local_address;     // host byte order
    uint32_t peer_address;
    uint16_t local_port, peer_port;
    uint32_t sessions;          // sessions bound to it
    uint64_t packets, bytes;
    uint64_t next_sequence;     // outbound
    char name[kNameSize];
};

struct PublishedSession {
    uint32_t in_use;
    uint32_t sa_in, sa_out;
    uint16_t tunnel_id, session_id, peer_tunnel_id, peer_session_id;
    uint32_t client_ipv4;       // host byte order
    uint8_t client_ipv6_prefix[16];
    uint8_t client_ipv6_prefix_length;
    uint8_t sequencing;
    uint16_t mtu;               // effective: the PPP MTU or what fits the access port
    uint16_t configured_mtu;
    uint16_t mss_clamp;
    uint64_t rx_packets, rx_bytes, tx_packets, tx_bytes, spoof_drops;
    char name[kNameSize];
};

}  // namespace conc::shm

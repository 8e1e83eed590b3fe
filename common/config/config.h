// The typed, validated configuration. Loaded from one libconfig file; every
// error names the file, the line and the setting, and nothing is returned
// unless the whole file is valid (so a failed reload leaves the running
// configuration untouched).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/proto/esp.h"

namespace conc::config {

using Ipv4Address = uint32_t;  // host byte order
using MacAddress = std::array<uint8_t, 6>;

struct PortConfig {
    std::string device;            // DPDK device: PCI address or vdev spec ("net_af_packet0,iface=eth1")
    Ipv4Address address = 0;       // our own address on this port
    uint8_t prefix_length = 32;
    Ipv4Address gateway = 0;       // next hop for everything IPv4 we send out of this port, resolved by ARP
    std::array<uint8_t, 16> ipv6_address{};  // ours on this port (ND, ping, ICMPv6 errors); length 0 = none
    uint8_t ipv6_prefix_length = 0;
    std::array<uint8_t, 16> gateway_ipv6{};  // IPv6 next hop, resolved by Neighbor Discovery; all zero = none
    MacAddress gateway_mac{};      // fixed L2 next hop for both families instead (no ARP/ND); zero = resolve
    uint16_t mtu = 1500;
    uint16_t rx_descriptors = 1024;
    uint16_t tx_descriptors = 1024;
};

struct DataplaneConfig {
    std::vector<std::string> eal_args;   // passed to rte_eal_init after the program name
    std::vector<unsigned> worker_lcores; // one worker per lcore; each owns RX queue i of both ports
    uint32_t mbufs = 16383;              // mbufs in the packet pool
    uint16_t burst_size = 32;
    uint32_t max_sas = 204800;           // SA table capacity
    uint32_t stats_interval = 0;         // seconds between stats prints, 0 = only at exit
    uint32_t max_sessions = 131072;      // session table capacity
    PortConfig access;                   // internet side: IKE, ESP, NAT-T
    PortConfig core;                     // LAN / uplink side: clients' inner traffic
};

enum class SaDirection : uint8_t { Inbound, Outbound };

// A manually keyed SA, like `ip xfrm state add`: for tests, benchmarks and
// pktgen runs. The control plane installs negotiated SAs at run time.
// Static SAs' and sessions' names travel to the control plane and the tools
// in fixed fields (common/shm: 32 bytes with the terminating NUL).
inline constexpr size_t kMaxNameLength = 31;
// rte_lpm6 keeps a next hop in 21 bits (and masks what it returns to them):
// a session's slot is its next hop for client prefixes other than /64.
inline constexpr uint32_t kMaxSessions = 1u << 21;

struct StaticSa {
    std::string name;
    SaDirection direction = SaDirection::Inbound;
    uint32_t spi = 0;
    proto::EspCipher cipher = proto::EspCipher::AesGcm128;
    proto::EspIntegrity integrity = proto::EspIntegrity::None;
    std::vector<uint8_t> cipher_key;     // salt included for GCM (RFC 4106 8.1)
    std::vector<uint8_t> integrity_key;
    Ipv4Address local_address = 0;       // our end (defaults to the access port address)
    Ipv4Address peer_address = 0;        // the client's (public, NAT) address
    bool udp_encap = false;              // RFC 3948 ESP-in-UDP
    uint16_t local_port = 4500;          // with udp_encap
    uint16_t peer_port = 4500;           // with udp_encap: the client's NAT-mapped port
    uint32_t replay_window = 0;          // inbound only, 0 = ipsec.replay_window
    uint32_t first_sequence = 1;         // outbound only: first sequence number sent
    int line = 0;                        // where it was defined, for messages
};

// A static L2TP session (for tests, benchmarks and pktgen runs), bound to a
// pair of static SAs: what the control plane installs at run time once IKE,
// L2TP control and PPP have negotiated it.
struct StaticSession {
    std::string name;
    std::string sa_in;                   // name of the inbound static SA the client sends through
    std::string sa_out;                  // name of the outbound static SA we answer through
    uint16_t tunnel_id = 0;              // ours (RFC 2661: the id the client puts in its headers)
    uint16_t session_id = 0;             // ours
    uint16_t peer_tunnel_id = 0;         // the client's, put in what we send
    uint16_t peer_session_id = 0;        // the client's
    Ipv4Address client_ipv4 = 0;         // the address IPCP gave the client; 0 = none
    std::array<uint8_t, 16> client_ipv6_prefix{};  // IPv6CP/DHCPv6-PD prefix; length 0 = none
    uint8_t client_ipv6_prefix_length = 0;
    uint16_t mtu = 1400;                 // PPP MTU towards the client (LCP MRU the client asked for)
    uint16_t mss_clamp = 0;              // TCP MSS clamp, 0 = derived from mtu (mtu - 40 / - 60)
    bool sequencing = false;             // send L2TP data with Ns/Nr (S bit), RFC 2661 5.4
    int line = 0;
};

struct L2tpConfig {
    std::vector<StaticSession> static_sessions;
};

struct IpsecConfig {
    uint32_t replay_window = 1024;       // bits, RFC 4303 3.4.3; 0 disables anti-replay
    std::vector<StaticSa> static_sas;
};

// concentrator-cp's management socket, which concentratorctl talks to.
struct MgmtConfig {
    std::string socket = "/run/concentrator/concentrator.sock";
    uint32_t socket_mode = 0600;         // only root (the owner) may drive the concentrator
};

struct Config {
    std::string path;
    DataplaneConfig dataplane;
    IpsecConfig ipsec;
    L2tpConfig l2tp;
    MgmtConfig mgmt;
};

// Largest replay window we accept, in bits.
inline constexpr uint32_t kMaxReplayWindow = 65536;

struct LoadResult {
    std::optional<Config> config;
    std::vector<std::string> errors;     // "file:line: setting: what is wrong"
};

LoadResult load_file(const std::string& path);
// For the programs: loads path, or prints every error and "PROGRAM: N
// error(s) in PATH, not starting" to stderr and returns nullopt.
std::optional<Config> load_or_report(const std::string& path, const char* program);
LoadResult load_string(const std::string& text, const std::string& name = "<string>");

std::string format_ipv4(Ipv4Address a);
std::optional<Ipv4Address> parse_ipv4(const std::string& s);

}  // namespace conc::config

// One data plane on ring ports with clients attached: the fixture the
// integration tests share. Each client has its own SA pair and L2TP session;
// several may share a public address (a NAT) and L2TP ids.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "tests/support/l2tp_client.h"
#include "tests/support/ring_dataplane.h"

namespace conc::test {

inline constexpr uint32_t kClientPublic = 0xCB00710A;   // 203.0.113.10
inline constexpr uint32_t kClientAddress = 0x6440000A;  // 100.64.0.10
inline constexpr uint32_t kCoreHost = 0x0A000005;       // 10.0.0.5
inline constexpr uint8_t kCoreHost6[16] = {0x20, 0x01, 0x0d, 0xb8, 0xff, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 5};

struct ClientSpec {
    proto::EspCipher cipher = proto::EspCipher::AesGcm128;
    proto::EspIntegrity integrity = proto::EspIntegrity::None;
    bool udp_encap = true;
    uint32_t public_address = kClientPublic;
    uint16_t nat_port = 4500;
    uint32_t address = kClientAddress;   // IPCP address
    uint8_t ipv6_index = 1;              // 2001:db8:100:<index>::/64, 0 = no IPv6
    uint16_t tunnel_id = 100, session_id = 200, peer_tunnel_id = 7, peer_session_id = 9;
    uint16_t mtu = 1400;
    bool sequencing = false;
};

// An IP packet as the core host sends it to the data plane (02:00:00:00:02:01
// to 02:00:00:00:09:09).
std::vector<uint8_t> frame_from_core_host(const std::vector<uint8_t>& ip);

class ClientLab {
public:
    // Adds a client to the configuration; call before start().
    unsigned add_client(const ClientSpec& spec);
    config::Config& config() { return cfg_; }
    std::string start();

    L2tpClient& client(unsigned i) { return *clients_[i]; }
    const ClientSpec& spec(unsigned i) const { return specs_[i]; }
    config::StaticSa& sa_in(unsigned i) { return cfg_.ipsec.static_sas[2 * i]; }
    config::StaticSa& sa_out(unsigned i) { return cfg_.ipsec.static_sas[2 * i + 1]; }
    void client_ipv6(unsigned i, uint8_t out[16]) const;  // an address inside the client's prefix

    RingDataplane& ring() { return ring_; }
    // Client i's session in the data plane, and its table index.
    uint32_t session_index(unsigned i) const { return ring_.session_index(cfg_.l2tp.static_sessions[i].name); }
    dp::Session& session(unsigned i) { return ring_.dataplane().sessions.at(session_index(i)); }
    dp::WorkerCounters counters() const { return ring_.counters(); }

    // Injects frames on a port, runs the worker, returns what left the other.
    std::vector<std::vector<uint8_t>> upstream(const std::vector<std::vector<uint8_t>>& frames);
    std::vector<std::vector<uint8_t>> downstream(const std::vector<std::vector<uint8_t>>& ip_packets);
    // What left the core port during the last call (ICMP errors the data
    // plane sent back) and the access port.
    const std::vector<std::vector<uint8_t>>& core_out() const { return core_out_; }
    const std::vector<std::vector<uint8_t>>& access_out() const { return access_out_; }

private:
    void run(const std::vector<std::vector<uint8_t>>& frames, bool to_access);

    config::Config cfg_ = base_config();
    std::vector<ClientSpec> specs_;
    std::vector<std::unique_ptr<L2tpClient>> clients_;
    RingDataplane ring_;
    std::vector<std::vector<uint8_t>> core_out_, access_out_;
};

}  // namespace conc::test
